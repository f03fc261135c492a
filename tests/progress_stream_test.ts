import assert from "node:assert/strict";
import {
  type ProgressEvent,
  ProgressStream,
} from "../pipeline/progress_stream.ts";
import { batchFromRows } from "../format/candle_batch.ts";

const M = 60_000;

Deno.test("ProgressStream reports candles, time reached, fraction and rate", async () => {
  const events: ProgressEvent[] = [];
  let clock = 0;
  const stage = new ProgressStream({
    from: 0,
    to: 4 * M,
    periodMs: M,
    intervalMs: 0,
    now: () => clock,
    onProgress: (e) => events.push(e),
  });
  const input = [
    batchFromRows([[0, 1, 1, 1, 1, 1]]),
    batchFromRows([[M, 1, 1, 1, 1, 1], [2 * M, 1, 1, 1, 1, 1]]),
  ];
  const source = ReadableStream.from((async function* () {
    for (const b of input) {
      clock += 500;
      yield b;
    }
  })());
  const out = await Array.fromAsync(source.pipeThrough(stage));
  assert.equal(out[0], input[0]);
  assert.deepEqual(events.map((e) => [e.candles, e.time, e.fraction, e.done]), [
    [1, 0, 0.25, false],
    [3, 2 * M, 0.75, false],
    [3, 2 * M, 0.75, true],
  ]);
  assert.equal(events[1]!.rate, 3); // 3 candles in 1 s
  assert.equal(stage.candles, 3);
});

Deno.test("ProgressStream throttles reports by intervalMs", async () => {
  const events: ProgressEvent[] = [];
  const stage = new ProgressStream({
    intervalMs: 1000,
    now: () => 0,
    onProgress: (e) => events.push(e),
  });
  const batches = Array.from(
    { length: 5 },
    (_, i) => batchFromRows([[i * M, 1, 1, 1, 1, 1]]),
  );
  await ReadableStream.from(batches).pipeThrough(stage).pipeTo(
    new WritableStream(),
  );
  assert.equal(events.length, 2); // the first batch and the final report
  assert.equal(events[1]!.done, true);
  assert.equal(events[1]!.fraction, undefined);
});

Deno.test("ProgressStream requires an onProgress function", () => {
  assert.throws(() => new ProgressStream({} as never), TypeError);
});
