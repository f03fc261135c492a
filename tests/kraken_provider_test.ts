import assert from "node:assert/strict";
import {
  type KrakenEmulator,
  startKrakenEmulator,
} from "../testing/kraken_emulator.ts";
import type { MaintenanceGap } from "../testing/_exchange_emulator.ts";
import { CCXTProvider } from "../providers/ccxt.ts";
import { download } from "../pipeline/download.ts";
import { OhlcvReader } from "../format/ohlcv_reader.ts";
import { batchLength, type CandleBatch } from "../format/candle_batch.ts";
import {
  parseTimeframe,
  periodStart,
  type Timeframe,
} from "../format/timeframe.ts";

const NOW = Date.UTC(2024, 2, 1, 12, 0, 30);
const M = 60_000;
const H = 3_600_000;
const D = 86_400_000;
const DAY0 = Date.UTC(2024, 2, 1);
const REASON = "Kraken serves only the latest 720 candles of a timeframe";
/** Gaps inside the served 1-minute history (00:01 to 12:00). */
const GAPS: MaintenanceGap[] = [
  { from: DAY0 + 95 * M, to: DAY0 + 105 * M },
  { from: DAY0 + 200 * M, to: DAY0 + 260 * M },
];

async function provider(
  url: string,
): Promise<{ p: CCXTProvider; dir: string }> {
  const dir = await Deno.makeTempDir();
  const p = new CCXTProvider({
    configDir: dir,
    baseUrl: url,
    env: {},
    retryBaseDelayMs: 5,
    retryMaxDelayMs: 40,
    exchanges: { kraken: { rateLimit: 1 } },
  });
  return { p, dir };
}

function assertSameCandles(actual: CandleBatch, expected: CandleBatch): void {
  assert.equal(batchLength(actual), batchLength(expected), "candle count");
  for (
    const col of ["time", "open", "high", "low", "close", "volume"] as const
  ) {
    for (let i = 0; i < batchLength(expected); i++) {
      if (actual[col][i] !== expected[col][i]) {
        assert.fail(
          `${col}[${i}] (${new Date(expected.time[i]!).toISOString()}): got ${
            actual[col][i]
          }, expected ${expected[col][i]}`,
        );
      }
    }
  }
}

const ohlcRequests = (emu: KrakenEmulator) =>
  emu.requests.filter((r) => r.path === "/0/public/OHLC");

async function stored(path: string): Promise<CandleBatch> {
  await using reader = await OhlcvReader.open(path);
  return await reader.read();
}

