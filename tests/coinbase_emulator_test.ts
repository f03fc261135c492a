import assert from "node:assert/strict";
import {
  COINBASE_EMULATOR_SYMBOLS,
  startCoinbaseEmulator,
} from "../testing/coinbase_emulator.ts";
import type { MaintenanceGap } from "../testing/binance_emulator.ts";
import { type CCXTExchangeSettings, CCXTProvider } from "../providers/ccxt.ts";
import {
  allocBatch,
  batchLength,
  type CandleBatch,
} from "../format/candle_batch.ts";
import { parseTimeframe, type Timeframe } from "../format/timeframe.ts";

const NOW = Date.UTC(2024, 2, 1, 12, 0, 30);
const M = 60_000;
const H = 3_600_000;
const DAY0 = Date.UTC(2024, 2, 1);
const S = (ms: number) => Math.floor(ms / 1000);

/** Gaps inside the first 12 hours of DAY0 (1m). */
const GAPS: MaintenanceGap[] = [
  { from: DAY0 + 95 * M, to: DAY0 + 105 * M },
  { from: DAY0 + 200 * M, to: DAY0 + 300 * M },
  { from: DAY0 + 718 * M, to: DAY0 + 720 * M }, // the end of the closed range
];

interface Candle {
  start: string;
  low: string;
  high: string;
  open: string;
  close: string;
  volume: string;
}

async function get(
  url: string,
  // deno-lint-ignore no-explicit-any
): Promise<{ status: number; body: any; headers: Headers; text: string }> {
  const res = await fetch(url);
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, body, headers: res.headers, text };
}

// deno-lint-ignore no-explicit-any
type Ccxt = any;

async function rawCoinbase(url: string): Promise<Ccxt> {
  const ccxt = (await import("ccxt")).default as Ccxt;
  const ex = new ccxt.coinbase({ enableRateLimit: false });
  ex.urls.api = { ...ex.urls.api, rest: url };
  return ex;
}

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

function rowsBatch(rows: number[][]): CandleBatch {
  const b = allocBatch(rows.length);
  rows.forEach((r, i) => {
    b.time[i] = r[0]!;
    b.open[i] = r[1]!;
    b.high[i] = r[2]!;
    b.low[i] = r[3]!;
    b.close[i] = r[4]!;
    b.volume[i] = r[5]!;
  });
  return b;
}

