import assert from "node:assert/strict";
import {
  KRAKEN_EMULATOR_SYMBOLS,
  startKrakenEmulator,
} from "../testing/kraken_emulator.ts";
import type { MaintenanceGap } from "../testing/_exchange_emulator.ts";
import {
  allocBatch,
  batchLength,
  type CandleBatch,
} from "../format/candle_batch.ts";
import { parseTimeframe, periodStart } from "../format/timeframe.ts";

const NOW = Date.UTC(2024, 2, 1, 12, 0, 30);
const M = 60_000;
const H = 3_600_000;
const D = 86_400_000;
const DAY0 = Date.UTC(2024, 2, 1);
const S = (ms: number) => Math.floor(ms / 1000);
/** Gaps inside the served 1-minute history (12:00:30 - 719 min = 00:01). */
const GAPS: MaintenanceGap[] = [
  { from: DAY0 + 95 * M, to: DAY0 + 105 * M },
  { from: DAY0 + 200 * M, to: DAY0 + 260 * M },
];

interface KrakenBody {
  error: string[];
  result?: Record<string, unknown>;
}

async function get(
  url: string,
): Promise<{ status: number; body: KrakenBody; text: string }> {
  const res = await fetch(url);
  const text = await res.text();
  let body: KrakenBody;
  try {
    body = JSON.parse(text);
  } catch {
    body = { error: ["<not json>"] };
  }
  return { status: res.status, body, text };
}

type Row = [number, string, string, string, string, string, string, number];

// deno-lint-ignore no-explicit-any
type Ccxt = any;

async function rawKraken(url: string): Promise<{ ex: Ccxt; ccxt: Ccxt }> {
  const ccxt = (await import("ccxt")).default as Ccxt;
  const ex = new ccxt.kraken({ enableRateLimit: false });
  for (const k of Object.keys(ex.urls.api)) ex.urls.api[k] = url;
  return { ex, ccxt };
}

