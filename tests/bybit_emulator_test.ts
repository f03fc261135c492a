import assert from "node:assert/strict";
import { startBybitEmulator } from "../testing/bybit_emulator.ts";
import { parseTimeframe } from "../format/timeframe.ts";

const NOW = Date.UTC(2024, 2, 1, 12, 0, 30);
const M = 60_000;
const DAY0 = Date.UTC(2024, 2, 1);

interface Envelope {
  retCode: number;
  retMsg: string;
  result: Record<string, unknown>;
  time: number;
}

async function get(
  url: string,
): Promise<{ status: number; body: Envelope; headers: Headers }> {
  const res = await fetch(url);
  const text = await res.text();
  let body: Envelope;
  try {
    body = JSON.parse(text);
  } catch {
    body = { retCode: -1, retMsg: text, result: {}, time: 0 };
  }
  return { status: res.status, body, headers: res.headers };
}

Deno.test("startBybitEmulator serves newest-first kline pages of [start, end]", async () => {
  await using emu = await startBybitEmulator({
    now: () => NOW,
    gaps: [{ from: DAY0 + 100 * M, to: DAY0 + 110 * M }],
  });
  const k = (q: string) =>
    get(`${emu.url}/v5/market/kline?category=linear&symbol=BTCUSDT&${q}`);
  // 300 minutes in range, limit 200: the newest 200, newest first.
  let r = await k(
    `interval=1&start=${DAY0}&end=${DAY0 + 300 * M - 1}&limit=200`,
  );
  assert.equal(r.body.retCode, 0);
  assert.equal(r.body.retMsg, "OK");
  let list = r.body.result["list"] as string[][];
  assert.equal(list.length, 200);
  assert.equal(Number(list[0]![0]), DAY0 + 299 * M);
  assert.ok(Number(list[0]![0]) > Number(list[1]![0]), "newest first");
  assert.equal(list[0]!.length, 7);
  assert.equal(typeof list[0]![1], "string");
  // Default limit 200; limit above 1000 refused.
  r = await k(`interval=1&start=${DAY0}`);
  assert.equal((r.body.result["list"] as unknown[]).length, 200);
  r = await k(`interval=1&limit=1001`);
  assert.equal(r.body.retCode, 10001);
  // A window answers whole, gaps left out, matching expectedCandles.
  r = await k(
    `interval=1&start=${DAY0 + 50 * M}&end=${DAY0 + 150 * M - 1}&limit=1000`,
  );
  list = r.body.result["list"] as string[][];
  const truth = emu.expectedCandles(
    "linear:BTCUSDT",
    parseTimeframe("1"),
    DAY0 + 50 * M,
    DAY0 + 150 * M,
  );
  assert.equal(list.length, 90);
  assert.deepEqual(list.map((x) => Number(x[0])).reverse(), [...truth.time]);
  assert.deepEqual(list.map((x) => Number(x[4])).reverse(), [...truth.close]);
  // Like Bybit, the candle containing a mid-period `start` is included:
  // ccxt sends weekly starts rounded to Thursdays (multiples of 7 days since
  // 1970), weekly candles open on Mondays.
  const monday = Date.UTC(2024, 0, 29);
  r = await k(`interval=W&start=${monday + 3 * 86_400_000}&limit=1000`);
  list = r.body.result["list"] as string[][];
  assert.equal(Number(list.at(-1)![0]), monday);
  // Spot and linear are different series; the newest candle is forming.
  r = await get(
    `${emu.url}/v5/market/kline?category=spot&symbol=BTCUSDT&interval=60&limit=1`,
  );
  list = r.body.result["list"] as string[][];
  assert.equal(Number(list[0]![0]), DAY0 + 12 * 3_600_000);
  assert.equal(list[0]![4], list[0]![1]);
});

Deno.test("startBybitEmulator answers instruments-info, time and Bybit errors in its envelope", async () => {
  await using emu = await startBybitEmulator({ now: () => NOW });
  const spot = await get(`${emu.url}/v5/market/instruments-info?category=spot`);
  const spotList = spot.body.result["list"] as Record<string, unknown>[];
  assert.deepEqual(spotList.map((s) => s["symbol"]), ["BTCUSDT", "SHIBUSDT"]);
  assert.deepEqual(spotList[1]!["priceFilter"], { tickSize: "0.00000001" });
  const linear = await get(
    `${emu.url}/v5/market/instruments-info?category=linear&limit=1000`,
  );
  const lin = linear.body.result["list"] as Record<string, unknown>[];
  assert.equal(linear.body.result["category"], "linear");
  assert.deepEqual(lin.map((s) => s["symbol"]), [
    "BTCUSDT",
    "ETHUSDT",
    "FIVEUSDT",
  ]);
  assert.equal(lin[0]!["contractType"], "LinearPerpetual");
  assert.equal(lin[0]!["settleCoin"], "USDT");
  const pre = await get(
    `${emu.url}/v5/market/instruments-info?category=linear&status=PreLaunch`,
  );
  assert.deepEqual(pre.body.result["list"], []);
  const time = await get(`${emu.url}/v5/market/time`);
  assert.equal(time.body.time, NOW);
  assert.equal(time.body.result["timeSecond"], String(Math.floor(NOW / 1000)));
  const bad = await get(
    `${emu.url}/v5/market/kline?category=spot&symbol=NOPE&interval=1`,
  );
  assert.equal(bad.status, 200);
  assert.deepEqual([bad.body.retCode, bad.body.retMsg], [
    10001,
    "Not supported symbols",
  ]);
  const badTf = await get(
    `${emu.url}/v5/market/kline?category=spot&symbol=BTCUSDT&interval=7`,
  );
  assert.deepEqual([badTf.body.retCode, badTf.body.retMsg], [
    10001,
    "Invalid period!",
  ]);
});

Deno.test("startBybitEmulator rate-limits with 429 + retCode 10006 and bans repeated abuse with 403", async () => {
  await using emu = await startBybitEmulator({
    now: () => NOW,
    weightLimit: 3,
    weightWindowMs: 60_000,
    abuseThreshold: 2,
    banMs: 5000,
    backoffGraceMs: 0,
  });
  const t = `${emu.url}/v5/market/time`;
  for (let i = 0; i < 3; i++) {
    const r = await get(t);
    assert.equal(r.status, 200);
    assert.equal(r.headers.get("x-bapi-limit-status"), String(2 - i));
  }
  const limited = await get(t);
  assert.equal(limited.status, 429);
  assert.equal(limited.body.retCode, 10006);
  assert.ok(Number(limited.headers.get("retry-after")) >= 1);
  await get(t);
  const banned = await get(t);
  assert.equal(banned.status, 403);
  assert.equal(banned.body.retMsg, "access too frequent");
  assert.equal(banned.headers.get("retry-after"), "5");
});

Deno.test("startBybitEmulator injects faults into kline requests", async () => {
  await using emu = await startBybitEmulator({
    now: () => NOW,
    faults: [{ kind: "503", at: 1 }, { kind: "400", at: 2 }],
  });
  const k =
    `${emu.url}/v5/market/kline?category=linear&symbol=BTCUSDT&interval=1&limit=3`;
  const r503 = await get(k);
  assert.equal(r503.status, 503);
  assert.match(r503.body.retMsg, /Service Unavailable/);
  const r400 = await get(k);
  assert.equal(r400.body.retCode, 10001);
  assert.equal((await get(k)).body.retCode, 0);
  assert.deepEqual(emu.requests.map((r) => r.fault ?? null), [
    "503",
    "400",
    null,
  ]);
});
