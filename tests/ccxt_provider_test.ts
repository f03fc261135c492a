import assert from "node:assert/strict";
import { CCXTProvider, type CCXTProviderOptions } from "../providers/ccxt.ts";
import {
  ProviderError,
  TransientProviderError,
} from "../providers/provider.ts";
import {
  BINANCE_EMULATOR_SYMBOLS,
  type BinanceEmulator,
  type EmulatorFault,
  type MaintenanceGap,
  startBinanceEmulator,
} from "../testing/binance_emulator.ts";
import {
  BYBIT_EMULATOR_SYMBOLS,
  startBybitEmulator,
} from "../testing/bybit_emulator.ts";
import {
  allocBatch,
  batchFromRows,
  batchLength,
  type CandleBatch,
} from "../format/candle_batch.ts";
import { parseTimeframe, type Timeframe } from "../format/timeframe.ts";
import {
  fetchWindow,
  pageCandles,
  planWindows,
} from "../providers/_ccxt_paging.ts";
import {
  type CcxtMarket,
  DECIMAL_PLACES,
  marketSymbolInfo,
  SIGNIFICANT_DIGITS,
  TICK_SIZE,
} from "../providers/_ccxt_symbols.ts";

const NOW = Date.UTC(2024, 2, 1, 12, 0, 30);
const M = 60_000;
const DAY0 = Date.UTC(2024, 2, 1);
const at = (h: number, m: number) => DAY0 + h * 3_600_000 + m * M;

/** Gaps placed on the 100-minute windows of a 1m download from DAY0. */
const GAPS: MaintenanceGap[] = [
  { from: at(1, 35), to: at(1, 45) }, // spans the window boundary at 01:40
  { from: at(3, 20), to: at(5, 0) }, // exactly one whole window
  { from: at(6, 40), to: at(6, 50) }, // at a window start
  { from: at(8, 10), to: at(8, 20) }, // at a window end
  { from: at(11, 58), to: at(12, 0) }, // the end of the closed range
];