function rowsBatch(rows: readonly (readonly number[])[]): CandleBatch {
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

/** Kraken rows as ccxt reads them: time (s → ms), o, h, l, c, volume (index 6). */
function krakenBatch(rows: readonly Row[]): CandleBatch {
  return rowsBatch(
    rows.map((r) => [
      r[0] * 1000,
      Number(r[1]),
      Number(r[2]),
      Number(r[3]),
      Number(r[4]),
      Number(r[6]),
    ]),
  );
}

Deno.test("startKrakenEmulator serves only the latest 720 OHLC periods whatever since says, the forming candle last", async () => {
  await using emu = await startKrakenEmulator({ now: () => NOW, gaps: GAPS });
  const ohlc = (q: string) => get(`${emu.url}/0/public/OHLC?${q}`);
  const m1 = parseTimeframe("1");
  const forming = periodStart(m1, NOW);
  const oldest = forming - 719 * M;
  assert.equal(emu.oldestServed(m1), oldest);
  // No since: the 720 latest periods, less the 70 inside the gaps.
  let r = await ohlc("pair=XXBTZUSD&interval=1");
  assert.equal(r.status, 200);
  assert.deepEqual(r.body.error, []);
  let rows = r.body.result!["XXBTZUSD"] as Row[];
  assert.equal(rows.length, 720 - 70);
  assert.equal(rows[0]![0], S(oldest));
  assert.equal(rows.at(-1)![0], S(forming), "the forming candle is last");
  assert.equal(rows.at(-1)![4], rows.at(-1)![1], "forming close is the open");
  assert.equal(r.body.result!["last"], S(forming - M), "last committed");
  // Shape: integer seconds, six strings (o h l c vwap volume), integer count.
  const row = rows[0]!;
  assert.equal(row.length, 8);
  assert.ok(Number.isInteger(row[0]) && Number.isInteger(row[7]));
  assert.ok(row.slice(1, 7).every((x) => typeof x === "string"));
  assert.match(row[1], /^\d+\.\d$/, "prices on the pair's decimals");
  assert.match(row[6], /^\d+\.\d{8}$/, "volumes on 8 decimals");
  const [lo, hi] = [Number(row[3]), Number(row[2])];
  assert.ok(lo <= Number(row[5]) && Number(row[5]) <= hi, "vwap in range");
  // The closed candles are the generator's.
  assertSameCandles(
    krakenBatch(rows.slice(0, -1)),
    emu.expectedCandles("XXBTZUSD", m1, oldest, forming),
  );
  // A since long ago changes nothing: older data cannot be had.
  r = await ohlc(`pair=XXBTZUSD&interval=1&since=${S(Date.UTC(2020, 0, 1))}`);
  assert.equal((r.body.result!["XXBTZUSD"] as Row[]).length, 720 - 70);
  // since is exclusive: entries after it, the forming one always.
  const t = DAY0 + 600 * M;
  r = await ohlc(`pair=XXBTZUSD&interval=1&since=${S(t)}`);
  rows = r.body.result!["XXBTZUSD"] as Row[];
  assert.equal(rows[0]![0], S(t + M));
  assert.equal(rows.length, 120);
  r = await ohlc(`pair=XBTUSD&interval=1&since=${S(NOW)}`);
  assert.deepEqual(Object.keys(r.body.result!).sort(), ["XXBTZUSD", "last"]);
  rows = r.body.result!["XXBTZUSD"] as Row[];
  assert.deepEqual(rows.map((x) => x[0]), [S(forming)], "only the forming");
  // Hours and days: 720 periods of the interval; interval defaults to 1.
  for (const [interval, period] of [["60", "60"], ["1440", "1D"]]) {
    const tf = parseTimeframe(period!);
    r = await ohlc(`pair=XETHZUSD&interval=${interval}&since=0`);
    rows = r.body.result!["XETHZUSD"] as Row[];
    assert.equal(rows.length, 720);
    assert.equal(rows[0]![0], S(periodStart(tf, NOW) - 719 * tf.ms));
    assertSameCandles(
      krakenBatch(rows.slice(0, -1)),
      emu.expectedCandles(
        "XETHZUSD",
        tf,
        emu.oldestServed(tf),
        periodStart(tf, NOW),
      ),
    );
  }
  r = await ohlc("pair=SOLUSD");
  assert.equal((r.body.result!["SOLUSD"] as Row[])[1]![0] - 60, S(oldest));
});

Deno.test("startKrakenEmulator answers AssetPairs, Assets, Time, SystemStatus and errors in Kraken's shape", async () => {
  await using emu = await startKrakenEmulator({ now: () => NOW });
  const pub = (q: string) => get(`${emu.url}/0/public/${q}`);
  let r = await pub("AssetPairs");
  const pairs = r.body.result as Record<string, Record<string, unknown>>;
  assert.deepEqual(
    Object.keys(pairs),
    KRAKEN_EMULATOR_SYMBOLS.map((s) => s.id),
  );
  const btc = pairs["XXBTZUSD"]!;
  assert.equal(btc["altname"], "XBTUSD");
  assert.equal(btc["wsname"], "XBT/USD");
  assert.equal(btc["base"], "XXBT");
  assert.equal(btc["quote"], "ZUSD");
  assert.equal(btc["pair_decimals"], 1);
  assert.equal(btc["lot_decimals"], 8);
  assert.equal(btc["status"], "online");
  r = await pub("AssetPairs?pair=XBTUSD,SOLUSD");
  assert.deepEqual(Object.keys(r.body.result!), ["XXBTZUSD", "SOLUSD"]);
  r = await pub("Assets");
  const assets = r.body.result as Record<string, Record<string, unknown>>;
  assert.equal(assets["XXBT"]!["altname"], "XBT");
  assert.equal(assets["ZUSD"]!["decimals"], 4);
  r = await pub("Time");
  assert.equal(r.body.result!["unixtime"], S(NOW));
  assert.equal(r.body.result!["rfc1123"], "Fri,  1 Mar 24 12:00:30 +0000");
  r = await pub("SystemStatus");
  assert.deepEqual(r.body.result, {
    status: "online",
    timestamp: "2024-03-01T12:00:30Z",
  });
  // Errors: HTTP 200 with the error list, an unknown method 404.
  const errors: Array<[string, number, string]> = [
    ["OHLC?pair=NOPE&interval=1", 200, "EQuery:Unknown asset pair"],
    ["OHLC?interval=1", 200, "EGeneral:Invalid arguments"],
    ["OHLC?pair=XXBTZUSD&interval=2", 200, "EGeneral:Invalid arguments"],
    ["OHLC?pair=XXBTZUSD&since=soon", 200, "EGeneral:Invalid arguments"],
    ["AssetPairs?pair=NOPE", 200, "EQuery:Unknown asset pair"],
    ["Nope", 404, "EGeneral:Unknown method"],
  ];
  for (const [q, status, message] of errors) {
    r = await pub(q);
    assert.equal(r.status, status, q);
    assert.deepEqual(r.body, { error: [message] }, q);
  }
});

Deno.test("startKrakenEmulator rate-limits with 429 EAPI:Rate limit exceeded and injects faults into OHLC requests", async () => {
  await using emu = await startKrakenEmulator({
    now: () => NOW,
    weightLimit: 3,
    weightWindowMs: 60_000,
    faults: [{ kind: "503", at: 1 }, { kind: "400", at: 2 }],
  });
  const ohlc = () => get(`${emu.url}/0/public/OHLC?pair=XXBTZUSD&interval=60`);
  let r = await ohlc();
  assert.equal(r.status, 503);
  assert.deepEqual(r.body, { error: ["EService:Unavailable"] });
  r = await ohlc();
  assert.equal(r.status, 200);
  assert.deepEqual(r.body, { error: ["EGeneral:Invalid arguments"] });
  r = await ohlc();
  assert.deepEqual(r.body.error, []);
  r = await ohlc();
  assert.equal(r.status, 429);
  assert.deepEqual(r.body, { error: ["EAPI:Rate limit exceeded"] });
  assert.equal(emu.countStatus(429), 1);
  assert.deepEqual(emu.requests.map((x) => x.fault), [
    "503",
    "400",
    undefined,
    undefined,
  ]);
});

Deno.test("ccxt's kraken loads the emulator's markets and fetches exactly its served candles", async () => {
  await using emu = await startKrakenEmulator({ now: () => NOW, gaps: GAPS });
  const { ex } = await rawKraken(emu.url);
  const markets = await ex.loadMarkets();
  assert.deepEqual(Object.keys(markets).sort(), [
    "BTC/USD",
    "BTC/USDT",
    "DOGE/USD",
    "ETH/USD",
    "SOL/USD",
  ]);
  const btc = markets["BTC/USD"];
  assert.equal(btc.id, "XXBTZUSD");
  assert.equal(btc.altname, "XBTUSD");
  assert.equal(btc.type, "spot");
  assert.equal(btc.active, true);
  assert.deepEqual(btc.precision, { amount: 1e-8, price: 0.1 });
  assert.equal(btc.limits.amount.min, 0.0001);
  assert.equal(btc.taker, 0.0026);
  assert.equal(btc.maker, 0.0016);
  assert.equal(markets["DOGE/USD"].precision.price, 1e-7);
  assert.equal(await ex.fetchTime(), S(NOW) * 1000);
  const m1 = parseTimeframe("1");
  const forming = periodStart(m1, NOW);
  // A recent since and limit: exactly those candles (ccxt sends since - 1
  // interval, in seconds, and filters what it gets).
  const cases: Array<[string, string, string, number, number]> = [
    ["BTC/USD", "XXBTZUSD", "1m", DAY0 + 90 * M, 200], // across both gaps
    ["ETH/USD", "XETHZUSD", "1h", DAY0 - 20 * D, 100],
    ["DOGE/USD", "XDGUSD", "1d", Date.UTC(2023, 0, 1), 300],
  ];
  for (const [symbol, id, key, since, limit] of cases) {
    const rows: number[][] = await ex.fetchOHLCV(symbol, key, since, limit);
    const tf = parseTimeframe(key);
    const want = emu.expectedCandles(
      id,
      tf,
      since,
      periodStart(tf, NOW),
    );
    const n = Math.min(limit, batchLength(want));
    assertSameCandles(
      rowsBatch(rows.slice(0, n)),
      rowsBatch([...want.time.slice(0, n)].map((t, i) => [
        t,
        want.open[i]!,
        want.high[i]!,
        want.low[i]!,
        want.close[i]!,
        want.volume[i]!,
      ])),
    );
  }
  const q = emu.requests.find((x) => x.path === "/0/public/OHLC")!.query;
  assert.equal(q["since"], String(S(DAY0 + 89 * M)));
  assert.equal(q["interval"], "1");
  // A since years back: only the served history, the forming candle last.
  const all: number[][] = await ex.fetchOHLCV(
    "BTC/USD",
    "1m",
    Date.UTC(2020, 0, 1),
  );
  assert.equal(all.length, 720 - 70);
  assert.equal(all[0]![0], forming - 719 * M);
  assert.equal(all.at(-1)![0], forming);
  assertSameCandles(
    rowsBatch(all.slice(0, -1)),
    emu.expectedCandles("XXBTZUSD", m1, emu.oldestServed(m1), forming),
  );
  const paths = new Set(emu.requests.map((x) => x.path));
  assert.deepEqual([...paths].sort(), [
    "/0/public/AssetPairs",
    "/0/public/Assets",
    "/0/public/OHLC",
    "/0/public/Time",
  ]);
});

Deno.test("ccxt's kraken turns the emulator's errors into its error classes", async () => {
  await using emu = await startKrakenEmulator({
    now: () => NOW,
    weightLimit: 6,
    weightWindowMs: 60_000,
  });
  const { ex, ccxt } = await rawKraken(emu.url);
  await ex.loadMarkets();
  const fetch1 = () => ex.fetchOHLCV("BTC/USD", "1h", NOW - 3 * H);
  emu.addFault({ kind: "400", at: 1 });
  await assert.rejects(fetch1(), ccxt.BadRequest);
  emu.addFault({ kind: "503", at: 2 });
  await assert.rejects(fetch1(), ccxt.ExchangeNotAvailable);
  emu.addFault({ kind: "500", at: 3 });
  await assert.rejects(fetch1(), ccxt.ExchangeNotAvailable);
  assert.equal((await fetch1()).length, 3, "10:00, 11:00 and the forming");
  await assert.rejects(fetch1(), ccxt.DDoSProtection); // the 7th request
  assert.equal(emu.countStatus(429), 1);
});
