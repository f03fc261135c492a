import assert from "node:assert/strict";
import { MemoryProvider } from "../testing/memory_provider.ts";
import { CandleGenerator } from "../testing/candle_generator.ts";
import { type CandleBatch, concatBatches } from "../format/candle_batch.ts";
import { parseTimeframe } from "../format/timeframe.ts";
import {
  ProviderError,
  TransientProviderError,
} from "../providers/provider.ts";
import { OrderStream } from "../pipeline/order_stream.ts";

const M = 60_000;
const T0 = Date.UTC(2024, 0, 10); // a Wednesday
const tf1 = parseTimeframe("1");

async function all(
  p: MemoryProvider,
  from: number,
  to: number,
  extra: Record<string, unknown> = {},
) {
  const out: CandleBatch[] = [];
  for await (
    const b of p.candles({
      symbol: "BTCUSDT",
      timeframe: tf1,
      from,
      to,
      ...extra,
    })
  ) {
    out.push(b);
  }
  return out;
}

Deno.test("MemoryProvider pages deterministic generator candles", async () => {
  const p = new MemoryProvider({ now: () => T0 + 1000 * M, pageSize: 50 });
  const batches = await all(p, T0, T0 + 120 * M);
  assert.deepEqual(batches.map((b) => b.time.length), [50, 50, 20]);
  assert.equal(p.stats.requests, 3);
  const all1 = concatBatches(batches);
  const gen = new CandleGenerator({
    seed: "memory:BTCUSDT",
    basePrice: 40_000,
    tick: 0.1,
  });
  const c = gen.candle(T0 + 77 * M, M);
  assert.deepEqual(
    [
      all1.time[77],
      all1.open[77],
      all1.high[77],
      all1.low[77],
      all1.close[77],
      all1.volume[77],
    ],
    [c.time, c.open, c.high, c.low, c.close, c.volume],
  );
  // Same options, same data.
  const again = concatBatches(
    await all(
      new MemoryProvider({ now: () => T0 + 1000 * M, pageSize: 50 }),
      T0,
      T0 + 120 * M,
    ),
  );
  assert.deepEqual(again, all1);
});

Deno.test("MemoryProvider overlaps pages, sends newest-first pages and repeats candles", async () => {
  const p = new MemoryProvider({
    now: () => T0 + 1000 * M,
    pageSize: 10,
    overlap: 2,
    order: "desc",
    duplicateEvery: 5,
    conflictEvery: 3,
  });
  const batches = await all(p, T0, T0 + 26 * M);
  // Page starts 0, 8, 16, 24: each page repeats the previous page's last 2 slots.
  assert.equal(batches[1]!.time.at(-1), T0 + 8 * M); // newest first: oldest is last
  assert.ok(batches[0]!.time[0]! > batches[0]!.time.at(-1)!);
  const b0 = [...batches[0]!.time].reverse();
  // Slot k (1-based in the page) is sent twice when k % 5 == 0 (identical) or k % 3 == 0 (different volume).
  const count = (t: number) => b0.filter((x) => x === t).length;
  assert.equal(count(T0 + 4 * M), 2); // k = 5
  assert.equal(count(T0 + 2 * M), 2); // k = 3
  assert.equal(count(T0), 1);
});

Deno.test("MemoryProvider includes the forming candle unless told not to", async () => {
  const now = T0 + 10 * M + 30_000;
  const withForming = concatBatches(
    await all(new MemoryProvider({ now: () => now }), T0, T0 + 100 * M),
  );
  assert.equal(withForming.time.at(-1), T0 + 10 * M);
  assert.equal(withForming.close.at(-1), withForming.open.at(-1)); // a partial candle
  const closed = concatBatches(
    await all(
      new MemoryProvider({ now: () => now, forming: false }),
      T0,
      T0 + 100 * M,
    ),
  );
  assert.equal(closed.time.at(-1), T0 + 9 * M);
});

