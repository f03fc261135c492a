import assert from "node:assert/strict";
import { ClosedCandlesStream } from "../pipeline/closed_candles_stream.ts";
import { batchFromRows, type CandleBatch } from "../format/candle_batch.ts";

const T0 = Date.UTC(2024, 0, 1);
const M = 60_000;

function rows(...times: number[]): CandleBatch {
  return batchFromRows(times.map((t) => [t, 1, 2, 0.5, 1.5, 10]));
}

Deno.test("ClosedCandlesStream drops the forming candle and counts it", async () => {
  const now = T0 + 2 * M + 30_000;
  const stage = new ClosedCandlesStream({ timeframe: "1", now: () => now });
  const out = await Array.fromAsync(
    ReadableStream.from([rows(T0, T0 + M, T0 + 2 * M)]).pipeThrough(stage),
  );
  assert.equal(out.length, 1);
  assert.deepEqual([...out[0]!.time], [T0, T0 + M]);
  assert.equal(stage.dropped, 1);
  assert.equal(stage.passed, 2);
});

Deno.test("ClosedCandlesStream keeps a candle that ends exactly now", async () => {
  const now = T0 + 2 * M;
  const stage = new ClosedCandlesStream({ timeframe: "1", now: () => now });
  const out = await Array.fromAsync(
    ReadableStream.from([rows(T0, T0 + M)]).pipeThrough(stage),
  );
  assert.equal(out[0]!.time.length, 2);
  assert.equal(stage.dropped, 0);
});

Deno.test("ClosedCandlesStream passes a fully closed batch through as the same object", async () => {
  const input = rows(T0, T0 + M);
  const stage = new ClosedCandlesStream({
    timeframe: "1",
    now: () => T0 + 10 * M,
  });
  const out = await Array.fromAsync(
    ReadableStream.from([input]).pipeThrough(stage),
  );
  assert.equal(out[0], input);
});

Deno.test("ClosedCandlesStream never emits an empty batch", async () => {
  const stage = new ClosedCandlesStream({ timeframe: "1", now: () => T0 });
  const out = await Array.fromAsync(
    ReadableStream.from([rows(T0), rows(T0 + M)]).pipeThrough(stage),
  );
  assert.equal(out.length, 0);
  assert.equal(stage.dropped, 2);
});

Deno.test("ClosedCandlesStream reads the clock for every batch", async () => {
  let now = T0 + M; // first batch: T0 closed, T0+M forming
  const stage = new ClosedCandlesStream({ timeframe: "1", now: () => now });
  const source = ReadableStream.from((async function* () {
    yield rows(T0, T0 + M);
    now = T0 + 5 * M;
    yield rows(T0 + M, T0 + 2 * M);
  })());
  const out = await Array.fromAsync(source.pipeThrough(stage));
  assert.deepEqual(out.map((b) => [...b.time]), [[T0], [T0 + M, T0 + 2 * M]]);
});

Deno.test("ClosedCandlesStream uses calendar months for 1M", async () => {
  const jan = Date.UTC(2024, 0, 1), feb = Date.UTC(2024, 1, 1);
  const stage = new ClosedCandlesStream({
    timeframe: "1M",
    now: () => Date.UTC(2024, 1, 29, 12),
  });
  const out = await Array.fromAsync(
    ReadableStream.from([rows(jan, feb)]).pipeThrough(stage),
  );
  assert.deepEqual([...out[0]!.time], [jan]);
});

Deno.test("ClosedCandlesStream refuses a missing or unknown timeframe before streaming", () => {
  assert.throws(
    () => new ClosedCandlesStream({} as never),
    (e: unknown) => e instanceof TypeError && /timeframe/.test(e.message),
  );
  assert.throws(() => new ClosedCandlesStream({ timeframe: "7X" }), RangeError);
});
