/**
 * 200 (or `Deno.args[0]`) seeded kill -9 trials of CLI downloads against the
 * Binance emulator — the local version of `tests/kill_test.ts`; prints the
 * figures recorded in RELIABILITY.md. Any broken rule stops it with the
 * trial that broke it.
 *
 * ```sh
 * deno run --allow-read --allow-write --allow-env --allow-sys --allow-run --allow-net=127.0.0.1 bench/kill_trials.ts 200 [seed]
 * ```
 *
 * @module
 */

import { runKillTrials } from "../tests/_kill_harness.ts";

const trials = Number(Deno.args[0] ?? 200);
const seed = Number(Deno.args[1] ?? 0x5eed);
const verbose = Deno.args.includes("--verbose");
const f = await runKillTrials({
  seed,
  trials,
  log: verbose ? (line) => console.log(line) : undefined,
});
console.log(
  `kill -9 trials (seed ${seed}): ${f.kills} kills, ${f.finishedFirst} runs finished before their kill moment`,
);
for (const [name, s] of Object.entries(f.scenarios)) {
  console.log(
    `  ${name.padEnd(9)} ${String(s.kills).padStart(4)} kills, ${
      String(s.leftTemp).padStart(4)
    } left a temporary file`,
  );
}
console.log(
  `kills after which the file held more candles: ${f.killsAfterProgress}`,
);
console.log(
  `kills that left a temporary file: ${f.killsLeavingTemp}; a lock file: ${f.killsLeavingLock}`,
);
console.log(
  `final resumes, each byte-identical with only data files left: ${f.resumes}`,
);
console.log(
  `candles lost: 0; ledger over-claims: 0; runs refused a lock: 0 (any would have stopped the run)`,
);
console.log(`wall time: ${(f.durationMs / 1000).toFixed(1)} s`);
