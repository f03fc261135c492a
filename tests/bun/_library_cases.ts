/**
 * The library suite shared by the Bun and Node runners (tests/bun/library.bun.ts
 * and tests/node/library.node.ts). It only uses `node:*` modules and the
 * package's public entry points, handed in as {@linkcode Lib}: the Bun runner
 * passes the TypeScript sources, the Node runner the JSR-style npm build. Deno
 * does not run this file (its name is no test name); Node strips its types.
 *
 * @module
 */

import assert from "node:assert/strict";
import { copyFile, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type * as Format from "../../format/mod.ts";
import type * as Pipeline from "../../pipeline/mod.ts";
import type * as Testing from "../../testing/mod.ts";
import type * as Ccxt from "../../providers/ccxt.ts";
import type * as CapitalCom from "../../providers/capitalcom.ts";

/** The package's entry points: `@pyne/data/format`, `/pipeline`, ... */
export interface Lib {
  format: typeof Format;
  pipeline: typeof Pipeline;
  testing: typeof Testing;
  ccxt: typeof Ccxt;
  capitalcom: typeof CapitalCom;
}

/** One test: a name, a body and a time limit. */
export interface Case {
  name: string;
  fn: () => Promise<void>;
  timeoutMs: number;
}

type Row = (number | null)[];
interface Fixture {
  must_reject?: boolean;
  why?: string;
  writer?: {
    period: string;
    minmove: number | null;
    pricescale: number | null;
    late_grid: [number, number, number] | null;
  };
  input?: Row[];
  header?: Record<string, number>;
  reader?: {
    period: string | null;
    dense: boolean | null;
    size: number;
    minmove?: number | null;
    pricescale?: number | null;
  };
  decoded?: Row[];
}
type Batch = Format.CandleBatch;

/** The PyneCore fixtures (ground truth, see tests/ohlcv_conformance_test.ts). */
export const FIXTURES: string = new URL(
  "../fixtures/pynecore/",
  import.meta.url,
).pathname;

/** What the error must name for each known corrupt fixture. */
const CORRUPT_PROBLEMS: Record<string, RegExp> = {
  corrupt_bad_dtype: /column 2 \("high"\) has unknown dtype 3/,
  corrupt_bad_unit: /unknown interval_unit 9/,
  corrupt_count_too_big: /declares 10000 records but the file holds 120/,
  corrupt_dense_single: /DENSE flag is set on a file with 1 record/,
  corrupt_first_ts_mismatch:
    /first_timestamp 1 differs from the first stored record's 1704153600000/,
  corrupt_grid_half: /tick grid: minmove 1, pricescale 0/,
  corrupt_header_size: /header_size is 200 but 6 columns need 208/,
  corrupt_last_ts_mismatch: /last_timestamp 1 /,
  corrupt_major_3: /unsupported format version 3/,
  corrupt_minor_9: /unsupported minor version 2\.9/,
  corrupt_offset_gap: /offsets do not tile/,
  corrupt_short_header: /40 bytes, shorter than the 64-byte v2 header/,
  corrupt_unknown_flag: /unknown flag bits 0x4/,
  corrupt_zero_interval: /interval_value is 0/,
};

const COLS = ["time", "open", "high", "low", "close", "volume"] as const;

function loadFixtures(): { name: string; json: Fixture; ohlcv: string }[] {
  const out: { name: string; json: Fixture; ohlcv: string }[] = [];
  const names = readdirSync(FIXTURES).sort();
  for (const f of names) {
    if (!f.endsWith(".json")) continue;
    const base = f.slice(0, -5);
    if (!names.includes(`${base}.ohlcv`)) continue; // syminfo, export twins
    out.push({
      name: base,
      json: JSON.parse(readFileSync(join(FIXTURES, f), "utf8")),
      ohlcv: join(FIXTURES, `${base}.ohlcv`),
    });
  }
  return out;
}

function rowsOf(b: Batch): Row[] {
  const rows: Row[] = [];
  for (let i = 0; i < b.time.length; i++) rows.push(COLS.map((c) => b[c][i]!));
  return rows;
}

function assertDecoded(b: Batch, rows: Row[], what: string): void {
  assert.equal(b.time.length, rows.length, `${what}: record count`);
  for (let i = 0; i < rows.length; i++) {
    for (let c = 0; c < 6; c++) {
      const want = rows[i]![c] ?? NaN;
      const got = b[COLS[c]!][i]!;
      if (!Object.is(got, want)) {
        assert.fail(`${what}: record ${i} ${COLS[c]} is ${got}, not ${want}`);
      }
    }
  }
}

function assertSameCandles(got: Batch, want: Batch, what: string): void {
  assert.ok(want.time.length > 0, `${what}: there are candles to compare`);
  assert.equal(got.time.length, want.time.length, `${what}: candle count`);
  for (const c of COLS) {
    for (let i = 0; i < want.time.length; i++) {
      if (got[c][i] !== want[c][i]) {
        assert.fail(`${what}: ${c}[${i}] is ${got[c][i]}, not ${want[c][i]}`);
      }
    }
  }
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Keeps a resource until the end of {@linkcode withDir}'s callback. */
type Keep = <T extends AsyncDisposable>(resource: T) => T;

/**
 * Runs `fn` with a fresh temporary folder, removed afterwards, after the
 * resources given to `keep` are disposed of (last first). Node 22 has no
 * `await using`, which this file would need to be transpiled for.
 */
async function withDir<T>(
  fn: (dir: string, keep: Keep) => Promise<T>,
): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), "pyne-data-suite-"));
  const kept: AsyncDisposable[] = [];
  try {
    return await fn(dir, (resource) => {
      kept.push(resource);
      return resource;
    });
  } finally {
    for (const r of kept.reverse()) await r[Symbol.asyncDispose]();
    await rm(dir, { recursive: true, force: true });
  }
}

