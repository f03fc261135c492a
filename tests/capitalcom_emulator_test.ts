import assert from "node:assert/strict";
import { encryptPassword } from "../providers/_capitalcom_session.ts";
import {
  type CapitalComEmulator,
  type CapitalComEmulatorOptions,
  startCapitalComEmulator,
} from "../testing/capitalcom_emulator.ts";

/** Wednesday 2025-01-15 10:30:20 UTC. */
const NOW = Date.UTC(2025, 0, 15, 10, 30, 20);

interface Answer {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

async function call(
  emu: CapitalComEmulator,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: unknown,
): Promise<Answer> {
  const res = await fetch(emu.url + path, {
    method,
    headers: { "Content-Type": "application/json", ...headers },
    body: body === undefined ? null : JSON.stringify(body),
  });
  const text = await res.text();
  return {
    status: res.status,
    body: text ? JSON.parse(text) : {},
    headers: res.headers,
  };
}

class Client {
  cst = "";
  token = "";
  constructor(readonly emu: CapitalComEmulator) {}
  async login(): Promise<Answer> {
    const c = this.emu.credentials;
    const r = await call(this.emu, "POST", "/api/v1/session", {
      "X-CAP-API-KEY": c.apiKey,
    }, { identifier: c.identifier, password: c.password });
    if (r.status === 200) {
      this.cst = r.headers.get("CST") ?? "";
      this.token = r.headers.get("X-SECURITY-TOKEN") ?? "";
    }
    return r;
  }
  async get(path: string): Promise<Answer> {
    const r = await call(this.emu, "GET", path, {
      CST: this.cst,
      "X-SECURITY-TOKEN": this.token,
    });
    this.cst = r.headers.get("CST") ?? this.cst;
    this.token = r.headers.get("X-SECURITY-TOKEN") ?? this.token;
    return r;
  }
}

async function start(
  options: CapitalComEmulatorOptions = {},
): Promise<CapitalComEmulator> {
  return await startCapitalComEmulator({
    now: () => NOW,
    requestsPerSecond: Infinity,
    loginsPerSecond: Infinity,
    rsaBits: 1024,
    ...options,
  });
}

type Bar = Record<string, unknown> & {
  snapshotTimeUTC: string;
  openPrice: { bid: number; ask: number };
  closePrice: { bid: number; ask: number };
};

function prices(a: Answer): Bar[] {
  return a.body.prices as Bar[];
}

Deno.test("CapitalComEmulator logs in with a plain password and refuses wrong credentials", async () => {
  await using emu = await start();
  const c = new Client(emu);
  const ok = await c.login();
  assert.equal(ok.status, 200);
  assert.ok(c.cst.length > 10 && c.token.length > 10);
  assert.equal((await c.get("/api/v1/ping")).body.status, "OK");
  const bad = await call(emu, "POST", "/api/v1/session", {
    "X-CAP-API-KEY": emu.credentials.apiKey,
  }, { identifier: emu.credentials.identifier, password: "nope" });
  assert.deepEqual([bad.status, bad.body.errorCode], [
    401,
    "error.invalid.details",
  ]);
  const badKey = await call(emu, "POST", "/api/v1/session", {
    "X-CAP-API-KEY": "other",
  }, {
    identifier: emu.credentials.identifier,
    password: emu.credentials.password,
  });
  assert.deepEqual([badKey.status, badKey.body.errorCode], [
    401,
    "error.invalid.api.key",
  ]);
});

Deno.test("CapitalComEmulator accepts an RSA-encrypted password once per issued time stamp", async () => {
  await using emu = await start();
  const c = emu.credentials;
  const key = await call(emu, "GET", "/api/v1/session/encryptionKey", {
    "X-CAP-API-KEY": c.apiKey,
  });
  assert.equal(key.status, 200);
  const { encryptionKey, timeStamp } = key.body as {
    encryptionKey: string;
    timeStamp: number;
  };
  const login = (password: string, stamp: number) =>
    call(emu, "POST", "/api/v1/session", { "X-CAP-API-KEY": c.apiKey }, {
      identifier: c.identifier,
      password: encryptPassword(password, encryptionKey, stamp),
      encryptedPassword: true,
    });
  assert.equal((await login("wrong", timeStamp)).status, 401);
  const key2 = await call(emu, "GET", "/api/v1/session/encryptionKey", {
    "X-CAP-API-KEY": c.apiKey,
  });
  const stamp2 = key2.body.timeStamp as number;
  assert.equal(
    (await login(c.password, stamp2 + 1)).status,
    401,
    "unknown time stamp",
  );
  const ok = await login(c.password, stamp2);
  assert.equal(ok.status, 200);
  assert.ok(ok.headers.get("CST"));
  assert.equal(
    (await login(c.password, stamp2)).status,
    401,
    "a time stamp is single-use",
  );
});

Deno.test("CapitalComEmulator rotates tokens and expires idle sessions after 10 minutes", async () => {
  let clock = NOW;
  await using emu = await start({ now: () => clock, rotateEvery: 3 });
  const c = new Client(emu);
  await c.login();
  const first = c.token;
  await c.get("/api/v1/ping");
  await c.get("/api/v1/ping");
  const stale = { cst: c.cst, token: c.token };
  const rotated = await c.get("/api/v1/ping");
  assert.ok(rotated.headers.get("X-SECURITY-TOKEN"));
  assert.notEqual(c.token, first);
  const useStale = () =>
    call(emu, "GET", "/api/v1/ping", {
      CST: stale.cst,
      "X-SECURITY-TOKEN": stale.token,
    });
  // The pair before a rotation serves requests already under way...
  assert.equal((await useStale()).status, 200);
  await c.get("/api/v1/ping");
  await c.get("/api/v1/ping"); // ...until the next rotation
  assert.equal(
    (await useStale()).body.errorCode,
    "error.invalid.session.token",
  );
  clock += 9 * 60_000;
  assert.equal(
    (await c.get("/api/v1/ping")).status,
    200,
    "9 idle minutes are fine",
  );
  clock += 10 * 60_000 + 1;
  const expired = await c.get("/api/v1/ping");
  assert.deepEqual([expired.status, expired.body.errorCode], [
    401,
    "error.invalid.session.token",
  ]);
  assert.equal(emu.sessionCount, 0);
  const none = await call(emu, "GET", "/api/v1/ping");
  assert.equal(none.body.errorCode, "error.null.client.token");
  const half = await call(emu, "GET", "/api/v1/ping", { CST: "x" });
  assert.equal(half.body.errorCode, "error.security.client-token-missing");
});

Deno.test("CapitalComEmulator searches markets and serves details with opening hours", async () => {
  await using emu = await start();
  const c = new Client(emu);
  await c.login();
  const found = await c.get("/api/v1/markets?searchTerm=gold");
  assert.deepEqual(
    (found.body.markets as { epic: string }[]).map((m) => m.epic),
    ["GOLD"],
  );
  const byEpics = await c.get("/api/v1/markets?epics=AAPL,US500");
  assert.deepEqual(
    (byEpics.body.markets as { epic: string }[]).map((m) => m.epic),
    ["US500", "AAPL"],
  );
  const d = await c.get("/api/v1/markets/EURUSD");
  const inst = d.body.instrument as Record<string, unknown> & {
    openingHours: Record<string, unknown>;
  };
  assert.equal(inst.type, "CURRENCIES");
  assert.equal(inst.openingHours.zone, "UTC");
  assert.deepEqual(inst.openingHours.sun, ["22:05 - 00:00"]);
  assert.deepEqual(inst.openingHours.sat, []);
  const rules = d.body.dealingRules as Record<string, { value: number }>;
  assert.equal(rules.minStepDistance!.value, 0.00001);
  const snap = d.body.snapshot as {
    bid: number;
    offer: number;
    marketStatus: string;
  };
  assert.ok(snap.offer > snap.bid);
  assert.equal(snap.marketStatus, "TRADEABLE");
  const missing = await c.get("/api/v1/markets/NOSUCH");
  assert.deepEqual([missing.status, missing.body.errorCode], [
    404,
    "error.not-found.epic",
  ]);
});

Deno.test("CapitalComEmulator prices: inclusive from/to, max, the date-range rule and the forming bar", async () => {
  await using emu = await start();
  const c = new Client(emu);
  await c.login();
  const base = "/api/v1/prices/EURUSD?resolution=HOUR";
  const both = prices(
    await c.get(
      `${base}&max=5&from=2025-01-14T08:00:00&to=2025-01-14T12:00:00`,
    ),
  );
  assert.deepEqual(both.map((p) => p.snapshotTimeUTC), [
    "2025-01-14T08:00:00",
    "2025-01-14T09:00:00",
    "2025-01-14T10:00:00",
    "2025-01-14T11:00:00",
    "2025-01-14T12:00:00",
  ]);
  // Five bars in a window needs max >= 5.
  const tooWide = await c.get(
    `${base}&max=4&from=2025-01-14T08:00:00&to=2025-01-14T12:00:00`,
  );
  assert.deepEqual([tooWide.status, tooWide.body.errorCode], [
    400,
    "error.invalid.max.daterange",
  ]);
  const fromOnly = prices(
    await c.get(`${base}&max=3&from=2025-01-14T08:00:00`),
  );
  assert.equal(fromOnly.length, 3);
  const latest = prices(await c.get(base));
  assert.equal(latest.length, 10, "max defaults to 10");
  assert.equal(
    latest.at(-1)!.snapshotTimeUTC,
    "2025-01-15T10:00:00",
    "the forming bar comes last",
  );
  for (const p of both) {
    assert.ok(p.closePrice.ask > p.closePrice.bid);
  }
  const bars = emu.bars(
    "EURUSD",
    "HOUR",
    Date.UTC(2025, 0, 14, 8),
    Date.UTC(2025, 0, 14, 13),
  );
  assert.deepEqual(Array.from(bars.open), both.map((p) => p.openPrice.bid));
  const future = await c.get(
    `${base}&max=5&from=2025-01-15T08:00:00&to=2025-01-15T10:31:00`,
  );
  assert.deepEqual(
    [future.status, future.body.errorCode],
    [400, "error.invalid.daterange"],
    "a to in the future is refused",
  );
  assert.equal(
    (await c.get(`${base}&max=1001`)).body.errorCode,
    "error.invalid.max",
  );
  assert.equal(
    (await c.get(`${base}&from=yesterday`)).body.errorCode,
    "error.invalid.from",
  );
  assert.equal(
    (await c.get("/api/v1/prices/EURUSD?resolution=MINUTE_2")).body.errorCode,
    "error.invalid.resolution",
  );
});

Deno.test("CapitalComEmulator pageCap answers fewer bars than max, keeping the oldest or the newest of the range", async () => {
  const range =
    "/api/v1/prices/EURUSD?resolution=MINUTE&max=1000&from=2025-01-14T08:00:00&to=2025-01-14T12:59:00";
  const want = (a: number, n: number) =>
    Array.from(
      { length: n },
      (_, i) => new Date(a + i * 60_000).toISOString().slice(0, 19),
    );
  {
    await using emu = await start({ pageCap: 150 });
    const c = new Client(emu);
    await c.login();
    const got = prices(await c.get(range)).map((p) => p.snapshotTimeUTC);
    assert.deepEqual(got, want(Date.UTC(2025, 0, 14, 8), 150));
    // A range within the cap is answered whole.
    const small = prices(
      await c.get(
        "/api/v1/prices/EURUSD?resolution=MINUTE&max=1000&from=2025-01-14T08:00:00&to=2025-01-14T08:59:00",
      ),
    );
    assert.equal(small.length, 60);
  }
  {
    await using emu = await start({ pageCap: 150, pageCapKeeps: "newest" });
    const c = new Client(emu);
    await c.login();
    const got = prices(await c.get(range)).map((p) => p.snapshotTimeUTC);
    assert.deepEqual(
      got,
      want(Date.UTC(2025, 0, 14, 12, 59) - 149 * 60_000, 150),
    );
  }
  await assert.rejects(() => start({ pageCap: 0 }), RangeError);
  await assert.rejects(
    // deno-lint-ignore no-explicit-any
    () => start({ pageCapKeeps: "middle" as any }),
    RangeError,
  );
});

Deno.test("CapitalComEmulator forms bars only while the market is open", async () => {
  await using emu = await start();
  const c = new Client(emu);
  await c.login();
  // Saturday: EURUSD is closed.
  const sat = await c.get(
    "/api/v1/prices/EURUSD?resolution=MINUTE&max=1000&from=2025-01-11T00:00:00&to=2025-01-11T16:00:00",
  );
  assert.deepEqual([sat.status, sat.body.errorCode], [
    404,
    "error.prices.not-found",
  ]);
  // Sunday evening: the first minute bar is 22:05.
  const sun = prices(
    await c.get(
      "/api/v1/prices/EURUSD?resolution=MINUTE&max=100&from=2025-01-12T21:00:00&to=2025-01-12T22:10:00",
    ),
  );
  assert.deepEqual(sun.map((p) => p.snapshotTimeUTC.slice(11, 16)), [
    "22:05",
    "22:06",
    "22:07",
    "22:08",
    "22:09",
    "22:10",
  ]);
  // US500 pauses 21:00-22:00 UTC every weekday.
  const idx = prices(
    await c.get(
      "/api/v1/prices/US500?resolution=MINUTE_30&max=10&from=2025-01-14T20:00:00&to=2025-01-14T22:30:00",
    ),
  );
  assert.deepEqual(idx.map((p) => p.snapshotTimeUTC.slice(11, 16)), [
    "20:00",
    "20:30",
    "22:00",
    "22:30",
  ]);
  // AAPL trades 09:30-16:00 New York time (14:30-21:00 UTC in winter).
  const aapl = prices(
    await c.get(
      "/api/v1/prices/AAPL?resolution=HOUR&max=24&from=2025-01-14T00:00:00&to=2025-01-14T23:00:00",
    ),
  );
  assert.deepEqual(aapl.map((p) => p.snapshotTimeUTC.slice(11, 13)), [
    "14",
    "15",
    "16",
    "17",
    "18",
    "19",
    "20",
  ]);
  assert.equal(
    aapl[0]!.snapshotTime,
    "2025-01-14T09:00:00",
    "snapshotTime is venue-local",
  );
  // Bitcoin trades on Saturdays.
  const btc = prices(
    await c.get(
      "/api/v1/prices/BTCUSD?resolution=DAY&max=7&from=2025-01-06T00:00:00&to=2025-01-12T00:00:00",
    ),
  );
  assert.equal(btc.length, 7);
});

Deno.test("CapitalComEmulator enforces 10 requests and 1 login per second", async () => {
  let t = 0;
  await using emu = await start({
    requestsPerSecond: 10,
    loginsPerSecond: 1,
    rateClock: () => t,
  });
  const c = new Client(emu);
  assert.equal((await c.login()).status, 200);
  const again = await c.login();
  assert.deepEqual([again.status, again.body.errorCode], [
    429,
    "error.too-many.requests",
  ]);
  const answers: number[] = [];
  for (let i = 0; i < 10; i++) {
    answers.push((await c.get("/api/v1/ping")).status);
  }
  // login + refused login + 8 pings fill the second; the 9th and 10th ping are refused.
  assert.deepEqual(answers, [200, 200, 200, 200, 200, 200, 200, 200, 429, 429]);
  t += 1000;
  assert.equal((await c.get("/api/v1/ping")).status, 200);
  assert.equal((await c.login()).status, 200);
});

Deno.test("CapitalComEmulator injects faults and logs every request", async () => {
  await using emu = await start();
  const c = new Client(emu);
  await c.login();
  emu.fault({ path: "/api/v1/prices", status: 502, count: 2 });
  emu.fault({
    path: "/api/v1/markets",
    status: 400,
    errorCode: "error.invalid.whatever",
  });
  const q = "/api/v1/prices/GOLD?resolution=DAY&max=3";
  assert.equal((await c.get(q)).status, 502);
  assert.equal((await c.get(q)).status, 502);
  assert.equal((await c.get(q)).status, 200);
  const m = await c.get("/api/v1/markets?searchTerm=a");
  assert.deepEqual([m.status, m.body.errorCode], [
    400,
    "error.invalid.whatever",
  ]);
  assert.deepEqual(
    emu.requests.map((r) => `${r.method} ${r.path} ${r.status}`),
    [
      "POST /api/v1/session 200",
      "GET /api/v1/prices/GOLD 502",
      "GET /api/v1/prices/GOLD 502",
      "GET /api/v1/prices/GOLD 200",
      "GET /api/v1/markets 400",
    ],
  );
  assert.deepEqual(emu.requests[3]!.query, { resolution: "DAY", max: "3" });
  assert.equal(emu.requests[4]!.errorCode, "error.invalid.whatever");
  assert.equal(emu.requests[0]!.time, NOW);
});