Deno.test("MemoryProvider leaves out configured gaps and closed-market hours", async () => {
  const p = new MemoryProvider({
    now: () => T0 + 10_000 * M,
    gaps: [[T0 + 5 * M, T0 + 8 * M]],
  });
  const b = concatBatches(await all(p, T0, T0 + 10 * M));
  assert.deepEqual([...b.time].map((t) => (t - T0) / M), [0, 1, 2, 3, 4, 8, 9]);
  const fri = Date.UTC(2024, 0, 12, 20, 0);
  const fx = new MemoryProvider({ now: () => fri + 10 * 86_400_000 });
  const out: CandleBatch[] = [];
  for await (
    const x of fx.candles({
      symbol: "eurusd",
      timeframe: parseTimeframe("60"),
      from: fri,
      to: fri + 3 * 86_400_000,
    })
  ) out.push(x);
  const times = [...concatBatches(out).time];
  assert.equal(times[0], fri);
  assert.equal(times[1], Date.UTC(2024, 0, 14, 22, 0)); // Sunday 22:00 opening
});

Deno.test("MemoryProvider retries transient failures and counts them", async () => {
  const p = new MemoryProvider({
    now: () => T0 + 1000 * M,
    pageSize: 10,
    failures: [{ page: 1, kind: "transient", times: 2 }],
  });
  const b = concatBatches(await all(p, T0, T0 + 30 * M));
  assert.equal(b.time.length, 30);
  assert.equal(p.stats.retries, 2);
  assert.equal(p.stats.requests, 5);
});

Deno.test("MemoryProvider fails permanently at the chosen page after yielding earlier ones", async () => {
  const p = new MemoryProvider({
    now: () => T0 + 1000 * M,
    pageSize: 10,
    failures: [{ page: 2, kind: "permanent" }],
  });
  const got: number[] = [];
  await assert.rejects(
    (async () => {
      for await (
        const b of p.candles({
          symbol: "BTCUSDT",
          timeframe: tf1,
          from: T0,
          to: T0 + 50 * M,
        })
      ) got.push(b.time.length);
    })(),
    (e: unknown) =>
      e instanceof ProviderError && !(e instanceof TransientProviderError) &&
      /page 2/.test(e.message),
  );
  assert.deepEqual(got, [10, 10]);
});

Deno.test("MemoryProvider gives up on a transient failure that outlasts the retries", async () => {
  const p = new MemoryProvider({
    now: () => T0 + 1000 * M,
    maxRetries: 1,
    failures: [{ page: 0, kind: "transient", times: 5 }],
  });
  await assert.rejects(all(p, T0, T0 + 5 * M), TransientProviderError);
});

Deno.test("MemoryProvider numbers concurrent batches and delivers them out of order", async () => {
  const p = new MemoryProvider({ now: () => T0 + 1000 * M, pageSize: 10 });
  const batches = await all(p, T0, T0 + 200 * M, { concurrency: 4 });
  const seqs = batches.map((b) => b.seq!);
  assert.deepEqual(
    [...seqs].sort((a, b) => a - b),
    Array.from({ length: 20 }, (_, i) => i),
  );
  assert.notDeepEqual(seqs, [...seqs].sort((a, b) => a - b));
  // Within each group of 4, everything is there.
  for (let g = 0; g < 20; g += 4) {
    assert.deepEqual(seqs.slice(g, g + 4).sort((a, b) => a - b), [
      g,
      g + 1,
      g + 2,
      g + 3,
    ]);
  }
  const ordered = await Array.fromAsync(
    ReadableStream.from(batches).pipeThrough(new OrderStream()),
  );
  assert.deepEqual(
    [...concatBatches(ordered).time],
    Array.from({ length: 200 }, (_, i) => T0 + i * M),
  );
});

Deno.test("MemoryProvider stops with the signal's reason when aborted", async () => {
  const ac = new AbortController();
  const p = new MemoryProvider({
    now: () => T0 + 1000 * M,
    pageSize: 10,
    onRequest: (info) => {
      if (info.page === 3) ac.abort(new Error("stop here"));
    },
  });
  await assert.rejects(
    all(p, T0, T0 + 100 * M, { signal: ac.signal }),
    /stop here/,
  );
  assert.equal(p.stats.requests, 4);
});

