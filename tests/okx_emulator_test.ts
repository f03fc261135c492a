import assert from "node:assert/strict";
import ccxt from "ccxt";
import { type OkxEmulator, startOkxEmulator } from "../testing/okx_emulator.ts";
import type { MaintenanceGap } from "../testing/_exchange_emulator.ts";
import { CCXTProvider } from "../providers/ccxt.ts";
import { ProviderError } from "../providers/provider.ts";
import {
  allocBatch,
  batchLength,
  type CandleBatch,
} from "../format/candle_batch.ts";
import {
  parseTimeframe,
  periodStart,
  type Timeframe,
} from "../format/timeframe.ts";

const M = 60_000;
const H = 3_600_000;
const D = 86_400_000;
const DAY0 = Date.UTC(2024, 2, 1);
/** A fixed clock for the endpoint tests (ccxt is not involved). */
const FIXED = Date.UTC(2024, 2, 1, 12, 0, 30);

/**
 * ccxt chooses between the recent and the history endpoint with its own
 * clock, so the ccxt tests freeze the emulator at the real time when they
 * start (whole seconds: never ahead of ccxt's clock).
 */
function frozenNow(): number {
  return Math.floor(Date.now() / 1000) * 1000;
}

interface Envelope {
  code: string;
  msg: string;
  data: unknown[];
}

async function get(url: string): Promise<{ status: number; body: Envelope }> {
  const res = await fetch(url);
  const text = await res.text();
  let body: Envelope;
  try {
    body = JSON.parse(text);
  } catch {
    body = { code: "?", msg: text, data: [] };
  }
  return { status: res.status, body };
}

type Row = [
  string,
  string,
  string,
  string,
  string,
  string,
  string,
  string,
  string,
];

const times = (rows: unknown[]) => (rows as Row[]).map((r) => Number(r[0]));

Deno.test("startOkxEmulator serves newest-first candle pages between the exclusive after/before cursors", async () => {
  await using emu = await startOkxEmulator({
    now: () => FIXED,
    gaps: [{ from: DAY0 + 100 * M, to: DAY0 + 110 * M }],
  });
  const h = (q: string) =>
    get(`${emu.url}/api/v5/market/history-candles?instId=BTC-USDT&${q}`);
  // (before, after): both exclusive, newest first.
  let r = await h(`bar=1m&before=${DAY0}&after=${DAY0 + 5 * M}`);
  assert.equal(r.status, 200);
  assert.equal(r.body.code, "0");
  assert.equal(r.body.msg, "");
  assert.deepEqual(times(r.body.data), [4, 3, 2, 1].map((i) => DAY0 + i * M));
  const row = r.body.data[0] as Row;
  assert.equal(row.length, 9);
  assert.ok(row.every((x) => typeof x === "string"));
  assert.equal(row[8], "1", "closed candles are confirmed");
  // More than `limit` in range: the newest `limit` (default 100).
  r = await h(`bar=1m&before=${DAY0 - 1}&after=${DAY0 + 300 * M}`);
  assert.equal(r.body.data.length, 100);
  assert.equal(times(r.body.data)[0], DAY0 + 299 * M);
  // History pages hold at most 100 whatever `limit` says.
  r = await h(`bar=1m&before=${DAY0 - 1}&after=${DAY0 + 300 * M}&limit=300`);
  assert.equal(r.body.data.length, 100);
  // `after` alone: the newest earlier records; gaps left out, as expectedCandles.
  r = await h(`bar=1m&after=${DAY0 + 150 * M}&limit=100`);
  const truth = emu.expectedCandles(
    "BTC-USDT",
    parseTimeframe("1"),
    DAY0 + 40 * M,
    DAY0 + 150 * M,
  );
  assert.equal(r.body.data.length, 100);
  assert.deepEqual(times(r.body.data).reverse(), [...truth.time]);
  assert.deepEqual(
    (r.body.data as Row[]).map((x) => Number(x[4])).reverse(),
    [...truth.close],
  );
  assert.deepEqual(
    (r.body.data as Row[]).map((x) => Number(x[5])).reverse(),
    [...truth.volume],
  );
  // `before` alone: the latest records, the forming one with confirm "0".
  r = await h(`bar=1H&before=${DAY0}&limit=2`);
  const latest = r.body.data as Row[];
  assert.deepEqual(times(latest), [DAY0 + 12 * H, DAY0 + 11 * H]);
  assert.equal(latest[0]![8], "0");
  assert.equal(latest[0]![4], latest[0]![1], "forming close is the open");
  assert.equal(latest[1]![8], "1");
  // Nothing after now, nothing in an empty cursor range.
  r = await h(`bar=1m&before=${FIXED + H}`);
  assert.deepEqual(r.body.data, []);
  r = await h(`bar=1m&before=${DAY0 + M}&after=${DAY0 + 2 * M}`);
  assert.deepEqual(r.body.data, []);
});

