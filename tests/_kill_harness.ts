/**
 * The kill -9 trials shared by `tests/kill_test.ts` (a bounded run in
 * `deno task test`) and `bench/kill_trials.ts` (200 trials, locally): CLI
 * downloads against the Binance emulator killed with SIGKILL at seeded random
 * moments, in four scenarios — a top-up (`append`), a front fill-in
 * (`prepend`), a `--truncate` and a two-symbol run. Every violated rule throws
 * an `AssertionError` naming the trial.
 *
 * @module
 */

import assert from "node:assert/strict";
import { cp, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parse as parseToml } from "smol-toml";
import { startBinanceEmulator } from "../testing/binance_emulator.ts";
import { OhlcvReader } from "../format/ohlcv_reader.ts";
import type { CandleBatch } from "../format/candle_batch.ts";
import { coverageFromToml, ledgerFits } from "../format/coverage.ts";
import { parseTimeframe } from "../format/timeframe.ts";
import { runCli, spawnCli } from "./_cli_helpers.ts";

/** The fixed clock: emulator and CLI (`--now`) agree. */
const T = Date.UTC(2024, 2, 1, 12, 30);
/** Start of the full range, and of the shorter file a fill-in starts from. */
const FROM = "2024-02-26";
const LATER = "2024-02-28";
const TF = parseTimeframe("5");
const BTC = "ccxt_BINANCE_BTC_USDT_5";
const ETH = "ccxt_BINANCE_ETH_USDT_5";

/** A scenario: the command killed, the files it writes. */
interface Scenario {
  readonly name: "append" | "prepend" | "truncate" | "multi";
  readonly args: readonly string[];
  readonly files: readonly string[];
  /** Starts from the shorter file (`--from LATER`). */
  readonly seeded: boolean;
}

const SCENARIOS: readonly Scenario[] = [
  {
    name: "append",
    args: ["BINANCE:BTC/USDT", "--from", FROM],
    files: [BTC],
    seeded: false,
  },
  {
    name: "prepend",
    args: ["BINANCE:BTC/USDT", "--from", FROM],
    files: [BTC],
    seeded: true,
  },
  {
    name: "truncate",
    args: ["BINANCE:BTC/USDT", "--from", FROM, "--truncate"],
    files: [BTC],
    seeded: true,
  },
  {
    name: "multi",
    args: ["BINANCE:BTC/USDT", "BINANCE:ETH/USDT", "--from", FROM],
    files: [BTC, ETH],
    seeded: false,
  },
];

/** Options of {@linkcode runKillTrials}. */
export interface KillTrialsOptions {
  /** Seed of the kill moments. */
  readonly seed: number;
  /** Kills in all (spread over the four scenarios). */
  readonly trials: number;
  /** Kills per scenario before its final resume (then it starts afresh). @default {7} */
  readonly killsPerRound?: number;
  /** Emulator latency per request, ms. @default {30} */
  readonly latencyMs?: number;
  /** Progress lines. */
  readonly log?: ((line: string) => void) | undefined;
}

/** What the trials did and found, per scenario and in all. */
export interface KillFigures {
  /** Kills (SIGKILL sent while the CLI ran). */
  kills: number;
  /** Runs that finished before their kill moment (exit 0 asserted). */
  finishedFirst: number;
  /** Kills after which the data file held more candles than before the run. */
  killsAfterProgress: number;
  /** Kills that left a temporary file beside the data. */
  killsLeavingTemp: number;
  /** Kills that left a lock file. */
  killsLeavingLock: number;
  /** Final resumes, each byte-identical to an uninterrupted download, folder clean. */
  resumes: number;
  /** Per scenario: kills, and kills that left a temporary file. */
  scenarios: Record<string, { kills: number; leftTemp: number }>;
  /** Wall time, ms. */
  durationMs: number;
}

/** mulberry32: a small seeded PRNG, uniform in [0, 1). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

async function readCandles(path: string): Promise<CandleBatch | null> {
  try {
    await Deno.stat(path);
  } catch {
    return null;
  }
  await using r = await OhlcvReader.open(path);
  return await r.read();
}

/** A data folder's files that are not data (`.ohlcv`, `.toml`). */
async function strayFiles(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return names.filter((n) => !/\.(ohlcv|toml)$/.test(n)).sort();
}

/**
 * Asserts `got` is a run of consecutive candles of `truth` (every value
 * equal) and returns where it starts and ends in `truth`.
 */
function truthSlice(
  got: CandleBatch,
  truth: CandleBatch,
  label: string,
): [number, number] {
  const n = got.time.length;
  if (n === 0) return [0, 0];
  const i0 = truth.time.indexOf(got.time[0]!);
  assert.ok(i0 >= 0, `${label}: first candle ${got.time[0]} not in the truth`);
  assert.ok(i0 + n <= truth.time.length, `${label}: more candles than truth`);
  for (const k of ["time", "open", "high", "low", "close", "volume"] as const) {
    const a = got[k], b = truth[k];
    for (let i = 0; i < n; i++) {
      if (!Object.is(a[i], b[i0 + i])) {
        assert.fail(
          `${label}: ${k}[${i}] is ${a[i]}, the uninterrupted download has ${
            b[i0 + i]
          }`,
        );
      }
    }
  }
  return [i0, i0 + n];
}

