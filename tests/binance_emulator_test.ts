import assert from "node:assert/strict";
import { startBinanceEmulator } from "../testing/binance_emulator.ts";
import { parseTimeframe } from "../format/timeframe.ts";

const NOW = Date.UTC(2024, 2, 1, 12, 0, 30);
const M = 60_000;
const H = 3_600_000;
const DAY0 = Date.UTC(2024, 2, 1);

async function get(
  url: string,
): Promise<{ status: number; body: unknown; headers: Headers; text: string }> {
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

type Row = [
  number,
  string,
  string,
  string,
  string,
  string,
  number,
  ...unknown[],
];

Deno.test("startBinanceEmulator serves klines with Binance's parameter semantics", async () => {
  await using emu = await startBinanceEmulator({ now: () => NOW });
  const k = (q: string) => get(`${emu.url}/api/v3/klines?symbol=BTCUSDT&${q}`);

  // startTime and endTime are inclusive; rows have 12 fields with string prices.
  let r = await k(`interval=1m&startTime=${DAY0}&endTime=${DAY0 + 4 * M}`);
  assert.equal(r.status, 200);
  let rows = r.body as Row[];
  assert.deepEqual(
    rows.map((x) => x[0]),
    [0, 1, 2, 3, 4].map((i) => DAY0 + i * M),
  );
  assert.equal(rows[0]!.length, 12);
  assert.equal(typeof rows[0]![1], "string");
  assert.match(rows[0]![1], /^\d+\.\d{8}$/);
  assert.equal(rows[0]![6], DAY0 + M - 1);
  // An off-grid startTime selects the next open time.
  r = await k(`interval=1m&startTime=${DAY0 + 1}&limit=2`);
  assert.deepEqual((r.body as Row[]).map((x) => x[0]), [
    DAY0 + M,
    DAY0 + 2 * M,
  ]);
  // limit defaults to 500 and is at most 1000.
  r = await k(`interval=1m&startTime=${DAY0 - 86_400_000}`);
  assert.equal((r.body as Row[]).length, 500);
  r = await k(`interval=1m&startTime=${DAY0 - 86_400_000}&limit=1000`);
  assert.equal((r.body as Row[]).length, 1000);
  r = await k(`interval=1m&limit=1001`);
  assert.equal(r.status, 400);
  assert.deepEqual(r.body, {
    code: -1130,
    msg: "Data sent for parameter 'limit' is not valid.",
  });
  // Without startTime: the newest candles, the last one still forming.
  r = await k(`interval=1h&limit=3`);
  rows = r.body as Row[];
  assert.deepEqual(
    rows.map((x) => x[0]),
    [10 * H, 11 * H, 12 * H].map((x) => DAY0 + x),
  );
  const forming = rows[2]!;
  assert.equal(forming[4], forming[1], "forming close is the open so far");
  const truth = emu.expectedCandles(
    "BTCUSDT",
    parseTimeframe("60"),
    DAY0 + 10 * H,
    DAY0 + 13 * H,
  );
  assert.equal(truth.time.length, 2, "the forming hour is not a closed candle");
  assert.equal(Number(rows[1]![4]), truth.close[1]);
  // Nothing after now.
  r = await k(`interval=1m&startTime=${NOW + H}`);
  assert.deepEqual(r.body, []);
  // endTime only: the newest `limit` candles up to it.
  r = await k(`interval=1d&endTime=${DAY0}&limit=2`);
  assert.deepEqual(
    (r.body as Row[]).map((x) => x[0]),
    [DAY0 - 86_400_000, DAY0],
  );
});

Deno.test("startBinanceEmulator leaves maintenance gaps out and matches expectedCandles", async () => {
  await using emu = await startBinanceEmulator({
    now: () => NOW,
    gaps: [{ from: DAY0 + 10 * M, to: DAY0 + 70 * M }],
  });
  const r = await get(
    `${emu.url}/api/v3/klines?symbol=ETHUSDT&interval=1m&startTime=${DAY0}&endTime=${
      DAY0 + 2 * H - 1
    }&limit=1000`,
  );
  const rows = r.body as Row[];
  assert.equal(rows.length, 120 - 60);
  assert.ok(rows.every((x) => x[0] < DAY0 + 10 * M || x[0] >= DAY0 + 70 * M));
  const truth = emu.expectedCandles(
    "ETHUSDT",
    parseTimeframe("1"),
    DAY0,
    DAY0 + 2 * H,
  );
  assert.deepEqual(rows.map((x) => x[0]), [...truth.time]);
  assert.deepEqual(rows.map((x) => Number(x[2])), [...truth.high]);
  assert.deepEqual(rows.map((x) => Number(x[5])), [...truth.volume]);
  // An hour only partly inside the gap still has its candle; one wholly inside has none.
  const hours = await get(
    `${emu.url}/api/v3/klines?symbol=ETHUSDT&interval=1h&startTime=${DAY0}&limit=3`,
  );
  assert.deepEqual((hours.body as Row[]).map((x) => x[0]), [
    DAY0,
    DAY0 + H,
    DAY0 + 2 * H,
  ]);
  const min5 = await get(
    `${emu.url}/api/v3/klines?symbol=ETHUSDT&interval=5m&startTime=${DAY0}&limit=4`,
  );
  assert.deepEqual((min5.body as Row[]).map((x) => x[0]), [
    DAY0,
    DAY0 + 5 * M,
    DAY0 + 70 * M,
    DAY0 + 75 * M,
  ]);
});

Deno.test("startBinanceEmulator answers exchangeInfo, time, ping and Binance errors", async () => {
  await using emu = await startBinanceEmulator({ now: () => NOW });
  const info = await get(`${emu.url}/api/v3/exchangeInfo`);
  const body = info.body as {
    serverTime: number;
    rateLimits: { rateLimitType: string; limit: number }[];
    symbols: {
      symbol: string;
      filters: { filterType: string; tickSize?: string }[];
    }[];
  };
  assert.equal(body.serverTime, NOW);
  assert.equal(body.rateLimits[0]!.limit, 6000);
  const shib = body.symbols.find((s) => s.symbol === "SHIBUSDT")!;
  assert.equal(
    shib.filters.find((f) => f.filterType === "PRICE_FILTER")!.tickSize,
    "0.00000001",
  );
  const one = await get(`${emu.url}/api/v3/exchangeInfo?symbol=HALFUSDT`);
  assert.deepEqual(
    (one.body as typeof body).symbols.map((s) => s.symbol),
    ["HALFUSDT"],
  );
  assert.deepEqual((await get(`${emu.url}/api/v3/time`)).body, {
    serverTime: NOW,
  });
  assert.deepEqual((await get(`${emu.url}/api/v3/ping`)).body, {});
  const bad = await get(`${emu.url}/api/v3/klines?symbol=NOPE&interval=1m`);
  assert.equal(bad.status, 400);
  assert.deepEqual(bad.body, { code: -1121, msg: "Invalid symbol." });
  const badTf = await get(
    `${emu.url}/api/v3/klines?symbol=BTCUSDT&interval=7m`,
  );
  assert.deepEqual(badTf.body, { code: -1120, msg: "Invalid interval." });
  const none = await get(`${emu.url}/api/v3/klines?interval=1m`);
  assert.equal((none.body as { code: number }).code, -1102);
  assert.equal((await get(`${emu.url}/api/v3/nope`)).status, 404);
  assert.equal(emu.requests.length, 8);
  assert.equal(emu.requests[2]!.path, "/api/v3/time");
});

Deno.test("startBinanceEmulator enforces the weight limit with 429 + Retry-After and bans repeated abuse with 418", async () => {
  await using emu = await startBinanceEmulator({
    now: () => NOW,
    weightLimit: 10,
    weightWindowMs: 60_000,
    abuseThreshold: 2,
    backoffGraceMs: 0,
  });
  const k = `${emu.url}/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=1`;
  for (let i = 1; i <= 5; i++) {
    const r = await get(k);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("x-mbx-used-weight-1m"), String(2 * i));
  }
  const limited = await get(k);
  assert.equal(limited.status, 429);
  assert.equal((limited.body as { code: number }).code, -1003);
  const after = Number(limited.headers.get("retry-after"));
  assert.ok(after >= 1 && after <= 60, `Retry-After ${after}`);
  assert.equal((await get(k)).status, 429); // violation 1 of 2
  const banned = await get(k); // violation 2: banned
  assert.equal(banned.status, 418);
  assert.equal(Number(banned.headers.get("retry-after")), 120);
  assert.equal((await get(`${emu.url}/api/v3/ping`)).status, 418);
  assert.equal(emu.countStatus(429), 2);
});

