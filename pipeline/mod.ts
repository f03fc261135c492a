/**
 * The pipeline: WHATWG TransformStream stages that sit between a provider and
 * the `.ohlcv` writer, and {@linkcode download}, which wires a provider to a
 * file (resume point, truncate, lock, symbol info, progress, summary).
 *
 * @example
 * ```ts
 * import { ClosedCandlesStream, DedupeStream, OrderStream, ValidateStream } from "@pyne/data/pipeline";
 * import { OhlcvWriter, parseTimeframe } from "@pyne/data/format";
 * import { MemoryProvider } from "@pyne/data/testing";
 *
 * const timeframe = parseTimeframe("60");
 * await using provider = new MemoryProvider();
 * const to = Date.UTC(2024, 0, 2);
 * const batches = provider.candles({ symbol: "BTCUSDT", timeframe, from: Date.UTC(2024, 0, 1), to });
 * const writer = await OhlcvWriter.open(`${await Deno.makeTempDir()}/x.ohlcv`, { period: timeframe });
 * await ReadableStream.from(batches)
 *   .pipeThrough(new OrderStream())
 *   .pipeThrough(new ClosedCandlesStream({ timeframe }))
 *   .pipeThrough(new DedupeStream())
 *   .pipeThrough(new ValidateStream({ timeframe }))
 *   .pipeTo(writer.writable);
 * ```
 *
 * @module
 */

export * from "./closed_candles_stream.ts";
export * from "./order_stream.ts";
export * from "./dedupe_stream.ts";
export * from "./validate_stream.ts";
export * from "./gap_stream.ts";
export * from "./progress_stream.ts";
export * from "./date_input.ts";
export * from "./download.ts";
export * from "./coverage_report.ts";
export * from "./repair.ts";
export * from "./dry_run.ts";
