/**
 * The lock of an `.ohlcv` file across processes: what its next holder clears
 * away (temporary files of writers that are gone, a stale lock), the OS lock
 * that proves a holder dead without `--allow-run`, and two CLI downloads of
 * one file at once (the second refused, naming the lock; a killed one's lock
 * taken over safely).
 */

import assert from "node:assert/strict";
import {
  mkdir,
  readdir,
  readFile,
  rm,
  utimes,
  writeFile,
} from "node:fs/promises";
import { join } from "node:path";
import { acquireLock } from "../format/_file_lock.ts";
import { OhlcvWriter } from "../format/ohlcv_writer.ts";
import { OhlcvReader } from "../format/ohlcv_reader.ts";
import { batchFromRows } from "../format/candle_batch.ts";
import { parseTimeframe } from "../format/timeframe.ts";
import { startBinanceEmulator } from "../testing/binance_emulator.ts";
import { runCli, spawnCli } from "./_cli_helpers.ts";

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = new Deno.Command("true").spawn();
  await child.status;
  return child.pid;
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "pyne_lock_" });
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

Deno.test("acquireLock removes the temporary files of gone writers and keeps live ones' and other files", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "x.ohlcv");
    const dead = await deadPid();
    const old = new Date(Date.now() - 3_600_000);
    const names = {
      // Made under the lock by an earlier holder: removed.
      lockedDead: `x.ohlcv.${dead}-L-0000000a.tmp`,
      lockedSidecar: `x.ohlcv.${dead}-L-0000000a.tmp.extra.csv`,
      lockedRebuild: `x.ohlcv.${dead}-L-0000000b.rebuild.tmp`,
      // Pid only: removed when the pid is dead, kept for a live one.
      pidDead: `.x.toml.${dead}-P-0000000c.tmp`,
      pidMine: `x.ohlcv.${Deno.pid}-P-0000000d.tmp`,
      // Flock-guarded: removed when nobody holds its flock.
      guardFree: `.x.ohlcv.${Deno.pid}-G-0000000e.tmp`,
      guardHeld: `.x.toml.${Deno.pid}-G-0000000f.tmp`,
      // Written by older versions: removed only when long untouched.
      legacyOld: "x.ohlcv.1a2b3c4d.tmp",
      legacyNew: "x.ohlcv.5e6f7a8b.tmp",
      // Not temporary files of x.ohlcv: never touched.
      otherFile: `y.ohlcv.${dead}-L-00000010.tmp`,
      data: "x.ohlcv.backup.ohlcv",
      takeover: "x.ohlcv.lock.takeover",
    };
    for (const n of Object.values(names)) await writeFile(join(dir, n), "");
    await writeFile(join(dir, names.takeover), `${dead}\n`);
    await utimes(join(dir, names.legacyOld), old, old);
    const held = await Deno.open(join(dir, names.guardHeld), { read: true });
    await held.lock(true);
    try {
      const lock = await acquireLock(path);
      const gone = [
        names.lockedDead,
        names.lockedSidecar,
        names.lockedRebuild,
        names.pidDead,
        names.guardFree,
        names.legacyOld,
        names.takeover,
      ].map((n) => join(dir, n)).sort();
      assert.deepEqual([...lock.removed].sort(), gone);
      await lock.release();
      assert.deepEqual(
        (await readdir(dir)).sort(),
        [
          names.pidMine,
          names.guardHeld,
          names.legacyNew,
          names.otherFile,
          names.data,
        ].sort(),
      );
    } finally {
      held.close();
    }
  });
});

Deno.test("acquireLock takes over a lock whose OS lock is free even though its pid is alive", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "f.ohlcv");
    // A live process that is not a writer: only the free flock proves the
    // lock stale (pid reuse after a kill looks exactly like this).
    const sleeper = new Deno.Command("sleep", { args: ["30"] }).spawn();
    try {
      await writeFile(`${path}.lock`, `${sleeper.pid}\n\n`);
      const lock = await acquireLock(path);
      assert.deepEqual(lock.removed, [`${path}.lock`]);
      assert.equal(await readFile(`${path}.lock`, "utf8"), `${Deno.pid}\n\n`);
      await lock.release();
      // Without the flock mark the pid decides: a live pid keeps its lock.
      await writeFile(`${path}.lock`, `${sleeper.pid}\n`);
      await assert.rejects(acquireLock(path), /another writer \(pid \d+\)/);
    } finally {
      sleeper.kill("SIGKILL");
      await sleeper.status;
    }
  });
});

