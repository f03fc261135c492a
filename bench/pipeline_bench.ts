/**
 * Pipeline benchmark (a script, not `deno bench`):
 *
 *   deno run -A bench/pipeline_bench.ts [--candles 10000000] [--rounds 5]
 *     [--page 10000] [--big 20000000] [--durable 1]
 *
 * (a) N candles from the in-memory provider (recycled values, exact times),
 *     collected once, then written side by side in one run, alternating:
 *     - writer alone: `ReadableStream.from(batches).pipeTo(writer.writable)`;
 *     - stages + writer: the same batches through `ClosedCandlesStream`,
 *       `OrderStream`, `DedupeStream` and `ValidateStream` into the writer.
 *     Reports the best round of each and the ratio (target >= 70%).
 * (b) `--big` candles downloaded with `download()` from the in-memory provider
 *     (full pipeline: order, range, closed, dedupe, validate, gaps, writer),
 *     sampling `Deno.memoryUsage().rss` every 20 ms; reports the peak
 *     (target < 300 MB).
 *
 * Under `deno bench` (not the main module) it only registers a small case.
 */

import { join } from "node:path";
import type { CandleBatch } from "../format/candle_batch.ts";
import { OhlcvWriter } from "../format/ohlcv_writer.ts";
import { parseTimeframe } from "../format/timeframe.ts";
import { ClosedCandlesStream } from "../pipeline/closed_candles_stream.ts";
import { DedupeStream } from "../pipeline/dedupe_stream.ts";
import { download } from "../pipeline/download.ts";
import { OrderStream } from "../pipeline/order_stream.ts";
import { ValidateStream } from "../pipeline/validate_stream.ts";
import { MemoryProvider } from "../testing/memory_provider.ts";

function arg(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}

const MIN = 60_000;
const START = Date.UTC(1990, 0, 1);
const tf = parseTimeframe("1");

async function collect(n: number, page: number): Promise<CandleBatch[]> {
  const end = START + n * MIN;
  const provider = new MemoryProvider({
    now: () => end + MIN,
    recycle: 1_000_000,
    pageSize: page,
  });
  const out: CandleBatch[] = [];
  for await (
    const b of provider.candles({
      symbol: "BTCUSDT",
      timeframe: tf,
      from: START,
      to: end,
    })
  ) out.push(b);
  return out;
}

function stages(
  source: ReadableStream<CandleBatch>,
  now: number,
): ReadableStream<CandleBatch> {
  return source
    .pipeThrough(new ClosedCandlesStream({ timeframe: tf, now: () => now }))
    .pipeThrough(new OrderStream())
    .pipeThrough(new DedupeStream())
    .pipeThrough(new ValidateStream({ timeframe: tf }));
}

async function writeOnce(
  dir: string,
  batches: CandleBatch[],
  withStages: boolean,
  durable: boolean,
): Promise<number> {
  const path = join(dir, `w_${withStages ? "stages" : "alone"}.ohlcv`);
  await Deno.remove(path).catch(() => {});
  const writer = await OhlcvWriter.open(path, {
    period: "1",
    minmove: 1,
    pricescale: 10,
    durable,
  });
  const now = START + 1e12;
  const t0 = performance.now();
  const source = ReadableStream.from(batches);
  await (withStages ? stages(source, now) : source).pipeTo(writer.writable);
  const ms = performance.now() - t0;
  await Deno.remove(path);
  return ms;
}

