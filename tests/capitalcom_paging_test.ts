/**
 * Paging of the Capital.com provider against venues that answer fewer bars
 * than `max` asked for, a page cursor that stops advancing, and a venue that
 * serves nothing after some time: what reaches the file, and what the
 * download's coverage says about the rest.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { CandleBatch } from "../format/candle_batch.ts";
import { RunSet, unresolved } from "../format/coverage.ts";
import { parseTimeframe } from "../format/timeframe.ts";
import { OhlcvReader } from "../format/ohlcv_reader.ts";
import { loadLedger } from "../pipeline/_coverage_ledger.ts";
import { download } from "../pipeline/download.ts";
import { CapitalComProvider } from "../providers/capitalcom.ts";
import { ProviderError } from "../providers/provider.ts";
import {
  type CapitalComEmulator,
  type CapitalComEmulatorOptions,
  DEFAULT_EMULATOR_MARKETS,
  startCapitalComEmulator,
} from "../testing/capitalcom_emulator.ts";

const MIN = 60_000;
/** Monday 2025-01-06 00:00 UTC to Friday 2025-01-10 00:15 UTC: 4 days and one 15-minute bar. */
const FROM = Date.UTC(2025, 0, 6);
const TO = Date.UTC(2025, 0, 10, 0, 15);
/** Wednesday 2025-01-15 10:30:20 UTC. */
const NOW = Date.UTC(2025, 0, 15, 10, 30, 20);

interface Setup extends AsyncDisposable {
  emu: CapitalComEmulator;
  provider: CapitalComProvider;
  dataDir: string;
  logs: string[];
}