Deno.test("startOkxEmulator market/candles serves only the latest 1440 entries, at most 300 a page", async () => {
  await using emu = await startOkxEmulator({ now: () => FIXED });
  const c = (q: string) =>
    get(`${emu.url}/api/v5/market/candles?instId=ETH-USDT&${q}`);
  const m0 = periodStart(parseTimeframe("1"), FIXED);
  let r = await c(`bar=1m&limit=1000`);
  assert.equal(r.body.data.length, 300);
  assert.equal(times(r.body.data)[0], m0);
  // The oldest of the 1440 entries (the forming one included) is served ...
  r = await c(`bar=1m&after=${m0 - 1438 * M}&limit=5`);
  assert.deepEqual(times(r.body.data), [m0 - 1439 * M]);
  // ... and nothing older, which the history endpoint still has.
  r = await c(`bar=1m&after=${m0 - 1439 * M}`);
  assert.deepEqual(r.body.data, []);
  const hist = await get(
    `${emu.url}/api/v5/market/history-candles?instId=ETH-USDT&bar=1m&after=${
      m0 - 1439 * M
    }&limit=1`,
  );
  assert.deepEqual(times(hist.body.data), [m0 - 1440 * M]);
  assert.deepEqual(
    hist.body.data[0],
    (await get(
      `${emu.url}/api/v5/market/history-candles?instId=ETH-USDT&bar=1m&before=${
        m0 - 1441 * M
      }&after=${m0 - 1439 * M}`,
    )).body.data[0],
  );
});

Deno.test("startOkxEmulator aligns 6H and longer bars to Hong Kong time, the utc bars to UTC", async () => {
  await using emu = await startOkxEmulator({ now: () => FIXED });
  const h = (bar: string) =>
    get(
      `${emu.url}/api/v5/market/history-candles?instId=BTC-USDT&bar=${bar}&after=${DAY0}&limit=2`,
    );
  assert.deepEqual(times((await h("1Dutc")).body.data), [
    DAY0 - D,
    DAY0 - 2 * D,
  ]);
  const hkDays = (await h("1D")).body.data as Row[];
  assert.deepEqual(times(hkDays), [DAY0 - 8 * H, DAY0 - D - 8 * H]);
  assert.equal(hkDays[0]![8], "0", "the Hong Kong day of 12:00 UTC is forming");
  const hk = emu.expectedCandles(
    "BTC-USDT",
    parseTimeframe("1D"),
    DAY0 - 3 * D,
    DAY0,
    "HK",
  );
  assert.deepEqual([...hk.time], [-2, -1].map((d) => DAY0 + d * D - 8 * H));
  assert.equal(hk.high[1], Number(hkDays[1]![2]));
  assert.equal(hk.volume[1], Number(hkDays[1]![5]));
  // Hong Kong and UTC days are different series.
  const utcDay = emu.expectedCandles(
    "BTC-USDT",
    parseTimeframe("1D"),
    DAY0 - D,
    DAY0,
  );
  assert.notEqual(utcDay.volume[0], hk.volume[1]);
  // Hong Kong weeks open on Sunday 16:00 UTC, months on the last day 16:00 UTC.
  const week = times((await h("1W")).body.data)[0]!;
  assert.equal(new Date(week).getUTCDay(), 0);
  assert.equal(new Date(week).getUTCHours(), 16);
  assert.deepEqual(times((await h("1M")).body.data), [
    Date.UTC(2024, 1, 29, 16),
    Date.UTC(2024, 0, 31, 16),
  ]);
  assert.deepEqual(times((await h("6Hutc")).body.data), [
    DAY0 - 6 * H,
    DAY0 - 12 * H,
  ]);
  assert.deepEqual(times((await h("6H")).body.data), [
    DAY0 - 2 * H,
    DAY0 - 8 * H,
  ]);
});