Deno.test("OhlcvWriter reports the stale lock and temporary files of a dead writer it removed", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "w.ohlcv");
    const dead = await deadPid();
    const tmp = join(dir, `w.ohlcv.${dead}-L-00000001.tmp`);
    await writeFile(`${path}.lock`, `${dead}\n`);
    await writeFile(tmp, "half a replacement");
    const w = await OhlcvWriter.open(path, { period: "1" });
    assert.deepEqual([...w.staleFilesRemoved], [`${path}.lock`, tmp]);
    await w.append(batchFromRows([[0, 1, 2, 0.5, 1.5, 10]]));
    await w.close();
    assert.deepEqual(await readdir(dir), ["w.ohlcv"]);
  });
});

const T = Date.UTC(2024, 2, 1, 12, 30);

Deno.test("cli: a second download of the same file is refused naming the lock; a killed download's lock is taken over by one of two resumes", async () => {
  await withDir(async (dir) => {
    await using emu = await startBinanceEmulator({
      now: () => T,
      latencyMs: 150,
    });
    const cfg = join(dir, "config");
    await mkdir(cfg);
    await writeFile(
      join(cfg, "ccxt.toml"),
      `[binance]\nbase_url = "${emu.url}"\n`,
    );
    const args = [
      "download",
      "ccxt",
      "BINANCE:BTC/USDT",
      "-t",
      "5",
      "--from",
      "2024-02-28",
      "--limit",
      "100",
      "--concurrency",
      "1",
      "--config-dir",
      cfg,
      "--now",
      new Date(T).toISOString(),
    ];
    const data = join(dir, "data");
    const name = "ccxt_BINANCE_BTC_USDT_5.ohlcv";
    const first = spawnCli(args, { cwd: dir });
    // Wait until the first download holds the lock.
    const deadline = Date.now() + 20_000;
    for (;;) {
      const text = await readFile(join(data, `${name}.lock`), "utf8")
        .catch(() => "");
      if (Number.parseInt(text) === first.pid) break;
      assert.ok(
        Date.now() < deadline,
        "the first download never took the lock",
      );
      await new Promise((r) => setTimeout(r, 10));
    }
    const second = await runCli(args, { cwd: dir });
    assert.equal(second.code, 1, second.stderr);
    assert.match(
      second.stderr,
      new RegExp(
        `another writer \\(pid ${first.pid}\\) holds the lock file data/${
          name.replaceAll(".", "\\.")
        }\\.lock`,
      ),
    );
    // Killed while writing: its lock stays behind, and two resumes start at
    // once. Each one either takes it over (once) or is refused by the other.
    first.kill("SIGKILL");
    await first.output();
    assert.ok((await readdir(data)).includes(`${name}.lock`));
    const resumes = await Promise.all([
      runCli(args, { cwd: dir }),
      runCli(args, { cwd: dir }),
    ]);
    for (const r of resumes) {
      if (r.code !== 0) {
        assert.equal(r.code, 1, r.stderr);
        assert.match(r.stderr, /holds the lock file data\/.*\.ohlcv\.lock/);
      }
    }
    assert.ok(resumes.some((r) => r.code === 0), "no resume completed");
    // The one that took the stale lock over says what it removed.
    const told = resumes.filter((r) =>
      new RegExp(
        `note: removed \\d+ files? left by an earlier download that was killed: .*${
          name.replaceAll(".", "\\.")
        }\\.lock`,
      ).test(r.stderr)
    );
    assert.ok(
      told.length >= 1,
      resumes.map((r) => r.stderr).join("\n---\n"),
    );
    const tf = parseTimeframe("5");
    const want = emu.expectedCandles(
      "BTCUSDT",
      tf,
      Date.UTC(2024, 1, 28),
      T - tf.ms + 1,
    );
    await using r = await OhlcvReader.open(join(data, name));
    const got = await r.read();
    assert.deepEqual(Array.from(got.time), Array.from(want.time));
    assert.deepEqual(Array.from(got.close), Array.from(want.close));
    assert.deepEqual(
      (await readdir(data)).sort(),
      [name, "ccxt_BINANCE_BTC_USDT_5.toml"],
    );
  });
});
