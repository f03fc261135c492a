/**
 * A pipeline of your own, composed from the exported stages: 1-minute
 * candles are cleaned by the library's stages, stored as they are, and at the
 * same time resampled to 15-minute candles on the fly by a stage written here
 * (`ResampleStream`), which feed a second `.ohlcv` file and a CSV file
 * written by a custom sink.
 *
 * ```text
 * provider.candles() ─ OrderStream ─ ClosedCandlesStream ─ DedupeStream ─ ValidateStream ─┬─ OhlcvWriter (1m)
 *                                                                                          └─ ResampleStream ─┬─ OhlcvWriter (15m)
 *                                                                                                             └─ CsvEncoderStream ─ csvFileSink
 * ```
 *
 * Everything runs against the bundled Binance-style emulator on 127.0.0.1.
 * The range starts at 00:07 on purpose: the 15-minute period 00:00–00:15 is
 * incomplete and left out, so the 15-minute file holds floor(1m count / 15)
 * candles; the provider's pages of 1000 candles end in the middle of
 * 15-minute periods, which the resampler carries across.
 *
 * ```sh
 * deno run -A examples/resample_pipeline.ts           # temporary folder, removed at the end
 * deno run -A examples/resample_pipeline.ts my-data   # keeps the files in ./my-data
 * ```
 *
 * @module
 */

