import assert from "node:assert/strict";
import {
  KUCOIN_EMULATOR_SYMBOLS,
  startKucoinEmulator,
} from "../testing/kucoin_emulator.ts";
import type { MaintenanceGap } from "../testing/binance_emulator.ts";
import { CCXTProvider } from "../providers/ccxt.ts";
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

interface Envelope {
  code: string;
  msg?: string;
  data: unknown;
}

async function get(
  url: string,
): Promise<{ status: number; body: Envelope; headers: Headers; text: string }> {
  const res = await fetch(url);
  const text = await res.text();
  let body: Envelope;
  try {
    body = JSON.parse(text);
  } catch {
    body = { code: "", data: undefined };
  }
  return { status: res.status, body, headers: res.headers, text };
}

type Row = [string, string, string, string, string, string, string];

// deno-lint-ignore no-explicit-any
type Ccxt = any;

async function rawKucoin(url: string): Promise<Ccxt> {
  const ccxt = (await import("ccxt")).default as Ccxt;
  const ex = new ccxt.kucoin({ enableRateLimit: false });
  for (const k of Object.keys(ex.urls.api)) ex.urls.api[k] = url;
  ex.options.fetchMarkets = { ...ex.options.fetchMarkets, types: ["spot"] };
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

Deno.test("startKucoinEmulator serves newest-first candles of [startAt, endAt), at most the newest 1500", async () => {
  await using emu = await startKucoinEmulator({ now: () => NOW, gaps: GAPS });
  const k = (q: string) =>
    get(`${emu.url}/api/v1/market/candles?symbol=BTC-USDT&${q}`);
  // startAt inclusive, endAt exclusive, in seconds; rows of 7 strings in
  // KuCoin's order time, open, close, high, low, volume, turnover.
  let r = await k(
    `type=1min&startAt=${S(DAY0)}&endAt=${S(DAY0 + 5 * M)}`,
  );
  assert.equal(r.status, 200);
  assert.equal(r.body.code, "200000");
  let rows = r.body.data as Row[];
  assert.deepEqual(
    rows.map((x) => x[0]),
    [4, 3, 2, 1, 0].map((i) => String(S(DAY0 + i * M))),
  );
  assert.equal(rows[0]!.length, 7);
  assert.ok(rows.every((x) => x.every((v) => typeof v === "string")));
  const truth = emu.expectedCandles(
    "BTC-USDT",
    parseTimeframe("1"),
    DAY0,
    DAY0 + 5 * M,
  );
  assert.deepEqual(rows.map((x) => Number(x[1])).reverse(), [...truth.open]);
  assert.deepEqual(rows.map((x) => Number(x[2])).reverse(), [...truth.close]);
  assert.deepEqual(rows.map((x) => Number(x[3])).reverse(), [...truth.high]);
  assert.deepEqual(rows.map((x) => Number(x[4])).reverse(), [...truth.low]);
  assert.deepEqual(rows.map((x) => Number(x[5])).reverse(), [...truth.volume]);
  // A range of 2000 minutes: the newest 1500 (the head of the list).
  r = await k(
    `type=1min&startAt=${S(DAY0 - 2000 * M)}&endAt=${S(DAY0)}&until=123`,
  );
  rows = r.body.data as Row[];
  assert.equal(rows.length, 1500);
  assert.equal(rows[0]![0], String(S(DAY0 - M)));
  assert.equal(rows.at(-1)![0], String(S(DAY0 - 1500 * M)));
  // Gaps are left out; endAt 0 means now, the forming candle included.
  r = await k(
    `type=1min&startAt=${S(DAY0 + 90 * M)}&endAt=${S(DAY0 + 110 * M)}`,
  );
  assert.equal((r.body.data as Row[]).length, 10);
  r = await k(`type=1hour&startAt=${S(DAY0 + 10 * H)}&endAt=0`);
  rows = r.body.data as Row[];
  assert.deepEqual(rows.map((x) => x[0]), [
    String(S(DAY0 + 12 * H)),
    String(S(DAY0 + 11 * H)),
    String(S(DAY0 + 10 * H)),
  ]);
  assert.equal(rows[0]![2], rows[0]![1], "forming: close is the open so far");
  // Nothing in the future, nothing in an empty range.
  r = await k(`type=1min&startAt=${S(NOW + H)}&endAt=${S(NOW + 2 * H)}`);
  assert.deepEqual(r.body, { code: "200000", data: [] });
  // Weeks and calendar months.
  r = await k(
    `type=1month&startAt=${S(Date.UTC(2023, 0, 1))}&endAt=${S(DAY0)}`,
  );
  rows = r.body.data as Row[];
  assert.equal(rows.length, 14);
  assert.equal(rows.at(-1)![0], String(S(Date.UTC(2023, 0, 1))));
});

Deno.test("startKucoinEmulator answers currencies, symbols, tickers, time and KuCoin errors", async () => {
  await using emu = await startKucoinEmulator({ now: () => NOW });
  const sym = await get(`${emu.url}/api/v2/symbols`);
  const list = sym.body.data as Record<string, unknown>[];
  assert.deepEqual(
    list.map((s) => s["symbol"]),
    KUCOIN_EMULATOR_SYMBOLS.map((s) => s.id),
  );
  assert.equal(list[0]!["priceIncrement"], "0.1");
  assert.equal(list[2]!["priceIncrement"], "0.000000001");
  assert.equal(list[0]!["baseCurrency"], "BTC");
  assert.equal(list[0]!["enableTrading"], true);
  const cur = await get(`${emu.url}/api/v3/currencies`);
  assert.deepEqual(
    (cur.body.data as { currency: string }[]).map((c) => c.currency),
    ["BTC", "USDT", "ETH", "SHIB"],
  );
  const tick = await get(`${emu.url}/api/v1/market/allTickers`);
  const t = tick.body.data as { time: number; ticker: { symbol: string }[] };
  assert.equal(t.time, NOW);
  assert.equal(t.ticker.length, 3);
  assert.deepEqual((await get(`${emu.url}/api/v1/timestamp`)).body, {
    code: "200000",
    msg: "success",
    data: NOW,
  });
  const bad = await get(
    `${emu.url}/api/v1/market/candles?symbol=NOPE-USDT&type=1min`,
  );
  assert.equal(bad.status, 400);
  assert.equal(bad.body.code, "400100");
  const badType = await get(
    `${emu.url}/api/v1/market/candles?symbol=BTC-USDT&type=1m`,
  );
  assert.deepEqual(badType.body, {
    code: "400100",
    msg: "This type of Candlestick is currently not provided.",
  });
  const none = await get(`${emu.url}/api/v1/contracts/active`);
  assert.equal(none.status, 404);
  assert.equal(none.body.code, "404000");
});

Deno.test("startKucoinEmulator rate-limits with 429 + code 429000 and gw-ratelimit headers, bans abuse, injects faults", async () => {
  await using emu = await startKucoinEmulator({
    now: () => NOW,
    weightLimit: 9,
    weightWindowMs: 60_000,
    abuseThreshold: 2,
    banMs: 5000,
    backoffGraceMs: 0,
  });
  const c = `${emu.url}/api/v1/market/candles?symbol=BTC-USDT&type=1min`;
  for (let i = 1; i <= 3; i++) {
    const r = await get(c);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("gw-ratelimit-remaining"), String(9 - 3 * i));
    assert.equal(r.headers.get("gw-ratelimit-limit"), "9");
  }
  const limited = await get(c);
  assert.equal(limited.status, 429);
  assert.deepEqual(limited.body, { code: "429000", msg: "Too Many Requests" });
  await get(c);
  const banned = await get(c);
  assert.equal(banned.status, 429);
  assert.equal(banned.text, "error code: 1015");

  await using f = await startKucoinEmulator({
    now: () => NOW,
    faults: [{ kind: "500", at: 1 }, { kind: "503", at: 2 }, {
      kind: "400",
      at: 3,
    }],
  });
  const k = `${f.url}/api/v1/market/candles?symbol=BTC-USDT&type=1min`;
  const r500 = await get(k);
  assert.deepEqual([r500.status, r500.body.code], [500, "500000"]);
  const r503 = await get(k);
  assert.equal(r503.status, 503);
  assert.match(r503.text, /Service Temporarily Unavailable/);
  assert.equal((await get(k)).body.code, "400100");
  assert.equal((await get(k)).body.code, "200000");
});