/** The `.toml` ledger claims no candle the `.ohlcv` does not hold. */
async function assertLedger(
  dir: string,
  name: string,
  got: CandleBatch | null,
  truth: CandleBatch,
  label: string,
): Promise<void> {
  let text: string;
  try {
    text = await readFile(join(dir, `${name}.toml`), "utf8");
  } catch {
    return;
  }
  const table = parseToml(text) as Record<string, unknown>;
  if (table["coverage"] === undefined) return;
  const ledger = coverageFromToml(table["coverage"], `${name}.toml`);
  const n = got?.time.length ?? 0;
  const file = {
    records: n,
    first: n > 0 ? got!.time[0] : undefined,
    last: n > 0 ? got!.time[n - 1] : undefined,
  };
  assert.ok(
    ledgerFits(ledger, file),
    `${label}: the ledger (${
      JSON.stringify(ledger.file)
    }) claims more than the file holds (${JSON.stringify(file)})`,
  );
  const held = new Set(got ? Array.from(got.time) : []);
  for (const [from, to] of ledger.fetched.runs) {
    for (const t of truth.time) {
      if (t >= from && t < to && !held.has(t)) {
        assert.fail(
          `${label}: the ledger says [${from}, ${to}) was fetched, but the file lacks ${
            new Date(t).toISOString()
          }`,
        );
      }
    }
  }
}

/**
 * Runs the trials; throws on the first broken rule. Returns the figures.
 */