Deno.test("startBinanceEmulator does not count requests already in flight when a 429 was answered", async () => {
  await using emu = await startBinanceEmulator({
    now: () => NOW,
    weightLimit: 2,
    weightWindowMs: 60_000,
    abuseThreshold: 2,
    backoffGraceMs: 60_000,
  });
  const k = `${emu.url}/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=1`;
  assert.equal((await get(k)).status, 200);
  const statuses = [];
  for (let i = 0; i < 4; i++) statuses.push((await get(k)).status);
  assert.deepEqual(statuses, [429, 429, 429, 429], "within the grace: no ban");
  assert.equal(emu.countStatus(418), 0);
});

Deno.test("startBinanceEmulator injects faults at chosen requests", async () => {
  await using emu = await startBinanceEmulator({
    now: () => NOW,
    faults: [
      { kind: "500", at: 1 },
      { kind: "429", at: 2, retryAfter: 7 },
      { kind: "malformed", at: 3 },
      { kind: "drop", at: 4 },
      { kind: "slow", at: 5, delayMs: 300 },
      { kind: "503", at: (r) => r.query["startTime"] === "0", times: 2 },
    ],
  });
  const k = (start = DAY0) =>
    `${emu.url}/api/v3/klines?symbol=BTCUSDT&interval=1m&limit=5&startTime=${start}`;
  // Non-data requests do not count for numbered faults.
  assert.equal((await get(`${emu.url}/api/v3/time`)).status, 200);
  assert.equal((await get(k())).status, 500);
  const r429 = await get(k());
  assert.equal(r429.status, 429);
  assert.equal(r429.headers.get("retry-after"), "7");
  const bad = await get(k());
  assert.equal(bad.status, 200);
  assert.equal(bad.body, undefined, "malformed JSON");
  assert.ok(bad.text.startsWith("[["));
  await assert.rejects(fetch(k()).then((r) => r.text()));
  const t0 = performance.now();
  assert.equal((await get(k())).status, 200);
  assert.ok(performance.now() - t0 >= 290);
  assert.equal((await get(k(0))).status, 503);
  assert.equal((await get(k(0))).status, 503);
  assert.equal((await get(k(0))).status, 200);
  assert.equal((await get(k())).status, 200);
  assert.deepEqual(
    emu.requests.map((r) => r.fault ?? r.status),
    [200, "500", "429", "malformed", "drop", "slow", "503", "503", 200, 200],
  );
  assert.deepEqual(emu.requests.map((r) => r.dataN), [
    0,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    9,
  ]);
});

Deno.test("startBinanceEmulator delays responses by the configured latency", async () => {
  await using emu = await startBinanceEmulator({
    now: () => NOW,
    latencyMs: 120,
  });
  const t0 = performance.now();
  await get(`${emu.url}/api/v3/ping`);
  assert.ok(performance.now() - t0 >= 115);
});
