import assert from "node:assert/strict";
import {
  coverageFromToml,
  coverageToToml,
  FormatError,
  recordCoverage,
} from "../format/mod.ts";
import { readSymbolInfo, writeSymbolInfo } from "../format/symbol_info_toml.ts";
import { download } from "../pipeline/download.ts";
import { fileCoverage, repair } from "../pipeline/repair.ts";
import { CCXTProvider } from "../providers/ccxt.ts";
import { startBinanceEmulator } from "../testing/binance_emulator.ts";
import {
  MemoryProvider,
  type MemoryProviderOptions,
} from "../testing/memory_provider.ts";

const H = 3_600_000;
const M = 60_000;
// Wednesday 2024-01-10 12:00:30 UTC.
const NOW = Date.UTC(2024, 0, 10, 12, 0, 30);
const now = () => NOW;
const iso = (t: number) => new Date(t).toISOString().replace(/\.000Z$/, "Z");

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "pipeline_repair_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function provider(options: MemoryProviderOptions = {}): MemoryProvider {
  return new MemoryProvider({ now, pageSize: 200, ...options });
}

async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

/** The bytes of the `.ohlcv` and the text of its `.toml`. */
async function snapshot(path: string): Promise<[Uint8Array, string]> {
  return [
    await Deno.readFile(path),
    await Deno.readTextFile(path.replace(/\.ohlcv$/, ".toml")),
  ];
}

/** Asserts both files (the candles and the `.toml` with its ledger) are identical. */
async function assertSameFiles(actual: string, expected: string) {
  const [a, at] = await snapshot(actual);
  const [e, et] = await snapshot(expected);
  assert.equal(at, et, ".toml");
  assert.equal(a.byteLength, e.byteLength, ".ohlcv size");
  assert.ok(a.every((x, i) => x === e[i]), ".ohlcv bytes");
}

/** Records `[from, to)` as failed in the file's ledger (as a run whose pages failed would). */
async function markFailed(path: string, from: number, to: number) {
  const tomlPath = path.replace(/\.ohlcv$/, ".toml");
  const doc = await readSymbolInfo(tomlPath);
  const ledger = coverageFromToml(doc.extra!.coverage, tomlPath);
  recordCoverage(ledger, "failed", from, to);
  await writeSymbolInfo(tomlPath, doc.info, {
    provider: doc.provider!,
    extra: { ...doc.extra, coverage: coverageToToml(ledger) },
  });
}

/** The `[coverage]` table of the file's `.toml`. */
async function ledgerOf(path: string): Promise<Record<string, unknown>> {
  const doc = await readSymbolInfo(path.replace(/\.ohlcv$/, ".toml"));
  return doc.extra!.coverage as Record<string, unknown>;
}

Deno.test("repair completes a download whose invalid candles were dropped, byte-identical to a clean download", async () => {
  await withDir(async (dir) => {
    const base = { timeframe: "1", from: "2024-01-10", now } as const;
    const s = await download(provider({ brokenEvery: 100 }), "BTCUSDT", {
      ...base,
      dataDir: `${dir}/a`,
    });
    assert.equal(s.validation.dropped, 7);
    assert.equal(s.coverage.complete, false);
    // The ledger lists the period of each dropped candle as failed.
    const slot0 = Date.UTC(2024, 0, 10) / M;
    const broken = Array.from(
      { length: 7 },
      (_, i) => (Math.ceil(slot0 / 100) * 100 + 100 * i) * M,
    );
    assert.deepEqual(
      (await ledgerOf(s.path)).failed,
      broken.map((t) => [iso(t), iso(t + M)]),
    );
    for (const t of broken) {
      assert.ok(
        s.coverage.missing.some((m) =>
          m.state === "failed" && m.from <= t && t + M <= m.to
        ),
        `${iso(t)} reported missing`,
      );
    }
    const clean = provider();
    const r = await repair(clean, s.path, { now });
    assert.equal(r.candles, 7);
    assert.equal(r.fileCount, 720);
    assert.equal(r.coverage.complete, true);
    assert.deepEqual(r.coverage.missing, []);
    assert.equal(r.providerString, "memory:BTCUSDT@1");
    const c = await download(provider(), "BTCUSDT", {
      ...base,
      dataDir: `${dir}/b`,
    });
    assert.equal(c.coverage.complete, true);
    await assertSameFiles(s.path, c.path);
    assert.deepEqual(await listDir(`${dir}/a`), [
      "memory_BTCUSDT_1.ohlcv",
      "memory_BTCUSDT_1.toml",
    ]);
  });
});