/** The cases, for a runner to register with its own `test()`. */
export function libraryCases(lib: Lib): Case[] {
  const { format, pipeline, testing } = lib;
  const cases: Case[] = [];
  const add = (name: string, fn: () => Promise<void>, timeoutMs = 30_000) =>
    cases.push({ name, fn, timeoutMs });
  const fixtures = loadFixtures();

  /** Writes a fixture's input in batches of `sizes` (cycled); returns the bytes. */
  async function writeFixture(
    fx: Fixture,
    path: string,
    sizes: number[],
  ): Promise<Uint8Array> {
    const w = fx.writer!;
    const writer = await format.OhlcvWriter.open(
      path,
      w.minmove === null
        ? { period: w.period }
        : { period: w.period, minmove: w.minmove, pricescale: w.pricescale! },
    );
    const rows = fx.input!;
    const late = w.late_grid;
    let i = 0, k = 0;
    while (i < rows.length) {
      if (late && i === late[0]) await writer.setTickInfo(late[1], late[2]);
      let end = Math.min(rows.length, i + sizes[k++ % sizes.length]!);
      if (late && i < late[0] && end > late[0]) end = late[0];
      await writer.append(format.batchFromRows(rows.slice(i, end)));
      i = end;
    }
    if (late && rows.length === late[0]) {
      await writer.setTickInfo(late[1], late[2]);
    }
    await writer.close();
    return new Uint8Array(await readFile(path));
  }

  add("the PyneCore fixtures are all there", () => {
    const ohlcv = readdirSync(FIXTURES).filter((f) => f.endsWith(".ohlcv"));
    assert.ok(ohlcv.length >= 30, `only ${ohlcv.length} .ohlcv fixtures`);
    assert.equal(fixtures.length, ohlcv.length, "every fixture has its twin");
    return Promise.resolve();
  });

  for (const { name, json, ohlcv } of fixtures) {
    if (json.must_reject) {
      add(`OhlcvReader refuses ${name} with a FormatError`, async () => {
        await assert.rejects(format.OhlcvReader.open(ohlcv), (err: unknown) => {
          assert.ok(err instanceof format.FormatError, `got ${err}`);
          assert.ok(err.message.startsWith(`Cannot open ${ohlcv}: `));
          assert.doesNotMatch(err.message, /undefined|NaN|\[object|\n/);
          const problem = CORRUPT_PROBLEMS[name];
          if (problem) assert.match(err.message, problem);
          return true;
        });
        assert.equal(await format.ohlcvRecordCount(ohlcv), 0);
      });
      add(
        `OhlcvWriter refuses ${name} and leaves it untouched`,
        () =>
          withDir(async (dir) => {
            const path = join(dir, `${name}.ohlcv`);
            await copyFile(ohlcv, path);
            const before = await readFile(path);
            await assert.rejects(
              format.OhlcvWriter.open(path, { period: "1" }),
              format.FormatError,
            );
            assert.deepEqual(await readFile(path), before);
          }),
      );
      continue;
    }

    add(
      `OhlcvReader decodes ${name} exactly as PyneCore`,
      () =>
        withDir(async (_dir, keep) => {
          const reader = keep(await format.OhlcvReader.open(ohlcv));
          const r = json.reader!;
          assert.equal(reader.count, r.size);
          assert.equal(reader.info.period, r.period);
          const h = json.header;
          if (h) {
            assert.equal(reader.info.format, "v2");
            assert.equal(reader.info.dense, r.dense);
            assert.equal(reader.info.recordSize, h.record_size);
            assert.equal(reader.info.headerSize, h.header_size);
            assert.equal(reader.info.versionMinor, h.version_minor);
            assert.equal(reader.info.minmove, h.minmove);
            assert.equal(reader.info.pricescale, h.pricescale);
            assert.equal(reader.info.first ?? 0, h.first_timestamp);
            assert.equal(reader.info.last ?? 0, h.last_timestamp);
          } else {
            assert.equal(reader.info.format, "v1");
          }
          assertDecoded(await reader.read(), json.decoded!, name);
          const rows: Row[] = [];
          for await (const b of reader.batches({ batchSize: 7 })) {
            rows.push(...rowsOf(b));
          }
          assertDecoded(
            format.batchFromRows(rows),
            json.decoded!,
            `${name} /7`,
          );
          assert.equal(await format.ohlcvRecordCount(ohlcv), r.size);
        }),
    );

    if (!json.header) {
      add(
        `OhlcvWriter refuses to append to legacy ${name}`,
        () =>
          withDir(async (dir) => {
            const path = join(dir, `${name}.ohlcv`);
            await copyFile(ohlcv, path);
            const before = await readFile(path);
            await assert.rejects(
              format.OhlcvWriter.open(path, { period: "60" }),
              /legacy v1.*replace/,
            );
            assert.deepEqual(await readFile(path), before);
          }),
      );
      continue;
    }

    add(
      `OhlcvWriter reproduces ${name} byte for byte`,
      () =>
        withDir(async (dir) => {
          const h = json.header!;
          const expected = new Uint8Array(await readFile(ohlcv)).subarray(
            0,
            h.header_size! + h.record_count! * h.record_size!,
          );
          const n = json.input!.length;
          for (const sizes of [[Math.max(n, 1)], [1], [7], [5, 1, 13]]) {
            const path = join(dir, `out_${sizes.join("_")}.ohlcv`);
            const bytes = await writeFixture(json, path, sizes);
            assert.ok(
              bytesEqual(bytes, expected),
              `${name}: batches of ${
                sizes.join("/")
              } give other bytes (${bytes.length} vs ${expected.length})`,
            );
          }
        }),
    );
  }

  add(
    "OhlcvWriter truncates crash_tail's uncommitted bytes on open",
    () =>
      withDir(async (dir) => {
        const fx = fixtures.find((f) => f.name === "crash_tail")!;
        const path = join(dir, "crash_tail.ohlcv");
        await copyFile(fx.ohlcv, path);
        const h = fx.json.header!;
        const extent = h.header_size! + h.record_count! * h.record_size!;
        const before = new Uint8Array(await readFile(path));
        assert.ok(before.length > extent);
        const w = await format.OhlcvWriter.open(path, { period: "1" });
        assert.equal(w.count, 40);
        await w.close();
        const after = new Uint8Array(await readFile(path));
        assert.ok(bytesEqual(after, before.subarray(0, extent)));
      }),
  );

  // download() with the in-memory provider.
  const NOW = Date.UTC(2024, 0, 10, 12, 0, 30); // the 12:00 minute is forming
  add(
    "download() writes, tops up and finds nothing new (MemoryProvider)",
    () =>
      withDir(async (dir, keep) => {
        const provider = new testing.MemoryProvider({
          now: () => NOW,
          pageSize: 200,
        });
        const first = await pipeline.download(provider, "BTCUSDT", {
          timeframe: "1",
          dataDir: dir,
          from: "2024-01-10",
          to: "2024-01-10 06:00",
          now: () => NOW,
        });
        assert.equal(first.path, join(dir, "memory_BTCUSDT_1.ohlcv"));
        assert.equal(first.mode, "new");
        assert.equal(first.candles, 360);
        const second = await pipeline.download(provider, "BTCUSDT", {
          timeframe: "1",
          dataDir: dir,
          now: () => NOW,
        });
        assert.equal(second.mode, "append");
        assert.equal(second.candles, 360);
        assert.equal(second.fileCount, 720);
        const third = await pipeline.download(provider, "BTCUSDT", {
          timeframe: "1",
          dataDir: dir,
          now: () => NOW,
        });
        assert.equal(third.upToDate, true);
        assert.equal(third.requests, 0);
        // The file holds exactly what the provider serves, on its tick grid.
        const want = format.concatBatches(
          await Array.fromAsync(provider.candles({
            symbol: "BTCUSDT",
            timeframe: format.parseTimeframe("1"),
            from: Date.UTC(2024, 0, 10),
            to: Date.UTC(2024, 0, 10, 12),
          })),
        );
        const r = keep(await format.OhlcvReader.open(first.path));
        assertSameCandles(await r.read(), want, "memory file");
        assert.equal(r.info.pricescale, 10);
        const toml = await format.readSymbolInfo(first.symbolInfoPath);
        assert.equal(toml.provider, "memory:BTCUSDT@1");
        assert.deepEqual((await readdir(dir)).sort(), [
          "memory_BTCUSDT_1.ohlcv",
          "memory_BTCUSDT_1.toml",
        ]);
        await provider[Symbol.asyncDispose]();
      }),
  );

  // ccxt (the real library) against the Binance emulator.
  const BNOW = Date.UTC(2024, 2, 1, 12, 0, 30);
  add(
    "CCXTProvider downloads exactly the emulator's closed Binance candles",
    () =>
      withDir(async (dir, keep) => {
        const gaps = [{
          from: Date.UTC(2024, 2, 1, 3, 20),
          to: Date.UTC(2024, 2, 1, 5),
        }];
        const emu = keep(
          await testing.startBinanceEmulator({
            now: () => BNOW,
            gaps,
          }),
        );
        const p = keep(
          new lib.ccxt.CCXTProvider({
            configDir: join(dir, "config"),
            baseUrl: emu.url,
            env: {},
            retryBaseDelayMs: 5,
            retryMaxDelayMs: 40,
          }),
        );
        const cases: [string, number, number, number][] = [
          ["1", Date.UTC(2024, 2, 1), BNOW + 3_600_000, 100],
          ["60", Date.UTC(2024, 0, 1), BNOW, 200],
          ["1D", Date.UTC(2022, 11, 31, 7), BNOW, 300],
        ];
        for (const [period, from, to, pageSize] of cases) {
          const tf = format.parseTimeframe(period);
          const got = format.concatBatches(
            await Array.fromAsync(p.candles({
              symbol: "BINANCE:BTC/USDT",
              timeframe: tf,
              from,
              to,
              pageSize,
              concurrency: 2,
            })),
          );
          assertSameCandles(
            got,
            emu.expectedCandles("BTCUSDT", tf, from, to),
            `ccxt ${period}`,
          );
        }
        // And through download() into a file, read back.
        const s = await pipeline.download(p, "BINANCE:ETH/USDT", {
          timeframe: "60",
          dataDir: dir,
          from: "2024-02-01",
          to: "2024-03-01",
          now: () => BNOW,
        });
        assert.equal(s.path, join(dir, "ccxt_BINANCE_ETH_USDT_60.ohlcv"));
        const r = keep(await format.OhlcvReader.open(s.path));
        assertSameCandles(
          await r.read(),
          emu.expectedCandles(
            "ETHUSDT",
            format.parseTimeframe("60"),
            Date.UTC(2024, 1, 1),
            Date.UTC(2024, 2, 1),
          ),
          "ccxt file",
        );
      }),
    60_000,
  );

  // Capital.com against its emulator.
  const CNOW = Date.UTC(2025, 0, 15, 10, 30, 20);
  add(
    "CapitalComProvider candles equal the emulator's closed bid bars",
    () =>
      withDir(async (dir, keep) => {
        const emu = keep(
          await testing.startCapitalComEmulator({
            now: () => CNOW,
            requestsPerSecond: Infinity,
            loginsPerSecond: Infinity,
            rsaBits: 1024,
          }),
        );
        const p = keep(
          new lib.capitalcom.CapitalComProvider({
            configDir: join(dir, "config"),
            env: {},
            baseUrl: emu.url,
            ...emu.credentials,
            now: () => CNOW,
            log: () => {},
            rateLimit: 1000,
            loginIntervalMs: 1,
            retryBaseDelayMs: 5,
          }),
        );
        const cases: [string, number, number][] = [
          ["1", Date.UTC(2025, 0, 10, 12), Date.UTC(2025, 0, 13, 6)],
          ["60", Date.UTC(2025, 0, 1), CNOW],
          ["1D", Date.UTC(2024, 6, 1), CNOW],
        ];
        for (const [period, from, to] of cases) {
          const got = format.concatBatches(
            await Array.fromAsync(p.candles({
              symbol: "EURUSD",
              timeframe: format.parseTimeframe(period),
              from,
              to,
            })),
          );
          assertSameCandles(
            got,
            emu.bars("EURUSD", period, from, to),
            `capitalcom ${period}`,
          );
        }
        const s = await pipeline.download(p, "EURUSD", {
          timeframe: "60",
          dataDir: dir,
          from: "2025-01-06",
          to: "2025-01-14",
          now: () => CNOW,
        });
        const r = keep(await format.OhlcvReader.open(s.path));
        const got = await r.read();
        const want = emu.bars(
          "EURUSD",
          "60",
          Date.UTC(2025, 0, 6),
          Date.UTC(2025, 0, 14),
        );
        // The file is dense: closed hours are NaN placeholders between bars.
        const real = format.batchFromRows(
          rowsOf(got).filter((row) => !Number.isNaN(row[1])),
        );
        assertSameCandles(real, want, "capitalcom file");
      }),
    60_000,
  );

  return cases;
}
