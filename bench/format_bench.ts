/**
 * Format benchmark (a script, not `deno bench`):
 *
 *   deno run -A bench/format_bench.ts [--candles 10000000] [--rounds 9]
 *
 * (a) OhlcvWriter appending N candles in batches of 65,536 with durable
 *     commits (through `writable` and with `await append()`), against the raw
 *     speed of writing + fdatasyncing the same number of bytes in the same
 *     chunks, measured side by side (alternating) in one run; for reference
 *     also raw with each chunk's write overlapping the previous fdatasync;
 * (b) OhlcvReader decoding the N-candle file (tick grid set, so with grid
 *     snapping) into batches, and streaming it through `readable()` while
 *     sampling resident memory.
 */

import { open } from "node:fs/promises";
import { join } from "node:path";
import { allocBatch, type CandleBatch } from "../format/candle_batch.ts";
import { OhlcvReader } from "../format/ohlcv_reader.ts";
import { OhlcvWriter } from "../format/ohlcv_writer.ts";
import { CandleGenerator } from "../testing/candle_generator.ts";

function arg(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}

// Child mode: stream a file and print the peak RSS (a fresh process, so the
// benchmark's own batches do not count).
const rssIndex = Deno.args.indexOf("--stream-rss");
if (rssIndex >= 0) {
  console.log(await streamRss(Deno.args[rssIndex + 1]!));
  Deno.exit(0);
}

const N = arg("candles", 10_000_000);
const ROUNDS = arg("rounds", 9);
const BATCH = 65_536;
const PERIOD_MS = 60_000;
const START = Date.UTC(2000, 0, 1);

// Realistic candles (0.01 tick), generated before timing: one template batch
// repeated with shifted times (every batch is its own object, as a provider
// would hand over).
const gen = new CandleGenerator({ seed: "BENCH", basePrice: 42_000 });
const template = gen.batch(START, START + BATCH * PERIOD_MS, PERIOD_MS);
const batches: CandleBatch[] = [];
for (let k = 0, done = 0; done < N; k++) {
  const n = Math.min(BATCH, N - done);
  const b = allocBatch(n);
  for (const c of ["open", "high", "low", "close", "volume"] as const) {
    b[c].set(template[c].subarray(0, n));
  }
  const off = k * BATCH * PERIOD_MS;
  for (let i = 0; i < n; i++) b.time[i] = template.time[i]! + off;
  batches.push(b);
  done += n;
}

/**
 * The writer with durable commits, as a pipeline sink
 * (`ReadableStream.pipeTo(writer.writable)`), with `await append()` per batch,
 * or with three `append()` calls in flight.
 */
async function writerRun(
  path: string,
  mode: "stream" | "append" | "append3",
): Promise<number> {
  await Deno.remove(path).catch(() => {});
  const t0 = performance.now();
  const w = await OhlcvWriter.open(path, {
    period: "1",
    minmove: 1,
    pricescale: 100,
  });
  if (mode === "stream") {
    await ReadableStream.from(batches).pipeTo(w.writable);
  } else if (mode === "append") {
    for (const b of batches) await w.append(b);
    await w.close();
  } else {
    // Three append() calls in flight: await the oldest before the next.
    const calls: Promise<void>[] = [];
    for (const b of batches) {
      calls.push(w.append(b));
      if (calls.length >= 3) await calls.shift();
    }
    await Promise.all(calls);
    await w.close();
  }
  return (performance.now() - t0) / 1000;
}

/**
 * Raw baseline: write + fdatasync (the writer's sync primitive) the same
 * bytes in the same chunks, one chunk after the other, either with
 * `node:fs/promises` `FileHandle.write` + `datasync()` or with
 * `Deno.FsFile.write` + `syncData()` (what the writer uses in Deno). The
 * faster of the two is the baseline of a round, so the comparison is against
 * the best plain raw speed available.
 *
 * "pipelined" (reported for reference, not the baseline): chunk k+1 is
 * written while chunk k's fdatasync runs — the overlap the writer itself
 * uses, without any header.
 */
async function rawRun(
  path: string,
  recordSize: number,
  api: "node" | "deno" | "pipelined",
): Promise<number> {
  await Deno.remove(path).catch(() => {});
  const chunk = new Uint8Array(BATCH * recordSize).fill(7);
  const t0 = performance.now();
  if (api === "node") {
    const fh = await open(path, "w");
    let pos = 0;
    for (let done = 0; done < N;) {
      const len = Math.min(BATCH, N - done) * recordSize;
      let w = 0;
      while (w < len) {
        w += (await fh.write(chunk, w, len - w, pos + w)).bytesWritten;
      }
      await fh.datasync();
      pos += len;
      done += len / recordSize;
    }
    await fh.close();
  } else {
    const file = await Deno.open(path, {
      write: true,
      create: true,
      truncate: true,
    });
    let sync: Promise<void> | undefined;
    for (let done = 0; done < N;) {
      const len = Math.min(BATCH, N - done) * recordSize;
      let w = 0;
      while (w < len) w += await file.write(chunk.subarray(w, len));
      if (api === "deno") await file.syncData();
      else {
        await sync;
        sync = file.syncData();
      }
      done += len / recordSize;
    }
    await sync;
    file.close();
  }
  return (performance.now() - t0) / 1000;
}

async function readerRun(path: string): Promise<number> {
  const t0 = performance.now();
  await using r = await OhlcvReader.open(path);
  let n = 0;
  let check = 0;
  for await (const b of r.batches()) {
    n += b.time.length;
    check += b.close[0]!;
  }
  const s = (performance.now() - t0) / 1000;
  if (n !== N || !(check > 0)) throw new Error(`read ${n} candles`);
  return s;
}

