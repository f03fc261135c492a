import assert from "node:assert/strict";
import { GapStream } from "../pipeline/gap_stream.ts";
import { batchFromRows, type CandleBatch } from "../format/candle_batch.ts";
import { sessions247 } from "../format/sessions.ts";

const M = 60_000;
const H = 3_600_000;

function b(times: number[]): CandleBatch {
  return batchFromRows(times.map((t) => [t, 1, 1, 1, 1, 1]));
}

async function gapsOf(stage: GapStream, ...batches: CandleBatch[]) {
  const out = await Array.fromAsync(
    ReadableStream.from(batches).pipeThrough(stage),
  );
  return out;
}

const forex = {
  timezone: "UTC",
  openingHours: [
    { day: 6, start: "22:00:00", end: "23:59:59" },
    ...[0, 1, 2, 3].map((day) => ({ day, start: "00:00:00", end: "23:59:59" })),
    { day: 4, start: "00:00:00", end: "21:00:00" },
  ],
};

Deno.test("GapStream reports a missing hour on a 24/7 symbol as one anomaly range", async () => {
  const t0 = Date.UTC(2024, 0, 1);
  const stage = new GapStream({ timeframe: "1", symbolInfo: sessions247() });
  const input = b([t0, t0 + M]);
  const later = b([t0 + H + 2 * M, t0 + H + 3 * M]);
  const out = await gapsOf(stage, input, later);
  assert.equal(out[0], input); // passed through untouched
  assert.deepEqual(stage.gaps, [{
    from: t0 + 2 * M,
    to: t0 + H + 2 * M,
    periods: 60,
    kind: "anomaly",
  }]);
  assert.equal(stage.anomalyPeriods, 60);
  assert.equal(stage.closedPeriods, 0);
  assert.equal(stage.anomalies, 1);
});

Deno.test("GapStream classifies a forex weekend as closed market, not an anomaly", async () => {
  const fri2059 = Date.UTC(2024, 0, 5, 20, 59);
  const sun2200 = Date.UTC(2024, 0, 7, 22, 0);
  const stage = new GapStream({ timeframe: "1", symbolInfo: forex });
  await gapsOf(stage, b([fri2059, sun2200]));
  assert.deepEqual(stage.gaps, [{
    from: fri2059 + M,
    to: sun2200,
    periods: (sun2200 - fri2059 - M) / M,
    kind: "closed",
  }]);
  assert.equal(stage.anomalyPeriods, 0);
});

Deno.test("GapStream splits a gap that starts before the weekend close into anomaly and closed runs", async () => {
  const fri18 = Date.UTC(2024, 0, 5, 18, 0);
  const fri21 = Date.UTC(2024, 0, 5, 21, 0);
  const sun22 = Date.UTC(2024, 0, 7, 22, 0);
  const stage = new GapStream({ timeframe: "60", symbolInfo: forex });
  await gapsOf(stage, b([fri18, sun22 + H]));
  assert.deepEqual(stage.gaps, [
    { from: fri18 + H, to: fri21, periods: 2, kind: "anomaly" },
    { from: fri21, to: sun22, periods: 49, kind: "closed" },
    { from: sun22, to: sun22 + H, periods: 1, kind: "anomaly" },
  ]);
});

Deno.test("GapStream uses the symbol's time zone for opening hours (US/Eastern, with DST)", async () => {
  const nyse = {
    timezone: "US/Eastern",
    openingHours: [0, 1, 2, 3, 4].map((day) => ({
      day,
      start: "09:30:00",
      end: "16:00:00",
    })),
  };
  // Winter (EST, UTC-5): Tuesday 2024-01-09; summer (EDT, UTC-4): Tuesday 2024-07-09.
  for (const [y, mo, d, off] of [[2024, 0, 9, 5], [2024, 6, 9, 4]] as const) {
    const close = Date.UTC(y, mo, d, 16 + off, 0) - M; // last minute of the session
    const nextOpen = Date.UTC(y, mo, d + 1, 9 + off, 30);
    const stage = new GapStream({ timeframe: "1", symbolInfo: nyse });
    await gapsOf(stage, b([close, nextOpen]));
    assert.deepEqual(
      stage.gaps.map((g) => g.kind),
      ["closed"],
      `day ${mo + 1}/${d}`,
    );
    // A missing minute during the session is an anomaly.
    const stage2 = new GapStream({ timeframe: "1", symbolInfo: nyse });
    await gapsOf(stage2, b([nextOpen, nextOpen + 2 * M]));
    assert.deepEqual(stage2.gaps, [{
      from: nextOpen + M,
      to: nextOpen + 2 * M,
      periods: 1,
      kind: "anomaly",
    }]);
  }
});

Deno.test("GapStream handles Europe/London hours and daily candles on weekends", async () => {
  const lse = {
    timezone: "Europe/London",
    openingHours: [0, 1, 2, 3, 4].map((day) => ({
      day,
      start: "08:00:00",
      end: "16:30:00",
    })),
  };
  const fri = Date.UTC(2024, 5, 7),
    mon = Date.UTC(2024, 5, 10),
    wed = Date.UTC(2024, 5, 12);
  const stage = new GapStream({ timeframe: "1D", symbolInfo: lse });
  await gapsOf(stage, b([fri, mon, wed]));
  assert.deepEqual(stage.gaps, [
    { from: fri + 86_400_000, to: mon, periods: 2, kind: "closed" },
    { from: mon + 86_400_000, to: wed, periods: 1, kind: "anomaly" },
  ]);
});