Deno.test("startOkxEmulator answers instruments, time and OKX errors in its envelope", async () => {
  await using emu = await startOkxEmulator({ now: () => FIXED });
  const spot = await get(`${emu.url}/api/v5/public/instruments?instType=SPOT`);
  const list = spot.body.data as Record<string, unknown>[];
  assert.deepEqual(list.map((s) => s["instId"]), [
    "BTC-USDT",
    "ETH-USDT",
    "SHIB-USDT",
  ]);
  assert.deepEqual(
    [list[0]!["tickSz"], list[0]!["lotSz"], list[0]!["minSz"]],
    ["0.1", "0.00000001", "0.00000001"],
  );
  assert.equal(list[2]!["tickSz"], "0.000000001");
  const swap = await get(
    `${emu.url}/api/v5/public/instruments?instType=SWAP&instId=BTC-USDT-SWAP`,
  );
  const btc = swap.body.data[0] as Record<string, unknown>;
  assert.deepEqual(
    [
      btc["uly"],
      btc["settleCcy"],
      btc["ctVal"],
      btc["ctValCcy"],
      btc["ctType"],
    ],
    ["BTC-USDT", "USDT", "0.01", "BTC", "linear"],
  );
  assert.deepEqual(
    (await get(`${emu.url}/api/v5/public/instruments?instType=FUTURES`)).body,
    { code: "0", msg: "", data: [] },
  );
  const noUly = await get(
    `${emu.url}/api/v5/public/instruments?instType=OPTION`,
  );
  assert.deepEqual([noUly.status, noUly.body.code], [400, "50015"]);
  const noType = await get(`${emu.url}/api/v5/public/instruments`);
  assert.deepEqual([noType.status, noType.body.code], [400, "50014"]);
  assert.deepEqual((await get(`${emu.url}/api/v5/public/time`)).body, {
    code: "0",
    msg: "",
    data: [{ ts: String(FIXED) }],
  });
  const c = `${emu.url}/api/v5/market/candles`;
  const bad = await get(`${c}?instId=NOPE-USDT`);
  assert.equal(bad.status, 200);
  assert.deepEqual(bad.body, {
    code: "51001",
    msg: "Instrument ID does not exist",
    data: [],
  });
  const badBar = await get(`${c}?instId=BTC-USDT&bar=1h`);
  assert.equal(badBar.status, 400);
  assert.deepEqual(badBar.body, {
    code: "51000",
    msg: "Parameter bar error",
    data: [],
  });
  assert.equal((await get(`${c}?instId=BTC-USDT&limit=0`)).body.code, "51000");
  assert.equal(
    (await get(`${c}?instId=BTC-USDT&after=x`)).body.msg,
    "Parameter after error",
  );
  assert.equal((await get(c)).body.code, "50014");
  assert.equal((await get(`${emu.url}/api/v5/nope`)).status, 404);
});

