import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  type CandleBatch,
  concatBatches,
  sliceBatch,
} from "../format/candle_batch.ts";
import { OhlcvReader } from "../format/ohlcv_reader.ts";
import { OhlcvWriter } from "../format/ohlcv_writer.ts";
import { readSymbolInfo } from "../format/symbol_info_toml.ts";
import { download } from "../pipeline/download.ts";
import { parseTimeframe } from "../format/timeframe.ts";
import {
  CapitalComProvider,
  type CapitalComProviderOptions,
} from "../providers/capitalcom.ts";
import { convertOpeningHours } from "../providers/_capitalcom_hours.ts";
import { SlidingWindowLimiter } from "../providers/_capitalcom_rate_limiter.ts";
import { ProviderError } from "../providers/provider.ts";
import {
  type CapitalComEmulator,
  type CapitalComEmulatorOptions,
  DEFAULT_EMULATOR_MARKETS,
  startCapitalComEmulator,
} from "../testing/capitalcom_emulator.ts";

/** Wednesday 2025-01-15 10:30:20 UTC. */
const NOW = Date.UTC(2025, 0, 15, 10, 30, 20);
const H = 3_600_000;
const D = 24 * H;

interface Setup extends AsyncDisposable {
  emu: CapitalComEmulator;
  provider: CapitalComProvider;
  dir: string;
  logs: string[];
}

