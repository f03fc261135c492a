import assert from "node:assert/strict";
import {
  assertTimeOfDay,
  dailySessions,
  isTimeOfDay,
  isWeekday,
  sessions247,
} from "../format/sessions.ts";

Deno.test("sessions247 gives seven full days with starts and ends, like PyneCore's crypto files", () => {
  const s = sessions247();
  assert.equal(s.openingHours.length, 7);
  assert.deepEqual(s.openingHours[3], {
    day: 3,
    start: "00:00:00",
    end: "23:59:59",
  });
  assert.deepEqual(s.sessionStarts.map((x) => x.day), [0, 1, 2, 3, 4, 5, 6]);
  assert.ok(s.sessionStarts.every((x) => x.time === "00:00:00"));
  assert.ok(s.sessionEnds.every((x) => x.time === "23:59:59"));
  // Fresh arrays each call: callers may edit them.
  assert.notEqual(sessions247().openingHours, s.openingHours);
});

Deno.test("dailySessions builds weekday sessions and validates its input", () => {
  const s = dailySessions("09:30:00", "16:00:00");
  assert.deepEqual(s.openingHours.map((x) => x.day), [0, 1, 2, 3, 4]);
  assert.deepEqual(s.sessionEnds[4], { day: 4, time: "16:00:00" });
  assert.equal(
    dailySessions("22:00:00", "21:00:00", { days: [6] }).openingHours.length,
    1,
  );
  assert.throws(
    () => dailySessions("9:30", "16:00:00"),
    /start must be a time of day/,
  );
  assert.throws(
    () => dailySessions("09:30:00", "16:00:00", { days: [7] }),
    /weekday/,
  );
});

Deno.test("isTimeOfDay and isWeekday check PyneCore's ranges", () => {
  assert.ok(isTimeOfDay("00:00:00") && isTimeOfDay("23:59:59"));
  for (const bad of ["24:00:00", "12:60:00", "1:00:00", "12:00", 5]) {
    assert.ok(!isTimeOfDay(bad), String(bad));
  }
  assert.ok(isWeekday(0) && isWeekday(6));
  assert.ok(
    !isWeekday(7) && !isWeekday(-1) && !isWeekday(1.5) && !isWeekday("1"),
  );
  assert.throws(
    () => assertTimeOfDay("25:00:00", "end"),
    /^RangeError: end must be/,
  );
});