Deno.test("startCoinbaseEmulator serves newest-first candles from the one containing start to end, start and end required, at most 350", async () => {
  await using emu = await startCoinbaseEmulator({ now: () => NOW, gaps: GAPS });
  const k = (q: string, id = "BTC-USD") =>
    get(`${emu.url}/api/v3/brokerage/market/products/${id}/candles?${q}`);
  // Objects of strings, newest first; `end` inclusive, the candle containing
  // a mid-period `start` included.
  let r = await k(
    `start=${S(DAY0 + 30_000)}&end=${S(DAY0 + 4 * M)}&granularity=ONE_MINUTE`,
  );
  assert.equal(r.status, 200);
  let candles = r.body.candles as Candle[];
  assert.deepEqual(
    candles.map((c) => c.start),
    [4, 3, 2, 1, 0].map((i) => String(S(DAY0 + i * M))),
  );
  assert.deepEqual(Object.keys(candles[0]!), [
    "start",
    "low",
    "high",
    "open",
    "close",
    "volume",
  ]);
  const truth = emu.expectedCandles(
    "BTC-USD",
    parseTimeframe("1"),
    DAY0,
    DAY0 + 5 * M,
  );
  const col = (k: keyof Candle) => candles.map((c) => Number(c[k])).reverse();
  assert.deepEqual(col("open"), [...truth.open]);
  assert.deepEqual(col("high"), [...truth.high]);
  assert.deepEqual(col("low"), [...truth.low]);
  assert.deepEqual(col("close"), [...truth.close]);
  assert.deepEqual(col("volume"), [...truth.volume]);
  // 350 granularities is the longest range; `limit` keeps the newest.
  r = await k(
    `start=${S(DAY0 - 350 * M)}&end=${S(DAY0)}&granularity=ONE_MINUTE`,
  );
  assert.equal(r.body.candles.length, 350);
  assert.equal(r.body.candles[0].start, String(S(DAY0)));
  r = await k(
    `start=${S(DAY0 - 351 * M)}&end=${S(DAY0)}&granularity=ONE_MINUTE`,
  );
  assert.equal(r.status, 400);
  assert.equal(r.body.error, "INVALID_ARGUMENT");
  assert.match(
    r.body.message,
    /number of candles requested should be less than 350/,
  );
  r = await k(
    `start=${S(DAY0 - 100 * M)}&end=${S(DAY0)}&granularity=ONE_MINUTE&limit=3`,
  );
  assert.deepEqual(
    (r.body.candles as Candle[]).map((c) => c.start),
    [0, 1, 2].map((i) => String(S(DAY0 - i * M))),
  );
  // start and end are required; unknown granularity and product refused.
  r = await k(`start=${S(DAY0)}&granularity=ONE_MINUTE`);
  assert.equal(r.status, 400);
  assert.equal(r.body.error, "INVALID_ARGUMENT");
  r = await k(`start=${S(DAY0)}&end=${S(DAY0 + H)}&granularity=ONE_WEEK`);
  assert.equal(r.body.message, "granularity argument is invalid");
  r = await k(
    `start=${S(DAY0)}&end=${S(DAY0 + H)}&granularity=ONE_HOUR`,
    "NOPE-USD",
  );
  assert.equal(r.status, 404);
  assert.equal(r.body.error, "NOT_FOUND");
  // Gaps left out; the forming candle included up to now.
  r = await k(
    `start=${S(DAY0 + 90 * M)}&end=${
      S(DAY0 + 110 * M - 1)
    }&granularity=ONE_MINUTE`,
  );
  assert.equal(r.body.candles.length, 10);
  r = await k(
    `start=${S(DAY0 + 10 * H)}&end=${S(NOW + H)}&granularity=ONE_HOUR`,
  );
  candles = r.body.candles as Candle[];
  assert.deepEqual(
    candles.map((c) => c.start),
    [12, 11, 10].map((h) => String(S(DAY0 + h * H))),
  );
  assert.equal(
    candles[0]!.close,
    candles[0]!.open,
    "forming: close is the open so far",
  );
  r = await k(
    `start=${S(DAY0)}&end=${S(DAY0 + 10 * 86_400_000)}&granularity=FOUR_HOUR`,
  );
  assert.equal(r.body.candles.length, 4, "00:00 to 12:00 of DAY0");
});

Deno.test("startCoinbaseEmulator answers products, currencies, rates, time and its 429", async () => {
  await using emu = await startCoinbaseEmulator({
    now: () => NOW,
    weightLimit: 3,
    weightWindowMs: 60_000,
  });
  const p = await get(`${emu.url}/api/v3/brokerage/market/products`);
  assert.equal(p.body.num_products, COINBASE_EMULATOR_SYMBOLS.length);
  const shib = p.body.products.find((x: { product_id: string }) =>
    x.product_id === "SHIB-USD"
  );
  assert.equal(shib.price_increment, "0.00000001");
  assert.equal(shib.product_type, "SPOT");
  assert.equal(shib.base_currency_id, "SHIB");
  const fut = await get(
    `${emu.url}/api/v3/brokerage/market/products?product_type=FUTURE`,
  );
  assert.deepEqual(fut.body, { products: [], num_products: 0 });
  const t = await get(`${emu.url}/v2/time`);
  assert.deepEqual(t.body, {
    data: { iso: "2024-03-01T12:00:30Z", epoch: S(NOW) },
  });
  const limited = await get(`${emu.url}/v2/currencies`);
  assert.equal(limited.status, 429);
  assert.deepEqual(limited.body, {
    errors: [{ id: "rate_limit_exceeded", message: "Too many requests" }],
  });
  assert.ok(Number(limited.headers.get("retry-after")) >= 1);

  await using e2 = await startCoinbaseEmulator({ now: () => NOW });
  const fiat = await get(`${e2.url}/v2/currencies`);
  assert.deepEqual(fiat.body.data[0], {
    id: "USD",
    name: "US Dollar",
    min_size: "0.01",
  });
  const crypto = await get(`${e2.url}/v2/currencies/crypto`);
  assert.deepEqual(crypto.body.data.map((c: { code: string }) => c.code), [
    "BTC",
    "USDC",
    "ETH",
    "SHIB",
  ]);
  const rates = await get(`${e2.url}/v2/exchange-rates`);
  assert.equal(rates.body.data.currency, "USD");
  assert.equal(rates.body.data.rates.USD, "1");
  const bt = await get(`${e2.url}/api/v3/brokerage/time`);
  assert.equal(bt.body.epochMillis, String(NOW));
});