Deno.test("CCXTProvider download() of a recent Kraken range stores exactly the emulator's closed candles", async () => {
  await using emu = await startKrakenEmulator({ now: () => NOW, gaps: GAPS });
  const { p, dir } = await provider(emu.url);
  try {
    const cases: Array<[string, string, string, number]> = [
      ["KRAKEN:BTC/USD", "XXBTZUSD", "1", DAY0 + 90 * M], // across both gaps
      ["KRAKEN:ETH/USD", "XETHZUSD", "60", DAY0 - 20 * D],
      ["kraken:doge/usd", "XDGUSD", "1D", Date.UTC(2023, 0, 1)],
      ["KRAKEN:SOL/USD", "SOLUSD", "15", NOW - 719 * 15 * M], // all of it
    ];
    for (const [symbol, id, period, from] of cases) {
      const tf = parseTimeframe(period);
      const before = ohlcRequests(emu).length;
      const summary = await download(p, symbol, {
        timeframe: period,
        dataDir: dir,
        from: new Date(from),
        now: () => NOW,
      });
      const expected = emu.expectedCandles(id, tf, from, NOW);
      assertSameCandles(await stored(summary.path), expected);
      assert.equal(summary.candles, batchLength(expected));
      // One request answers the whole served range.
      assert.equal(ohlcRequests(emu).length - before, 1, `${symbol} requests`);
      assert.equal(summary.coverage.complete, true, symbol);
      assert.ok(
        summary.coverage.segments.every((s) => s.state !== "not-served"),
        `${symbol}: nothing beyond the history limit`,
      );
    }
  } finally {
    await p[Symbol.asyncDispose]();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CCXTProvider download() from years back on Kraken stores the served 720 periods and reports the rest not served", async () => {
  await using emu = await startKrakenEmulator({ now: () => NOW, gaps: GAPS });
  const { p, dir } = await provider(emu.url);
  try {
    for (const period of ["1", "60", "1D"]) {
      const tf = parseTimeframe(period);
      const from = Date.UTC(2017, 0, 1);
      const oldest = emu.oldestServed(tf);
      const before = ohlcRequests(emu).length;
      const summary = await download(p, "KRAKEN:BTC/USD", {
        timeframe: period,
        dataDir: dir,
        from: new Date(from),
        now: () => NOW,
      });
      const expected = emu.expectedCandles(
        "XXBTZUSD",
        tf,
        oldest,
        periodStart(tf, NOW),
      );
      assertSameCandles(await stored(summary.path), expected);
      assert.equal(
        batchLength(expected),
        period === "1" ? 719 - 70 : 719,
        "the served history less the forming candle",
      );
      // Nothing is asked for the years before the served history.
      const asked = ohlcRequests(emu).slice(before);
      assert.equal(asked.length, 1, `${period}: one request`);
      assert.equal(
        asked[0]!.query["since"],
        String(Math.floor(oldest / 1000) - tf.ms / 1000),
        "ccxt asks from the oldest period served, minus one interval",
      );
      const cov = summary.coverage;
      assert.equal(cov.complete, true);
      assert.deepEqual(cov.missing, []);
      const first = cov.segments[0]!;
      assert.deepEqual(
        [first.from, first.to, first.state],
        [from, oldest, "not-served"],
      );
      assert.ok(
        cov.segments.slice(1).every((s) =>
          s.from >= oldest && s.state !== "not-served"
        ),
      );
      assert.ok(cov.segments.some((s) => s.state === "fetched"));
    }
  } finally {
    await p[Symbol.asyncDispose]();
    await Deno.remove(dir, { recursive: true });
  }
});

async function claims(
  p: CCXTProvider,
  tf: Timeframe,
  from: number,
  to: number,
): Promise<CandleBatch[]> {
  return await Array.fromAsync(
    p.candles({ symbol: "KRAKEN:BTC/USD", timeframe: tf, from, to }),
  );
}

Deno.test("CCXTProvider claims the part of a Kraken range beyond the history limit not-served, with the reason, without requests", async () => {
  await using emu = await startKrakenEmulator({ now: () => NOW });
  const { p, dir } = await provider(emu.url);
  try {
    const tf = parseTimeframe("60");
    const oldest = emu.oldestServed(tf);
    // Wholly older than the served history: one claim, no candle request.
    let batches = await claims(p, tf, Date.UTC(2018, 0, 1), oldest - 5 * H);
    assert.equal(ohlcRequests(emu).length, 0);
    assert.equal(batches.length, 1);
    assert.equal(batchLength(batches[0]!), 0);
    assert.deepEqual(batches[0]!.coverage, [{
      from: Date.UTC(2018, 0, 1),
      to: oldest - 5 * H,
      state: "not-served",
      reason: REASON,
    }]);
    // Across the limit: the claim with the served candles, claims joined.
    batches = await claims(p, tf, oldest - 100 * H, oldest + 50 * H);
    assert.equal(ohlcRequests(emu).length, 1);
    assert.deepEqual(batches.map((b) => b.seq), [0]);
    assert.deepEqual(batches[0]!.coverage, [
      {
        from: oldest - 100 * H,
        to: oldest,
        state: "not-served",
        reason: REASON,
      },
      { from: oldest, to: oldest + 50 * H, state: "fetched" },
    ]);
    assertSameCandles(
      batches[0]!,
      emu.expectedCandles("XXBTZUSD", tf, oldest, oldest + 50 * H),
    );
  } finally {
    await p[Symbol.asyncDispose]();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CCXTProvider recovers exact Kraken data from EAPI:Rate limit exceeded, EService:Unavailable and a dropped page", async () => {
  const m1 = parseTimeframe("1");
  await using emu = await startKrakenEmulator({
    now: () => NOW,
    gaps: GAPS,
    faults: [
      { kind: "429", at: 1 },
      { kind: "503", at: 2 },
      { kind: "drop", at: 3 },
    ],
  });
  const { p, dir } = await provider(emu.url);
  try {
    const from = DAY0 + 30 * M;
    const got = await claims(p, m1, from, NOW);
    const batch = got.find((b) => batchLength(b) > 0)!;
    assertSameCandles(batch, emu.expectedCandles("XXBTZUSD", m1, from, NOW));
    assert.deepEqual(ohlcRequests(emu).map((r) => r.fault), [
      "429",
      "503",
      "drop",
      undefined,
    ]);
    assert.equal(p.stats.retries, 3);
  } finally {
    await p[Symbol.asyncDispose]();
    await Deno.remove(dir, { recursive: true });
  }
});
