import assert from "node:assert/strict";
import { DedupeStream } from "../pipeline/dedupe_stream.ts";
import { batchFromRows, type CandleBatch } from "../format/candle_batch.ts";

function b(times: number[], volume = 1): CandleBatch {
  return batchFromRows(times.map((t) => [t, 10, 12, 9, 11, volume]));
}

Deno.test("DedupeStream drops candles repeated across batches", async () => {
  const stage = new DedupeStream();
  const out = await Array.fromAsync(
    ReadableStream.from([b([1, 2, 3]), b([2, 3, 4, 5])]).pipeThrough(stage),
  );
  assert.deepEqual(out.map((x) => [...x.time]), [[1, 2, 3], [4, 5]]);
  assert.equal(stage.dropped, 2);
  assert.equal(stage.duplicates, 1); // 3 repeats the last emitted candle
  assert.equal(stage.stale, 1); // 2 is older than the last emitted candle
  assert.equal(stage.conflicts, 0);
  assert.equal(stage.lastTime, 5);
});

Deno.test("DedupeStream drops candles at or before the seed time", async () => {
  const stage = new DedupeStream({ after: 3 });
  const out = await Array.fromAsync(
    ReadableStream.from([b([1, 2, 3]), b([3, 4])]).pipeThrough(stage),
  );
  assert.deepEqual(out.map((x) => [...x.time]), [[4]]);
  assert.equal(stage.dropped, 4);
});

Deno.test("DedupeStream reports a repeated time with different values", async () => {
  const stage = new DedupeStream();
  const out = await Array.fromAsync(
    ReadableStream.from([b([1, 2]), b([2], 99), b([2, 3])]).pipeThrough(stage),
  );
  assert.deepEqual(out.map((x) => [...x.time]), [[1, 2], [3]]);
  assert.equal(stage.conflicts, 1);
  assert.equal(stage.duplicates, 1);
  assert.deepEqual(stage.conflictSamples, [{
    time: 2,
    kept: [2, 10, 12, 9, 11, 1],
    dropped: [2, 10, 12, 9, 11, 99],
  }]);
});

Deno.test("DedupeStream detects a conflict with a seed row", async () => {
  const stage = new DedupeStream({ after: [5, 10, 12, 9, 11, 7] });
  await Array.fromAsync(
    ReadableStream.from([b([5], 8), b([6])]).pipeThrough(stage),
  );
  assert.equal(stage.conflicts, 1);
});

Deno.test("DedupeStream with onConflict error throws naming the candle", async () => {
  const stage = new DedupeStream({ onConflict: "error" });
  await assert.rejects(
    Array.fromAsync(
      ReadableStream.from([b([60_000, 60_000], 3)].map((x) => {
        x.volume[1] = 4;
        return x;
      })).pipeThrough(stage),
    ),
    (e: unknown) =>
      e instanceof RangeError && /1970-01-01T00:01:00.000Z/.test(e.message),
  );
});

Deno.test("DedupeStream counts stale out-of-order candles", async () => {
  const stage = new DedupeStream();
  const out = await Array.fromAsync(
    ReadableStream.from([b([5, 6]), b([3, 7])]).pipeThrough(stage),
  );
  assert.deepEqual(out.map((x) => [...x.time]), [[5, 6], [7]]);
  assert.equal(stage.stale, 1);
});

Deno.test("DedupeStream passes a clean batch through untouched and never emits empty batches", async () => {
  const clean = b([1, 2, 3]);
  const stage = new DedupeStream();
  const out = await Array.fromAsync(
    ReadableStream.from([clean, b([2, 3])]).pipeThrough(stage),
  );
  assert.equal(out.length, 1);
  assert.equal(out[0], clean);
});

Deno.test("DedupeStream treats NaN values as equal when comparing repeats", async () => {
  const x = b([1]);
  x.volume[0] = NaN;
  const y = b([1]);
  y.volume[0] = NaN;
  const stage = new DedupeStream();
  await Array.fromAsync(ReadableStream.from([x, y]).pipeThrough(stage));
  assert.equal(stage.duplicates, 1);
  assert.equal(stage.conflicts, 0);
});

Deno.test("DedupeStream validates its options", () => {
  assert.throws(
    () => new DedupeStream({ onConflict: "keep" as never }),
    RangeError,
  );
  assert.throws(() => new DedupeStream({ after: NaN }), RangeError);
  assert.throws(() => new DedupeStream({ after: "x" as never }), TypeError);
});