Deno.test("ccxt's kucoin fetchOHLCV against the emulator returns exactly the generator's candles", async () => {
  await using emu = await startKucoinEmulator({ now: () => NOW, gaps: GAPS });
  const ex = await rawKucoin(emu.url);
  const cases: Array<[string, string, string, number, number]> = [
    ["BTC/USDT", "BTC-USDT", "1m", DAY0, 300], // across two gaps
    ["ETH/USDT", "ETH-USDT", "15m", DAY0 - 86_400_000, 96],
    ["SHIB/USDT", "SHIB-USDT", "1h", DAY0 - 40 * 86_400_000, 1500],
    ["BTC/USDT", "BTC-USDT", "1d", Date.UTC(2023, 0, 1), 400],
  ];
  for (const [symbol, id, tfKey, since, limit] of cases) {
    const rows: number[][] = await ex.fetchOHLCV(symbol, tfKey, since, limit);
    const tf = parseTimeframe(tfKey);
    const end = Math.min(since + limit * tf.ms, NOW);
    const closed = rows.filter((r) => r[0]! + tf.ms <= NOW);
    assertSameCandles(
      rowsBatch(closed),
      emu.expectedCandles(id, tf, since, end),
    );
  }
  // Up to now (ccxt computes endAt from `since`: without it, from the local
  // clock): the last candle is forming.
  const latest: number[][] = await ex.fetchOHLCV(
    "BTC/USDT",
    "1h",
    DAY0 + 10 * H,
    3,
  );
  assert.deepEqual(
    latest.map((r) => r[0]),
    [10, 11, 12].map((h) => DAY0 + h * H),
  );
  assert.equal(latest[2]![4], latest[2]![1]);
  assert.equal(await ex.fetchTime(), NOW);
  const paths = new Set(emu.requests.map((r) => r.path));
  assert.deepEqual([...paths].sort(), [
    "/api/v1/market/allTickers",
    "/api/v1/market/candles",
    "/api/v1/timestamp",
    "/api/v2/symbols",
    "/api/v3/currencies",
  ]);
});

