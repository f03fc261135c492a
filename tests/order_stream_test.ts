import assert from "node:assert/strict";
import { OrderStream } from "../pipeline/order_stream.ts";
import { batchFromRows, type CandleBatch } from "../format/candle_batch.ts";

function b(times: number[], seq?: number): CandleBatch {
  const batch = batchFromRows(times.map((t) => [t, t, t + 2, t - 1, t + 1, 1]));
  return seq === undefined ? batch : { ...batch, seq };
}

function times(out: CandleBatch[]): number[][] {
  return out.map((x) => [...x.time]);
}

Deno.test("OrderStream restores sequence order of concurrent batches", async () => {
  const stage = new OrderStream();
  const out = await Array.fromAsync(
    ReadableStream.from([b([20], 2), b([0], 0), b([30], 3), b([10], 1)])
      .pipeThrough(stage),
  );
  assert.deepEqual(times(out), [[0], [10], [20], [30]]);
  assert.equal(stage.heldBatches, 2);
  assert.equal(stage.maxHeld, 2);
});

Deno.test("OrderStream errors clearly when the buffer bound is exceeded", async () => {
  const stage = new OrderStream({ maxBuffered: 2 });
  await assert.rejects(
    Array.fromAsync(
      ReadableStream.from([b([10], 1), b([20], 2), b([30], 3)]).pipeThrough(
        stage,
      ),
    ),
    (e: unknown) =>
      e instanceof RangeError && /waiting for batch 0/.test(e.message) &&
      /maxBuffered 2/.test(e.message),
  );
});

Deno.test("OrderStream errors when a sequence number never arrives", async () => {
  await assert.rejects(
    Array.fromAsync(
      ReadableStream.from([b([0], 0), b([20], 2)]).pipeThrough(
        new OrderStream(),
      ),
    ),
    (e: unknown) =>
      e instanceof RangeError && /batch 1 was missing/.test(e.message),
  );
});

Deno.test("OrderStream errors on a repeated sequence number", async () => {
  await assert.rejects(
    Array.fromAsync(
      ReadableStream.from([b([0], 0), b([0], 0)]).pipeThrough(
        new OrderStream(),
      ),
    ),
    (e: unknown) => e instanceof RangeError && /repeated/.test(e.message),
  );
});

Deno.test("OrderStream reverses a newest-first batch and sorts a shuffled one", async () => {
  const stage = new OrderStream();
  const shuffled = b([30, 10, 40, 20, 20]);
  const out = await Array.fromAsync(
    ReadableStream.from([b([3, 2, 1]), shuffled]).pipeThrough(stage),
  );
  assert.deepEqual(times(out), [[1, 2, 3], [10, 20, 20, 30, 40]]);
  // Values travel with their time.
  assert.deepEqual([...out[1]!.open], [10, 20, 20, 30, 40]);
  assert.equal(stage.reversedBatches, 1);
  assert.equal(stage.sortedBatches, 1);
  // The input batch was not mutated.
  assert.deepEqual([...shuffled.time], [30, 10, 40, 20, 20]);
});

Deno.test("OrderStream passes sorted batches through untouched and skips empty ones", async () => {
  const sorted = b([1, 2, 2, 3]);
  const out = await Array.fromAsync(
    ReadableStream.from([sorted, b([]), b([], 0), b([5], 1)]).pipeThrough(
      new OrderStream(),
    ),
  );
  assert.equal(out[0], sorted);
  assert.deepEqual(times(out), [[1, 2, 2, 3], [5]]);
});

Deno.test("OrderStream keeps extra data aligned when sorting", async () => {
  const batch = {
    ...b([2, 1, 3]),
    extra: [{ k: "two" }, { k: "one" }, undefined],
  };
  const out = await Array.fromAsync(
    ReadableStream.from([batch]).pipeThrough(new OrderStream()),
  );
  assert.deepEqual(out[0]!.extra, [{ k: "one" }, { k: "two" }, undefined]);
});

Deno.test("OrderStream validates its options", () => {
  assert.throws(() => new OrderStream({ maxBuffered: 0 }), RangeError);
  assert.throws(() => new OrderStream({ firstSeq: -1 }), RangeError);
});
