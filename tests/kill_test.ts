/**
 * kill -9 of CLI downloads (append, prepend, `--truncate`, two symbols)
 * against the Binance emulator at seeded random moments: after every kill
 * the files open, hold only candles of the uninterrupted download and every
 * candle they held before, the ledger claims nothing the file lacks, and the
 * next run is not refused a lock; the final resume is byte-identical to the
 * uninterrupted download and leaves nothing but data files. The 200-trial
 * version is `bench/kill_trials.ts`.
 */

import assert from "node:assert/strict";
import { runKillTrials } from "./_kill_harness.ts";

Deno.test("CLI download survives 26 seeded kill -9s in four scenarios and resumes byte-identical with no stray file", async () => {
  const figures = await runKillTrials({ seed: 0x5eed, trials: 26 });
  assert.equal(figures.kills, 26);
  for (const [name, s] of Object.entries(figures.scenarios)) {
    assert.ok(s.kills > 0, `${name}: no kill landed`);
  }
  // The rules were exercised, not skipped: kills left temporary files and
  // locks behind, and the next writers removed them.
  assert.ok(figures.killsLeavingTemp > 0, "no kill left a temporary file");
  assert.ok(figures.killsLeavingLock > 0, "no kill left a lock");
  assert.ok(figures.resumes >= 4, `${figures.resumes} final resumes`);
});
