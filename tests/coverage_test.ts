import assert from "node:assert/strict";
import {
  coverageFromToml,
  coverageToToml,
  emptyLedger,
  FormatError,
  ledgerFits,
  recordCoverage,
  RunSet,
  unresolved,
} from "../format/mod.ts";
import { coverageReport } from "../pipeline/mod.ts";

const H = 3_600_000;
const D = 24 * H;

Deno.test("RunSet merges touching and overlapping runs and keeps them sorted", () => {
  const s = new RunSet([[5, 7], [1, 2], [2, 3], [6, 9], [20, 21]]);
  assert.deepEqual(s.runs, [[1, 3], [5, 9], [20, 21]]);
  assert.equal(s.length, 2 + 4 + 1);
  s.add(3, 5);
  assert.deepEqual(s.runs, [[1, 9], [20, 21]]);
  s.add(0, 100);
  assert.deepEqual(s.runs, [[0, 100]]);
  s.add(4, 4); // empty: nothing
  assert.deepEqual(s.runs, [[0, 100]]);
  assert.throws(() => s.add(0, Infinity), RangeError);
});

Deno.test("RunSet removes, subtracts, intersects and answers covers/has", () => {
  const s = new RunSet([[0, 10], [20, 30]]);
  assert.deepEqual(s.subtract([[5, 25]]).runs, [[0, 5], [25, 30]]);
  assert.deepEqual(s.intersect([[5, 25], [28, 40]]).runs, [[5, 10], [20, 25], [
    28,
    30,
  ]]);
  assert.deepEqual(s.clip(8, 22).runs, [[8, 10], [20, 22]]);
  assert.ok(s.covers(0, 10));
  assert.ok(s.covers(21, 29));
  assert.ok(!s.covers(5, 21));
  assert.ok(!s.covers(10, 11));
  assert.ok(s.has(0) && s.has(9) && !s.has(10) && s.has(20) && !s.has(30));
  // The original is unchanged by the non-mutating operations.
  assert.deepEqual(s.runs, [[0, 10], [20, 30]]);
  assert.ok(s.clone().equals(s));
  s.remove(0, 30);
  assert.ok(s.empty);
});

Deno.test("recordCoverage lets later answers replace earlier failures and vice versa", () => {
  const l = emptyLedger();
  l.requested.add(0, 10 * H);
  recordCoverage(l, "fetched", 0, 4 * H);
  recordCoverage(l, "failed", 4 * H, 6 * H);
  assert.deepEqual(unresolved(l).runs, [[4 * H, 10 * H]]);
  // A repair fetches the failed run; the tail stays unresolved.
  recordCoverage(l, "fetched", 4 * H, 6 * H);
  assert.deepEqual(l.failed.runs, []);
  assert.deepEqual(unresolved(l).runs, [[6 * H, 10 * H]]);
  recordCoverage(l, "not-served", 6 * H, 10 * H);
  assert.ok(unresolved(l).empty);
  // Invalid candles found later turn fetched periods into failed ones.
  recordCoverage(l, "failed", H, 2 * H);
  assert.deepEqual(unresolved(l).runs, [[H, 2 * H]]);
  assert.deepEqual(l.fetched.runs, [[0, H], [2 * H, 6 * H]]);
});

Deno.test("the [coverage] table round-trips and refuses malformed runs with the key", () => {
  const l = emptyLedger();
  l.requested.add(Date.UTC(2025, 0, 6), Date.UTC(2025, 0, 10));
  l.fetched.add(Date.UTC(2025, 0, 6), Date.UTC(2025, 0, 7, 13, 15));
  l.notServed.add(Date.UTC(2025, 0, 9), Date.UTC(2025, 0, 10));
  l.failed.add(Date.UTC(2025, 0, 8), Date.UTC(2025, 0, 8, 0, 0, 30));
  l.file = {
    records: 12,
    first: Date.UTC(2025, 0, 6),
    last: Date.UTC(2025, 0, 7, 13),
  };
  const table = coverageToToml(l);
  assert.deepEqual(table.fetched, [[
    "2025-01-06T00:00:00Z",
    "2025-01-07T13:15:00Z",
  ]]);
  assert.deepEqual(table.failed, [[
    "2025-01-08T00:00:00Z",
    "2025-01-08T00:00:30Z",
  ]]);
  const back = coverageFromToml(table);
  for (const k of ["requested", "fetched", "notServed", "failed"] as const) {
    assert.ok(back[k].equals(l[k]), k);
  }
  assert.deepEqual(back.file, l.file);
  assert.throws(
    () =>
      coverageFromToml(
        { fetched: [["2025-01-06", "2025-01-07T00:00Z"]] },
        "x.toml",
      ),
    (e: unknown) =>
      e instanceof FormatError && /fetched\[0\]/.test(e.message) &&
      /x\.toml/.test(e.message),
  );
  assert.throws(
    () =>
      coverageFromToml({
        requested: [["2025-01-07T00:00Z", "2025-01-06T00:00Z"]],
      }),
    /requested\[0\] ends before it starts/,
  );
  assert.throws(() => coverageFromToml({ file: { records: -1 } }), FormatError);
});