Deno.test("ccxt's coinbase fetchOHLCV against the emulator returns exactly the generator's candles, without credentials", async () => {
  // ccxt unthrottled here: the 10 requests/s limit lifted.
  await using emu = await startCoinbaseEmulator({
    now: () => NOW,
    gaps: GAPS,
    weightLimit: 1000,
  });
  const ex = await rawCoinbase(emu.url);
  const cases: Array<[string, string, string, number, number]> = [
    ["BTC/USD", "BTC-USD", "1m", DAY0 + 60 * M, 300], // across two gaps
    ["BTC/USDC", "BTC-USDC", "5m", DAY0 - 86_400_000, 288],
    ["SHIB/USD", "SHIB-USD", "1h", DAY0 - 10 * 86_400_000, 240],
    ["ETH/USD", "ETH-USD", "1d", Date.UTC(2023, 5, 1), 250],
  ];
  for (const [symbol, id, tfKey, since, limit] of cases) {
    const rows: number[][] = await ex.fetchOHLCV(symbol, tfKey, since, limit);
    const tf = parseTimeframe(tfKey);
    // Without `until` ccxt asks for end = start + limit periods, which
    // Coinbase answers inclusively; ccxt keeps the first `limit`.
    const end = Math.min(since + limit * tf.ms + 1, NOW);
    const closed = rows.filter((r) => r[0]! + tf.ms <= NOW);
    const truth = emu.expectedCandles(id, tf, since, end);
    const n = Math.min(limit, batchLength(truth));
    assertSameCandles(
      rowsBatch(closed),
      rowsBatch([...truth.time.subarray(0, n)].map((t, k) => [
        t,
        truth.open[k]!,
        truth.high[k]!,
        truth.low[k]!,
        truth.close[k]!,
        truth.volume[k]!,
      ])),
    );
  }
  // With `until` ccxt sends end = until; the last candle is forming.
  const latest: number[][] = await ex.fetchOHLCV(
    "BTC/USD",
    "1h",
    DAY0 + 10 * H,
    3,
    {
      until: NOW,
    },
  );
  assert.deepEqual(
    latest.map((r) => r[0]),
    [10, 11, 12].map((h) => DAY0 + h * H),
  );
  assert.equal(latest[2]![4], latest[2]![1]);
  assert.equal(await ex.fetchTime(), S(NOW) * 1000);
  assert.deepEqual(Object.keys(ex.markets).sort(), [
    "BTC/USD",
    "BTC/USDC",
    "ETH/USD",
    "SHIB/USD",
  ]);
  // Only public endpoints: no request carries credentials.
  assert.ok(
    emu.requests.every((r) => r.headers["authorization"] === undefined),
  );
  assert.deepEqual(
    [
      ...new Set(
        emu.requests.map((r) =>
          r.path.replace(/products\/[^/]+\/candles/, "products/{id}/candles")
        ),
      ),
    ].sort(),
    [
      "/api/v3/brokerage/market/products",
      "/api/v3/brokerage/market/products/{id}/candles",
      "/v2/currencies",
      "/v2/currencies/crypto",
      "/v2/exchange-rates",
      "/v2/time",
    ],
  );
});