async function streamRss(path: string): Promise<number> {
  await using r = await OhlcvReader.open(path);
  let maxRss = Deno.memoryUsage().rss;
  let n = 0;
  for await (const b of r.readable()) {
    n += b.time.length;
    const rss = Deno.memoryUsage().rss;
    if (rss > maxRss) maxRss = rss;
  }
  if (n !== r.count) throw new Error(`streamed ${n} candles`);
  return maxRss;
}

const fmt = (x: number) => Math.round(x).toLocaleString("en-US");
const median = (xs: number[]) => {
  const v = [...xs].sort((a, b) => a - b);
  const m = v.length >> 1;
  return v.length % 2 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
};

const dir = await Deno.makeTempDir({ prefix: "pyne_format_bench_" });
try {
  const path = join(dir, "bench.ohlcv");
  const rawPath = join(dir, "raw.bin");
  console.log(
    `${fmt(N)} candles, batches of ${
      fmt(BATCH)
    }, ${ROUNDS} rounds after a warm-up (raw and the writer variants alternate, order rotated)`,
  );
  const rawTimes: number[] = [], streamTimes: number[] = [];
  const pipeTimes: number[] = [];
  const append3Ratios: number[] = [];
  const appendTimes: number[] = [];
  const streamRatios: number[] = [], appendRatios: number[] = [];
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  // Warm-up (JIT, page cache): one untimed run of each variant.
  await rawRun(rawPath, 36, "node");
  await rawRun(rawPath, 36, "deno");
  await rawRun(rawPath, 36, "pipelined");
  await writerRun(path, "stream");
  await writerRun(path, "append");
  await writerRun(path, "append3");
  for (let round = 0; round < ROUNDS; round++) {
    // Rotate the order every round so no variant always runs first.
    const runs = [
      () => rawRun(rawPath, 36, "node"),
      () => rawRun(rawPath, 36, "deno"),
      () => writerRun(path, "stream"),
      () => writerRun(path, "append"),
      () => rawRun(rawPath, 36, "pipelined"),
      () => writerRun(path, "append3"),
    ];
    const times: number[] = [0, 0, 0, 0, 0, 0];
    for (let k = 0; k < runs.length; k++) {
      const which = (k + round) % runs.length;
      times[which] = await runs[which]!();
    }
    const [rawNode, rawDeno, ws, wa, rawPipe, wa3] = times as [
      number,
      number,
      number,
      number,
      number,
      number,
    ];
    const raw = Math.min(rawNode, rawDeno);
    rawTimes.push(raw);
    pipeTimes.push(rawPipe);
    append3Ratios.push(raw / wa3);
    streamTimes.push(ws);
    appendTimes.push(wa);
    streamRatios.push(raw / ws);
    appendRatios.push(raw / wa);
    console.log(
      `  round ${round + 1}: raw write+fsync ${fmt(N / raw)} candles/s (${
        (N * 36 / raw / 1e6).toFixed(0)
      } MB/s, best of FileHandle ${fmt(N / rawNode)} and FsFile ${
        fmt(N / rawDeno)
      }); writer via writable ${fmt(N / ws)} candles/s (${
        pct(raw / ws)
      } of raw); writer via await append() ${fmt(N / wa)} candles/s (${
        pct(raw / wa)
      }); three append() in flight ${fmt(N / wa3)} candles/s (${
        pct(raw / wa3)
      }); [reference: raw pipelined ${fmt(N / rawPipe)} candles/s, writable ${
        pct(rawPipe / ws)
      } of it]`,
    );
  }
  await Deno.remove(rawPath).catch(() => {});
  console.log(
    `writer (durable, grid 0.01): writable ${
      fmt(N / median(streamTimes))
    } candles/s, await append() ${
      fmt(N / median(appendTimes))
    } candles/s, raw ${fmt(N / median(rawTimes))} candles/s (medians)`,
  );
  console.log(
    `writer/raw per round: writable median ${pct(median(streamRatios))} (best ${
      pct(Math.max(...streamRatios))
    }), await append() median ${pct(median(appendRatios))} (best ${
      pct(Math.max(...appendRatios))
    }), three append() in flight median ${
      pct(median(append3Ratios))
    } (target >= 80%)`,
  );
  console.log(
    `  spread: writable ${pct(Math.min(...streamRatios))}–${
      pct(Math.max(...streamRatios))
    }, await append() ${pct(Math.min(...appendRatios))}–${
      pct(Math.max(...appendRatios))
    }, three append() in flight ${pct(Math.min(...append3Ratios))}–${
      pct(Math.max(...append3Ratios))
    }; reference, raw with write k+1 overlapping fsync k: ${
      fmt(N / median(pipeTimes))
    } candles/s (median), writable at ${
      pct(median(pipeTimes) / median(streamTimes))
    } of it (medians)`,
  );
  const readTimes: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    readTimes.push(await readerRun(path));
  }
  console.log(
    `reader: ${fmt(N / median(readTimes))} candles/s (median; best ${
      fmt(N / Math.min(...readTimes))
    }) decoding with grid snapping (target >= 30,000,000)`,
  );
  const child = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL(import.meta.url).pathname,
      "--stream-rss",
      path,
    ],
    stderr: "inherit",
  }).output();
  const rss = Number(new TextDecoder().decode(child.stdout).trim());
  console.log(
    `reader stream (separate process): peak RSS ${
      (rss / 2 ** 20).toFixed(0)
    } MB while streaming all ${fmt(N)} candles (target < 200 MB)`,
  );
} finally {
  await Deno.remove(dir, { recursive: true });
}