async function partA(
  dir: string,
  N: number,
  ROUNDS: number,
  PAGE: number,
  DURABLE: boolean,
): Promise<void> {
  console.log(
    `pipeline bench: ${N.toLocaleString("en")} candles, pages of ${
      PAGE.toLocaleString("en")
    }, durable=${DURABLE}, ${ROUNDS} rounds`,
  );
  const t0 = performance.now();
  const batches = await collect(N, PAGE);
  const total = batches.reduce((s, b) => s + b.time.length, 0);
  console.log(
    `  in-memory provider produced ${total.toLocaleString("en")} candles in ${
      (performance.now() - t0).toFixed(0)
    } ms (not timed below)`,
  );
  const alone: number[] = [], staged: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate which goes first.
    if (r % 2 === 0) {
      alone.push(await writeOnce(dir, batches, false, DURABLE));
      staged.push(await writeOnce(dir, batches, true, DURABLE));
    } else {
      staged.push(await writeOnce(dir, batches, true, DURABLE));
      alone.push(await writeOnce(dir, batches, false, DURABLE));
    }
    console.log(
      `  round ${r + 1}: writer alone ${
        alone[r]!.toFixed(0)
      } ms, stages + writer ${staged[r]!.toFixed(0)} ms`,
    );
  }
  const bestAlone = Math.min(...alone), bestStaged = Math.min(...staged);
  const rate = (ms: number) => (total / (ms / 1000) / 1e6).toFixed(2);
  console.log(
    `  writer alone:    ${bestAlone.toFixed(0)} ms  (${
      rate(bestAlone)
    } M candles/s)`,
  );
  console.log(
    `  stages + writer: ${bestStaged.toFixed(0)} ms  (${
      rate(bestStaged)
    } M candles/s)`,
  );
  console.log(
    `  ratio: ${
      (bestAlone / bestStaged * 100).toFixed(1)
    }% of the writer's own speed (target >= 70%)`,
  );
  batches.length = 0;
}

async function partB(
  dir: string,
  BIG: number,
  PAGE: number,
  DURABLE: boolean,
): Promise<void> {
  // (b) Full download() of BIG candles, sampling RSS.
  const end = START + BIG * MIN;
  const provider = new MemoryProvider({
    now: () => end + MIN,
    recycle: 1_000_000,
    pageSize: PAGE,
  });

  const rss0 = Deno.memoryUsage().rss;
  let peak = rss0;
  const timer = setInterval(() => {
    const rss = Deno.memoryUsage().rss;
    if (rss > peak) peak = rss;
  }, 20);
  const t0 = performance.now();
  const s = await download(provider, "BTCUSDT", {
    timeframe: "1",
    dataDir: dir,
    from: new Date(START),
    to: new Date(end),
    now: () => end + MIN,
    durable: DURABLE,
    onProgress: () => {
      const rss = Deno.memoryUsage().rss;
      if (rss > peak) peak = rss;
    },
  });
  const ms = performance.now() - t0;
  clearInterval(timer);
  console.log(
    `download(): ${s.candles.toLocaleString("en")} candles in ${
      (ms / 1000).toFixed(1)
    } s (${(s.candles / (ms / 1000) / 1e6).toFixed(2)} M candles/s), file ${
      s.fileCount.toLocaleString("en")
    } records`,
  );
  console.log(
    `  RSS at start ${(rss0 / 2 ** 20).toFixed(0)} MB, peak ${
      (peak / 2 ** 20).toFixed(0)
    } MB (target < 300 MB)`,
  );
}

async function main(): Promise<void> {
  const N = arg("candles", 10_000_000);
  const ROUNDS = arg("rounds", 5);
  const PAGE = arg("page", 10_000);
  const BIG = arg("big", 20_000_000);
  const DURABLE = arg("durable", 1) !== 0;
  const dir = await Deno.makeTempDir({ prefix: "pipeline_bench_" });
  try {
    if (BIG > 0) await partB(dir, BIG, PAGE, DURABLE);
    if (N > 0) await partA(dir, N, ROUNDS, PAGE, DURABLE);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  await main();
} else {
  const batches = await collect(200_000, 10_000);
  Deno.bench("pipeline stages on 200k candles (no writer)", async () => {
    await stages(ReadableStream.from(batches), START + 1e12).pipeTo(
      new WritableStream(),
    );
  });
}
