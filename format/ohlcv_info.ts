/**
 * What an `.ohlcv` file holds, as the reader reports it
 * (`OhlcvReader.info`): format, period, record count, first and last time,
 * the DENSE flag, the tick grid and the record layout.
 *
 * @module
 */

/** What an `.ohlcv` file's header says (or, for v1, what its records say). */
export interface OhlcvInfo {
  /** `"v2"` for the current format, `"v1"` for the legacy headerless one. */
  format: "v2" | "v1";
  /** TradingView period (`"1"`, `"1D"`, ...); `null` for v1 files, which do not store one. */
  period: string | null;
  /** Number of committed records. */
  count: number;
  /** Time (ms) of the first record; `undefined` when empty. */
  first: number | undefined;
  /** Time (ms) of the last record; `undefined` when empty. */
  last: number | undefined;
  /** True when the DENSE flag is set (every record one period after the previous). */
  dense: boolean;
  /** Tick grid numerator; 0 = no grid. */
  minmove: number;
  /** Tick grid denominator; 0 = no grid. */
  pricescale: number;
  /** Bytes per record (36 standard, 40/44/48 promoted, 24 for v1). */
  recordSize: number;
  /** Bytes before record 0 (208 standard, 0 for v1). */
  headerSize: number;
  /** Minor format version (v2 only). */
  versionMinor: number | null;
}