/** A fast emulator + provider pair (limits relaxed unless given). */
async function setup(
  options: {
    clock?: () => number;
    emu?: CapitalComEmulatorOptions;
    provider?: Partial<CapitalComProviderOptions>;
  } = {},
): Promise<Setup> {
  const clock = options.clock ?? (() => NOW);
  const emu = await startCapitalComEmulator({
    now: clock,
    requestsPerSecond: Infinity,
    loginsPerSecond: Infinity,
    rsaBits: 1024,
    ...options.emu,
  });
  const dir = await Deno.makeTempDir({ prefix: "capitalcom_test_" });
  const logs: string[] = [];
  const provider = new CapitalComProvider({
    configDir: join(dir, "config"),
    env: {},
    baseUrl: emu.url,
    ...emu.credentials,
    now: clock,
    log: (line) => logs.push(line),
    rateLimit: 1000,
    loginIntervalMs: 1,
    retryBaseDelayMs: 5,
    ...options.provider,
  });
  return {
    emu,
    provider,
    dir,
    logs,
    async [Symbol.asyncDispose]() {
      await provider[Symbol.asyncDispose]();
      await emu.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

async function collect(
  it: AsyncIterable<CandleBatch>,
): Promise<{ all: CandleBatch; batches: CandleBatch[] }> {
  const batches = await Array.fromAsync(it);
  return { all: concatBatches(batches), batches };
}

function assertSameBars(got: CandleBatch, want: CandleBatch, what: string) {
  assert.ok(want.time.length > 0, `${what}: the emulator has bars`);
  assert.equal(got.time.length, want.time.length, `${what}: bar count`);
  for (const c of ["time", "open", "high", "low", "close", "volume"] as const) {
    assert.deepEqual(Array.from(got[c]), Array.from(want[c]), `${what}: ${c}`);
  }
}

function assertAscending(b: CandleBatch) {
  for (let i = 1; i < b.time.length; i++) {
    assert.ok(b.time[i]! > b.time[i - 1]!, `time ${i} is after time ${i - 1}`);
  }
}

Deno.test("CapitalComProvider candles equal the emulator's closed bid bars for every resolution", async () => {
  await using s = await setup();
  const cases: [string, number, number, number | undefined][] = [
    // period, from, to, pageSize — each range crosses the weekend of Jan 11-12.
    ["1", Date.UTC(2025, 0, 10, 12), Date.UTC(2025, 0, 13, 6), undefined],
    ["5", Date.UTC(2025, 0, 8), NOW + D, undefined],
    ["15", Date.UTC(2025, 0, 6), NOW + D, 300],
    ["30", Date.UTC(2025, 0, 6), NOW + D, 200],
    ["60", Date.UTC(2025, 0, 1), NOW + D, 50],
    ["240", Date.UTC(2024, 11, 1), NOW + D, 40],
    ["1D", Date.UTC(2024, 6, 1), NOW + D, 30],
    ["1W", Date.UTC(2023, 0, 1), NOW + D, 20],
  ];
  for (const [period, from, to, pageSize] of cases) {
    const before = s.emu.requests.length;
    const { all, batches } = await collect(s.provider.candles({
      symbol: "EURUSD",
      timeframe: parseTimeframe(period),
      from,
      to,
      pageSize,
    }));
    assertSameBars(all, s.emu.bars("EURUSD", period, from, to), period);
    assertAscending(all);
    assert.ok(batches.length >= 2, `${period}: several pages`);
    assert.ok(batches.every((b) => b.time.length > 0), "no empty batches");
    const prices = s.emu.requests.slice(before).filter((r) =>
      r.path.startsWith("/api/v1/prices")
    );
    assert.ok(prices.every((r) => Number(r.query.max) <= 1000));
    assert.ok(
      prices.every((r) => r.errorCode !== "error.invalid.max.daterange"),
      `${period}: windows respect the date-range rule`,
    );
  }
  // The minute range spans a weekend: windows without bars were stepped over.
  assert.ok(
    s.emu.requests.some((r) => r.errorCode === "error.prices.not-found"),
  );
});

Deno.test("CapitalComProvider pages across a weekday holiday without losing bars", async () => {
  // EURUSD closed all of Wednesday 2025-01-08 (not shown in its opening hours).
  const holiday = [Date.UTC(2025, 0, 8), Date.UTC(2025, 0, 9)] as const;
  await using s = await setup({
    emu: {
      markets: [{ ...DEFAULT_EMULATOR_MARKETS[0]!, closures: [holiday] }],
    },
  });
  const from = Date.UTC(2025, 0, 6, 12), to = Date.UTC(2025, 0, 10, 12);
  for (const period of ["1", "5", "60"]) {
    const before = s.emu.requests.length;
    const { all } = await collect(s.provider.candles({
      symbol: "EURUSD",
      timeframe: parseTimeframe(period),
      from,
      to,
      pageSize: 500,
    }));
    const want = s.emu.bars("EURUSD", period, from, to);
    assertSameBars(all, want, `holiday ${period}`);
    assert.ok(
      all.time.every((t) => t < holiday[0] || t >= holiday[1]),
      "no bar inside the holiday",
    );
    assert.ok(all.time.at(-1)! > holiday[1], "bars after the holiday came");
    if (period === "1") {
      const prices = s.emu.requests.slice(before).filter((r) =>
        r.path === "/api/v1/prices/EURUSD"
      );
      const i = prices.findIndex((r) =>
        r.errorCode === "error.prices.not-found"
      );
      assert.ok(i > 0, "a window inside the holiday had no prices");
      assert.ok(
        prices.slice(i).some((r) => r.status === 200),
        "paging went on after it",
      );
    }
  }
});

Deno.test("CapitalComProvider candles skip closed hours of a share in New York time", async () => {
  await using s = await setup();
  const from = Date.UTC(2025, 0, 9), to = Date.UTC(2025, 0, 15);
  const { all } = await collect(s.provider.candles({
    symbol: "aapl",
    timeframe: parseTimeframe("15"),
    from,
    to,
  }));
  assertSameBars(all, s.emu.bars("AAPL", "15", from, to), "AAPL 15");
  for (const t of all.time) {
    const d = new Date(t);
    const minutes = d.getUTCHours() * 60 + d.getUTCMinutes();
    // 09:30-16:00 New York = 14:30-21:00 UTC in January; no weekends.
    assert.ok(minutes >= 14 * 60 + 30 && minutes < 21 * 60, d.toISOString());
    assert.ok(d.getUTCDay() >= 1 && d.getUTCDay() <= 5);
  }
});

Deno.test("CapitalComProvider candles drop the forming bar", async () => {
  await using s = await setup();
  const from = NOW - 3 * H;
  const { all } = await collect(s.provider.candles({
    symbol: "EURUSD",
    timeframe: parseTimeframe("60"),
    from,
    to: NOW + D,
  }));
  // NOW is 10:30:20: the 10:00 bar is forming; 07:30 rounds up to the 08:00 bar.
  assert.deepEqual(Array.from(all.time), [
    Date.UTC(2025, 0, 15, 8),
    Date.UTC(2025, 0, 15, 9),
  ]);
  const last = s.emu.requests.filter((r) => r.path.startsWith("/api/v1/prices"))
    .at(-1)!;
  assert.equal(last.status, 200, "the emulator did serve the forming bar");
});

Deno.test("CapitalComProvider copes with a clock ahead of a venue that sends no Date header", async () => {
  await using s = await setup({
    emu: { dateHeader: false },
    provider: { now: () => NOW + 180_000 },
  });
  const from = NOW - 5 * H;
  const { all } = await collect(s.provider.candles({
    symbol: "EURUSD",
    timeframe: parseTimeframe("60"),
    from,
    to: NOW + D,
  }));
  assertSameBars(
    all,
    s.emu.bars("EURUSD", "60", from, NOW + D),
    "skewed clock",
  );
  assert.ok(
    s.emu.requests.some((r) => r.errorCode === "error.invalid.daterange"),
    "the emulator refused the window ending in its future",
  );
  assert.ok(s.logs.some((l) => l.includes("clock ahead")));
});

Deno.test("CapitalComProvider judges forming bars by the venue's clock when this computer's is ahead", async () => {
  // The venue is at 10:58:30, this computer at 11:01:30: the venue's 10:00
  // hour bar is still forming although the local clock says it has closed.
  const venue = Date.UTC(2025, 0, 15, 10, 58, 30);
  for (const period of ["60", "1"]) {
    await using s = await setup({
      clock: () => venue,
      provider: { now: () => venue + 180_000 },
    });
    const from = venue - 5 * H;
    const { all } = await collect(s.provider.candles({
      symbol: "EURUSD",
      timeframe: parseTimeframe(period),
      from,
      to: venue + D,
    }));
    const want = s.emu.bars("EURUSD", period, from, venue + D);
    assertSameBars(all, want, `skewed clock ${period}`);
    assert.ok(
      all.time.at(-1)! + parseTimeframe(period).ms <= venue,
      "the last bar had closed at the venue",
    );
    assert.ok(s.logs.some((l) => l.includes("180 s behind this computer's")));
  }
});

Deno.test("CapitalComProvider candles carry ask prices and the spread as extra data aligned with the bars", async () => {
  await using s = await setup();
  const from = Date.UTC(2025, 0, 10, 18), to = Date.UTC(2025, 0, 13, 3);
  const { all } = await collect(s.provider.candles({
    symbol: "EURUSD",
    timeframe: parseTimeframe("5"),
    from,
    to,
    extraData: true,
  }));
  const want = s.emu.bars("EURUSD", "5", from, to);
  assertSameBars(all, want, "EURUSD 5 extra");
  assert.deepEqual(all.extra, want.extra);
  for (let i = 0; i < all.time.length; i++) {
    const e = all.extra![i]!;
    assert.deepEqual(Object.keys(e), [
      "ask_open",
      "ask_high",
      "ask_low",
      "ask_close",
      "spread",
    ]);
    assert.ok(Number(e.ask_close) > all.close[i]!);
  }
  // Without the option there is no extra data.
  const plain = await collect(s.provider.candles({
    symbol: "EURUSD",
    timeframe: parseTimeframe("5"),
    from,
    to,
  }));
  assert.equal(plain.all.extra, undefined);
});

Deno.test("CapitalComProvider candles written to a file read back exactly, with the sidecar aligned", async () => {
  await using s = await setup();
  const tf = parseTimeframe("60");
  const from = Date.UTC(2024, 11, 20), to = Date.UTC(2025, 0, 14);
  const info = await s.provider.symbolInfo("EURUSD", tf);
  const path = join(s.dir, "capitalcom_EURUSD_60.ohlcv");
  const writer = await OhlcvWriter.open(path, {
    period: tf,
    minmove: info.minmove,
    pricescale: info.pricescale,
  });
  for await (
    const batch of s.provider.candles({
      symbol: "EURUSD",
      timeframe: tf,
      from,
      to,
      extraData: true,
      pageSize: 200,
    })
  ) {
    await writer.append(batch);
  }
  await writer.close();
  const want = s.emu.bars("EURUSD", "60", from, to);
  await using reader = await OhlcvReader.open(path);
  assertSameBars(await reader.read(), want, "file");
  const csv =
    (await readFile(join(s.dir, "capitalcom_EURUSD_60.extra.csv"), "utf8"))
      .trimEnd().split("\r\n");
  assert.equal(csv[0], "ask_open,ask_high,ask_low,ask_close,spread");
  assert.equal(csv.length - 1, reader.count, "one sidecar row per record");
  for (let i = 0; i < reader.count; i++) {
    const e = want.extra![i]!;
    assert.equal(
      csv[i + 1],
      [e!.ask_open, e!.ask_high, e!.ask_low, e!.ask_close, e!.spread].join(","),
      `sidecar row ${i}`,
    );
  }
});

Deno.test("download() with CapitalComProvider writes exactly the emulator's bars, sidecar and symbol info, without weekend anomalies", async () => {
  await using s = await setup();
  const dataDir = join(s.dir, "data");
  for (
    const [symbol, period, from, to] of [
      ["EURUSD", "60", Date.UTC(2024, 11, 16), Date.UTC(2025, 0, 15)],
      ["EURUSD", "1", Date.UTC(2025, 0, 9, 20), Date.UTC(2025, 0, 13, 4)],
      ["US500", "15", Date.UTC(2025, 0, 6), Date.UTC(2025, 0, 15)],
      ["AAPL", "60", Date.UTC(2024, 11, 2), Date.UTC(2025, 0, 15)],
      ["GOLD", "1D", Date.UTC(2024, 5, 3), Date.UTC(2025, 0, 13)],
    ] as const
  ) {
    const summary = await download(s.provider, symbol, {
      timeframe: period,
      dataDir,
      from: new Date(from),
      to: new Date(to),
      extraData: true,
      now: () => NOW,
    });
    const want = s.emu.bars(symbol, period, from, to);
    assert.equal(summary.candles, want.time.length, `${symbol} ${period}`);
    assert.equal(
      summary.anomalyPeriods,
      0,
      `${symbol} ${period}: closed hours are not anomalies`,
    );
    assert.equal(summary.validation.invalid, 0);
    assert.equal(
      summary.path,
      join(dataDir, `capitalcom_${symbol}_${period}.ohlcv`),
    );
    {
      await using reader = await OhlcvReader.open(summary.path);
      assertSameBars(await reader.read(), want, `${symbol} ${period} file`);
      const rows = (await readFile(
        summary.path.replace(/\.ohlcv$/, ".extra.csv"),
        "utf8",
      )).trimEnd().split("\r\n");
      assert.equal(rows.length - 1, reader.count, "sidecar rows = records");
      const last = want.extra!.at(-1)!;
      assert.equal(
        rows.at(-1),
        [
          last.ask_open,
          last.ask_high,
          last.ask_low,
          last.ask_close,
          last.spread,
        ]
          .join(","),
      );
    }
    const { info, provider } = await readSymbolInfo(summary.symbolInfoPath);
    assert.equal(info.ticker, symbol);
    assert.equal(info.period, period);
    assert.equal(provider, `capitalcom:${symbol}@${period}`);
  }
  // Topping up continues after the last committed bar without repeating it,
  // and an earlier start prepends; the sidecar stays row for row with the file.
  const from = Date.UTC(2025, 0, 13), to = Date.UTC(2025, 0, 14);
  await download(s.provider, "GBPUSD", {
    timeframe: "60",
    dataDir,
    from: new Date(from),
    to: new Date(to),
    extraData: true,
    now: () => NOW,
  });
  const more = await download(s.provider, "GBPUSD", {
    timeframe: "60",
    dataDir,
    from: "continue",
    to: new Date(Date.UTC(2025, 0, 15)),
    extraData: true,
    now: () => NOW,
  });
  assert.equal(more.mode, "append");
  const earlier = Date.UTC(2025, 0, 8, 12);
  const before = await download(s.provider, "GBPUSD", {
    timeframe: "60",
    dataDir,
    from: new Date(earlier),
    to: new Date(Date.UTC(2025, 0, 15)),
    extraData: true,
    now: () => NOW,
  });
  assert.equal(before.mode, "prepend");
  await using reader = await OhlcvReader.open(more.path);
  const want = s.emu.bars("GBPUSD", "60", earlier, Date.UTC(2025, 0, 15));
  assertSameBars(await reader.read(), want, "GBPUSD topped up and prepended");
  const rows = (await readFile(
    more.path.replace(/\.ohlcv$/, ".extra.csv"),
    "utf8",
  )).trimEnd().split("\r\n");
  assert.deepEqual(
    rows.slice(1),
    want.extra!.map((e) =>
      [e!.ask_open, e!.ask_high, e!.ask_low, e!.ask_close, e!.spread].join(",")
    ),
    "sidecar rows match the records one for one",
  );
});

Deno.test("CapitalComProvider survives a session expiring in the middle of a download", async () => {
  for (const concurrency of [1, 3]) {
    let clock = NOW;
    await using s = await setup({ clock: () => clock });
    const from = Date.UTC(2025, 0, 2), to = Date.UTC(2025, 0, 14);
    const batches: CandleBatch[] = [];
    for await (
      const b of s.provider.candles({
        symbol: "GOLD",
        timeframe: parseTimeframe("15"),
        from,
        to,
        pageSize: 150,
        concurrency,
      })
    ) {
      batches.push(b);
      if (batches.length === 2 || batches.length === 5) {
        clock += 11 * 60_000; // idle > 10 min
      }
    }
    const all = concatBatches(batches);
    assertAscending(all);
    assertSameBars(all, s.emu.bars("GOLD", "15", from, to), "GOLD 15");
    const logins = s.emu.requests.filter((r) =>
      r.method === "POST" && r.path === "/api/v1/session"
    );
    assert.equal(logins.length, 3, "one new login after each expiry");
    const refused = s.emu.requests.filter((r) =>
      r.errorCode === "error.invalid.session.token"
    ).length;
    if (concurrency === 1) {
      assert.equal(refused, 2);
    } else assert.ok(refused >= 2 && refused <= 2 * concurrency, `${refused}`);
    assert.equal(s.provider.stats.retries, refused);
  }
});

Deno.test("CapitalComProvider follows rotated tokens", async () => {
  await using s = await setup({ emu: { rotateEvery: 2 } });
  const { all } = await collect(s.provider.candles({
    symbol: "US500",
    timeframe: parseTimeframe("30"),
    from: Date.UTC(2025, 0, 6),
    to: Date.UTC(2025, 0, 14),
    pageSize: 40,
  }));
  assertSameBars(
    all,
    s.emu.bars("US500", "30", Date.UTC(2025, 0, 6), Date.UTC(2025, 0, 14)),
    "US500 30",
  );
  const logins = s.emu.requests.filter((r) => r.path === "/api/v1/session");
  assert.equal(logins.length, 1, "no session error after a rotation");
  assert.ok(s.emu.requests.every((r) => r.status !== 401));
  assert.ok(s.emu.requests.length > 10, "several rotations happened");
});

Deno.test("CapitalComProvider retries rate limits, server errors and timeouts, counting them", async () => {
  await using s = await setup({ provider: { timeoutMs: 200 } });
  s.emu.fault({
    path: "/api/v1/prices",
    status: 429,
    errorCode: "error.too-many.requests",
  });
  s.emu.fault({ path: "/api/v1/prices", status: 503 });
  s.emu.fault({ path: "/api/v1/prices", status: 200, delayMs: 600 });
  const from = Date.UTC(2025, 0, 13), to = Date.UTC(2025, 0, 14);
  const { all } = await collect(s.provider.candles({
    symbol: "EURUSD",
    timeframe: parseTimeframe("60"),
    from,
    to,
  }));
  assertSameBars(all, s.emu.bars("EURUSD", "60", from, to), "after retries");
  assert.equal(s.provider.stats.retries, 3);
  assert.ok(s.logs.some((l) => l.includes("timed out")));
  assert.ok(s.logs.some((l) => l.includes("error.too-many.requests")));
  // login + 4 price requests
  assert.equal(s.provider.stats.requests, 5);
});

Deno.test("CapitalComProvider narrows its windows when the venue refuses the date range", async () => {
  await using s = await setup();
  s.emu.fault({
    path: "/api/v1/prices",
    status: 400,
    errorCode: "error.invalid.max.daterange",
    count: 2,
  });
  const from = Date.UTC(2025, 0, 6), to = Date.UTC(2025, 0, 14);
  const { all } = await collect(s.provider.candles({
    symbol: "EURUSD",
    timeframe: parseTimeframe("60"),
    from,
    to,
  }));
  assertSameBars(all, s.emu.bars("EURUSD", "60", from, to), "narrowed");
  assert.ok(s.logs.some((l) => l.includes("narrowing windows to 250 bars")));
});

Deno.test("CapitalComProvider fails with a ProviderError naming the epic and time when the page cursor stops advancing", async () => {
  await using s = await setup();
  const from = Date.UTC(2025, 0, 13), to = Date.UTC(2025, 0, 14);
  const old = (h: number) => ({
    snapshotTimeUTC: `2025-01-10T0${h}:00:00`,
    openPrice: { bid: 1, ask: 1.1 },
    highPrice: { bid: 1, ask: 1.1 },
    lowPrice: { bid: 1, ask: 1.1 },
    closePrice: { bid: 1, ask: 1.1 },
    lastTradedVolume: 1,
  });
  // A page of bars from before the window: the cursor cannot move on.
  s.emu.fault({
    path: "/api/v1/prices",
    status: 200,
    body: { prices: [old(1), old(2)] },
  });
  const got: CandleBatch[] = [];
  await assert.rejects(
    async () => {
      for await (
        const b of s.provider.candles({
          symbol: "EURUSD",
          timeframe: parseTimeframe("60"),
          from,
          to,
          pageSize: 2,
          concurrency: 1,
        })
      ) got.push(b);
    },
    (e: unknown) =>
      e instanceof ProviderError && e.code === "stalled.cursor" &&
      /Capital\.com EURUSD .*cursor stopped at 2025-01-13T00:00:00/.test(
        e.message,
      ),
  );
  assert.equal(
    got.length,
    0,
    "the stale bars are not emitted, nothing claimed",
  );
  assert.equal(
    s.emu.requests.filter((r) => r.path.startsWith("/api/v1/prices")).length,
    1,
  );
});

Deno.test("CapitalComProvider stops fetching when the request is aborted", async () => {
  await using s = await setup();
  const ac = new AbortController();
  const got: CandleBatch[] = [];
  await assert.rejects(async () => {
    for await (
      const b of s.provider.candles({
        symbol: "EURUSD",
        timeframe: parseTimeframe("1"),
        from: Date.UTC(2024, 11, 2),
        to: Date.UTC(2025, 0, 14),
        signal: ac.signal,
      })
    ) {
      got.push(b);
      if (got.length === 2) ac.abort(new Error("enough"));
    }
  }, /enough/);
  // Requests under way at the abort may still reach the log; then it is quiet.
  await new Promise((r) => setTimeout(r, 50));
  const sent = s.emu.requests.length;
  assert.ok(sent < 10, `${sent} requests`);
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(s.emu.requests.length, sent, "nothing is sent after the abort");
});

Deno.test("CapitalComProvider surfaces other API errors with their errorCode", async () => {
  await using s = await setup();
  await assert.rejects(
    () =>
      collect(s.provider.candles({
        symbol: "NOSUCH",
        timeframe: parseTimeframe("60"),
        from: Date.UTC(2025, 0, 6),
        to: Date.UTC(2025, 0, 7),
      })),
    (e: unknown) => {
      assert.ok(e instanceof ProviderError);
      assert.equal(e.code, "error.not-found.epic");
      assert.equal(
        e.message,
        'Capital.com has no market with the epic "NOSUCH" (HTTP 404 error.not-found.epic); search the markets by name to find its epic',
      );
      return true;
    },
  );
  await assert.rejects(
    () => s.provider.symbolInfo("nosuch", parseTimeframe("1D")),
    /no market with the epic "NOSUCH"/,
  );
  s.emu.fault({
    path: "/api/v1/prices",
    status: 400,
    errorCode: "error.invalid.resolution",
  });
  await assert.rejects(
    () =>
      collect(s.provider.candles({
        symbol: "EURUSD",
        timeframe: parseTimeframe("60"),
        from: Date.UTC(2025, 0, 6),
        to: Date.UTC(2025, 0, 7),
      })),
    (e: unknown) => {
      assert.ok(e instanceof ProviderError);
      assert.equal(e.code, "error.invalid.resolution");
      assert.equal(
        e.message,
        "Capital.com GET /api/v1/prices/EURUSD failed: HTTP 400 error.invalid.resolution",
      );
      return true;
    },
  );
  assert.equal(s.provider.stats.retries, 0, "permanent errors are not retried");
});

Deno.test("CapitalComProvider refuses timeframes Capital.com does not have, naming the supported ones", async () => {
  await using s = await setup();
  for (const tf of ["3", "120", "1M", "15S"]) {
    await assert.rejects(
      () =>
        collect(s.provider.candles({
          symbol: "EURUSD",
          timeframe: parseTimeframe(tf),
          from: 0,
          to: 1,
        })),
      /supported: 1, 5, 15, 30, 60, 240, 1D, 1W/,
    );
  }
  assert.deepEqual(await s.provider.timeframes(), [
    "1",
    "5",
    "15",
    "30",
    "60",
    "240",
    "1D",
    "1W",
  ]);
  assert.equal(s.emu.requests.length, 0, "nothing was sent");
});

Deno.test("CapitalComProvider resumes after the last committed candle", async () => {
  await using s = await setup();
  const from = Date.UTC(2025, 0, 6), to = Date.UTC(2025, 0, 14);
  const want = s.emu.bars("EURUSD", "60", from, to);
  const resumeAfter = want.time[40]!;
  const { all } = await collect(s.provider.candles({
    symbol: "EURUSD",
    timeframe: parseTimeframe("60"),
    from,
    to,
    resumeAfter,
  }));
  assertSameBars(all, sliceBatch(want, 41), "resumed");
});

Deno.test("CapitalComProvider symbolInfo converts market details", async () => {
  await using s = await setup();
  const eurusd = await s.provider.symbolInfo("EURUSD", parseTimeframe("60"));
  assert.equal(eurusd.prefix, "CAPITALCOM");
  assert.equal(eurusd.ticker, "EURUSD");
  assert.equal(eurusd.description, "EUR/USD");
  assert.equal(eurusd.type, "forex");
  assert.equal(eurusd.currency, "USD");
  assert.equal(eurusd.basecurrency, "EUR");
  assert.equal(eurusd.period, "60");
  assert.equal(eurusd.mintick, 0.00001);
  assert.equal(eurusd.pricescale, 100000);
  assert.equal(eurusd.minmove, 1);
  assert.equal(eurusd.pointvalue, 1);
  assert.equal(eurusd.mincontract, 100);
  // Capital.com gives the hours in UTC; they are stored in New York time,
  // where they hold all year: Sunday 17:05 to Friday 17:00 with a 5-minute
  // daily pause, one session a week, as in PyneCore's forex fixture.
  assert.equal(eurusd.timezone, "America/New_York");
  assert.ok(eurusd.avgSpread! >= 0.00006 && eurusd.avgSpread! <= 0.00008);
  const fixture = (await readSymbolInfo(
    new URL("./fixtures/pynecore/syminfo_forex.toml", import.meta.url).pathname,
  )).info;
  assert.deepEqual(
    eurusd.openingHours,
    // The fixture ends Monday-Thursday a second before 17:00.
    fixture.openingHours.map((h) =>
      h.end === "16:59:59" ? { ...h, end: "17:00:00" } : h
    ).sort((a, b) => a.day - b.day || a.start.localeCompare(b.start)),
  );
  assert.deepEqual(eurusd.sessionStarts, fixture.sessionStarts);
  assert.deepEqual(eurusd.sessionEnds, fixture.sessionEnds);

  const us500 = await s.provider.symbolInfo("US500", parseTimeframe("1D"));
  assert.equal(us500.type, "index");
  assert.equal(us500.mintick, 0.25);
  assert.equal(us500.minmove, 25);
  assert.equal(us500.pricescale, 100);
  assert.deepEqual(us500.sessionStarts.map((x) => `${x.day} ${x.time}`), [
    "0 17:00:00",
    "1 17:00:00",
    "2 17:00:00",
    "3 17:00:00",
    "6 17:00:00",
  ]);
  assert.deepEqual(us500.sessionEnds.map((x) => `${x.day} ${x.time}`), [
    "0 16:00:00",
    "1 16:00:00",
    "2 16:00:00",
    "3 16:00:00",
    "4 16:00:00",
  ]);

  const aapl = await s.provider.symbolInfo("AAPL", parseTimeframe("1"));
  assert.equal(aapl.type, "stock");
  assert.equal(aapl.timezone, "America/New_York");
  assert.equal(aapl.basecurrency, undefined);
  assert.deepEqual(
    aapl.openingHours,
    [0, 1, 2, 3, 4].map((day) => ({
      day,
      start: "09:30:00",
      end: "16:00:00",
    })),
  );
  assert.equal(aapl.sessionStarts.length, 5);

  const btc = await s.provider.symbolInfo("BTCUSD", parseTimeframe("1W"));
  assert.equal(btc.type, "crypto");
  assert.equal(btc.minmove, 5);
  assert.equal(btc.pricescale, 10);
  assert.deepEqual(
    btc.openingHours,
    [0, 1, 2, 3, 4, 5, 6].map((day) => ({
      day,
      start: "00:00:00",
      end: "23:59:59",
    })),
  );
  assert.deepEqual(
    btc.sessionStarts,
    [0, 1, 2, 3, 4, 5, 6].map((day) => ({ day, time: "00:00:00" })),
  );
  assert.deepEqual(
    btc.sessionEnds,
    [0, 1, 2, 3, 4, 5, 6].map((day) => ({ day, time: "23:59:59" })),
  );

  const gold = await s.provider.symbolInfo("gold", parseTimeframe("240"));
  assert.equal(gold.type, "commodity");
  assert.equal(gold.ticker, "GOLD");
});

Deno.test("CapitalComProvider stores UTC opening hours in New York time, the same in summer and winter", async () => {
  const july = Date.UTC(2025, 6, 16, 10, 30);
  await using s = await setup({ clock: () => july });
  const details = await fetch(`${s.emu.url}/api/v1/session`, {
    method: "POST",
    headers: {
      "X-CAP-API-KEY": s.emu.credentials.apiKey,
      "Content-Type": "application/json",
    },
    body: JSON.stringify({
      identifier: s.emu.credentials.identifier,
      password: s.emu.credentials.password,
    }),
  }).then(async (r) => {
    await r.body?.cancel();
    return fetch(`${s.emu.url}/api/v1/markets/EURUSD`, {
      headers: {
        CST: r.headers.get("CST")!,
        "X-SECURITY-TOKEN": r.headers.get("X-SECURITY-TOKEN")!,
      },
    }).then((x) => x.json());
  });
  // In July the venue says 21:05 UTC (17:05 New York daylight time)...
  assert.equal(details.instrument.openingHours.zone, "UTC");
  assert.deepEqual(details.instrument.openingHours.sun, ["21:05 - 00:00"]);
  const summer = await s.provider.symbolInfo("EURUSD", parseTimeframe("60"));
  await using w = await setup();
  const winter = await w.provider.symbolInfo("EURUSD", parseTimeframe("60"));
  // ...and in January 22:05 UTC: both are Sunday 17:05 in New York.
  assert.equal(summer.timezone, "America/New_York");
  assert.deepEqual(summer.openingHours, winter.openingHours);
  assert.deepEqual(summer.sessionStarts, [{ day: 6, time: "17:05:00" }]);
  assert.deepEqual(summer.sessionEnds, winter.sessionEnds);
  // A download across the daylight saving switch (US: 2024-03-10) has no
  // anomalies with hours fetched in winter.
  const summary = await download(w.provider, "EURUSD", {
    timeframe: "15",
    dataDir: join(w.dir, "data"),
    from: new Date(Date.UTC(2024, 1, 26)),
    to: new Date(Date.UTC(2024, 2, 23)),
    now: () => NOW,
  });
  assert.equal(
    summary.candles,
    w.emu.bars(
      "EURUSD",
      "15",
      Date.UTC(2024, 1, 26),
      Date.UTC(2024, 2, 23),
    ).time.length,
  );
  assert.equal(summary.anomalyPeriods, 0, "closed hours are not anomalies");
});

Deno.test("CapitalComProvider symbolInfo falls back to UTC for an unknown zone and reads odd ticks", async () => {
  const base = DEFAULT_EMULATOR_MARKETS[0]!;
  await using s = await setup({
    emu: {
      markets: [{
        ...base,
        epic: "ODD",
        name: "Odd market",
        symbol: "ODD",
        type: "SOMETHING_NEW",
        minStep: 0.025,
        openingHours: { ...base.openingHours, zone: "Mars/Olympus_Mons" },
        servedZone: undefined,
      }],
    },
  });
  const info = await s.provider.symbolInfo("ODD", parseTimeframe("1D"));
  assert.equal(info.timezone, "UTC");
  assert.equal(info.type, "other");
  assert.deepEqual([info.minmove, info.pricescale, info.mintick], [
    25,
    1000,
    0.025,
  ]);
  assert.ok(s.logs.some((l) => l.includes("unknown time zone")));
});

Deno.test("convertOpeningHours splits overnight spans and reads full days and midnight ends", () => {
  const r = convertOpeningHours({
    zone: "Europe/London",
    mon: ["00:00 - 00:00"],
    tue: ["08:00 - 12:30", "13:30 - 00:00"],
    wed: ["22:00 - 06:00"],
    thu: [],
    fri: [],
    sat: [],
    sun: ["23:00 - 02:00"],
  });
  assert.equal(r.timezone, "Europe/London");
  // Monday's full day absorbs the 00:00-02:00 tail of Sunday's overnight span.
  assert.deepEqual(r.openingHours, [
    { day: 0, start: "00:00:00", end: "23:59:59" },
    { day: 1, start: "08:00:00", end: "12:30:00" },
    { day: 1, start: "13:30:00", end: "23:59:59" },
    { day: 2, start: "22:00:00", end: "23:59:59" },
    { day: 3, start: "00:00:00", end: "06:00:00" },
    { day: 6, start: "23:00:00", end: "23:59:59" },
  ]);
  assert.deepEqual(r.sessionStarts, [
    { day: 1, time: "08:00:00" },
    { day: 1, time: "13:30:00" },
    { day: 2, time: "22:00:00" },
    { day: 6, time: "23:00:00" },
  ]);
  assert.deepEqual(r.sessionEnds, [
    { day: 0, time: "23:59:59" },
    { day: 1, time: "12:30:00" },
    { day: 1, time: "23:59:59" },
    { day: 3, time: "06:00:00" },
  ]);
  assert.throws(
    () => convertOpeningHours({ mon: ["9 to 5"] }),
    /Cannot read Capital\.com opening hours segment "9 to 5" of "mon"/,
  );
});

Deno.test("convertOpeningHours gives forex the session starts and ends of PyneCore's forex fixture", async () => {
  const { info } = await readSymbolInfo(
    new URL("./fixtures/pynecore/syminfo_forex.toml", import.meta.url).pathname,
  );
  const daily = ["00:00 - 17:00", "17:05 - 00:00"];
  const r = convertOpeningHours({
    zone: "US/Eastern",
    mon: daily,
    tue: daily,
    wed: daily,
    thu: daily,
    fri: ["00:00 - 17:00"],
    sat: [],
    sun: ["17:05 - 00:00"],
  });
  assert.equal(r.timezone, info.timezone);
  assert.deepEqual(r.sessionStarts, info.sessionStarts);
  assert.deepEqual(r.sessionEnds, info.sessionEnds);
  // The same days and starts; the fixture ends Monday-Thursday a second early.
  assert.deepEqual(
    r.openingHours.map((h) => `${h.day} ${h.start}`).sort(),
    info.openingHours.map((h) => `${h.day} ${h.start}`).sort(),
  );
});

Deno.test("CapitalComProvider listSymbols searches markets", async () => {
  await using s = await setup();
  assert.deepEqual(await s.provider.listSymbols({ search: "usd" }), [
    { symbol: "BTCUSD", description: "Bitcoin to US Dollar", type: "crypto" },
    { symbol: "EURUSD", description: "EUR/USD", type: "forex" },
    { symbol: "GBPUSD", description: "GBP/USD", type: "forex" },
  ]);
  assert.deepEqual(
    (await s.provider.listSymbols({ search: "apple" })).map((x) => x.symbol),
    ["AAPL"],
  );
  assert.equal((await s.provider.listSymbols()).length, 6);
  assert.equal(
    s.emu.requests.filter((r) => r.path === "/api/v1/markets").at(0)?.query
      .searchTerm,
    "usd",
  );
});

Deno.test("CapitalComProvider normalizeSymbol upper-cases epics and refuses malformed ones", () => {
  const p = new CapitalComProvider({ env: {} });
  assert.equal(p.normalizeSymbol(" eurusd "), "EURUSD");
  assert.equal(p.normalizeSymbol("capitalcom:us500"), "US500");
  assert.equal(p.normalizeSymbol("OIL_CRUDE"), "OIL_CRUDE");
  assert.throws(() => p.normalizeSymbol("EUR/USD"), ProviderError);
  assert.throws(() => p.normalizeSymbol(""), /expected an epic/);
});

Deno.test("CapitalComProvider logs in with an encrypted password and closes the session on dispose", async () => {
  const s = await setup({ provider: { encryptPassword: true } });
  try {
    await s.provider.listSymbols({ search: "gold" });
    assert.deepEqual(
      s.emu.requests.slice(0, 2).map((r) =>
        `${r.method} ${r.path} ${r.status}`
      ),
      [
        "GET /api/v1/session/encryptionKey 200",
        "POST /api/v1/session 200",
      ],
    );
    assert.equal(s.emu.sessionCount, 1);
    await s.provider[Symbol.asyncDispose]();
    assert.equal(s.emu.sessionCount, 0);
    assert.equal(s.emu.requests.at(-1)?.method, "DELETE");
    await assert.rejects(() => s.provider.listSymbols(), /disposed/);
  } finally {
    await s[Symbol.asyncDispose]();
  }
});

Deno.test("CapitalComProvider disposal of an expired session says so instead of claiming it closed", async () => {
  await using s = await setup();
  await s.provider.listSymbols({ search: "gold" });
  s.emu.expireSessions();
  await s.provider[Symbol.asyncDispose]();
  assert.equal(s.emu.requests.at(-1)?.method, "DELETE");
  assert.ok(
    s.logs.includes(
      "Capital.com session already gone (HTTP 401 error.invalid.session.token)",
    ),
    s.logs.join("\n"),
  );
  assert.ok(!s.logs.includes("Capital.com session closed"));
});

Deno.test("CapitalComProvider reports an unusable encryption key in one line", async () => {
  await using s = await setup({ provider: { encryptPassword: true } });
  s.emu.fault({
    path: "/api/v1/session/encryptionKey",
    status: 200,
    body: { encryptionKey: "bm90IGEga2V5", timeStamp: 1 },
  });
  await assert.rejects(() => s.provider.listSymbols(), (e: unknown) => {
    assert.ok(e instanceof ProviderError);
    assert.equal(e.code, "bad.response");
    assert.match(e.message, /a key that cannot encrypt/);
    assert.match(e.message, /encrypted_password = false/);
    return true;
  });
});

Deno.test("CapitalComProvider reports a refused login with the code and where to fix it", async () => {
  await using s = await setup({ provider: { password: "wrong-password-xyz" } });
  await assert.rejects(() => s.provider.listSymbols(), (e: unknown) => {
    assert.ok(e instanceof ProviderError);
    assert.equal(e.code, "error.invalid.details");
    assert.match(e.message, /login failed: HTTP 401 error\.invalid\.details/);
    assert.match(e.message, /PYNE_CAPITALCOM_PASSWORD/);
    assert.ok(!e.message.includes("wrong-password-xyz"));
    return true;
  });
});

Deno.test("SlidingWindowLimiter lets at most N requests into any window", async () => {
  let t = 0;
  const waits: number[] = [];
  const limiter = new SlidingWindowLimiter({
    limit: 3,
    windowMs: 1000,
    clock: () => t,
    wait: (ms) => {
      waits.push(ms);
      t += ms;
      return Promise.resolve();
    },
  });
  const stamps: number[] = [];
  for (let i = 0; i < 7; i++) {
    await limiter.acquire();
    stamps.push(t);
    t += 100;
  }
  assert.deepEqual(stamps, [0, 100, 200, 1000, 1100, 1200, 2000]);
  assert.deepEqual(waits, [700, 700]);
  for (let i = 0; i < stamps.length; i++) {
    const inWindow = stamps.filter((x) =>
      x > stamps[i]! - 1000 && x <= stamps[i]!
    );
    assert.ok(inWindow.length <= 3);
  }
  assert.throws(
    () => new SlidingWindowLimiter({ limit: 0, windowMs: 1000 }),
    RangeError,
  );
});

Deno.test("SlidingWindowLimiter holds concurrent callers to N per window", async () => {
  // A fake clock: waits resolve only when the test moves time forward.
  let t = 0;
  const timers: { at: number; resolve: () => void }[] = [];
  const limiter = new SlidingWindowLimiter({
    limit: 10,
    windowMs: 1100,
    clock: () => t,
    wait: (ms) =>
      new Promise((resolve) => timers.push({ at: t + ms, resolve })),
  });
  const stamps: number[] = [];
  const all = Array.from(
    { length: 35 },
    () => limiter.acquire().then(() => stamps.push(t)),
  );
  const settled = Promise.all(all);
  let done = false;
  settled.then(() => (done = true));
  for (let guard = 0; !done && guard < 1000; guard++) {
    await new Promise((r) => setTimeout(r, 0));
    if (done || timers.length === 0) continue;
    t = Math.min(...timers.map((x) => x.at));
    const due = timers.filter((x) => x.at <= t);
    timers.splice(0, timers.length, ...timers.filter((x) => x.at > t));
    for (const x of due) x.resolve();
  }
  await settled;
  assert.equal(stamps.length, 35);
  for (const at of stamps) {
    const inWindow = stamps.filter((x) => x > at - 1100 && x <= at).length;
    assert.ok(
      inWindow <= 10,
      `${inWindow} acquisitions in the window ending ${at}`,
    );
  }
  assert.deepEqual([...new Set(stamps)], [0, 1100, 2200, 3300]);
});

Deno.test("CapitalComProvider keeps to 10 requests per second and one login per second by default", async () => {
  await using s = await setup({
    emu: { requestsPerSecond: 10, loginsPerSecond: 1 },
    provider: { rateLimit: undefined, loginIntervalMs: undefined },
  });
  const started = performance.now();
  const from = Date.UTC(2025, 0, 13);
  const { all } = await collect(s.provider.candles({
    symbol: "BTCUSD",
    timeframe: parseTimeframe("1"),
    from,
    to: from + 21 * 60_000,
    pageSize: 1,
  }));
  s.emu.expireSessions();
  await s.provider.listSymbols({ search: "gold" });
  const elapsed = performance.now() - started;
  assert.equal(all.time.length, 21);
  assert.ok(
    s.emu.requests.every((r) => r.status !== 429),
    "the emulator never had to refuse a request",
  );
  assert.ok(elapsed >= 2000, `23 requests took ${elapsed} ms`);
  const logins = s.emu.requests.filter((r) => r.method === "POST");
  assert.equal(logins.length, 2);
});

Deno.test("CapitalComProvider never reveals credentials in logs, errors or files", async () => {
  const secrets = {
    apiKey: "APIKEY-zq8x7-Distinct",
    identifier: "ident-7hq3@mailbox.invalid",
    password: "PW-k2m9-Pass!word",
  };
  const emu = await startCapitalComEmulator({
    now: () => NOW,
    ...secrets,
    requestsPerSecond: Infinity,
    loginsPerSecond: Infinity,
    rsaBits: 1024,
  });
  const dir = await Deno.makeTempDir({ prefix: "capitalcom_secret_" });
  const logs: string[] = [];
  const errors: string[] = [];
  const base = {
    configDir: join(dir, "config"),
    log: (l: string) => logs.push(l),
    now: () => NOW,
    loginIntervalMs: 1,
    retryBaseDelayMs: 1,
    timeoutMs: 150,
    maxRetries: 1,
  };
  const env = {
    PYNE_CAPITALCOM_API_KEY: secrets.apiKey,
    PYNE_CAPITALCOM_IDENTIFIER: secrets.identifier,
    PYNE_CAPITALCOM_PASSWORD: secrets.password,
    PYNE_CAPITALCOM_BASE_URL: emu.url,
  };
  const record = async (fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (e) {
      errors.push(String(e), (e as Error).stack ?? "", JSON.stringify(e));
    }
  };
  try {
    for (const encryptPassword of [false, true]) {
      await using p = new CapitalComProvider({ ...base, env, encryptPassword });
      const tf = parseTimeframe("60");
      const summary = await download(p, "EURUSD", {
        timeframe: tf,
        dataDir: join(dir, `data_${encryptPassword}`),
        from: new Date(Date.UTC(2025, 0, 8)),
        to: new Date(Date.UTC(2025, 0, 14)),
        extraData: true,
        now: () => NOW,
        onProgress: (e) => logs.push(JSON.stringify(e)),
      });
      logs.push(JSON.stringify(summary));
      assert.equal(summary.candles, 96);
      emu.expireSessions();
      emu.fault({ path: "/api/v1/markets", delayMs: 400, count: 2 });
      await record(() => p.listSymbols({ search: "x" }));
      await record(() => p.symbolInfo("NOSUCH", tf));
      errors.push(JSON.stringify(p.stats));
    }
    // Wrong password, missing credentials, a bad symbol.
    await record(async () => {
      await using p = new CapitalComProvider({
        ...base,
        env: { ...env, PYNE_CAPITALCOM_PASSWORD: secrets.password + "-nope" },
      });
      await p.listSymbols();
    });
    await record(async () => {
      await using p = new CapitalComProvider({
        ...base,
        env: { PYNE_CAPITALCOM_API_KEY: secrets.apiKey },
      });
      await p.listSymbols();
    });
    await record(async () => {
      await using p = new CapitalComProvider({ ...base, env });
      p.normalizeSymbol(secrets.password);
    });
    assert.ok(errors.length >= 10 && logs.length > 20);
    assert.ok(errors.some((e) => e.includes("timed out")));
    assert.ok(errors.some((e) => e.includes("error.invalid.details")));
    assert.ok(errors.some((e) => e.includes("credentials missing")));
    const texts = [...logs, ...errors];
    for (const entry of await readdir(dir, { recursive: true })) {
      const full = join(dir, entry);
      if ((await Deno.stat(full)).isFile) {
        texts.push(await readFile(full, "latin1"));
      }
    }
    texts.push(JSON.stringify(emu.requests));
    for (const text of texts) {
      for (const secret of Object.values(secrets)) {
        assert.ok(
          !text.includes(secret),
          `a secret leaked into: ${text.slice(0, 200)}`,
        );
      }
    }
  } finally {
    await emu.close();
    await Deno.remove(dir, { recursive: true });
  }
});