/** An emulator (its clock `venueNow`) and a provider on this computer's clock `now`. */
async function setup(
  emu: CapitalComEmulatorOptions = {},
  clocks: { venueNow?: number; now?: number } = {},
): Promise<Setup> {
  const venueNow = clocks.venueNow ?? NOW;
  const now = clocks.now ?? NOW;
  const e = await startCapitalComEmulator({
    now: () => venueNow,
    requestsPerSecond: Infinity,
    loginsPerSecond: Infinity,
    rsaBits: 1024,
    ...emu,
  });
  const dir = await Deno.makeTempDir({ prefix: "capitalcom_paging_" });
  const logs: string[] = [];
  const provider = new CapitalComProvider({
    configDir: join(dir, "config"),
    env: {},
    baseUrl: e.url,
    ...e.credentials,
    now: () => now,
    log: (line) => logs.push(line),
    rateLimit: 1000,
    loginIntervalMs: 1,
    retryBaseDelayMs: 5,
  });
  return {
    emu: e,
    provider,
    dataDir: join(dir, "data"),
    logs,
    async [Symbol.asyncDispose]() {
      await provider[Symbol.asyncDispose]();
      await e.close();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

function priceRequests(emu: CapitalComEmulator) {
  return emu.requests.filter((r) => r.path.startsWith("/api/v1/prices/"));
}

async function fileBars(path: string): Promise<CandleBatch> {
  await using reader = await OhlcvReader.open(path);
  return await reader.read();
}

function assertSameBars(got: CandleBatch, want: CandleBatch, what: string) {
  assert.ok(want.time.length > 0, `${what}: the emulator has bars`);
  assert.equal(got.time.length, want.time.length, `${what}: bar count`);
  for (const c of ["time", "open", "high", "low", "close", "volume"] as const) {
    assert.deepEqual(Array.from(got[c]), Array.from(want[c]), `${what}: ${c}`);
  }
}

const iso = (t: number) => new Date(t).toISOString().slice(0, 19);

for (const keeps of ["oldest", "newest"] as const) {
  Deno.test(`download() with CapitalComProvider stores every bar of a venue capping pages at 150 (keeping the ${keeps}): 4 days of EURUSD 15m, coverage complete`, async () => {
    await using s = await setup({ pageCap: 150, pageCapKeeps: keeps });
    const summary = await download(s.provider, "EURUSD", {
      timeframe: "15",
      dataDir: s.dataDir,
      from: new Date(FROM),
      to: new Date(TO),
      now: () => NOW,
    });
    const want = s.emu.bars("EURUSD", "15", FROM, TO);
    assert.equal(want.time.length, 385, "4 weekdays of 96 bars and one more");
    assert.equal(summary.candles, 385);
    assertSameBars(await fileBars(summary.path), want, `cap 150, ${keeps}`);
    assert.equal(summary.coverage.complete, true);
    assert.deepEqual(summary.coverage.missing, []);
    assert.deepEqual(
      summary.coverage.segments.map((g) => [g.from, g.to, g.state]),
      [[FROM, TO, "fetched"]],
    );
    // 385 bars at 150 a page: three answers with bars, and the one asked
    // before or after them that proves the rest of the window empty.
    const prices = priceRequests(s.emu);
    assert.ok(prices.every((r) => r.query.max === "1000"));
    assert.ok(
      prices.length >= 3 && prices.length <= 5,
      `${prices.length} requests`,
    );
  });

  Deno.test(`CapitalComProvider pages many windows of a venue capping pages at 150 (keeping the ${keeps}) across a weekend, exactly`, async () => {
    await using s = await setup({ pageCap: 150, pageCapKeeps: keeps });
    const from = Date.UTC(2025, 0, 9, 12), to = Date.UTC(2025, 0, 14, 3, 7);
    const summary = await download(s.provider, "EURUSD", {
      timeframe: "1",
      dataDir: s.dataDir,
      from: new Date(from),
      to: new Date(to),
      now: () => NOW,
    });
    const want = s.emu.bars("EURUSD", "1", from, to);
    assertSameBars(await fileBars(summary.path), want, `1m cap 150 ${keeps}`);
    assert.equal(summary.coverage.complete, true);
    assert.ok(
      summary.coverage.segments.every((g) =>
        g.state === "fetched" || g.state === "closed"
      ),
    );
    const prices = priceRequests(s.emu);
    // Every answer with bars holds 150 (the last of a window fewer).
    assert.ok(prices.length >= Math.ceil(want.time.length / 150));
  });
}

Deno.test("CapitalComProvider makes no more requests than needed when the venue answers every window whole", async () => {
  await using s = await setup();
  const summary = await download(s.provider, "EURUSD", {
    timeframe: "15",
    dataDir: s.dataDir,
    from: new Date(FROM),
    to: new Date(TO),
    now: () => NOW,
  });
  assert.equal(summary.candles, 385);
  assert.equal(summary.coverage.complete, true);
  // One window of 385 bars, answered whole; its last bar opens at its end.
  assert.deepEqual(
    priceRequests(s.emu).map((r) => [r.query.from, r.query.to, r.status]),
    [["2025-01-06T00:00:00", "2025-01-10T00:14:00", 200]],
  );
});

Deno.test("download() fails with a clear error when the page cursor stops advancing; the file holds the committed prefix and resumes", async () => {
  await using s = await setup();
  const want = s.emu.bars("EURUSD", "15", FROM, TO);
  // A venue that answers every request with the same page: the first 150
  // bars of the range.
  const page = Array.from({ length: 150 }, (_, i) => {
    const x = want.extra![i]!;
    return {
      snapshotTimeUTC: iso(want.time[i]!),
      openPrice: { bid: want.open[i], ask: x.ask_open },
      highPrice: { bid: want.high[i], ask: x.ask_high },
      lowPrice: { bid: want.low[i], ask: x.ask_low },
      closePrice: { bid: want.close[i], ask: x.ask_close },
      lastTradedVolume: want.volume[i],
    };
  });
  s.emu.fault({
    path: "/api/v1/prices/",
    status: 200,
    body: { prices: page, instrumentType: "CURRENCIES" },
    count: 1000,
  });
  const options = {
    timeframe: "15",
    dataDir: s.dataDir,
    from: new Date(FROM),
    to: new Date(TO),
    now: () => NOW,
  };
  const stalledAt = want.time[149]! + MIN;
  await assert.rejects(
    download(s.provider, "EURUSD", options),
    (e: unknown) => {
      assert.ok(e instanceof ProviderError);
      assert.equal(e.code, "stalled.cursor");
      assert.match(e.message, /^Capital\.com EURUSD \(MINUTE_15\)/);
      assert.ok(e.message.includes(`stopped at ${iso(stalledAt)} UTC`));
      return true;
    },
  );
  assert.equal(
    priceRequests(s.emu).length,
    2,
    "no loop: the second answer ends it",
  );
  const path = join(s.dataDir, "capitalcom_EURUSD_15.ohlcv");
  const prefix = await fileBars(path);
  assertSameBars(
    prefix,
    {
      time: want.time.slice(0, 150),
      open: want.open.slice(0, 150),
      high: want.high.slice(0, 150),
      low: want.low.slice(0, 150),
      close: want.close.slice(0, 150),
      volume: want.volume.slice(0, 150),
    },
    "the committed prefix",
  );
  // The ledger claims what the answers proved, no more.
  const { ledger } = await loadLedger(path.replace(/\.ohlcv$/, ".toml"), {
    records: 150,
    first: want.time[0],
    last: want.time[149],
  });
  assert.deepEqual(ledger.fetched.runs, [[FROM, stalledAt]]);
  assert.deepEqual(unresolved(ledger).runs, [[stalledAt, TO]]);
  // A healthy venue (the same deterministic bars): the next run completes
  // the file exactly.
  await using healed = await setup();
  const summary = await download(healed.provider, "EURUSD", {
    ...options,
    dataDir: s.dataDir,
  });
  assert.equal(summary.mode, "append");
  assertSameBars(await fileBars(path), want, "resumed");
  assert.equal(summary.coverage.complete, true);
});

Deno.test("download() with a venue that serves nothing after some time (its clock stopped) reports the rest as missing, not complete", async () => {
  // The venue's clock (and its data) stops on Wednesday 09:40:20; this
  // computer's clock is days later, past the end of the range.
  const stopped = Date.UTC(2025, 0, 8, 9, 40, 20);
  await using s = await setup({}, { venueNow: stopped, now: NOW });
  const summary = await download(s.provider, "EURUSD", {
    timeframe: "15",
    dataDir: s.dataDir,
    from: new Date(FROM),
    to: new Date(TO),
    now: () => NOW,
  });
  const want = s.emu.bars("EURUSD", "15", FROM, TO);
  assert.equal(want.time.at(-1), Date.UTC(2025, 0, 8, 9, 15));
  assertSameBars(await fileBars(summary.path), want, "served part");
  assert.equal(summary.coverage.complete, false);
  // The 09:30 bar was still forming on the venue's clock: from there on
  // nothing was answered.
  assert.deepEqual(
    summary.coverage.missing.map((g) => [iso(g.from), iso(g.to), g.state]),
    [["2025-01-08T09:30:00", "2025-01-10T00:15:00", "failed"]],
  );
  assert.ok(s.logs.some((l) => l.includes("behind this computer's")));
});

Deno.test("download() with a venue that answers not-found after some time while the market is open reports that span as verified empty", async () => {
  const silent = Date.UTC(2025, 0, 8, 9, 30);
  const markets = DEFAULT_EMULATOR_MARKETS.map((m) =>
    m.epic === "EURUSD"
      ? { ...m, closures: [[silent, Date.UTC(2030, 0, 1)] as const] }
      : m
  );
  await using s = await setup({ markets });
  const summary = await download(s.provider, "EURUSD", {
    timeframe: "15",
    dataDir: s.dataDir,
    from: new Date(FROM),
    to: new Date(TO),
    now: () => NOW,
  });
  const want = s.emu.bars("EURUSD", "15", FROM, TO);
  assert.equal(want.time.at(-1), silent - 15 * MIN);
  assertSameBars(await fileBars(summary.path), want, "served part");
  // The venue said it has nothing there: the summary shows where its bars
  // end, as "empty" (not "fetched", not "closed").
  assert.deepEqual(
    summary.coverage.segments.map((g) => [iso(g.from), iso(g.to), g.state]),
    [
      [iso(FROM), iso(silent), "fetched"],
      [iso(silent), iso(TO), "empty"],
    ],
  );
  assert.ok(
    priceRequests(s.emu).some((r) => r.errorCode === "error.prices.not-found"),
  );
});

Deno.test("CapitalComProvider candles claim every window's span, empty windows too, up to the forming bar", async () => {
  await using s = await setup({ pageCap: 150 });
  const from = Date.UTC(2025, 0, 10, 12, 0, 30); // not on the grid
  const batches = await Array.fromAsync(s.provider.candles({
    symbol: "EURUSD",
    timeframe: parseTimeframe("1"),
    from,
    to: NOW + 86_400_000,
    pageSize: 300,
  }));
  const claims = new RunSet();
  for (const b of batches) {
    assert.ok(b.coverage && b.coverage.length > 0, "every batch claims");
    assert.ok(b.time.length > 0, "empty windows need no batch of their own");
    for (const c of b.coverage) {
      assert.equal(c.state, "fetched");
      claims.add(c.from, c.to);
    }
  }
  // From the request's start to the forming 10:30 bar, without a hole
  // (the weekend windows answered not-found are claimed too).
  assert.deepEqual(claims.runs, [[from, Date.UTC(2025, 0, 15, 10, 30)]]);
  const got = batches.flatMap((b) => Array.from(b.time));
  assert.deepEqual(
    got,
    Array.from(s.emu.bars("EURUSD", "1", from, NOW + 86_400_000).time),
  );
});