async function provider(
  url: string,
  settings: CCXTExchangeSettings = { rateLimit: 1 },
): Promise<{ p: CCXTProvider; dir: string; logs: string[] }> {
  const dir = await Deno.makeTempDir();
  const logs: string[] = [];
  const p = new CCXTProvider({
    configDir: dir,
    baseUrl: url,
    env: {},
    retryBaseDelayMs: 5,
    retryMaxDelayMs: 40,
    exchanges: { coinbase: settings },
    log: (m: string) => logs.push(m),
  });
  return { p, dir, logs };
}

async function collect(
  p: CCXTProvider,
  symbol: string,
  tf: Timeframe,
  from: number,
  to: number,
  more: { pageSize?: number; concurrency?: number } = {},
): Promise<CandleBatch> {
  return concat(
    await Array.fromAsync(
      p.candles({ symbol, timeframe: tf, from, to, ...more }),
    ),
  );
}

Deno.test("CCXTProvider downloads exactly Coinbase's closed candles: short and many-page ranges, gaps, up to the forming candle", async () => {
  await using emu = await startCoinbaseEmulator({
    now: () => NOW,
    gaps: GAPS,
    weightLimit: 100_000,
  });
  const { p, dir, logs } = await provider(emu.url);
  try {
    const cases: Array<
      [string, string, string, number, number, number | undefined]
    > = [
      [
        "COINBASE:BTC/USDC",
        "BTC-USDC",
        "1",
        DAY0 + 90 * M,
        DAY0 + 130 * M,
        undefined,
      ],
      ["COINBASE:BTC/USD", "BTC-USD", "1", DAY0, NOW + H, 100],
      [
        "coinbase:eth/usd",
        "ETH-USD",
        "1",
        DAY0 - 5 * 86_400_000,
        NOW,
        undefined,
      ],
      ["COINBASE:SHIB/USD", "SHIB-USD", "60", Date.UTC(2023, 6, 1), NOW, 200],
      [
        "COINBASE:BTC/USD",
        "BTC-USD",
        "1D",
        Date.UTC(2012, 0, 1),
        NOW,
        undefined,
      ],
      // Above Coinbase's maximum: lowered to 300, never a rejected range.
      ["COINBASE:BTC/USD", "BTC-USD", "5", DAY0 - 4 * 86_400_000, NOW, 1000],
    ];
    for (const [symbol, id, period, from, to, pageSize] of cases) {
      const tf = parseTimeframe(period);
      const got = await collect(p, symbol, tf, from, to, {
        ...(pageSize !== undefined ? { pageSize } : {}),
        concurrency: 3,
      });
      assertSameCandles(got, emu.expectedCandles(id, tf, from, to));
    }
    assert.ok(logs.some((l) => /above coinbase's maximum: using 300/.test(l)));
    const day = await collect(
      p,
      "COINBASE:BTC/USD",
      parseTimeframe("1"),
      DAY0,
      NOW + M,
    );
    assert.equal(day.time[batchLength(day) - 1], DAY0 + 717 * M);
    assert.equal(batchLength(day), 720 - 10 - 100 - 2);
    assert.equal(
      emu.countStatus(400),
      0,
      "no request spans more than 350 candles",
    );
    assert.equal(emu.countStatus(429), 0);
  } finally {
    await p[Symbol.asyncDispose]();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CCXTProvider stays under Coinbase's 10 requests/s with ccxt's own throttle and pages 300 candles a request", async () => {
  await using emu = await startCoinbaseEmulator({
    now: () => NOW,
    faults: [{ kind: "503", at: 2 }],
  });
  const { p, dir } = await provider(emu.url, {});
  try {
    const tf = parseTimeframe("1");
    const from = DAY0 - 86_400_000;
    const got = await collect(p, "COINBASE:BTC/USD", tf, from, NOW);
    assertSameCandles(got, emu.expectedCandles("BTC-USD", tf, from, NOW));
    const data = emu.requests.filter((r) => r.dataN > 0);
    assert.equal(data.length, Math.ceil((NOW - from) / M / 300) + 1);
    assert.equal(emu.countStatus(429), 0);
  } finally {
    await p[Symbol.asyncDispose]();
    await Deno.remove(dir, { recursive: true });
  }
});
