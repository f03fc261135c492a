import assert from "node:assert/strict";
import {
  isOnGrid,
  nextPeriodStart,
  parsePeriod,
  parseTimeframe,
  periodFromHeader,
  periodStart,
  timeframeToCcxt,
} from "../format/timeframe.ts";

Deno.test("parseTimeframe normalises TradingView, MetaTrader and ccxt notations", () => {
  const cases: Array<[string, string, number]> = [
    ["1", "1", 60_000],
    ["001", "1", 60_000],
    ["60", "60", 3_600_000],
    ["1D", "1D", 86_400_000],
    ["1W", "1W", 604_800_000],
    ["1M", "1M", 30 * 86_400_000],
    ["15S", "15S", 15_000],
    ["M1", "1", 60_000],
    ["M5", "5", 300_000],
    ["H1", "60", 3_600_000],
    ["H4", "240", 14_400_000],
    ["D1", "1D", 86_400_000],
    ["W1", "1W", 604_800_000],
    ["MN1", "1M", 30 * 86_400_000],
    ["1m", "1", 60_000],
    ["15m", "15", 900_000],
    ["1h", "60", 3_600_000],
    ["4h", "240", 14_400_000],
    ["1d", "1D", 86_400_000],
    ["1w", "1W", 604_800_000],
    ["15s", "15S", 15_000],
    ["D", "1D", 86_400_000],
  ];
  for (const [input, period, ms] of cases) {
    const tf = parseTimeframe(input);
    assert.equal(tf.period, period, input);
    assert.equal(tf.ms, ms, input);
  }
});

Deno.test("parseTimeframe rejects unknown input with the accepted forms", () => {
  for (
    const bad of [
      "",
      "0",
      "0D",
      "1H",
      "d",
      "-1",
      "abc",
      "1y",
      "4294967296",
      "H0",
    ]
  ) {
    assert.throws(() => parseTimeframe(bad), (e: unknown) => {
      assert.ok(e instanceof RangeError, bad);
      assert.match(e.message, new RegExp(`"${bad.replace(/[-]/g, "\\$&")}"`));
      return true;
    });
  }
  assert.throws(() => parseTimeframe("1H"), /accepted forms are .*MetaTrader/);
});

Deno.test("parsePeriod takes only strict TradingView periods", () => {
  assert.equal(parsePeriod("240").headerUnit, 2);
  assert.equal(parsePeriod("12M").value, 12);
  assert.equal(parsePeriod("4294967295").value, 4294967295);
  for (
    const bad of ["", "0", "0D", "1H", "D", "d", "-1", "4294967296", "1m", "H1"]
  ) {
    assert.throws(() => parsePeriod(bad), RangeError, bad);
  }
});

Deno.test("periodFromHeader reads hours back as minutes", () => {
  assert.equal(periodFromHeader(1, 1), "1S");
  assert.equal(periodFromHeader(5, 2), "5");
  assert.equal(periodFromHeader(4, 3), "240");
  assert.equal(periodFromHeader(1, 4), "1D");
  assert.equal(periodFromHeader(1, 5), "1W");
  assert.equal(periodFromHeader(3, 6), "3M");
  assert.throws(() => periodFromHeader(1, 7), RangeError);
});

Deno.test("timeframeToCcxt picks hours when the minutes divide", () => {
  assert.equal(timeframeToCcxt(parseTimeframe("1")), "1m");
  assert.equal(timeframeToCcxt(parseTimeframe("90")), "90m");
  assert.equal(timeframeToCcxt(parseTimeframe("240")), "4h");
  assert.equal(timeframeToCcxt(parseTimeframe("1D")), "1d");
  assert.equal(timeframeToCcxt(parseTimeframe("1W")), "1w");
  assert.equal(timeframeToCcxt(parseTimeframe("1M")), "1M");
  assert.equal(timeframeToCcxt(parseTimeframe("15S")), "15s");
});

Deno.test("nextPeriodStart and periodStart follow the calendar for months and Mondays for weeks", () => {
  const m = parseTimeframe("1M");
  assert.equal(nextPeriodStart(m, Date.UTC(2024, 0, 1)), Date.UTC(2024, 1, 1));
  assert.equal(nextPeriodStart(m, Date.UTC(2024, 11, 1)), Date.UTC(2025, 0, 1));
  assert.equal(periodStart(m, Date.UTC(2024, 1, 17, 5)), Date.UTC(2024, 1, 1));
  const w = parseTimeframe("1W");
  // 2024-01-03 is a Wednesday; its week starts Monday 2024-01-01.
  assert.equal(periodStart(w, Date.UTC(2024, 0, 3, 12)), Date.UTC(2024, 0, 1));
  assert.ok(isOnGrid(w, Date.UTC(2024, 0, 8)));
  assert.ok(!isOnGrid(w, Date.UTC(2024, 0, 7)));
  const h = parseTimeframe("60");
  assert.ok(isOnGrid(h, Date.UTC(2024, 0, 1, 5)));
  assert.ok(!isOnGrid(h, Date.UTC(2024, 0, 1, 5, 1)));
});