async function provider(
  url: string,
): Promise<{ p: CCXTProvider; dir: string; logs: string[] }> {
  const dir = await Deno.makeTempDir();
  const logs: string[] = [];
  const p = new CCXTProvider({
    configDir: dir,
    baseUrl: url,
    env: {},
    retryBaseDelayMs: 5,
    retryMaxDelayMs: 40,
    exchanges: { kucoin: { rateLimit: 1 } },
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

Deno.test("CCXTProvider downloads exactly KuCoin's closed candles: short and many-page ranges, gaps, up to the forming candle", async () => {
  await using emu = await startKucoinEmulator({ now: () => NOW, gaps: GAPS });
  const { p, dir } = await provider(emu.url);
  try {
    const cases: Array<
      [string, string, string, number, number, number | undefined]
    > = [
      // Short: one request.
      [
        "KUCOIN:BTC/USDT",
        "BTC-USDT",
        "1",
        DAY0 + 90 * M,
        DAY0 + 130 * M,
        undefined,
      ],
      // Up to and past the forming candle, across every gap, small pages.
      ["KUCOIN:BTC/USDT", "BTC-USDT", "1", DAY0, NOW + H, 100],
      // Many pages of the default size (seven days of minutes).
      [
        "kucoin:eth/usdt",
        "ETH-USDT",
        "1",
        DAY0 - 7 * 86_400_000,
        NOW,
        undefined,
      ],
      ["KUCOIN:SHIB/USDT", "SHIB-USDT", "60", Date.UTC(2023, 6, 1), NOW, 200],
      ["KUCOIN:BTC/USDT", "BTC-USDT", "1W", Date.UTC(2021, 0, 1), NOW, 30],
      // Calendar months before the listing (2017-01-01); ccxt's endAt counts 30-day months.
      ["KUCOIN:BTC/USDT", "BTC-USDT", "1M", Date.UTC(2012, 0, 1), NOW, 40],
    ];
    for (const [symbol, id, period, from, to, pageSize] of cases) {
      const tf = parseTimeframe(period);
      const got = await collect(p, symbol, tf, from, to, {
        ...(pageSize !== undefined ? { pageSize } : {}),
        concurrency: 3,
      });
      assertSameCandles(got, emu.expectedCandles(id, tf, from, to));
    }
    // The forming 12:00 minute is not stored, the gap at the end is real.
    const day = await collect(
      p,
      "KUCOIN:BTC/USDT",
      parseTimeframe("1"),
      DAY0,
      NOW + M,
    );
    assert.equal(day.time[batchLength(day) - 1], DAY0 + 717 * M);
    assert.equal(batchLength(day), 720 - 10 - 100 - 2);
    assert.equal(emu.countStatus(429), 0);
    assert.equal(emu.countStatus(404), 0, "no futures endpoint asked for");
  } finally {
    await p[Symbol.asyncDispose]();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("CCXTProvider pages KuCoin minutes with 1500-candle requests and survives a 429000 and a 503", async () => {
  await using emu = await startKucoinEmulator({
    now: () => NOW,
    faults: [
      { kind: "429", at: 2 },
      { kind: "503", at: 4 },
    ],
  });
  const { p, dir } = await provider(emu.url);
  try {
    const tf = parseTimeframe("1");
    const from = DAY0 - 10 * 86_400_000;
    const got = await collect(p, "KUCOIN:BTC/USDT", tf, from, NOW, {
      concurrency: 2,
      pageSize: 5000,
    });
    assertSameCandles(got, emu.expectedCandles("BTC-USDT", tf, from, NOW));
    const data = emu.requests.filter((r) => r.dataN > 0);
    const minutes = (NOW - from) / M;
    // ceil(15120 / 1500) windows, plus the two faulted requests retried.
    assert.equal(data.length, Math.ceil(minutes / 1500) + 2);
    for (const r of data) {
      const span = Number(r.query["endAt"]) - Number(r.query["startAt"]);
      assert.ok(span <= 1500 * 60, `a request spans ${span / 60} minutes`);
    }
  } finally {
    await p[Symbol.asyncDispose]();
    await Deno.remove(dir, { recursive: true });
  }
});