Deno.test("startOkxEmulator rate-limits with 429 + code 50011 and injects faults into candle requests", async () => {
  await using emu = await startOkxEmulator({
    now: () => FIXED,
    weightLimit: 3,
    weightWindowMs: 60_000,
    backoffGraceMs: 60_000,
    faults: [{ kind: "503", at: 1 }, { kind: "400", at: 2 }],
  });
  const c = `${emu.url}/api/v5/market/candles?instId=BTC-USDT&limit=1`;
  const r503 = await get(c);
  assert.deepEqual([r503.status, r503.body.code], [503, "50001"]);
  const r400 = await get(c);
  assert.deepEqual([r400.status, r400.body.code], [200, "51001"]);
  assert.equal((await get(c)).body.code, "0");
  const limited = await get(c);
  assert.equal(limited.status, 429);
  assert.deepEqual(limited.body, { msg: "Too Many Requests", code: "50011" });
  assert.deepEqual(emu.requests.map((r) => r.fault ?? r.status), [
    "503",
    "400",
    200,
    429,
  ]);
});

// ---------------------------------------------------------------------------
// Real ccxt and the CCXTProvider against the emulator.

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

function rowsBatch(rows: readonly (number | undefined)[][]): CandleBatch {
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

function ccxtOkx(emu: OkxEmulator) {
  const ex = new ccxt.okx({ enableRateLimit: false });
  ex.urls["api"] = { rest: emu.url };
  return ex;
}

Deno.test("ccxt's okx fetchOHLCV gets the generator's candles exactly from both endpoints", async () => {
  const now = frozenNow();
  await using emu = await startOkxEmulator({
    now: () => now,
    weightLimit: 100_000,
  });
  const ex = ccxtOkx(emu);
  const m1 = parseTimeframe("1");
  const m0 = periodStart(m1, now);
  const data = () => emu.requests.filter((r) => r.dataN > 0);
  // Recent: market/candles, 300 a page.
  let rows = await ex.fetchOHLCV("BTC/USDT", "1m", m0 - 300 * M, 300);
  assertSameCandles(
    rowsBatch(rows),
    emu.expectedCandles("BTC-USDT", m1, m0 - 300 * M, m0),
  );
  assert.equal(data().at(-1)!.path, "/api/v5/market/candles");
  assert.equal(data().at(-1)!.query["limit"], "300");
  // Old: market/history-candles.
  const since = Date.UTC(2024, 0, 1);
  const h1 = parseTimeframe("60");
  rows = await ex.fetchOHLCV("BTC/USDT", "1h", since, 100);
  assertSameCandles(
    rowsBatch(rows),
    emu.expectedCandles("BTC-USDT", h1, since, since + 100 * H),
  );
  assert.equal(data().at(-1)!.path, "/api/v5/market/history-candles");
  // ccxt's default limit (100, sent as 300 to history-candles).
  rows = await ex.fetchOHLCV("ETH/USDT", "1h", since);
  assertSameCandles(
    rowsBatch(rows),
    emu.expectedCandles("ETH-USDT", h1, since, since + 100 * H),
  );
  assert.equal(data().at(-1)!.query["limit"], "300");
  // limit 300 on history: the venue answers the newest 100 of the 300 asked.
  rows = await ex.fetchOHLCV("BTC/USDT", "1h", since, 300);
  assertSameCandles(
    rowsBatch(rows),
    emu.expectedCandles("BTC-USDT", h1, since + 200 * H, since + 300 * H),
  );
  // Daily and longer bars go out as UTC bars (1Dutc ...).
  const d1 = parseTimeframe("1D");
  rows = await ex.fetchOHLCV("BTC/USDT", "1d", Date.UTC(2019, 0, 1), 50);
  assert.equal(data().at(-1)!.query["bar"], "1Dutc");
  assertSameCandles(
    rowsBatch(rows),
    emu.expectedCandles(
      "BTC-USDT",
      d1,
      Date.UTC(2019, 0, 1),
      Date.UTC(2019, 0, 1) + 50 * D,
    ),
  );
  // Swaps: ccxt takes the base volume (volCcy), not the contracts.
  rows = await ex.fetchOHLCV("BTC/USDT:USDT", "15m", since, 100);
  assertSameCandles(
    rowsBatch(rows),
    emu.expectedCandles(
      "BTC-USDT-SWAP",
      parseTimeframe("15"),
      since,
      since + 100 * 15 * M,
    ),
  );
  // Without since: the latest candles, the forming one last.
  rows = await ex.fetchOHLCV("BTC/USDT", "1m", undefined, 3);
  assert.deepEqual(rows.map((r) => r[0]), [m0 - 2 * M, m0 - M, m0]);
  assert.equal(rows[2]![4], rows[2]![1]);
  assert.equal(await ex.fetchTime(), now);
  await ex.close();
});

/** Gaps placed on the 100-minute windows of a 1m download from `base - 1000 min`. */
function gapsBefore(base: number): MaintenanceGap[] {
  return [
    { from: base - 905 * M, to: base - 895 * M }, // spans a window boundary
    { from: base - 700 * M, to: base - 600 * M }, // exactly one whole window
    { from: base - 400 * M, to: base - 390 * M }, // at a window start
    { from: base - 210 * M, to: base - 200 * M }, // at a window end
    { from: base - 2 * M, to: base }, // the end of the range
  ];
}

async function withProvider(
  emu: OkxEmulator,
  run: (p: CCXTProvider) => Promise<void>,
): Promise<void> {
  const dir = await Deno.makeTempDir();
  const p = new CCXTProvider({
    configDir: dir,
    baseUrl: emu.url,
    env: {},
    retryBaseDelayMs: 5,
    retryMaxDelayMs: 40,
    exchanges: { okx: { rateLimit: 1 } },
  });
  try {
    await run(p);
  } finally {
    await p[Symbol.asyncDispose]();
    await Deno.remove(dir, { recursive: true });
  }
}

async function download(
  p: CCXTProvider,
  symbol: string,
  tf: Timeframe,
  from: number,
  to: number,
  concurrency = 4,
): Promise<CandleBatch> {
  const batches = await Array.fromAsync(
    p.candles({ symbol, timeframe: tf, from, to, concurrency }),
  );
  batches.forEach((b, i) => assert.equal(b.seq, i, "seq numbers"));
  return concat(batches);
}

Deno.test("CCXTProvider downloads exactly the closed OKX candles: recent, old, across gaps, up to the forming candle", async () => {
  const now = frozenNow();
  const m1 = parseTimeframe("1");
  const m0 = periodStart(m1, now);
  const old = m0 - 3 * D;
  await using emu = await startOkxEmulator({
    now: () => now,
    weightLimit: 100_000,
    gaps: [...gapsBefore(m0), ...gapsBefore(old)],
  });
  await withProvider(emu, async (p) => {
    const cases: Array<[string, string, string, number, number]> = [
      // Short, one recent page, reaching the forming candle.
      ["OKX:BTC/USDT", "BTC-USDT", "1", m0 - 50 * M, now + M],
      // Many recent pages across gaps, up to the forming candle.
      ["OKX:BTC/USDT", "BTC-USDT", "1", m0 - 1000 * M, now + H],
      // Many history pages across gaps.
      ["okx:btc/usdt", "BTC-USDT", "1", old - 1000 * M, old],
      // Crossing from history to the recent endpoint.
      ["OKX:ETH/USDT", "ETH-USDT", "1", m0 - 2500 * M, now],
      ["OKX:BTC/USDT:USDT", "BTC-USDT-SWAP", "15", m0 - 20 * D, now],
      ["OKX:ETH/USDT", "ETH-USDT", "60", m0 - 100 * D, now + D],
      ["OKX:SHIB/USDT", "SHIB-USDT", "240", Date.UTC(2023, 0, 1), now],
      // From before the listing (2017-01-01).
      ["OKX:BTC/USDT", "BTC-USDT", "1D", Date.UTC(2016, 5, 1), now],
      ["OKX:ETH/USDT:USDT", "ETH-USDT-SWAP", "1W", Date.UTC(2019, 0, 1), now],
      ["OKX:BTC/USDT", "BTC-USDT", "1M", Date.UTC(2016, 0, 1), now],
    ];
    for (const [symbol, id, period, from, to] of cases) {
      const tf = parseTimeframe(period);
      for (const concurrency of [1, 4]) {
        const before = emu.requests.length;
        const got = await download(p, symbol, tf, from, to, concurrency);
        assertSameCandles(got, emu.expectedCandles(id, tf, from, to));
        assert.ok(
          emu.requests.slice(before).every((r) => r.status === 200),
          `${symbol} ${period}: every request answered`,
        );
      }
    }
    // The gaps are really there and the forming minute is not stored.
    const recent = await download(p, "OKX:BTC/USDT", m1, m0 - 1000 * M, now);
    assert.equal(batchLength(recent), 1000 - 10 - 100 - 10 - 10 - 2);
    assert.equal(recent.time[batchLength(recent) - 1], m0 - 3 * M);
    // Both endpoints were used, and every page stayed within its limit.
    const data = emu.requests.filter((r) => r.dataN > 0);
    const paths = new Set(data.map((r) => r.path));
    assert.deepEqual([...paths].sort(), [
      "/api/v5/market/candles",
      "/api/v5/market/history-candles",
    ]);
    assert.ok(data.every((r) => Number(r.query["limit"]) <= 100));
    assert.ok(
      data.filter((r) => r.query["bar"] === "1Dutc").length > 0,
      "daily bars asked as UTC bars",
    );
  });
});

Deno.test("CCXTProvider downloads exactly from an OKX whose pages hold fewer candles than asked", async () => {
  const now = frozenNow();
  const m1 = parseTimeframe("1");
  const m0 = periodStart(m1, now);
  await using emu = await startOkxEmulator({
    now: () => now,
    weightLimit: 100_000,
    candlesLimit: 40,
    historyLimit: 30,
    gaps: gapsBefore(m0 - 2 * D),
  });
  await withProvider(emu, async (p) => {
    for (
      const [from, to] of [
        [m0 - 500 * M, now],
        [m0 - 2 * D - 1000 * M, m0 - 2 * D],
      ] as const
    ) {
      const got = await download(p, "OKX:BTC/USDT", m1, from, to);
      assertSameCandles(got, emu.expectedCandles("BTC-USDT", m1, from, to));
    }
  });
});

Deno.test("CCXTProvider recovers exact OKX data from 429, 503, dropped and malformed pages, and fails on 51001", async () => {
  const now = frozenNow();
  const m1 = parseTimeframe("1");
  const m0 = periodStart(m1, now);
  await using emu = await startOkxEmulator({
    now: () => now,
    weightLimit: 100_000,
    faults: [
      { kind: "429", at: 2 },
      { kind: "503", at: 4 },
      { kind: "drop", at: 6 },
      { kind: "malformed", at: 8 },
      { kind: "500", at: 10 },
    ],
  });
  await withProvider(emu, async (p) => {
    const from = m0 - 3 * D;
    const got = await download(p, "OKX:BTC/USDT", m1, from, from + 1200 * M);
    assertSameCandles(
      got,
      emu.expectedCandles("BTC-USDT", m1, from, from + 1200 * M),
    );
    assert.deepEqual(
      emu.requests.filter((r) => r.fault).map((r) => r.fault),
      ["429", "503", "drop", "malformed", "500"],
    );
    emu.addFault({ kind: "400", at: (r) => r.dataN > 0 });
    await assert.rejects(
      download(p, "OKX:BTC/USDT", m1, from, from + 10 * M),
      (e) => e instanceof ProviderError && /51001/.test((e as Error).message),
    );
  });
});
