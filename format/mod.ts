/**
 * The format layer: PyneCore's `.ohlcv` files (writer and reader), symbol-info
 * TOML, CSV/JSON import and export, timeframes and provider strings. It knows
 * the bytes and nothing about providers or the network.
 *
 * @example
 * ```ts
 * import { OhlcvReader, OhlcvWriter, batchFromRows } from "@pyne/data/format";
 *
 * const dir = await Deno.makeTempDir();
 * const path = `${dir}/demo.ohlcv`;
 * const writer = await OhlcvWriter.open(path, { period: "1D", minmove: 1, pricescale: 100 });
 * await writer.append(batchFromRows([
 *   [1704067200000, 100, 101.5, 99.25, 101, 12.5],
 *   [1704153600000, 101, 102, 100.5, 101.75, 8],
 * ]));
 * await writer.close();
 *
 * await using reader = await OhlcvReader.open(path);
 * console.log(reader.info.count, reader.info.dense); // 2 true
 * ```
 *
 * @module
 */

export * from "./candle_batch.ts";
export * from "./format_error.ts";
export * from "./timeframe.ts";
export * from "./symbol_info.ts";
export * from "./symbol_info_toml.ts";
export * from "./tick_grid.ts";
export * from "./sessions.ts";
export * from "./provider_string.ts";
export * from "./ohlcv_writer.ts";
export * from "./ohlcv_reader.ts";
export * from "./csv.ts";
export {
  candlesToJson,
  JsonEncoderStream,
  type JsonExportOptions,
  type JsonImportOptions,
  parseJsonCandles,
  readJsonFile,
  writeJsonFile,
} from "./json.ts";
export * from "./convert.ts";
export * from "./coverage.ts";
