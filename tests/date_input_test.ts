import assert from "node:assert/strict";
import { parseDateInput } from "../pipeline/date_input.ts";

const NOW = Date.UTC(2024, 5, 15, 12, 0, 0);
const DAY = 86_400_000;

Deno.test("parseDateInput accepts continue in any case", () => {
  assert.equal(parseDateInput("continue", NOW), "continue");
  assert.equal(parseDateInput(" Continue ", NOW), "continue");
});

Deno.test("parseDateInput reads a number of days back", () => {
  assert.equal(parseDateInput(30, NOW), NOW - 30 * DAY);
  assert.equal(parseDateInput("30", NOW), NOW - 30 * DAY);
  assert.equal(parseDateInput("1.5", NOW), NOW - 1.5 * DAY);
  assert.equal(parseDateInput(0, NOW), NOW);
  assert.equal(parseDateInput(36_525, NOW), NOW - 36_525 * DAY);
});

Deno.test("parseDateInput refuses more than 100 years back, pointing out ms times and undashed dates", () => {
  assert.throws(
    () => parseDateInput(Date.UTC(2024, 0, 1), NOW),
    (e: unknown) =>
      e instanceof RangeError &&
      /1704067200000 days back is more than 36525 days.*Unix time in ms: pass new Date\(1704067200000\)/
        .test(e.message),
  );
  assert.throws(
    () => parseDateInput("20240101", NOW),
    /20240101 days back is more than 36525 days \(100 years\); for a date write YYYY-MM-DD/,
  );
  assert.throws(() => parseDateInput(36_526, NOW), RangeError);
});

Deno.test("parseDateInput reads dates and date-times as UTC", () => {
  assert.equal(parseDateInput("2024-01-01", NOW), Date.UTC(2024, 0, 1));
  assert.equal(
    parseDateInput("2024-01-01 12:30", NOW),
    Date.UTC(2024, 0, 1, 12, 30),
  );
  assert.equal(
    parseDateInput("2024-01-01 12:30:15", NOW),
    Date.UTC(2024, 0, 1, 12, 30, 15),
  );
  assert.equal(parseDateInput("now", NOW), NOW);
  assert.equal(
    parseDateInput(new Date(Date.UTC(2023, 1, 2)), NOW),
    Date.UTC(2023, 1, 2),
  );
});

Deno.test("parseDateInput reads ISO 8601 with and without zones", () => {
  assert.equal(
    parseDateInput("2024-01-01T12:00:00Z", NOW),
    Date.UTC(2024, 0, 1, 12),
  );
  assert.equal(
    parseDateInput("2024-01-01T12:00:00", NOW),
    Date.UTC(2024, 0, 1, 12),
  );
  assert.equal(
    parseDateInput("2024-01-01T12:00:00.250Z", NOW),
    Date.UTC(2024, 0, 1, 12, 0, 0, 250),
  );
  assert.equal(
    parseDateInput("2024-01-01T12:00:00+02:00", NOW),
    Date.UTC(2024, 0, 1, 10),
  );
  assert.equal(
    parseDateInput("2024-01-01T12:00-0530", NOW),
    Date.UTC(2024, 0, 1, 17, 30),
  );
});

Deno.test("parseDateInput refuses impossible and unknown input with a clear RangeError", () => {
  for (
    const bad of [
      "2024-02-30",
      "2024-13-01",
      "2024-01-01 25:00",
      "yesterday",
      "",
      "-3",
      "2024/01/01",
    ]
  ) {
    assert.throws(() => parseDateInput(bad, NOW), RangeError, bad);
  }
  assert.throws(
    () => parseDateInput("soon", NOW),
    (e: unknown) =>
      e instanceof RangeError && /accepted: "continue"/.test(e.message),
  );
  assert.throws(() => parseDateInput(-1, NOW), RangeError);
  assert.throws(() => parseDateInput(new Date(NaN), NOW), RangeError);
  assert.throws(() => parseDateInput({} as never, NOW), TypeError);
});
