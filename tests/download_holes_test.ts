import assert from "node:assert/strict";
import {
  coverageFromToml,
  coverageToToml,
  recordCoverage,
} from "../format/mod.ts";
import { readSymbolInfo, writeSymbolInfo } from "../format/symbol_info_toml.ts";
import { download } from "../pipeline/download.ts";
import {
  MemoryProvider,
  type MemoryProviderOptions,
} from "../testing/memory_provider.ts";

// Wednesday 2024-01-10 12:00:30 UTC.
const NOW = Date.UTC(2024, 0, 10, 12, 0, 30);
const now = () => NOW;

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "pipeline_dl_holes_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function provider(options: MemoryProviderOptions = {}): MemoryProvider {
  return new MemoryProvider({ now, pageSize: 200, ...options });
}

async function snapshot(path: string): Promise<[Uint8Array, string]> {
  return [
    await Deno.readFile(path),
    await Deno.readTextFile(path.replace(/\.ohlcv$/, ".toml")),
  ];
}

async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

Deno.test("download over a range inside a file re-fetches exactly its never-requested hole there", async () => {
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
    await download(p, "BTCUSDT", {
      ...base,
      dataDir: `${dir}/a`,
      from: "2024-01-09 12:00",
    });
    pages.length = 0;
    // A range around the hole, inside the file.
    const s = await download(p, "BTCUSDT", {
      ...base,
      dataDir: `${dir}/a`,
      from: "2024-01-08 18:00",
      to: "2024-01-09 18:00",
    });
    assert.deepEqual(pages, [Date.UTC(2024, 0, 9)], "the hole only");
    assert.equal(s.mode, "prepend");
    assert.equal(s.candles, 12);
    assert.equal(s.copied, 24 + 24);
    assert.equal(s.fileCount, 24 + 12 + 24);
    assert.equal(s.coverage.complete, true);
    assert.deepEqual(await listDir(`${dir}/a`), [
      "memory_BTCUSDT_60.ohlcv",
      "memory_BTCUSDT_60.toml",
    ]);
    const c = await download(provider(), "BTCUSDT", {
      ...base,
      dataDir: `${dir}/b`,
      from: "2024-01-08",
    });
    assert.deepEqual(await snapshot(s.path), await snapshot(c.path));
    // Now complete: the same range asks for nothing and changes nothing.
    pages.length = 0;
    const again = await download(p, "BTCUSDT", {
      ...base,
      dataDir: `${dir}/a`,
      from: "2024-01-08 18:00",
      to: "2024-01-09 18:00",
    });
    assert.equal(again.mode, "append");
    assert.equal(again.upToDate, true);
    assert.deepEqual(pages, []);
    assert.deepEqual(await snapshot(s.path), await snapshot(c.path));
  });
});

Deno.test("download over a range inside a file re-fetches the failed runs in that range only, then tops up", async () => {
  await withDir(async (dir) => {
    const base = { timeframe: "60", now, dataDir: dir } as const;
    const early = [Date.UTC(2024, 0, 8, 2), Date.UTC(2024, 0, 8, 4)] as const;
    const inside = [Date.UTC(2024, 0, 9, 5), Date.UTC(2024, 0, 9, 8)] as const;
    const s0 = await download(provider({ gaps: [early, inside] }), "BTCUSDT", {
      ...base,
      from: "2024-01-08",
      to: "2024-01-10",
    });
    // The run recorded both outages as failed.
    const tomlPath = s0.symbolInfoPath;
    const doc = await readSymbolInfo(tomlPath);
    const ledger = coverageFromToml(doc.extra!.coverage, tomlPath);
    recordCoverage(ledger, "failed", ...early);
    recordCoverage(ledger, "failed", ...inside);
    await writeSymbolInfo(tomlPath, doc.info, {
      provider: doc.provider!,
      extra: { ...doc.extra, coverage: coverageToToml(ledger) },
    });
    const pages: number[] = [];
    const p = provider({ onRequest: (i) => pages.push(i.from) });
    const s = await download(p, "BTCUSDT", { ...base, from: "2024-01-09" });
    assert.equal(s.mode, "prepend");
    // The failed run inside the range, then the top-up after the last candle.
    assert.deepEqual(pages, [inside[0], Date.UTC(2024, 0, 10)]);
    assert.equal(s.candles, 3 + 12);
    assert.equal(s.fileCount, 48 - 2 + 12);
    assert.equal(s.coverage.complete, true);
    const doc2 = await readSymbolInfo(tomlPath);
    const after = coverageFromToml(doc2.extra!.coverage, tomlPath);
    assert.deepEqual(after.failed.runs, [early]);
  });
});

Deno.test("download over a range inside a file without a coverage ledger re-fetches nothing there (no hole is known)", async () => {
  await withDir(async (dir) => {
    const base = { timeframe: "60", now, dataDir: dir } as const;
    const pages: number[] = [];
    const p = provider({ onRequest: (i) => pages.push(i.from) });
    await download(p, "BTCUSDT", { ...base, from: "2024-01-08" });
    const path = `${dir}/memory_BTCUSDT_60.ohlcv`;
    // A file from before the ledger existed: its .toml has no [coverage].
    const toml = path.replace(/\.ohlcv$/, ".toml");
    const doc = await readSymbolInfo(toml);
    await writeSymbolInfo(toml, doc.info, { provider: doc.provider! });
    assert.doesNotMatch(await Deno.readTextFile(toml), /\[coverage\]/);
    const [bytes] = await snapshot(path);
    pages.length = 0;
    const s = await download(p, "BTCUSDT", {
      ...base,
      from: "2024-01-08 06:00",
      to: "2024-01-09 06:00",
    });
    assert.equal(s.mode, "append");
    assert.deepEqual(pages, [], "nothing fetched inside the file");
    assert.deepEqual(await Deno.readFile(path), bytes, "file unchanged");
  });
});
