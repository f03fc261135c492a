import assert from "node:assert/strict";
import { ValidateStream } from "../pipeline/validate_stream.ts";
import { batchFromRows, type CandleBatch } from "../format/candle_batch.ts";

const M = 60_000;
const good = (t: number): number[] => [t, 10, 12, 9, 11, 5];

function run(stage: ValidateStream, ...batches: CandleBatch[]) {
  return Array.fromAsync(ReadableStream.from(batches).pipeThrough(stage));
}

Deno.test("ValidateStream passes valid batches through as the same object", async () => {
  const input = batchFromRows([good(0), good(M), good(2 * M)]);
  const stage = new ValidateStream({ timeframe: "1" });
  const out = await run(stage, input);
  assert.equal(out[0], input);
  assert.equal(stage.checked, 3);
  assert.equal(stage.invalid, 0);
});

Deno.test("ValidateStream policy error names the candle and the broken relation", async () => {
  const stage = new ValidateStream({ timeframe: "1" });
  await assert.rejects(
    run(stage, batchFromRows([good(0), [M, 10, 9, 8, 11, 5]])),
    (e: unknown) =>
      e instanceof RangeError &&
      e.message ===
        "Candle 1 of the batch (1970-01-01T00:01:00.000Z): high 9 is below max(open, close) 11",
  );
});

Deno.test("ValidateStream policy drop removes each kind of invalid candle and counts it", async () => {
  const stage = new ValidateStream({ timeframe: "1", policy: "drop" });
  const out = await run(
    stage,
    batchFromRows([
      good(0),
      [M, 10, 12, 10.5, 11, 5], // low above min(open, close)
      [2 * M, 10, Infinity, 9, 11, 5], // non-finite
      [3 * M, NaN, 12, 9, 11, 5], // NaN not allowed by default
      [4 * M, 10, 12, 9, 11, -1], // negative volume
      [5 * M + 1, 10, 12, 9, 11, 5], // off grid
      good(6 * M),
    ]),
    batchFromRows([[7 * M, 10, 8, 9, 9, 5]]), // high below low: whole batch dropped
  );
  assert.deepEqual(out.map((b) => [...b.time]), [[0, 6 * M], []]);
  // The dropped candles' periods are failed coverage (runs, not periods).
  assert.deepEqual(out.map((b) => b.coverage?.map((c) => [c.from, c.to])), [
    [[M, 6 * M]],
    [[7 * M, 8 * M]],
  ]);
  assert.ok(out.every((b) => b.coverage!.every((c) => c.state === "failed")));
  assert.equal(stage.invalid, 6);
  assert.equal(stage.dropped, 6);
  assert.deepEqual({ ...stage.counts }, {
    "non-finite": 2,
    ohlc: 2,
    "negative-volume": 1,
    "off-grid": 1,
  });
  assert.equal(stage.issues[0]!.reason, "ohlc");
  assert.match(
    stage.issues[0]!.message,
    /low 10.5 is above min\(open, close\) 10/,
  );
});

Deno.test("ValidateStream policy report counts but keeps invalid candles", async () => {
  const stage = new ValidateStream({ policy: "report", maxReported: 1 });
  const input = batchFromRows([good(0), [M, 10, 12, 9, 11, -5], [
    2 * M,
    1,
    0,
    1,
    1,
    1,
  ]]);
  const out = await run(stage, input);
  assert.equal(out[0], input);
  assert.equal(stage.invalid, 2);
  assert.equal(stage.issues.length, 1);
});

Deno.test("ValidateStream allowNaN accepts NaN but still refuses infinities", async () => {
  const stage = new ValidateStream({ allowNaN: true, policy: "drop" });
  const out = await run(
    stage,
    batchFromRows([[0, 10, 12, 9, 11, NaN], [M, NaN, NaN, NaN, NaN, NaN], [
      2 * M,
      1,
      1,
      1,
      1,
      -Infinity,
    ]]),
  );
  assert.deepEqual([...out[0]!.time], [0, M]);
  assert.equal(stage.counts["non-finite"], 1);
});

Deno.test("ValidateStream allowNaN volume accepts a missing volume but not a missing price", async () => {
  const stage = new ValidateStream({ allowNaN: "volume", policy: "drop" });
  const out = await run(
    stage,
    batchFromRows([[0, 10, 12, 9, 11, NaN], [M, NaN, 12, 9, 11, 1], [
      2 * M,
      10,
      12,
      9,
      11,
      0,
    ]]),
  );
  assert.deepEqual([...out[0]!.time], [0, 2 * M]);
  assert.equal(stage.counts["non-finite"], 1);
  assert.equal(stage.issues[0]!.message, "open is NaN");
  assert.throws(
    () => new ValidateStream({ allowNaN: "prices" as never }),
    /"allowNaN" must be true, false or "volume"/,
  );
});

Deno.test("ValidateStream checks weekly and monthly grids", async () => {
  const monday = Date.UTC(2024, 0, 1), tuesday = Date.UTC(2024, 0, 2);
  const w = new ValidateStream({ timeframe: "1W", policy: "drop" });
  const wOut = await run(w, batchFromRows([good(monday), good(tuesday)]));
  assert.deepEqual([...wOut[0]!.time], [monday]);
  const m = new ValidateStream({ timeframe: "1M", policy: "drop" });
  const mOut = await run(
    m,
    batchFromRows([good(Date.UTC(2024, 1, 1)), good(Date.UTC(2024, 1, 2))]),
  );
  assert.deepEqual([...mOut[0]!.time], [Date.UTC(2024, 1, 1)]);
});

Deno.test("ValidateStream validates its options", () => {
  assert.throws(
    () => new ValidateStream({ policy: "skip" as never }),
    RangeError,
  );
  assert.throws(() => new ValidateStream({ timeframe: "nope" }), RangeError);
});