Deno.test("GapStream finds the gap at the join with the file's last candle", async () => {
  const stage = new GapStream({ timeframe: "1", after: 0 });
  await gapsOf(stage, b([3 * M]));
  assert.deepEqual(stage.gaps, [{
    from: M,
    to: 3 * M,
    periods: 2,
    kind: "anomaly",
  }]);
});

Deno.test("GapStream keeps at most maxGaps runs and counts the rest", async () => {
  const stage = new GapStream({ timeframe: "1", maxGaps: 2 });
  await gapsOf(stage, b([0, 2 * M, 4 * M, 6 * M, 8 * M]));
  assert.equal(stage.gaps.length, 2);
  assert.equal(stage.omitted, 2);
  assert.equal(stage.anomalyPeriods, 4);
});

Deno.test("GapStream works on monthly candles", async () => {
  const stage = new GapStream({ timeframe: "1M" });
  await gapsOf(stage, b([Date.UTC(2024, 0, 1), Date.UTC(2024, 3, 1)]));
  assert.deepEqual(stage.gaps, [{
    from: Date.UTC(2024, 1, 1),
    to: Date.UTC(2024, 3, 1),
    periods: 2,
    kind: "anomaly",
  }]);
});

Deno.test("GapStream refuses an unknown time zone and bad opening hours", () => {
  assert.throws(
    () =>
      new GapStream({
        timeframe: "1",
        symbolInfo: { timezone: "Mars/Olympus", openingHours: [] },
      }),
    (e: unknown) => e instanceof RangeError && /Mars\/Olympus/.test(e.message),
  );
  assert.throws(
    () =>
      new GapStream({
        timeframe: "1",
        symbolInfo: {
          openingHours: [{ day: 7, start: "00:00:00", end: "01:00:00" }],
        },
      }),
    RangeError,
  );
});

Deno.test("GapStream follows a session that crosses midnight through a DST change", async () => {
  // CME-style hours: Sunday to Thursday 17:00 until 16:00 the next day, Chicago.
  const cme = {
    timezone: "America/Chicago",
    openingHours: [6, 0, 1, 2, 3].map((day) => ({
      day,
      start: "17:00:00",
      end: "16:00:00",
    })),
  };
  const missing = Date.UTC(2024, 2, 12, 8); // Tuesday 03:00 Chicago: open
  const breaks = (t: number) => {
    const h = new Date(t).getUTCHours();
    // The 16:00-17:00 Chicago break: 22:00 UTC in CST, 21:00 UTC in CDT (from March 10).
    return h === (t < Date.UTC(2024, 2, 10, 8) ? 22 : 21);
  };
  const times: number[] = [];
  for (let t = Date.UTC(2024, 2, 4); t < Date.UTC(2024, 2, 13); t += H) {
    const dow = new Date(t).getUTCDay();
    const weekend = (dow === 5 && t >= Date.UTC(2024, 2, 8, 22)) ||
      dow === 6 || (dow === 0 && t < Date.UTC(2024, 2, 10, 22));
    if (!weekend && !breaks(t) && t !== missing) times.push(t);
  }
  const stage = new GapStream({ timeframe: "60", symbolInfo: cme });
  await gapsOf(stage, b(times));
  const closedHour = (d: number, h: number) => ({
    from: Date.UTC(2024, 2, d, h),
    to: Date.UTC(2024, 2, d, h + 1),
    periods: 1,
    kind: "closed",
  });
  assert.deepEqual(stage.gaps, [
    closedHour(4, 22),
    closedHour(5, 22),
    closedHour(6, 22),
    closedHour(7, 22),
    // Friday 16:00 CST to Sunday 17:00 CDT: 48 hours, the DST hour included.
    {
      from: Date.UTC(2024, 2, 8, 22),
      to: Date.UTC(2024, 2, 10, 22),
      periods: 48,
      kind: "closed",
    },
    closedHour(11, 21),
    { from: missing, to: missing + H, periods: 1, kind: "anomaly" },
    closedHour(12, 21),
  ]);
  // Daily candles: Saturday is closed; Sunday has its evening session.
  const D = 86_400_000;
  const daily = new GapStream({ timeframe: "1D", symbolInfo: cme });
  const fri = Date.UTC(2024, 2, 8);
  await gapsOf(daily, b([fri, fri + 3 * D, fri + 4 * D, fri + 6 * D]));
  assert.deepEqual(daily.gaps, [
    { from: fri + D, to: fri + 2 * D, periods: 1, kind: "closed" },
    { from: fri + 2 * D, to: fri + 3 * D, periods: 1, kind: "anomaly" },
    { from: fri + 5 * D, to: fri + 6 * D, periods: 1, kind: "anomaly" },
  ]);
});