export async function runKillTrials(
  options: KillTrialsOptions,
): Promise<KillFigures> {
  const started = performance.now();
  const log = options.log ?? (() => {});
  const killsPerRound = options.killsPerRound ?? 7;
  const random = prng(options.seed);
  await using emu = await startBinanceEmulator({
    now: () => T,
    latencyMs: options.latencyMs ?? 30,
  });
  const root = await Deno.makeTempDir({ prefix: "pyne_kill_" });
  const figures: KillFigures = {
    kills: 0,
    finishedFirst: 0,
    killsAfterProgress: 0,
    killsLeavingTemp: 0,
    killsLeavingLock: 0,
    resumes: 0,
    scenarios: Object.fromEntries(
      SCENARIOS.map((s) => [s.name, { kills: 0, leftTemp: 0 }]),
    ),
    durationMs: 0,
  };
  try {
    const cfg = join(root, "config");
    await mkdir(cfg);
    await writeFile(
      join(cfg, "ccxt.toml"),
      `[binance]\nbase_url = "${emu.url}"\n`,
    );
    const common = [
      "-t",
      "5",
      "--limit",
      "100",
      "--concurrency",
      "1",
      "--config-dir",
      cfg,
      "--now",
      new Date(T).toISOString(),
    ];
    const download = (args: readonly string[]) => [
      "download",
      "ccxt",
      ...args,
      ...common,
    ];

    // The uninterrupted downloads: the truth every trial is held to. Its
    // timeline (start-up until the first lock, then the writing) sets the
    // range of the kill moments.
    const refDir = join(root, "ref");
    await mkdir(refDir);
    const refRun = spawnCli(
      download(["BINANCE:BTC/USDT", "BINANCE:ETH/USDT", "--from", FROM]),
      { cwd: refDir },
    );
    const refStart = performance.now();
    const startupMs = await untilLocked(join(refDir, "data"), refRun) ??
      assert.fail("the uninterrupted download never took a lock");
    const ref = await refRun.output();
    const workMs = performance.now() - refStart - startupMs;
    assert.equal(ref.code, 0, new TextDecoder().decode(ref.stderr));
    const refBytes = new Map<string, Uint8Array>();
    const truth = new Map<string, CandleBatch>();
    for (const f of [BTC, ETH]) {
      const p = join(refDir, "data", `${f}.ohlcv`);
      refBytes.set(f, await Deno.readFile(p));
      truth.set(f, (await readCandles(p))!);
    }
    const want = emu.expectedCandles(
      "BTCUSDT",
      TF,
      Date.parse(FROM),
      T - TF.ms + 1,
    );
    assert.deepEqual(Array.from(truth.get(BTC)!.time), Array.from(want.time));
    // The shorter file the fill-in and --truncate scenarios start from.
    const seedDir = join(root, "seed");
    await mkdir(seedDir);
    const seeded = await runCli(
      download(["BINANCE:BTC/USDT", "--from", LATER]),
      { cwd: seedDir },
    );
    assert.equal(seeded.code, 0, seeded.stderr);
    log(
      `uninterrupted download: start-up ${startupMs.toFixed(0)} ms, writing ${
        workMs.toFixed(0)
      } ms`,
    );

    let trial = 0;
    let attempts = 0;
    for (let round = 0; trial < options.trials; round++) {
      for (const sc of SCENARIOS) {
        if (trial >= options.trials) break;
        const dir = join(root, `${sc.name}_${round}`);
        const data = join(dir, "data");
        await mkdir(dir);
        if (sc.seeded) {
          await cp(join(seedDir, "data"), data, { recursive: true });
        }
        for (let k = 0; k < killsPerRound && trial < options.trials; k++) {
          if (++attempts > 3 * options.trials) {
            assert.fail(`too many runs finished before their kill moment`);
          }
          const label = `trial ${trial} (${sc.name}, round ${round})`;
          const before = new Map<string, [number, number]>();
          for (const f of sc.files) {
            const got = await readCandles(join(data, `${f}.ohlcv`));
            before.set(f, got ? truthSlice(got, truth.get(f)!, label) : [0, 0]);
          }
          // One kill in eight anywhere in start-up and opening, the others
          // while the files are being written (after the first lock).
          const early = random() < 0.125;
          const delay = Math.floor(
            early ? (startupMs + 20) * random() : 0.8 * workMs * random(),
          );
          const child = spawnCli(download(sc.args), { cwd: dir });
          let exited = false;
          const status = child.status.then((s) => {
            exited = true;
            return s;
          });
          if (!early) await untilLocked(data, child);
          await Promise.race([
            status,
            new Promise((r) => setTimeout(r, delay)),
          ]);
          const killed = !exited;
          if (killed) child.kill("SIGKILL");
          const out = await child.output();
          const stderr = new TextDecoder().decode(out.stderr);
          // (A resume's note that it removed a killed run's lock is fine.)
          assert.doesNotMatch(
            stderr,
            /another writer|holds the lock file/i,
            `${label}: the run was refused a lock: ${stderr}`,
          );
          const stray = await strayFiles(data);
          if (!killed) {
            assert.equal(out.code, 0, `${label}: ${stderr}`);
            figures.finishedFirst++;
          } else {
            trial++;
            figures.kills++;
            figures.scenarios[sc.name]!.kills++;
            if (stray.some((n) => n.includes(".tmp"))) {
              figures.killsLeavingTemp++;
              figures.scenarios[sc.name]!.leftTemp++;
            }
            if (stray.some((n) => n.endsWith(".lock"))) {
              figures.killsLeavingLock++;
            }
          }
          let progressed = false;
          for (const f of sc.files) {
            const got = await readCandles(join(data, `${f}.ohlcv`));
            const t = truth.get(f)!;
            const [i0, i1] = got ? truthSlice(got, t, `${label} ${f}`) : [0, 0];
            const [b0, b1] = before.get(f)!;
            // No committed candle lost: the file still covers what it held.
            if (b1 > b0) {
              assert.ok(
                i0 <= b0 && i1 >= b1,
                `${label} ${f}: held candles ${b0}..${b1} of the truth, now ${i0}..${i1}`,
              );
            }
            if (i1 - i0 > b1 - b0) progressed = true;
            await assertLedger(data, f, got, t, `${label} ${f}`);
          }
          if (progressed && killed) figures.killsAfterProgress++;
          log(
            `${label}: ${
              !killed
                ? "finished first"
                : `killed ${early ? "" : "writing, "}at +${delay} ms`
            }${stray.length ? `, left ${stray.join(" ")}` : ""}`,
          );
          if (!killed) break; // done: on to the final checks
        }
        // The final resume: not blocked, exact, and nothing else left.
        const last = await runCli(download(sc.args), { cwd: dir });
        assert.equal(
          last.code,
          0,
          `${sc.name} round ${round} resume: ${last.stderr}`,
        );
        for (const f of sc.files) {
          const bytes = await Deno.readFile(join(data, `${f}.ohlcv`));
          assert.ok(
            equalBytes(bytes, refBytes.get(f)!),
            `${sc.name} round ${round}: ${f}.ohlcv differs from the uninterrupted download`,
          );
        }
        assert.deepEqual(
          await strayFiles(data),
          [],
          `${sc.name} round ${round}: only data files remain`,
        );
        figures.resumes++;
        await rm(dir, { recursive: true, force: true });
      }
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }
  figures.durationMs = performance.now() - started;
  return figures;
}

/**
 * Waits until `child` holds a lock file in `dir` (ms since the call) or
 * ends (`undefined`).
 */
async function untilLocked(
  dir: string,
  child: Deno.ChildProcess,
): Promise<number | undefined> {
  const t0 = performance.now();
  let exited = false;
  child.status.then(() => exited = true, () => exited = true);
  while (!exited) {
    for (const n of await readdir(dir).catch(() => [] as string[])) {
      if (!n.endsWith(".lock")) continue;
      const text = await readFile(join(dir, n), "utf8").catch(() => "");
      if (Number.parseInt(text) === child.pid) return performance.now() - t0;
    }
    await new Promise((r) => setTimeout(r, 3));
  }
  return undefined;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
