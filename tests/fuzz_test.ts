/**
 * Fuzzing, bounded for `deno task test`: seeded mutations of the fixtures
 * through the `.ohlcv` reader (2,000), CSV import (500), JSON import (500)
 * and symbol-info TOML (500). Each must give a well-formed result or a
 * `FormatError` — never another exception, a trial over 2 s, a hang or a
 * huge allocation. The harness, the mutation operators and the invariants
 * are in `bench/fuzz_trials.ts` (which runs 10,000 of each, RELIABILITY.md
 * "Fuzzing"). A failure names its trial; rerun it alone with
 * `deno run -A bench/fuzz_trials.ts --repro=TARGET:TRIAL 20261206`.
 *
 * Below the fuzzing: the header claims of absurd sizes (refused without
 * allocating), a sparse file that really holds billions of records (read
 * lazily), the watchdog's self-test, and the minimal reproducers of what the
 * fuzzing found.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  failureSignatures,
  type FuzzReport,
  loadCorpus,
  mutate,
  runFuzz,
  type Target,
  TARGETS,
} from "../bench/fuzz_trials.ts";
import { FormatError } from "../format/format_error.ts";
import { OhlcvReader } from "../format/ohlcv_reader.ts";
import { parseCsvCandles } from "../format/csv.ts";
import { parseJsonCandles } from "../format/json.ts";
import {
  parseSymbolInfoToml,
  stringifySymbolInfo,
} from "../format/symbol_info_toml.ts";

const SEED = 20261206;
const FIXTURES = new URL("./fixtures/pynecore/", import.meta.url).pathname;

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "pyne-fuzz-test-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The distinct failures of a run, each with a trial to rerun. */
function explain(rep: FuzzReport): string {
  const lines = [
    `${rep.target}: ${rep.failures.length} of ${rep.trials} trials broke a rule (seed ${rep.seed})`,
  ];
  for (const [key, list] of failureSignatures(rep.failures)) {
    const f = list[0]!;
    lines.push(
      `  ${list.length} x ${key}`,
      `    e.g. trial ${f.trial} (${f.source}; ${f.ops.join("; ")}):`,
      `    deno run -A bench/fuzz_trials.ts --repro=${f.target}:${f.trial} ${f.seed}`,
      ...f.stack.split("\n").slice(0, 4).map((l) => `      ${l}`),
    );
  }
  return lines.join("\n");
}

async function fuzz(target: Target, trials: number): Promise<FuzzReport> {
  let rep: FuzzReport | undefined;
  await withDir(async (dir) => {
    rep = await runFuzz({ target, trials, seed: SEED, dir });
  });
  const r = rep!;
  assert.equal(r.trials, trials);
  assert.equal(r.ok + r.formatError + r.failures.length, trials);
  assert.equal(r.failures.length, 0, explain(r));
  assert.ok(r.slowestMs < 2000, `slowest trial ${r.slowestMs} ms`);
  assert.ok(r.peakRss < 2 ** 30, `peak RSS ${r.peakRss}`);
  // Both outcomes are exercised, not only refusals.
  assert.ok(
    r.ok >= trials / 20 && r.formatError >= trials / 20,
    `${r.ok} decoded, ${r.formatError} FormatError`,
  );
  return r;
}

Deno.test("fuzz: 2,000 mutated .ohlcv files decode to well-formed candles or raise FormatError", async () => {
  await fuzz("ohlcv", 2000);
});

Deno.test("fuzz: 500 mutated CSV files import or raise FormatError", async () => {
  await fuzz("csv", 500);
});

Deno.test("fuzz: 500 mutated JSON files import or raise FormatError", async () => {
  await fuzz("json", 500);
});

Deno.test("fuzz: 500 mutated symbol-info TOML files parse or raise FormatError", async () => {
  await fuzz("toml", 500);
});