Deno.test("repair completes a ccxt download that lost a page after its retries, byte-identical to a clean download", async () => {
  await withDir(async (dir) => {
    const from = Date.UTC(2024, 0, 10), to = from + 10 * H;
    const failedPage = from + 300 * M;
    await using emu = await startBinanceEmulator({
      now,
      faults: [{
        kind: "500",
        at: (r) =>
          r.path === "/api/v3/klines" &&
          r.query["startTime"] === String(failedPage),
        times: 3, // the first attempt and both retries
      }],
    });
    const open = () =>
      new CCXTProvider({
        configDir: `${dir}/config`,
        baseUrl: emu.url,
        env: {},
        maxRetries: 2,
        retryBaseDelayMs: 1,
        retryMaxDelayMs: 5,
      });
    const base = {
      timeframe: "1",
      from: new Date(from),
      to: new Date(to),
      now,
      pageSize: 100,
      concurrency: 1,
    } as const;
    const path = `${dir}/a/ccxt_BINANCE_BTC_USDT_1.ohlcv`;
    {
      await using p = open();
      await assert.rejects(
        download(p, "BINANCE:BTC/USDT", { ...base, dataDir: `${dir}/a` }),
        /500|Internal|server/i,
      );
    }
    // The file holds the pages before the failed one; its ledger says the
    // rest of the range failed.
    const { report } = await fileCoverage(path, { now });
    assert.equal(report.complete, false);
    assert.deepEqual(report.missing, [
      { from: failedPage, to, state: "failed" },
    ]);
    assert.deepEqual((await ledgerOf(path)).fetched, [
      [iso(from), iso(failedPage)],
    ]);
    {
      await using p = open();
      const r = await repair(p, path, { now, pageSize: 100 });
      assert.equal(r.candles, 300);
      assert.equal(r.coverage.complete, true);
      await using q = open();
      const c = await download(q, "BINANCE:BTC/USDT", {
        ...base,
        dataDir: `${dir}/b`,
      });
      await assertSameFiles(path, c.path);
    }
  });
});

Deno.test("repair fetches exactly a never-requested hole in the middle and matches a clean download", async () => {
  await withDir(async (dir) => {
    const base = { timeframe: "60", now } as const;
    const pages: number[] = [];
    const p = provider({ onRequest: (i) => pages.push(i.from) });
    await download(p, "BTCUSDT", {
      ...base,
      dataDir: `${dir}/a`,
      from: "2024-01-08",
      to: "2024-01-09",
    });
    const s = await download(p, "BTCUSDT", {
      ...base,
      dataDir: `${dir}/a`,
      from: "2024-01-09 12:00",
    });
    const hole = { from: Date.UTC(2024, 0, 9), to: Date.UTC(2024, 0, 9, 12) };
    const before = await fileCoverage(s.path, { now });
    assert.deepEqual(before.report.missing, [
      { ...hole, state: "never-requested" },
    ]);
    pages.length = 0;
    const seen: number[] = [];
    const r = await repair(p, s.path, {
      now,
      onHole: (h) => seen.push(h.from),
    });
    assert.deepEqual(r.holes, [{ ...hole, state: "never-requested" }]);
    assert.deepEqual(seen, [hole.from]);
    assert.deepEqual(pages, [hole.from], "one request, for the hole only");
    assert.equal(r.requests, 1);
    assert.equal(r.candles, 12);
    assert.equal(r.coverage.complete, true);
    const c = await download(provider(), "BTCUSDT", {
      ...base,
      dataDir: `${dir}/b`,
      from: "2024-01-08",
    });
    await assertSameFiles(s.path, c.path);
  });
});

Deno.test("repair fetches only the holes inside its range and a failed run in the middle", async () => {
  await withDir(async (dir) => {
    const base = { timeframe: "60", now, from: "2024-01-08" } as const;
    const outage = [Date.UTC(2024, 0, 8, 5), Date.UTC(2024, 0, 8, 9)] as const;
    const later = [Date.UTC(2024, 0, 9, 5), Date.UTC(2024, 0, 9, 7)] as const;
    // The venue answered nothing there and the run recorded it as failed.
    const s = await download(provider({ gaps: [outage, later] }), "BTCUSDT", {
      ...base,
      dataDir: `${dir}/a`,
    });
    await markFailed(s.path, ...outage);
    await markFailed(s.path, ...later);
    const pages: number[] = [];
    const p = provider({ onRequest: (i) => pages.push(i.from) });
    const r = await repair(p, s.path, {
      now,
      range: { from: Date.UTC(2024, 0, 8), to: Date.UTC(2024, 0, 9) },
    });
    assert.deepEqual(r.holes, [
      { from: outage[0], to: outage[1], state: "failed" },
    ]);
    assert.deepEqual(pages, [outage[0]]);
    assert.equal(r.candles, 4);
    assert.equal(r.coverage.complete, false);
    assert.deepEqual(r.coverage.missing, [
      { from: later[0], to: later[1], state: "failed" },
    ]);
    const all = await repair(p, s.path, { now });
    assert.equal(all.candles, 2);
    assert.equal(all.coverage.complete, true);
    const c = await download(provider(), "BTCUSDT", {
      ...base,
      dataDir: `${dir}/b`,
    });
    await assertSameFiles(s.path, c.path);
  });
});