Deno.test("MemoryProvider resumes after resumeAfter and honours listedFrom", async () => {
  const p = new MemoryProvider({
    now: () => T0 + 1000 * M,
    symbols: { NEW: { listedFrom: T0 + 5 * M } },
  });
  const out: CandleBatch[] = [];
  for await (
    const b of p.candles({
      symbol: "NEW",
      timeframe: tf1,
      from: T0,
      to: T0 + 10 * M,
    })
  ) out.push(b);
  assert.equal(concatBatches(out).time[0], T0 + 5 * M);
  const resumed = concatBatches(
    await all(
      new MemoryProvider({ now: () => T0 + 1000 * M }),
      T0,
      T0 + 10 * M,
      { resumeAfter: T0 + 7 * M },
    ),
  );
  assert.deepEqual([...resumed.time], [T0 + 8 * M, T0 + 9 * M]);
});

Deno.test("MemoryProvider recycles generated values for cheap large ranges", async () => {
  const p = new MemoryProvider({
    now: () => T0 + 100_000 * M,
    recycle: 100,
    pageSize: 1000,
  });
  const b = concatBatches(await all(p, T0, T0 + 1000 * M));
  assert.equal(b.time.length, 1000);
  assert.equal(b.open[0], b.open[100]);
  assert.equal(b.close[5], b.close[305]);
  assert.equal(b.time[999], T0 + 999 * M);
});

Deno.test("MemoryProvider describes symbols and refuses unknown ones", async () => {
  await using p = new MemoryProvider();
  assert.equal(p.normalizeSymbol(" btcusdt "), "BTCUSDT");
  assert.throws(() => p.normalizeSymbol("bad symbol!"), ProviderError);
  const info = await p.symbolInfo("aapl", parseTimeframe("1D"));
  assert.equal(info.timezone, "America/New_York");
  assert.equal(info.period, "1D");
  assert.deepEqual([info.minmove, info.pricescale], [1, 100]);
  assert.equal((await p.symbolInfo("EURUSD", tf1)).pricescale, 100000);
  await assert.rejects(
    p.symbolInfo("NOPE", tf1),
    (e: unknown) =>
      e instanceof ProviderError && /known: BTCUSDT/.test(e.message),
  );
  assert.deepEqual(
    (await p.listSymbols({ search: "usd" })).map((s) => s.symbol),
    ["BTCUSDT", "ETHUSDT", "EURUSD"],
  );
  assert.ok((await p.timeframes()).includes("1D"));
  await assert.rejects(
    p.symbolInfo("BTCUSDT", parseTimeframe("15S")),
    ProviderError,
  );
});

Deno.test("MemoryProvider refuses calls after dispose", async () => {
  const p = new MemoryProvider();
  await p[Symbol.asyncDispose]();
  await assert.rejects(p.symbolInfo("BTCUSDT", tf1), /disposed/);
});

Deno.test("MemoryProvider blemishes chosen candles by their absolute slot, the same in every page", async () => {
  const p = new MemoryProvider({
    now: () => T0 + 10 * 60 * M,
    forming: false,
    pageSize: 7,
    overlap: 3,
    missingVolumeEvery: 4,
    zeroVolumeEvery: 5,
    brokenEvery: 9,
  });
  const batches = await all(p, T0, T0 + 100 * M);
  const seen = new Map<number, number[]>();
  for (const b of batches) {
    for (let i = 0; i < b.time.length; i++) {
      const row = [
        b.open[i]!,
        b.high[i]!,
        b.low[i]!,
        b.close[i]!,
        b.volume[i]!,
      ];
      const t = b.time[i]!;
      const before = seen.get(t);
      // Overlapping pages repeat a candle with identical values.
      if (before) assert.deepEqual(row, before);
      seen.set(t, row);
      const slot = t / M;
      if (slot % 4 === 0) assert.ok(Number.isNaN(b.volume[i]));
      else if (slot % 5 === 0) assert.equal(b.volume[i], 0);
      else assert.ok(b.volume[i]! > 0);
      if (slot % 9 === 0) assert.ok(b.high[i]! < b.low[i]!);
      else if (slot % 5 === 0) {
        assert.equal(b.high[i], b.open[i]);
        assert.equal(b.low[i], b.close[i]);
      } else assert.ok(b.high[i]! >= b.low[i]!);
    }
  }
  assert.equal(seen.size, 100);
  assert.throws(() => new MemoryProvider({ brokenEvery: -1 }), RangeError);
  assert.throws(
    () => new MemoryProvider({ missingVolumeEvery: 1.5 }),
    /"missingVolumeEvery" must be a whole number/,
  );
});