Deno.test("fuzz: mutations are a function of (seed, target, trial) and never throw themselves", async () => {
  const corpus = await loadCorpus();
  for (const target of TARGETS) {
    for (let trial = 0; trial < 1000; trial++) {
      const a = mutate(corpus, target, SEED, trial);
      const b = mutate(corpus, target, SEED, trial);
      assert.deepEqual(a, b, `${target} trial ${trial}`);
    }
  }
});

Deno.test("fuzz: the watchdog reports a synchronous endless loop as a hang and goes on", async () => {
  await withDir(async (dir) => {
    const rep = await runFuzz({
      target: "toml",
      trials: 6,
      seed: SEED,
      dir,
      hangAtTrial: 3,
      hangMs: 1000,
    });
    assert.equal(rep.trials, 6);
    assert.deepEqual(rep.failures.map((f) => [f.kind, f.trial]), [
      ["hang", 3],
    ]);
    assert.equal(rep.ok + rep.formatError, 5);
  });
});

/** The btc_1D_gap fixture's 208-byte header with fields overwritten. */
function headerWith(
  edit: (dv: DataView) => void,
): Uint8Array {
  const bytes = Deno.readFileSync(join(FIXTURES, "btc_1D_gap.ohlcv"));
  edit(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  return bytes;
}

Deno.test("fuzz: headers claiming absurd sizes are refused at once, without allocating", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "huge.ohlcv");
    const cases: [string, (dv: DataView) => void][] = [];
    for (
      const n of [
        2n ** 31n,
        2n ** 32n,
        2n ** 40n,
        2n ** 53n - 1n,
        2n ** 53n,
        2n ** 63n,
        2n ** 64n - 1n,
      ]
    ) {
      cases.push([
        `record_count ${n}`,
        (dv) => dv.setBigUint64(24, n, true),
      ]);
    }
    for (const rs of [0xffffffff, 0x80000000, 1 << 20]) {
      cases.push([`record_size ${rs}`, (dv) => dv.setUint32(16, rs, true)]);
    }
    cases.push(["column_count 65535 with a matching header_size", (dv) => {
      dv.setUint16(20, 0xffff, true);
      dv.setUint32(12, 64 + 24 * 0xffff, true);
    }]);
    cases.push([
      "header_size 2^32 - 1",
      (dv) => dv.setUint32(12, 0xffffffff, true),
    ]);
    cases.push(["record_count 2^40 and record_size 2^32 - 1", (dv) => {
      dv.setBigUint64(24, 2n ** 40n, true);
      dv.setUint32(16, 0xffffffff, true);
    }]);
    const rss0 = Deno.memoryUsage().rss;
    for (const [name, edit] of cases) {
      await Deno.writeFile(path, headerWith(edit));
      const t0 = performance.now();
      await assert.rejects(() => OhlcvReader.open(path), FormatError, name);
      const ms = performance.now() - t0;
      assert.ok(ms < 500, `${name}: ${ms} ms`);
    }
    const grew = Deno.memoryUsage().rss - rss0;
    assert.ok(grew < 64 * 2 ** 20, `RSS grew by ${grew} bytes`);
  });
});

/**
 * A sparse file whose header claims `count` records that it really holds
 * (all zero bytes: time 0), or undefined when the file system cannot make
 * one.
 */
async function sparseFile(
  dir: string,
  count: number,
): Promise<string | undefined> {
  const path = join(dir, `sparse_${count}.ohlcv`);
  const head = headerWith((dv) => {
    dv.setBigUint64(24, BigInt(count), true);
    dv.setBigInt64(32, 0n, true);
    dv.setBigInt64(40, 0n, true);
    dv.setUint16(22, 0, true); // not DENSE
  }).slice(0, 208);
  await Deno.writeFile(path, head);
  try {
    await Deno.truncate(path, 208 + 36 * count);
  } catch (e) {
    console.warn(`skipped: no sparse ${36 * count}-byte file here (${e})`);
    return undefined;
  }
  return path;
}