function concat(batches: CandleBatch[]): CandleBatch {
  const n = batches.reduce((a, b) => a + batchLength(b), 0);
  const out = allocBatch(n);
  let o = 0;
  for (const b of batches) {
    for (
      const col of ["time", "open", "high", "low", "close", "volume"] as const
    ) {
      out[col].set(b[col], o);
    }
    o += batchLength(b);
  }
  return out;
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

function assertSeq(batches: CandleBatch[]): void {
  batches.forEach((b, i) => assert.equal(b.seq, i, "seq numbers"));
  let last = -Infinity;
  let claimed: number | undefined;
  for (const b of batches) {
    // Every batch (an empty one too) says what it answers for; the claims
    // follow each other without a hole and hold the batch's candles.
    assert.ok((b.coverage?.length ?? 0) > 0, "every batch carries a claim");
    for (const c of b.coverage!) {
      if (claimed !== undefined) assert.equal(c.from, claimed, "claims join");
      assert.ok(c.to > c.from, "claims are not empty");
      claimed = c.to;
    }
    for (const t of b.time) {
      assert.ok(t > last, "strictly ascending, no repeats");
      assert.ok(
        b.coverage!.some((c) => c.from <= t && t < c.to),
        "candles lie inside the batch's claims",
      );
      last = t;
    }
  }
}

async function provider(
  url: string,
  extra: Partial<CCXTProviderOptions> = {},
): Promise<{ p: CCXTProvider; dir: string }> {
  const dir = await Deno.makeTempDir();
  const p = new CCXTProvider({
    configDir: dir,
    baseUrl: url,
    env: {},
    retryBaseDelayMs: 5,
    retryMaxDelayMs: 40,
    ...extra,
  });
  return { p, dir };
}

async function collect(
  p: CCXTProvider,
  symbol: string,
  tf: Timeframe,
  from: number,
  to: number,
  more: { pageSize?: number; concurrency?: number; resumeAfter?: number } = {},
): Promise<CandleBatch[]> {
  return await Array.fromAsync(
    p.candles({ symbol, timeframe: tf, from, to, ...more }),
  );
}

Deno.test("CCXTProvider downloads exactly the closed Binance candles for several timeframes across gaps", async () => {
  await using emu = await startBinanceEmulator({ now: () => NOW, gaps: GAPS });
  const { p, dir } = await provider(emu.url);
  try {
    const cases: Array<[string, number, number, number]> = [
      ["1", DAY0, NOW + 3_600_000, 100],
      ["5", DAY0 - 86_400_000, NOW, 37],
      ["60", Date.UTC(2024, 0, 1), NOW + 86_400_000, 50],
      ["1D", Date.UTC(2022, 11, 31, 7), NOW + 5 * 86_400_000, 30],
      ["1W", Date.UTC(2023, 0, 1), NOW, 10],
      ["1M", Date.UTC(2019, 0, 1), NOW, 12],
    ];
    for (const [period, from, to, pageSize] of cases) {
      const tf = parseTimeframe(period);
      for (const concurrency of [1, 4]) {
        const batches = await collect(p, "binance:BTC/USDT", tf, from, to, {
          pageSize,
          concurrency,
        });
        assertSeq(batches);
        assertSameCandles(
          concat(batches),
          emu.expectedCandles("BTCUSDT", tf, from, to),
        );
      }
    }
    // The forming candle of 12:00 is not delivered; the gaps are really there.
    const one = concat(
      await collect(p, "BINANCE:BTC/USDT", parseTimeframe("1"), DAY0, NOW + M),
    );
    assert.equal(one.time[batchLength(one) - 1], at(11, 57));
    assert.equal(batchLength(one), 720 - 10 - 100 - 10 - 10 - 2);
    assert.equal(emu.countStatus(429), 0);
  } finally {
    await p[Symbol.asyncDispose]();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CCXTProvider downloads exactly the closed Bybit spot and linear candles across gaps", async () => {
  await using emu = await startBybitEmulator({ now: () => NOW, gaps: GAPS });
  // The emulator allows 120 requests/s; ccxt's default spacing (100 ms per kline) is slower.
  const { p, dir } = await provider(emu.url, {
    exchanges: { bybit: { rateLimit: 2 } },
  });
  try {
    const cases: Array<[string, string, string, number, number, number]> = [
      ["BYBIT:BTC/USDT:USDT", "linear:BTCUSDT", "1", DAY0, NOW + M, 100],
      ["bybit:btc/usdt", "spot:BTCUSDT", "1", DAY0, NOW, 64],
      [
        "BYBIT:FIVE/USDT:USDT",
        "linear:FIVEUSDT",
        "15",
        DAY0 - 3 * 86_400_000,
        NOW,
        40,
      ],
      [
        "BYBIT:ETH/USDT:USDT",
        "linear:ETHUSDT",
        "240",
        Date.UTC(2023, 6, 1),
        NOW,
        200,
      ],
      [
        "BYBIT:BTC/USDT:USDT",
        "linear:BTCUSDT",
        "1D",
        Date.UTC(2023, 0, 1),
        NOW,
        1000,
      ],
      [
        "BYBIT:ETH/USDT:USDT",
        "linear:ETHUSDT",
        "1W",
        Date.UTC(2022, 5, 1),
        NOW,
        20,
      ],
      // Calendar months from years before the listing (2017-01-01).
      ["BYBIT:BTC/USDT", "spot:BTCUSDT", "1M", Date.UTC(2009, 4, 1), NOW, 5],
    ];
    for (const [symbol, key, period, from, to, pageSize] of cases) {
      const tf = parseTimeframe(period);
      const batches = await collect(p, symbol, tf, from, to, {
        pageSize,
        concurrency: 3,
      });
      assertSeq(batches);
      assertSameCandles(
        concat(batches),
        emu.expectedCandles(key, tf, from, to),
      );
    }
    assert.equal(emu.countStatus(429), 0);
  } finally {
    await p[Symbol.asyncDispose]();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CCXTProvider symbolInfo maps market precision, contract size, amount step and fees", async () => {
  await using bin = await startBinanceEmulator({ now: () => NOW });
  await using byb = await startBybitEmulator({ now: () => NOW });
  const a = await provider(bin.url);
  const b = await provider(byb.url);
  try {
    const tf = parseTimeframe("60");
    const grid = async (p: CCXTProvider, s: string) => {
      const i = await p.symbolInfo(s, tf);
      return [i.mintick, i.pricescale, i.minmove];
    };
    assert.deepEqual(await grid(a.p, "BINANCE:BTC/USDT"), [0.01, 100, 1]);
    assert.deepEqual(await grid(a.p, "BINANCE:SHIB/USDT"), [1e-8, 1e8, 1]);
    assert.deepEqual(await grid(a.p, "BINANCE:HALF/USDT"), [0.5, 10, 5]);
    assert.deepEqual(await grid(a.p, "BINANCE:FIVE/USDT"), [5, 1, 5]);
    assert.deepEqual(await grid(a.p, "BINANCE:QTR/USDT"), [0.025, 1000, 25]);
    assert.deepEqual(await grid(b.p, "BYBIT:ETH/USDT:USDT"), [0.05, 100, 5]);
    const info = await b.p.symbolInfo("bybit:BTC/USDT:USDT", tf);
    assert.equal(info.prefix, "BYBIT");
    assert.equal(info.ticker, "BTCUSDT");
    assert.equal(info.description, "BTC / USDT Linear Perpetual");
    assert.equal(info.currency, "USDT");
    assert.equal(info.basecurrency, "BTC");
    assert.equal(info.type, "crypto");
    assert.equal(info.period, "60");
    assert.equal(info.pointvalue, 1);
    assert.equal(info.mincontract, 0.001);
    assert.equal(info.takerFee, 0.0006);
    assert.equal(info.makerFee, 0.0001);
    assert.equal(info.timezone, "UTC");
    assert.equal(info.openingHours.length, 7);
    assert.deepEqual(info.openingHours[3], {
      day: 3,
      start: "00:00:00",
      end: "23:59:59",
    });
    const spot = await a.p.symbolInfo("BINANCE:ETH/USDT", parseTimeframe("1D"));
    assert.equal(spot.description, "ETH / USDT Spot");
    assert.equal(spot.mincontract, 0.0001);
    assert.equal(spot.takerFee, 0.001);
  } finally {
    for (const x of [a, b]) {
      await x.p[Symbol.asyncDispose]();
      await Deno.remove(x.dir, { recursive: true });
    }
  }
});

Deno.test("marketSymbolInfo maps ticks in tick-size, decimal-places and significant-digits modes, contract size and fees", () => {
  const tf = parseTimeframe("1D");
  const market = (price: number, extra: Partial<CcxtMarket> = {}) => ({
    id: "XYZ",
    symbol: "X/Y",
    base: "X",
    quote: "Y",
    precision: { price, amount: 0.001 },
    ...extra,
  });
  const grid = (
    i: { mintick: number; pricescale: number; minmove: number },
  ) => [i.mintick, i.pricescale, i.minmove];
  const cases: Array<[number, number, number | undefined, number[]]> = [
    [TICK_SIZE, 0.5, undefined, [0.5, 10, 5]],
    [TICK_SIZE, 5, undefined, [5, 1, 5]],
    [TICK_SIZE, 0.025, undefined, [0.025, 1000, 25]],
    [TICK_SIZE, 1e-8, undefined, [1e-8, 1e8, 1]],
    [DECIMAL_PLACES, 2, undefined, [0.01, 100, 1]],
    [DECIMAL_PLACES, 8, undefined, [1e-8, 1e8, 1]],
    [DECIMAL_PLACES, 0, undefined, [1, 1, 1]],
    [SIGNIFICANT_DIGITS, 5, 96_123.4, [1, 1, 1]],
    [SIGNIFICANT_DIGITS, 5, 2_512.3, [0.1, 10, 1]],
    [SIGNIFICANT_DIGITS, 5, 0.000012345, [1e-9, 1e9, 1]],
    [SIGNIFICANT_DIGITS, 3, 123_456, [1000, 1, 1000]],
  ];
  for (const [mode, price, ref, want] of cases) {
    assert.deepEqual(
      grid(marketSymbolInfo("ex", market(price), mode, tf, ref)),
      want,
      `mode ${mode}, precision ${price}, price ${ref}`,
    );
  }
  assert.throws(
    () => marketSymbolInfo("ex", market(5), SIGNIFICANT_DIGITS, tf),
    /Cannot derive the tick size of EX:X\/Y: .*no last price/,
  );
  const inverse = marketSymbolInfo(
    "bybit",
    market(0.5, {
      symbol: "BTC/USD:BTC",
      type: "swap",
      swap: true,
      inverse: true,
      contractSize: 100,
      taker: 0.00055,
      maker: 0.0002,
    }),
    TICK_SIZE,
    tf,
  );
  assert.equal(inverse.description, "X / Y Inverse Perpetual");
  assert.equal(inverse.pointvalue, 100);
  assert.equal(inverse.mincontract, 0.001);
  assert.equal(inverse.takerFee, 0.00055);
  assert.equal(inverse.makerFee, 0.0002);
  // DECIMAL_PLACES amounts: 3 places is a step of 0.001.
  assert.equal(
    marketSymbolInfo(
      "ex",
      { ...market(2), precision: { price: 2, amount: 3 } },
      DECIMAL_PLACES,
      tf,
    )
      .mincontract,
    0.001,
  );
});

Deno.test("CCXTProvider lists exchanges, markets and timeframes, and explains unknown ones", async () => {
  await using emu = await startBinanceEmulator({ now: () => NOW });
  const { p, dir } = await provider(emu.url);
  try {
    const exchanges = await p.listSymbols();
    assert.ok(exchanges.length > 50);
    assert.ok(exchanges.some((e) => e.symbol === "BINANCE"));
    const bybits = (await p.listSymbols({ search: "bybi" })).map((e) =>
      e.symbol
    );
    assert.ok(bybits.includes("BYBIT"));
    assert.ok(bybits.every((s) => s.startsWith("BYBI")));
    const markets = await p.listSymbols({ search: "binance" });
    assert.deepEqual(markets.map((m) => m.symbol), [
      "BINANCE:BTC/USDT",
      "BINANCE:ETH/USDT",
      "BINANCE:FIVE/USDT",
      "BINANCE:HALF/USDT",
      "BINANCE:QTR/USDT",
      "BINANCE:SHIB/USDT",
    ]);
    assert.deepEqual(
      (await p.listSymbols({ search: "BINANCE:eth" })).map((m) => m.symbol),
      ["BINANCE:ETH/USDT"],
    );
    assert.deepEqual(await p.timeframes("BINANCE:BTC/USDT"), [
      "1S",
      "1",
      "3",
      "5",
      "15",
      "30",
      "60",
      "120",
      "240",
      "360",
      "480",
      "720",
      "1D",
      "3D",
      "1W",
      "1M",
    ]);
    assert.equal(p.normalizeSymbol("binance:btc/usdt"), "BINANCE:BTC/USDT");
    assert.equal(
      p.normalizeSymbol("Bybit:btc/usdt:usdt"),
      "BYBIT:BTC/USDT:USDT",
    );
    assert.throws(() => p.normalizeSymbol("BTCUSDT"), ProviderError);

    const tf = parseTimeframe("1");
    await assert.rejects(
      p.symbolInfo("BINANCE:NOPE/USDT", tf),
      (e: ProviderError) =>
        !(e instanceof TransientProviderError) && e.code === "BadSymbol" &&
        e.message.includes('listSymbols({ search: "binance:" })'),
    );
    await assert.rejects(
      p.symbolInfo("NOPE:BTC/USDT", tf),
      (e: ProviderError) =>
        /Unknown ccxt exchange "nope".*listSymbols\(\)/.test(e.message),
    );
    await assert.rejects(
      collect(p, "BINANCE:BTC/USDT", parseTimeframe("2D"), 0, NOW),
      (e: ProviderError) =>
        e.code === "BadTimeframe" &&
        e.message.includes("supported: 1S, 1, 3, 5, 15, 30, 60"),
    );
    await assert.rejects(
      p.listSymbols({ search: "nope:btc" }),
      /Unknown ccxt exchange "nope"/,
    );
  } finally {
    await p[Symbol.asyncDispose]();
    await Deno.remove(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------------------
// Faults at the first, a middle and the last page.

const FAULT_FROM = DAY0;
const FAULT_TO = at(10, 0); // 600 one-minute candles, 6 windows of 100
const PAGE_STARTS = { first: at(0, 0), middle: at(3, 20), last: at(8, 20) };

function pageFault(
  kind: EmulatorFault["kind"],
  start: number,
  extra: Partial<EmulatorFault> = {},
): EmulatorFault {
  return {
    kind,
    at: (r) =>
      r.path === "/api/v3/klines" && r.query["startTime"] === String(start),
    retryAfter: 0,
    delayMs: 800,
    ...extra,
  };
}

async function faultRun(
  emu: BinanceEmulator,
  extra: Partial<CCXTProviderOptions> = {},
): Promise<{ batches: CandleBatch[]; p: CCXTProvider; dir: string }> {
  const { p, dir } = await provider(emu.url, {
    exchanges: { binance: { timeout: 300 } },
    ...extra,
  });
  const batches = await collect(
    p,
    "BINANCE:BTC/USDT",
    parseTimeframe("1"),
    FAULT_FROM,
    FAULT_TO,
    { pageSize: 100, concurrency: 3 },
  );
  return { batches, p, dir };
}

for (
  const kind of [
    "429",
    "418",
    "500",
    "503",
    "drop",
    "slow",
    "malformed",
  ] as const
) {
  Deno.test(`CCXTProvider recovers exact data from a ${kind} fault at the first, a middle and the last page`, async () => {
    const tf = parseTimeframe("1");
    for (const [where, start] of Object.entries(PAGE_STARTS)) {
      await using emu = await startBinanceEmulator({
        now: () => NOW,
        gaps: GAPS,
        faults: [pageFault(kind, start)],
      });
      const { batches, p, dir } = await faultRun(emu);
      try {
        assertSeq(batches);
        assertSameCandles(
          concat(batches),
          emu.expectedCandles("BTCUSDT", tf, FAULT_FROM, FAULT_TO),
        );
        const hit = emu.requests.filter((r) => r.fault === kind);
        assert.equal(hit.length, 1, `${kind} fault at the ${where} page fired`);
        const tries = emu.requests.filter((r) =>
          r.query["startTime"] === String(start)
        );
        assert.ok(tries.length >= 2, `${kind} at the ${where} page repeated`);
        assert.ok(
          p.stats.retries >= 1,
          `retried after ${kind} at the ${where} page`,
        );
      } finally {
        await p[Symbol.asyncDispose]();
        await Deno.remove(dir, { recursive: true });
      }
    }
  });
}

Deno.test("CCXTProvider waits the Retry-After a 429 asks for", async () => {
  await using emu = await startBinanceEmulator({
    now: () => NOW,
    faults: [pageFault("429", PAGE_STARTS.middle, { retryAfter: 1 })],
  });
  const t0 = performance.now();
  const { batches, p, dir } = await faultRun(emu);
  const elapsed = performance.now() - t0;
  try {
    assert.ok(elapsed >= 1000, `waited ${elapsed} ms`);
    assert.equal(concat(batches).time.length, 600);
    assert.equal(p.stats.retries, 1);
    const hits = emu.requests.filter((r) =>
      r.query["startTime"] === String(PAGE_STARTS.middle)
    );
    assert.equal(hits.length, 2);
    assert.ok(hits[1]!.at - hits[0]!.at >= 990);
  } finally {
    await p[Symbol.asyncDispose]();
    await Deno.remove(dir, { recursive: true });
  }
});

for (const [where, start] of Object.entries(PAGE_STARTS)) {
  Deno.test(`CCXTProvider fails clearly when the ${where} page keeps failing and resumes to exact data`, async () => {
    const tf = parseTimeframe("1");
    await using emu = await startBinanceEmulator({
      now: () => NOW,
      gaps: GAPS,
      faults: [pageFault("503", start, { times: 2 })],
    });
    const { p, dir } = await provider(emu.url, { maxRetries: 1 });
    try {
      const got: CandleBatch[] = [];
      await assert.rejects(
        (async () => {
          for await (
            const b of p.candles({
              symbol: "BINANCE:BTC/USDT",
              timeframe: tf,
              from: FAULT_FROM,
              to: FAULT_TO,
              pageSize: 100,
              concurrency: 3,
            })
          ) got.push(b);
        })(),
        (e: Error) =>
          e instanceof TransientProviderError &&
          e.message.includes(
            `Cannot fetch BINANCE:BTC/USDT 1 candles from ${
              new Date(start).toISOString()
            }`,
          ) && e.message.includes("Internal error"),
      );
      // What arrived is a gap-free prefix ending before the failing window.
      const prefix = concat(got);
      const n = batchLength(prefix);
      if (n > 0) assert.ok(prefix.time[n - 1]! < start);
      const rest = concat(
        await collect(p, "BINANCE:BTC/USDT", tf, FAULT_FROM, FAULT_TO, {
          pageSize: 100,
          ...(n > 0 ? { resumeAfter: prefix.time[n - 1]! } : {}),
        }),
      );
      assertSameCandles(
        concat([prefix, rest]),
        emu.expectedCandles("BTCUSDT", tf, FAULT_FROM, FAULT_TO),
      );
    } finally {
      await p[Symbol.asyncDispose]();
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("CCXTProvider does not wait out a long ban: it fails with the wait asked for", async () => {
  await using emu = await startBinanceEmulator({
    now: () => NOW,
    faults: [pageFault("418", PAGE_STARTS.middle, { retryAfter: 3600 })],
  });
  const { p, dir } = await provider(emu.url);
  try {
    await assert.rejects(
      collect(
        p,
        "BINANCE:BTC/USDT",
        parseTimeframe("1"),
        FAULT_FROM,
        FAULT_TO,
        {
          pageSize: 100,
        },
      ),
      (e: Error) =>
        e instanceof ProviderError && !(e instanceof TransientProviderError) &&
        e.message.includes("asks to wait 3600 s"),
    );
    assert.equal(p.stats.retries, 0);
  } finally {
    await p[Symbol.asyncDispose]();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CCXTProvider fails at once on a permanent venue error with the exchange's message", async () => {
  await using emu = await startBinanceEmulator({
    now: () => NOW,
    faults: [pageFault("400", PAGE_STARTS.middle)],
  });
  const { p, dir } = await provider(emu.url);
  try {
    await assert.rejects(
      collect(
        p,
        "BINANCE:BTC/USDT",
        parseTimeframe("1"),
        FAULT_FROM,
        FAULT_TO,
        {
          pageSize: 100,
        },
      ),
      (e: Error) =>
        e instanceof ProviderError && !(e instanceof TransientProviderError) &&
        e.message.includes("Invalid symbol.") &&
        (e as ProviderError).code === "-1121",
    );
    assert.equal(p.stats.retries, 0);
  } finally {
    await p[Symbol.asyncDispose]();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CCXTProvider keeps concurrent pages under the venue's rate limit through ccxt's throttle", async () => {
  // Bybit: ccxt spaces klines 100 ms apart (cost 5 x 20 ms); the venue allows 12 per second.
  const tf = parseTimeframe("1");
  const from = DAY0;
  const to = at(4, 0); // 240 candles in 24 pages of 10
  {
    await using emu = await startBybitEmulator({
      now: () => NOW,
      weightLimit: 12,
      weightWindowMs: 1000,
    });
    const { p, dir } = await provider(emu.url);
    try {
      const batches = await collect(p, "BYBIT:BTC/USDT:USDT", tf, from, to, {
        pageSize: 10,
        concurrency: 8,
      });
      assertSameCandles(
        concat(batches),
        emu.expectedCandles("linear:BTCUSDT", tf, from, to),
      );
      assert.equal(emu.countStatus(429), 0, "no 429 in a normal run");
    } finally {
      await p[Symbol.asyncDispose]();
      await Deno.remove(dir, { recursive: true });
    }
  }
  {
    // Control: without ccxt's spacing the same run trips the limit, and still recovers.
    await using emu = await startBybitEmulator({
      now: () => NOW,
      weightLimit: 12,
      weightWindowMs: 1000,
      abuseThreshold: 1000,
    });
    const { p, dir } = await provider(emu.url, {
      exchanges: { bybit: { rateLimit: 0.01 } },
    });
    try {
      const batches = await collect(p, "BYBIT:BTC/USDT:USDT", tf, from, to, {
        pageSize: 10,
        concurrency: 8,
      });
      assertSameCandles(
        concat(batches),
        emu.expectedCandles("linear:BTCUSDT", tf, from, to),
      );
      assert.ok(emu.countStatus(429) > 0, "the control run hits the limit");
    } finally {
      await p[Symbol.asyncDispose]();
      await Deno.remove(dir, { recursive: true });
    }
  }
});

Deno.test("CCXTProvider pauses every request to an exchange after a 429, not just the one that got it", async () => {
  // Requests that keep coming after a 429 are what gets an IP banned (418).
  await using emu = await startBinanceEmulator({
    now: () => NOW,
    faults: [{ kind: "429", at: 4, retryAfter: 2 }],
  });
  const { p, dir } = await provider(emu.url);
  try {
    const tf = parseTimeframe("1");
    const got = concat(
      await collect(p, "BINANCE:BTC/USDT", tf, DAY0, at(4, 0), {
        pageSize: 10,
        concurrency: 4,
      }),
    );
    assertSameCandles(got, emu.expectedCandles("BTCUSDT", tf, DAY0, at(4, 0)));
    const data = emu.requests.filter((r) => r.dataN > 0);
    const limited = data.find((r) => r.fault === "429")!;
    // Other workers' requests already in flight (or sent before the 429 was
    // read) arrive at once, at most one or two per worker; then nothing
    // until the 2 s have passed. Without the pause, the other workers go on
    // to fetch all 15 pages they may run ahead.
    const during = data.filter((r) =>
      r !== limited && r.at >= limited.at && r.at < limited.at + 1700
    );
    assert.ok(during.length <= 6, `${during.length} requests during the pause`);
    assert.ok(data.length > 20);
  } finally {
    await p[Symbol.asyncDispose]();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CCXTProvider lowers a page size above the venue's maximum and still gets every candle", async () => {
  await using bin = await startBinanceEmulator({ now: () => NOW, gaps: GAPS });
  await using byb = await startBybitEmulator({ now: () => NOW, gaps: GAPS });
  const lines: string[] = [];
  const a = await provider(bin.url, { log: (l) => lines.push(l) });
  const b = await provider(byb.url, { exchanges: { bybit: { rateLimit: 2 } } });
  try {
    const tf = parseTimeframe("1");
    const from = DAY0 - 86_400_000;
    const got = concat(
      await collect(a.p, "BINANCE:BTC/USDT", tf, from, NOW, { pageSize: 2500 }),
    );
    assertSameCandles(got, bin.expectedCandles("BTCUSDT", tf, from, NOW));
    assert.ok(
      lines.some((l) =>
        l.includes("Page size 2500 is above binance's maximum: using 1000")
      ),
    );
    assert.ok(
      bin.requests.filter((r) => r.path === "/api/v3/klines")
        .every((r) =>
          r.query["limit"] === "1000" || Number(r.query["limit"]) < 1000
        ),
    );
    const gotB = concat(
      await collect(b.p, "BYBIT:BTC/USDT:USDT", tf, from, NOW, {
        pageSize: 1500,
      }),
    );
    assertSameCandles(
      gotB,
      byb.expectedCandles("linear:BTCUSDT", tf, from, NOW),
    );
  } finally {
    for (const x of [a, b]) {
      await x.p[Symbol.asyncDispose]();
      await Deno.remove(x.dir, { recursive: true });
    }
  }
});

Deno.test("CCXTProvider downloads from years before the listing without one request per empty page", async () => {
  const listedAt = DAY0 - 10 * 86_400_000 + 17 * M;
  const from = Date.UTC(2017, 0, 1);
  const tf = parseTimeframe("1");
  await using bin = await startBinanceEmulator({
    now: () => NOW,
    gaps: GAPS,
    symbols: BINANCE_EMULATOR_SYMBOLS.map((s) => ({ ...s, listedAt })),
  });
  await using byb = await startBybitEmulator({
    now: () => NOW,
    gaps: GAPS,
    symbols: BYBIT_EMULATOR_SYMBOLS.map((s) => ({ ...s, listedAt })),
  });
  const a = await provider(bin.url);
  const b = await provider(byb.url, { exchanges: { bybit: { rateLimit: 2 } } });
  try {
    assertSameCandles(
      concat(await collect(a.p, "BINANCE:BTC/USDT", tf, from, NOW)),
      bin.expectedCandles("BTCUSDT", tf, from, NOW),
    );
    assertSameCandles(
      concat(await collect(b.p, "BYBIT:BTC/USDT:USDT", tf, from, NOW)),
      byb.expectedCandles("linear:BTCUSDT", tf, from, NOW),
    );
    // 7 years of empty minutes are 3800 pages of 1000; 15 pages hold data.
    for (const emu of [bin, byb]) {
      const data = emu.requests.filter((r) => r.dataN > 0).length;
      assert.ok(data < 60, `${data} candle requests`);
      assert.equal(emu.countStatus(429), 0);
    }
  } finally {
    for (const x of [a, b]) {
      await x.p[Symbol.asyncDispose]();
      await Deno.remove(x.dir, { recursive: true });
    }
  }
});

Deno.test("CCXTProvider honours resumeAfter, stops at to, and aborts on a signal", async () => {
  await using emu = await startBinanceEmulator({ now: () => NOW });
  const { p, dir } = await provider(emu.url);
  try {
    const tf = parseTimeframe("1");
    const got = concat(
      await collect(p, "BINANCE:BTC/USDT", tf, DAY0, at(1, 0), {
        resumeAfter: at(0, 30),
      }),
    );
    assertSameCandles(
      got,
      emu.expectedCandles("BTCUSDT", tf, at(0, 31), at(1, 0)),
    );
    assert.deepEqual(
      await collect(p, "BINANCE:BTC/USDT", tf, at(1, 0), at(1, 0)),
      [],
    );
    const ac = new AbortController();
    const reason = new Error("stop now");
    const it = p.candles({
      symbol: "BINANCE:BTC/USDT",
      timeframe: tf,
      from: DAY0,
      to: at(10, 0),
      pageSize: 50,
      concurrency: 2,
      signal: ac.signal,
    });
    let n = 0;
    await assert.rejects(
      (async () => {
        for await (const _ of it) {
          if (++n === 2) ac.abort(reason);
        }
      })(),
      (e) => e === reason,
    );
    assert.equal(n, 2);
  } finally {
    await p[Symbol.asyncDispose]();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CCXTProvider module imports ccxt only dynamically (importing it does not load ccxt)", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "info",
      "--json",
      new URL("../providers/ccxt.ts", import.meta.url).pathname,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const graph = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: Array<{
      specifier: string;
      dependencies?: Array<
        { code?: { specifier?: string }; isDynamic?: boolean }
      >;
    }>;
  };
  const imports = graph.modules.flatMap((m) =>
    (m.dependencies ?? [])
      .filter((d) => d.code?.specifier?.startsWith("npm:ccxt@"))
      .map((d) => ({ from: m.specifier, dynamic: d.isDynamic === true }))
  );
  assert.equal(imports.length, 1, JSON.stringify(imports));
  assert.ok(imports[0]!.from.endsWith("/providers/ccxt.ts"));
  assert.ok(imports[0]!.dynamic, "ccxt is imported with import()");
});

Deno.test("CCXTProvider makes ws skip its FFI add-ons under Deno without --allow-ffi (no permission prompt)", async () => {
  const code = `
    Deno.env.delete("WS_NO_BUFFER_UTIL"); // inherited from the test process
    Deno.env.delete("WS_NO_UTF_8_VALIDATE");
    const { CCXTProvider } = await import(${
    JSON.stringify(new URL("../providers/ccxt.ts", import.meta.url).href)
  });
    const dir = await Deno.makeTempDir();
    const p = new CCXTProvider({ configDir: dir, createConfig: false });
    const before = Deno.env.get("WS_NO_BUFFER_UTIL");
    const n = (await p.listSymbols()).length; // loads ccxt
    console.log(JSON.stringify([
      before ?? null,
      Deno.env.get("WS_NO_BUFFER_UTIL") ?? null,
      Deno.env.get("WS_NO_UTF_8_VALIDATE") ?? null,
      n > 100,
    ]));
    await p[Symbol.asyncDispose]();
    await Deno.remove(dir);`;
  const tmp = await Deno.makeTempDir();
  const script = `${tmp}/ffi_check.ts`;
  await Deno.writeTextFile(script, code);
  const run = async (ffi: boolean) => {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--config",
        new URL("../deno.json", import.meta.url).pathname,
        "--no-prompt",
        "--allow-env",
        "--allow-read",
        "--allow-write",
        "--allow-sys",
        ...(ffi ? ["--allow-ffi"] : []),
        script,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    return JSON.parse(new TextDecoder().decode(out.stdout).trim());
  };
  try {
    assert.deepEqual(await run(false), [null, "1", "1", true]);
    assert.deepEqual(await run(true), [null, null, null, true]);
  } finally {
    await Deno.remove(tmp, { recursive: true });
  }
});

// ---------------------------------------------------------------------------
// The paging core on its own, with a scripted venue.

Deno.test("pageCandles never skips data from a newest-first venue whose cap is below the page size", async () => {
  const tf = parseTimeframe("1");
  const all = new Set<number>();
  for (let t = DAY0; t < at(5, 0); t += M) {
    const m = (t - DAY0) / M;
    if (m % 97 < 13 || (m >= 95 && m < 105)) continue; // irregular gaps
    all.add(t);
  }
  let requests = 0;
  const venue = (since: number, until: number, limit: number) => {
    requests++;
    const hits = [...all].filter((t) => t >= since && t <= until);
    const page = hits.slice(-Math.min(limit, 37)); // newest 37 at most
    return Promise.resolve(page.map((t) => [t, 1, 2, 0.5, 1.5, t / M]));
  };
  const batches = await Array.fromAsync(pageCandles({
    timeframe: tf,
    from: DAY0 + 17, // off the grid: aligned up
    to: at(5, 0),
    pageSize: 100,
    concurrency: 4,
    now: NOW,
    fetch: venue,
  }));
  assertSeq(batches);
  const times = [...concat(batches).time];
  assert.deepEqual(times, [...all].filter((t) => t >= DAY0 + M));
  assert.ok(requests < 60, `${requests} requests`);
});

Deno.test("pageCandles skips a long empty lead before the listing with a few range probes", async () => {
  const tf = parseTimeframe("1");
  const listed = Date.UTC(2024, 0, 1, 7, 13);
  const end = Date.UTC(2024, 0, 3);
  const from = Date.UTC(2017, 0, 1);
  const all: number[] = [];
  for (let t = listed; t < end; t += M) if ((t / M) % 50 !== 7) all.push(t);
  for (const order of ["oldest", "newest"] as const) {
    let requests = 0;
    const venue = (since: number, until: number, limit: number) => {
      requests++;
      const hits = all.filter((t) => t >= since && t <= until);
      const page = order === "oldest"
        ? hits.slice(0, limit)
        : hits.slice(-limit);
      return Promise.resolve(page.map((t) => [t, 1, 2, 0.5, 1.5, 1]));
    };
    const plan = {
      timeframe: tf,
      from,
      to: end,
      pageSize: 1000,
      concurrency: 4,
      now: end + M,
      fetch: venue,
      rangeProbes: true,
    };
    const batches = await Array.fromAsync(pageCandles(plan));
    assertSeq(batches);
    assert.deepEqual([...concat(batches).time], all, order);
    // 3.6 million empty minutes: without the probes, 3600+ requests.
    assert.ok(requests < 60, `${order}-first: ${requests} requests`);
    // The empty lead is claimed as not served by the venue.
    assert.equal(batches[0]!.coverage![0]!.state, "not-served", order);
    assert.equal(batches[0]!.coverage![0]!.from, from, order);
    // Nothing at all in the range: a few probes, one claim without candles.
    requests = 0;
    const none = await Array.fromAsync(
      pageCandles({ ...plan, to: listed - 7 * M }),
    );
    assert.deepEqual(
      none.map((b) => [b.time.length, b.coverage]),
      [[0, [{
        from,
        to: listed - 7 * M,
        state: "not-served",
        reason: "no candles before the market's first one",
      }]]],
    );
    assert.ok(requests < 30, `empty range: ${requests} requests`);
  }
  // Calendar months: monthly candles from a listing in 2021 asked from 1990.
  const mtf = parseTimeframe("1M");
  const months: number[] = [];
  for (let y = 2021, m = 4; y < 2024 || m < 6; m === 11 ? (y++, m = 0) : m++) {
    months.push(Date.UTC(y, m, 1));
  }
  let mreq = 0;
  const monthly = await Array.fromAsync(pageCandles({
    timeframe: mtf,
    from: Date.UTC(1990, 0, 1),
    to: Date.UTC(2024, 6, 1),
    pageSize: 5,
    concurrency: 2,
    now: Date.UTC(2024, 6, 1),
    rangeProbes: true,
    fetch: (since, until, limit) => {
      mreq++;
      const hits = months.filter((t) => t >= since && t <= until);
      return Promise.resolve(
        hits.slice(-limit).map((t) => [t, 1, 2, 0.5, 1.5, 1]),
      );
    },
  }));
  assert.deepEqual([...concat(monthly).time], months);
  assert.ok(mreq < 30, `monthly: ${mreq} requests`);
});

Deno.test("fetchWindow ends, passes on and reports candles off the UTC grid (daily candles of another time zone)", async () => {
  const tf = parseTimeframe("1D");
  const d = 86_400_000;
  const start = Date.UTC(2024, 0, 1);
  // Daily candles opening at 16:00 UTC (midnight UTC+8), newest first, 3 a page.
  const days = Array.from(
    { length: 20 },
    (_, i) => start + i * d - 8 * 3_600_000,
  );
  let requests = 0;
  const off: number[] = [];
  const b = await fetchWindow(
    tf,
    start,
    start + 20 * d,
    20,
    start + 30 * d,
    (since, until, limit) => {
      requests++;
      if (requests > 100) throw new Error("fetchWindow does not end");
      const hits = days.filter((t) => t >= since && t <= until);
      return Promise.resolve(
        hits.slice(-Math.min(limit, 3)).map((t) => [t, 1, 2, 0.5, 1.5, 1]),
      );
    },
    new AbortController().signal,
    (t) => off.push(t),
  );
  // Passed on for the pipeline's validation to judge, and reported.
  assert.deepEqual([...b.time], days.slice(1));
  assert.deepEqual(off, days.slice(1));
  assert.ok(requests <= 10, `${requests} requests`);
});

Deno.test("fetchWindow drops forming and later candles and repeats, passes off-grid ones on", async () => {
  const tf = parseTimeframe("60");
  const h = 3_600_000;
  const rows = [
    [DAY0, 1, 1, 1, 1, 1],
    [DAY0, 1, 1, 1, 1, 1], // repeated
    [DAY0 + 5, 1, 1, 1, 1, 1], // off the grid: passed on
    [DAY0 + h, 1, 1, 1, 1, 1],
    [DAY0 + 2 * h, 1, 1, 1, 1, 1], // forming at now = DAY0 + 2.5h
    [DAY0 + 11 * h, 1, 1, 1, 1, 1], // after the window (Kraken sends those)
  ];
  const b = await fetchWindow(
    tf,
    DAY0,
    DAY0 + 10 * h,
    10,
    DAY0 + 2.5 * h,
    // Like a venue, the answer starts at \`since\`.
    (since) => Promise.resolve(rows.filter((r) => r[0]! >= since)),
    new AbortController().signal,
  );
  assert.deepEqual([...b.time], [DAY0, DAY0 + 5, DAY0 + h]);
  assert.deepEqual(
    planWindows(
      parseTimeframe("1M"),
      Date.UTC(2024, 0, 15),
      Date.UTC(2024, 6, 1),
      2,
    ),
    [
      [Date.UTC(2024, 1, 1), Date.UTC(2024, 3, 1)],
      [Date.UTC(2024, 3, 1), Date.UTC(2024, 5, 1)],
      [Date.UTC(2024, 5, 1), Date.UTC(2024, 6, 1)],
    ],
  );
  assert.equal(batchLength(batchFromRows([])), 0);
});

Deno.test("fetchWindow refuses answers it cannot build on: a candle before the start (seconds), two different candles for one time", async () => {
  const tf = parseTimeframe("60");
  const h = 3_600_000;
  const ok = [[DAY0, 1, 2, 0.5, 1.5, 9], [DAY0 + h, 1, 2, 0.5, 1.5, 9]];
  const seconds = ok.map((r) => [r[0]! / 1000, ...r.slice(1)]);
  const conflict = [...ok, [DAY0, 1, 2, 0.5, 1.4, 9]];
  const run = (answers: number[][][]) => {
    let calls = 0;
    const p = fetchWindow(
      tf,
      DAY0,
      DAY0 + 2 * h,
      10,
      DAY0 + 10 * h,
      () => Promise.resolve(answers[Math.min(calls++, answers.length - 1)]!),
      new AbortController().signal,
    );
    return { p, calls: () => calls };
  };
  // Every answer wrong: three attempts, then a clear permanent error.
  const s = run([seconds]);
  await assert.rejects(s.p, (e: Error) => {
    assert.equal(e.name, "InconsistentAnswerError");
    assert.match(e.message, /look like seconds, not milliseconds/);
    return true;
  });
  assert.equal(s.calls(), 3);
  const c = run([conflict]);
  await assert.rejects(c.p, /two different candles for 2024-03-01T00:00/);
  assert.equal(c.calls(), 3);
  // A wrong answer once: the window is fetched again and is exact.
  for (const first of [seconds, conflict]) {
    const once = run([first, ok]);
    assert.deepEqual([...(await once.p).time], [DAY0, DAY0 + h]);
    assert.equal(once.calls(), 2);
  }
});

// ---------------------------------------------------------------------------
// Through the pipeline into a file.

Deno.test("CCXTProvider through download() writes a file that decodes to exactly the emulator's closed candles", async () => {
  const { download } = await import("../pipeline/download.ts");
  const { OhlcvReader } = await import("../format/ohlcv_reader.ts");
  const { readSymbolInfo } = await import("../format/symbol_info_toml.ts");
  await using bin = await startBinanceEmulator({ now: () => NOW, gaps: GAPS });
  await using byb = await startBybitEmulator({ now: () => NOW, gaps: GAPS });
  const a = await provider(bin.url);
  const b = await provider(byb.url, { exchanges: { bybit: { rateLimit: 2 } } });
  try {
    const cases = [
      {
        p: a.p,
        emu: bin,
        symbol: "binance:BTC/USDT",
        key: "BTCUSDT",
        period: "1",
        grid: [1, 100],
      },
      {
        p: a.p,
        emu: bin,
        symbol: "BINANCE:HALF/USDT",
        key: "HALFUSDT",
        period: "60",
        grid: [5, 10],
      },
      {
        p: b.p,
        emu: byb,
        symbol: "BYBIT:BTC/USDT:USDT",
        key: "linear:BTCUSDT",
        period: "5",
        grid: [1, 10],
      },
      ...([
        ["SHIB", "15", [1, 1e8]],
        ["QTR", "15", [25, 1000]],
        ["FIVE", "15", [5, 1]],
      ] as const).map(([base, period, grid]) => ({
        p: a.p,
        emu: bin,
        symbol: `BINANCE:${base}/USDT`,
        key: `${base}USDT`,
        period,
        grid: [...grid],
      })),
    ];
    for (const c of cases) {
      const tf = parseTimeframe(c.period);
      const from = DAY0 - 2 * 86_400_000;
      const summary = await download(c.p, c.symbol, {
        timeframe: c.period,
        dataDir: a.dir,
        from: new Date(from),
        to: new Date(NOW + 3_600_000),
        now: () => NOW,
        pageSize: 97,
        concurrency: 4,
      });
      await using reader = await OhlcvReader.open(summary.path);
      const expected = c.emu.expectedCandles(c.key, tf, from, NOW + 3_600_000);
      assertSameCandles(await reader.read(), expected);
      assert.equal(summary.candles, batchLength(expected));
      const { info, provider: ps } = await readSymbolInfo(
        summary.symbolInfoPath,
      );
      assert.deepEqual([info.minmove, info.pricescale], c.grid);
      assert.deepEqual([reader.info.minmove, reader.info.pricescale], c.grid);
      // Prices on the grid: float32 deltas suffice, no column promoted.
      assert.equal(reader.info.recordSize, 36, `${c.symbol} record size`);
      assert.equal(info.openingHours.length, 7);
      assert.equal(info.timezone, "UTC");
      assert.equal(ps, `ccxt:${c.p.normalizeSymbol(c.symbol)}@${c.period}`);
    }
  } finally {
    for (const x of [a, b]) {
      await x.p[Symbol.asyncDispose]();
      await Deno.remove(x.dir, { recursive: true });
    }
  }
});

Deno.test("CCXTProvider download() that fails midway resumes with continue to exactly the emulator's candles", async () => {
  const { download } = await import("../pipeline/download.ts");
  const { OhlcvReader } = await import("../format/ohlcv_reader.ts");
  const tf = parseTimeframe("1");
  await using emu = await startBinanceEmulator({
    now: () => NOW,
    gaps: GAPS,
    faults: [pageFault("503", PAGE_STARTS.middle, { times: 2 })],
  });
  const { p, dir } = await provider(emu.url, { maxRetries: 1 });
  try {
    const opts = {
      timeframe: "1",
      dataDir: dir,
      now: () => NOW,
      to: new Date(FAULT_TO),
      pageSize: 100,
      concurrency: 3,
    };
    await assert.rejects(
      download(p, "BINANCE:BTC/USDT", { ...opts, from: new Date(FAULT_FROM) }),
      (e: Error) => e instanceof TransientProviderError,
    );
    // The file holds the gap-free prefix before the failing page.
    {
      const { ohlcvFileName } = await import("../format/provider_string.ts");
      const name = ohlcvFileName({
        provider: "ccxt",
        symbol: "BINANCE:BTC/USDT",
        timeframe: "1",
      });
      await using partial = await OhlcvReader.open(`${dir}/${name}`);
      assertSameCandles(
        await partial.read(),
        emu.expectedCandles("BTCUSDT", tf, FAULT_FROM, PAGE_STARTS.middle),
      );
    }
    const summary = await download(p, "BINANCE:BTC/USDT", {
      ...opts,
      from: "continue",
    });
    assert.equal(summary.mode, "append");
    await using reader = await OhlcvReader.open(summary.path);
    assertSameCandles(
      await reader.read(),
      emu.expectedCandles("BTCUSDT", tf, FAULT_FROM, FAULT_TO),
    );
  } finally {
    await p[Symbol.asyncDispose]();
    await Deno.remove(dir, { recursive: true });
  }
});