import { type FileHandle, mkdtemp, open, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
// From JSR: import { ... } from "@pyne/data/format";
import {
  type CandleBatch,
  CsvEncoderStream,
  nextPeriodStart,
  OhlcvWriter,
  parseTimeframe,
  periodStart,
  type Timeframe,
} from "../format/mod.ts";
// From JSR: import { ... } from "@pyne/data/pipeline";
import {
  ClosedCandlesStream,
  DedupeStream,
  OrderStream,
  ValidateStream,
} from "../pipeline/mod.ts";
// From JSR: import { CCXTProvider } from "@pyne/data/providers/ccxt";
import { CCXTProvider } from "../providers/ccxt.ts";
// From JSR: import { startBinanceEmulator } from "@pyne/data/testing";
import { startBinanceEmulator } from "../testing/mod.ts";

/**
 * Aggregates candles of a fixed-length timeframe (`source`, e.g. 1 minute)
 * into candles of a longer one (`target`, e.g. 15 minutes): open = first,
 * high = max, low = min, close = last, volume = sum. Only complete periods
 * are emitted — those for which every `source` candle arrived — so a
 * period cut by the range's start or end, or by a hole in the data, is left
 * out. A period may begin in one input batch and end in the next.
 */
class ResampleStream extends TransformStream<CandleBatch, CandleBatch> {
  constructor(source: Timeframe, target: Timeframe) {
    if (
      source.calendar || target.ms <= source.ms ||
      (!target.calendar && target.ms % source.ms !== 0)
    ) {
      throw new RangeError(
        `Cannot resample ${source.period} to ${target.period}`,
      );
    }
    // The period being built (start NaN: none yet).
    let start = NaN, expected = 0, n = 0;
    let o = 0, h = 0, l = 0, c = 0, v = 0;
    // Finished candles of the current input batch.
    let out: number[][] = [];
    const finish = () => {
      if (n === expected) out.push([start, o, h, l, c, v]);
    };
    const emit = (
      controller: TransformStreamDefaultController<CandleBatch>,
    ) => {
      if (out.length === 0) return;
      const column = (k: number) => Float64Array.from(out, (row) => row[k]!);
      controller.enqueue({
        time: column(0),
        open: column(1),
        high: column(2),
        low: column(3),
        close: column(4),
        volume: column(5),
      });
      out = [];
    };
    super({
      transform(batch, controller) {
        for (let i = 0; i < batch.time.length; i++) {
          const t = batch.time[i]!;
          const p = periodStart(target, t);
          if (p !== start) {
            if (!Number.isNaN(start)) finish();
            start = p;
            // Candles a complete period holds (15 for 1m → 15m).
            expected = (nextPeriodStart(target, p) - p) / source.ms;
            n = 0;
            o = batch.open[i]!;
            h = batch.high[i]!;
            l = batch.low[i]!;
            v = 0;
          }
          h = Math.max(h, batch.high[i]!);
          l = Math.min(l, batch.low[i]!);
          c = batch.close[i]!;
          v += batch.volume[i]!;
          n++;
        }
        emit(controller);
      },
      flush(controller) {
        if (!Number.isNaN(start)) finish();
        emit(controller);
      },
    });
  }
}

/** A custom sink: a `WritableStream` of text chunks into a file (node:fs, so Bun runs it too). */
function csvFileSink(path: string): WritableStream<string> {
  let file: FileHandle | undefined;
  return new WritableStream<string>({
    async start() {
      file = await open(path, "w");
    },
    async write(chunk) {
      await file!.write(chunk);
    },
    async close() {
      await file!.close();
    },
    async abort() {
      await file?.close();
    },
  });
}

const NOW = Date.UTC(2024, 2, 1, 0, 0, 30); // 2024-03-01 00:00:30 UTC, frozen
const FROM = Date.UTC(2024, 1, 27, 0, 7); // 2024-02-27 00:07, not on the 15-minute grid
const TO = Date.UTC(2024, 1, 29); // 2024-02-29 00:00
const SYMBOL = "BINANCE:BTC/USDT";

const keep = process.argv[2];
const dir = keep ?? await mkdtemp(join(tmpdir(), "pyne-data-example-"));
await using emulator = await startBinanceEmulator({ now: () => NOW });
try {
  await using provider = new CCXTProvider({
    baseUrl: emulator.url,
    configDir: join(dir, "config"),
    env: {},
  });
  const m1 = parseTimeframe("1");
  const m15 = parseTimeframe("15");
  // The tick grid of the symbol, so both files store prices on it.
  const { minmove, pricescale } = await provider.symbolInfo(SYMBOL, m1);
  const grid = { minmove, pricescale };
  const path1 = join(dir, "BTCUSDT_1.ohlcv");
  const path15 = join(dir, "BTCUSDT_15.ohlcv");
  const pathCsv = join(dir, "BTCUSDT_15.csv");
  const writer1 = await OhlcvWriter.open(path1, { period: m1, ...grid });
  const writer15 = await OhlcvWriter.open(path15, { period: m15, ...grid });

  const clean = ReadableStream.from(
    provider.candles({ symbol: SYMBOL, timeframe: m1, from: FROM, to: TO }),
  )
    .pipeThrough(new OrderStream())
    .pipeThrough(new ClosedCandlesStream({ timeframe: m1, now: () => NOW }))
    .pipeThrough(new DedupeStream())
    .pipeThrough(new ValidateStream({ timeframe: m1, policy: "drop" }));
  const [raw, toResample] = clean.tee();
  const [resampled, toCsv] = toResample
    .pipeThrough(new ResampleStream(m1, m15))
    .tee();
  await Promise.all([
    raw.pipeTo(writer1.writable), // closing the stream closes the writer
    resampled.pipeTo(writer15.writable),
    toCsv
      .pipeThrough(new CsvEncoderStream({ timeFormat: "iso" }))
      .pipeTo(csvFileSink(pathCsv)),
  ]);

  const csvLines = (await readFile(pathCsv, "utf8")).trimEnd().split(/\r?\n/);
  console.log(
    `1-minute candles: ${writer1.count} (${
      new Date(writer1.firstTime!).toISOString()
    } .. ${new Date(writer1.lastTime!).toISOString()})`,
  );
  console.log(
    `15-minute candles: ${writer15.count} (${
      new Date(writer15.firstTime!).toISOString()
    } .. ${new Date(writer15.lastTime!).toISOString()})`,
  );
  console.log(`CSV rows: ${csvLines.length - 1}`);
  for (const line of csvLines.slice(0, 3)) console.log(`  ${line}`);
  console.log(
    `Files in ${dir}: BTCUSDT_1.ohlcv, BTCUSDT_15.ohlcv, BTCUSDT_15.csv`,
  );
} finally {
  if (keep === undefined) await rm(dir, { recursive: true, force: true });
}