Deno.test("ledgerFits refuses a ledger that claims candles the file lost", () => {
  const l = emptyLedger();
  l.fetched.add(0, 10 * H);
  l.file = { records: 10, first: 0, last: 9 * H };
  assert.ok(ledgerFits(l, { records: 10, first: 0, last: 9 * H }));
  // The file grew after the ledger was written (a crash before its update): fine.
  assert.ok(ledgerFits(l, { records: 14, first: 0, last: 13 * H }));
  // Fewer candles, a later start or an earlier end: the ledger is not used.
  assert.ok(!ledgerFits(l, { records: 9, first: 0, last: 9 * H }));
  assert.ok(!ledgerFits(l, { records: 10, first: H, last: 10 * H }));
  assert.ok(!ledgerFits(l, { records: 12, first: 0, last: 8 * H }));
  // A ledger without a file record claims nothing when it has fetched runs.
  const bare = emptyLedger();
  bare.fetched.add(0, H);
  assert.ok(!ledgerFits(bare, { records: 1, first: 0, last: 0 }));
});

Deno.test("coverageReport tells fetched, empty, closed, not served, failed and never requested apart", async () => {
  // A market open Monday to Friday (UTC), hourly candles.
  const info = {
    timezone: "UTC",
    openingHours: [0, 1, 2, 3, 4].map((day) => ({
      day,
      start: "00:00:00",
      end: "23:59:59",
    })),
  };
  const mon = Date.UTC(2025, 0, 6);
  const l = emptyLedger();
  l.requested.add(mon, mon + 9 * D);
  // The venue answered Mon .. Sun and served candles Mon 00:00 .. Wed 12:00.
  l.fetched.add(mon, mon + 7 * D);
  // Tue 05:00-07:00: the venue served nothing while open (verified empty).
  const gaps = [{
    from: mon + D + 5 * H,
    to: mon + D + 7 * H,
    periods: 2,
    kind: "anomaly" as const,
  }];
  l.notServed.add(mon + 8 * D, mon + 9 * D);
  const report = await coverageReport(l, { from: mon - D, to: mon + 9 * D }, {
    timeframe: "60",
    symbolInfo: info,
    candles: { first: mon, last: mon + 2 * D + 12 * H },
    gaps,
    extent: { from: mon - D, to: mon + 2 * D + 13 * H },
  });
  const seg = report.segments.map((s) => [
    new Date(s.from).toISOString().slice(5, 16),
    new Date(s.to).toISOString().slice(5, 16),
    s.state,
  ]);
  assert.deepEqual(seg, [
    ["01-05T00:00", "01-06T00:00", "never-requested"],
    ["01-06T00:00", "01-07T05:00", "fetched"],
    ["01-07T05:00", "01-07T07:00", "empty"],
    ["01-07T07:00", "01-08T13:00", "fetched"],
    // Nothing served after Wed 12:00 while the market was open ...
    ["01-08T13:00", "01-11T00:00", "empty"],
    // ... and the weekend was closed.
    ["01-11T00:00", "01-13T00:00", "closed"],
    ["01-13T00:00", "01-14T00:00", "failed"],
    ["01-14T00:00", "01-15T00:00", "not-served"],
  ]);
  assert.equal(report.complete, false);
  assert.deepEqual(report.missing.map((s) => s.state), [
    "never-requested",
    "failed",
  ]);
  assert.equal(report.totals.failed, D);
  assert.equal(report.totals.closed, 2 * D);
});