/** `indexOf` with a deadline: it awaits a file read per step, so a timer runs. */
async function indexOfWithin(
  reader: OhlcvReader,
  time: number,
  side: "left" | "right",
  ms: number,
): Promise<number | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const search = reader.indexOf(time, side);
  const result = await Promise.race([
    search,
    new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), ms);
    }),
  ]);
  clearTimeout(timer);
  if (result === "timeout") {
    // Closing the file makes the next read of the endless search fail.
    await reader.close();
    await search.catch(() => {});
  }
  return result;
}

for (const count of [2_000_000_000, 3_000_000_000]) {
  Deno.test(`fuzz: a sparse file that holds ${count.toExponential()} records opens lazily and its binary search ends`, async () => {
    await withDir(async (dir) => {
      const path = await sparseFile(dir, count);
      if (path === undefined) return;
      const rss0 = Deno.memoryUsage().rss;
      const t0 = performance.now();
      const reader = await OhlcvReader.open(path);
      try {
        assert.ok(performance.now() - t0 < 1000, "open took over 1 s");
        assert.equal(reader.count, count);
        const tail = await reader.read(count - 3, count);
        assert.deepEqual([...tail.time], [0, 0, 0]);
        const grew = Deno.memoryUsage().rss - rss0;
        assert.ok(grew < 64 * 2 ** 20, `RSS grew by ${grew} bytes`);
        assert.equal(await indexOfWithin(reader, -1, "left", 3000), 0);
        // Every stored time (0) is below 1: the answer is `count`. With more
        // than 2^31 records, `(lo + hi) >>> 1` in OhlcvReader.indexOf wraps
        // past 2^32 and the search cycles for ever (format/ohlcv_reader.ts).
        const i = await indexOfWithin(reader, 1, "left", 3000);
        assert.equal(
          i,
          count,
          `indexOf(1) on ${count} records: ${
            i === "timeout" ? "no answer after 3 s (endless loop)" : i
          }`,
        );
      } finally {
        await reader.close();
      }
    });
  });
}

// What the fuzzing found: minimal reproducers (RELIABILITY.md "Fuzzing").

Deno.test("fuzz finding: duplicate times past the Date range are a FormatError, not a RangeError", () => {
  // Found by `extreme times` (csv trial 521, json trial 126, seed 20261206):
  // the duplicate-time message calls toISOString() on a time beyond
  // ±8.64e15 ms (CandleAccumulator.finish, format/_candle_import.ts).
  const row = "9000000000000000,1,1,1,1,1";
  const cases: [string, () => unknown][] = [
    [
      "CSV, ms",
      () =>
        parseCsvCandles(
          `timestamp,open,high,low,close,volume\n${row}\n${row}\n`,
          {
            timeUnit: "ms",
          },
        ),
    ],
    ["CSV, detected ns", () =>
      parseCsvCandles(
        "timestamp,open,high,low,close,volume\n9e21,1,1,1,1,1\n9e21,1,1,1,1,1\n",
      )],
    [
      "JSON, detected ns",
      () => parseJsonCandles("[[9e21,1,1,1,1,1],[9e21,1,1,1,1,1]]"),
    ],
  ];
  for (const [name, f] of cases) {
    assert.throws(f, FormatError, name);
  }
});

Deno.test({
  name:
    "fuzz finding (fixed): top-level TOML keys survive parse → stringify → parse",
  // Found by the TOML round-trip note (toml trial 1457, seed 20261206):
  // stringifySymbolInfo appended a top-level key of `extra` after the last
  // table, where it joined that table (moved and lost, or a document that no
  // longer parsed). The download pipeline writes `extra` back.
  fn() {
    const base = Deno.readTextFileSync(join(FIXTURES, "syminfo_crypto.toml"));
    for (const root of ['note = "x"', "day = 4"]) {
      const a = parseSymbolInfoToml(`${root}\n${base}`);
      const text = stringifySymbolInfo(a.info, { extra: a.extra! });
      const b = parseSymbolInfoToml(text);
      assert.deepEqual(b.extra, a.extra, root);
    }
  },
});