Deno.test("repair of a complete file sends no request and leaves the bytes as they were", async () => {
  await withDir(async (dir) => {
    const p = provider();
    const s = await download(p, "BTCUSDT", {
      timeframe: "60",
      dataDir: dir,
      from: "2024-01-08",
      now,
    });
    const before = await snapshot(s.path);
    const requests = p.stats.requests;
    const r = await repair(p, s.path, { now });
    assert.equal(p.stats.requests, requests);
    assert.equal(r.requests, 0);
    assert.deepEqual(r.holes, []);
    assert.equal(r.candles, 0);
    assert.equal(r.fileCount, s.fileCount);
    assert.equal(r.coverage.complete, true);
    assert.deepEqual(await snapshot(s.path), before);
    assert.deepEqual(await listDir(dir), [
      "memory_BTCUSDT_60.ohlcv",
      "memory_BTCUSDT_60.toml",
    ]);
  });
});

Deno.test("repair refuses a missing file, a file without symbol info and a foreign file, changing nothing", async () => {
  await withDir(async (dir) => {
    const p = provider();
    await assert.rejects(
      repair(p, `${dir}/memory_BTCUSDT_60.ohlcv`, { now }),
      (e: unknown) =>
        e instanceof FormatError && /there is no such file/.test(e.message),
    );
    assert.deepEqual(await listDir(dir), []);
    const s = await download(p, "BTCUSDT", {
      timeframe: "60",
      dataDir: dir,
      from: "2024-01-09",
      now,
    });
    const before = await snapshot(s.path);
    // Another provider's file.
    await using other = new CCXTProvider({
      configDir: `${dir}/config`,
      baseUrl: "http://127.0.0.1:9",
      env: {},
    });
    await assert.rejects(
      repair(other, s.path, { now }),
      (e: unknown) =>
        e instanceof RangeError &&
        /with the ccxt provider: it was downloaded from memory \(memory:BTCUSDT@60\)/
          .test(e.message),
    );
    assert.deepEqual(await snapshot(s.path), before);
    // Not an .ohlcv file.
    const junk = `${dir}/junk.ohlcv`;
    await Deno.writeTextFile(junk, "not candles at all");
    await Deno.copyFile(s.symbolInfoPath, `${dir}/junk.toml`);
    await assert.rejects(repair(p, junk, { now }), FormatError);
    assert.equal(await Deno.readTextFile(junk), "not candles at all");
    // No symbol info beside it.
    await Deno.remove(`${dir}/junk.toml`);
    await Deno.copyFile(s.path, `${dir}/bare.ohlcv`);
    await assert.rejects(
      repair(p, `${dir}/bare.ohlcv`, { now }),
      (e: unknown) =>
        e instanceof FormatError && /bare\.toml is missing/.test(e.message),
    );
    assert.deepEqual(await listDir(dir), [
      "bare.ohlcv",
      "junk.ohlcv",
      "memory_BTCUSDT_60.ohlcv",
      "memory_BTCUSDT_60.toml",
    ]);
  });
});

Deno.test("repair that fails midway leaves the file and its ledger intact and no temporary files", async () => {
  await withDir(async (dir) => {
    const base = { timeframe: "60", now, dataDir: dir } as const;
    const p = provider();
    await download(p, "BTCUSDT", {
      ...base,
      from: "2024-01-08",
      to: "2024-01-08 12:00",
    });
    await download(p, "BTCUSDT", { ...base, from: "2024-01-09" });
    const path = `${dir}/memory_BTCUSDT_60.ohlcv`;
    // Two holes: [08 12:00, 09 00:00) never requested; a failed run later.
    const failed = [Date.UTC(2024, 0, 9, 3), Date.UTC(2024, 0, 9, 5)] as const;
    await markFailed(path, ...failed);
    const before = await snapshot(path);
    // The first hole is fetched, the second one fails for good.
    const bad = provider({
      failures: [{ page: 0, call: 1, kind: "permanent" }],
    });
    await assert.rejects(
      repair(bad, path, { now }),
      /Injected permanent failure at page 0 of call 1/,
    );
    assert.deepEqual(await snapshot(path), before);
    assert.deepEqual(await listDir(dir), [
      "memory_BTCUSDT_60.ohlcv",
      "memory_BTCUSDT_60.toml",
    ]);
    // Aborted midway: the same.
    const ac = new AbortController();
    const slow = provider({
      onRequest: (i) => {
        if (i.call === 1) ac.abort(new Error("stopped by the test"));
      },
    });
    await assert.rejects(
      repair(slow, path, { now, signal: ac.signal }),
      /stopped by the test/,
    );
    assert.deepEqual(await snapshot(path), before);
    assert.deepEqual(await listDir(dir), [
      "memory_BTCUSDT_60.ohlcv",
      "memory_BTCUSDT_60.toml",
    ]);
    // A clean run completes it.
    const r = await repair(provider(), path, { now });
    assert.equal(r.holes.length, 2);
    // The failed run still had its candles: the file's win, the ledger heals.
    assert.equal(r.candles, 12);
    assert.equal(r.coverage.complete, true);
  });
});
