/**
 * A streaming parser of Binance kline CSV (the public data archives):
 * `open_time, open, high, low, close, volume, close_time, quote_volume,
 * count, taker_buy_volume, taker_buy_quote_volume, ignore`, fed chunks of
 * bytes as they are inflated, into columns of candles. It reads the drift of
 * the format: with or without a header row, open times in milliseconds or
 * (spot files from 2025 on) microseconds, LF or CRLF line ends.
 *
 * Numbers are read from the bytes directly. A decimal of at most 15
 * significant digits is its digits divided by a power of ten, both exact
 * doubles, so the one rounding gives the double nearest the decimal: the
 * same value `Number(text)` (ccxt's parse of the REST answer) gives; longer
 * ones go through `Number` itself. Private to the providers.
 *
 * @module
 */

import { allocBatch, type CandleBatch } from "../format/candle_batch.ts";

/** A kline CSV line that cannot be read. */
export class KlineCsvError extends Error {
  /** 1-based line number. */
  readonly line: number;

  /** Creates the error. */
  constructor(message: string, line: number) {
    super(`line ${line}: ${message}`);
    this.name = "KlineCsvError";
    this.line = line;
  }
}

/** Open times from this value on are microseconds (1e14 ms is in 5138). */
const MICROSECONDS = 1e14;

const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);
const COMMA = 44;
const DOT = 46;
const MINUS = 45;
const CR = 13;
const LF = 10;
const decoder = new TextDecoder();

/** Options of {@linkcode KlineCsvParser}. */
export interface KlineCsvParserOptions {
  /**
   * Column of the volume: 5 (spot, USDⓈ-M: base volume) or 7 (COIN-M, where
   * column 5 counts contracts: ccxt takes 7, the base asset volume).
   * @default {5}
   */
  readonly volumeColumn?: 5 | 7 | undefined;
  /** Expected rows (first allocation). @default {1024} */
  readonly capacity?: number | undefined;
}

/** Parses kline CSV bytes pushed chunk by chunk into one batch. */
export class KlineCsvParser {
  #batch: CandleBatch;
  #n = 0;
  #line = 0;
  #carry: Uint8Array | undefined;
  readonly #volumeColumn: number;
  /** True when the file had a header row. */
  header = false;
  /** True when the open times were microseconds. */
  microseconds = false;

  /** Creates the parser. */
  constructor(options: KlineCsvParserOptions = {}) {
    this.#volumeColumn = options.volumeColumn ?? 5;
    this.#batch = allocBatch(Math.max(16, options.capacity ?? 1024));
  }

  /** Parses the complete lines of `chunk` (a partial last line waits). */
  push(chunk: Uint8Array): void {
    let buf = chunk;
    if (this.#carry !== undefined) {
      buf = new Uint8Array(this.#carry.length + chunk.length);
      buf.set(this.#carry);
      buf.set(chunk, this.#carry.length);
      this.#carry = undefined;
    }
    const start = this.#lines(buf);
    if (start < buf.length) this.#carry = buf.slice(start);
  }

  /** Parses a last line without a line end and gives the candles. */
  finish(): CandleBatch {
    if (this.#carry !== undefined) {
      // The last line without a line end gets one (digit loops stop there).
      const c = new Uint8Array(this.#carry.length + 1);
      c.set(this.#carry);
      c[c.length - 1] = LF;
      this.#carry = undefined;
      this.#lines(c);
    }
    const b = this.#batch;
    const n = this.#n;
    return {
      time: b.time.subarray(0, n),
      open: b.open.subarray(0, n),
      high: b.high.subarray(0, n),
      low: b.low.subarray(0, n),
      close: b.close.subarray(0, n),
      volume: b.volume.subarray(0, n),
    };
  }

  #grow(): void {
    const old = this.#batch;
    const next = allocBatch(old.time.length * 2);
    for (
      const k of ["time", "open", "high", "low", "close", "volume"] as const
    ) {
      next[k].set(old[k]);
    }
    this.#batch = next;
  }

  /**
   * Parses the lines of `buf` up to its last line end and gives the offset
   * parsed up to.
   */
  #lines(buf: Uint8Array): number {
    let { time, open, high, low, close, volume } = this.#batch;
    let n = this.#n;
    let line = this.#line;
    const seven = this.#volumeColumn === 7;
    // Every line up to the last LF ends in one: the digit loops stop there.
    const lastLF = buf.lastIndexOf(LF);
    let start = 0;
    try {
      while (start <= lastLF) {
        line++;
        const c0 = buf[start]!;
        if (c0 < 48 || c0 > 57) {
          // Not a row: an empty line, or the header row (first line only).
          const nl = buf.indexOf(LF, start);
          let end = nl;
          if (end > start && buf[end - 1] === CR) end--;
          if (end > start) {
            if (line !== 1) throw notARow(buf, start, end, line);
            this.header = true; // open_time,open,high,...
          }
          start = nl + 1;
          continue;
        }
        if (n === time.length) {
          this.#n = n;
          this.#grow();
          ({ time, open, high, low, close, volume } = this.#batch);
        }
        let t = readNumber(buf, start, line, "open_time", false);
        if (t >= MICROSECONDS) {
          t /= 1000;
          this.microseconds = true;
        }
        time[n] = t;
        open[n] = readNumber(buf, next, line, "open", false);
        high[n] = readNumber(buf, next, line, "high", false);
        low[n] = readNumber(buf, next, line, "low", false);
        close[n] = readNumber(buf, next, line, "close", false);
        if (seven) skipColumns(buf, line);
        volume[n] = readNumber(buf, next, line, "volume", true);
        n++;
        // The volume may have ended the line (a 6-column file).
        let q = next - 1;
        if (buf[q] !== LF) {
          q++;
          while (buf[q] !== LF) q++;
        }
        start = q + 1;
      }
    } finally {
      this.#n = n;
      this.#line = line;
    }
    return start;
  }
}

function notARow(
  buf: Uint8Array,
  start: number,
  end: number,
  line: number,
): KlineCsvError {
  return new KlineCsvError(
    `expected a kline row, got ${
      JSON.stringify(decoder.decode(buf.subarray(start, end)).slice(0, 60))
    }`,
    line,
  );
}

/** Steps {@linkcode next} over columns 6 and 7 (to COIN-M's volume). */
function skipColumns(buf: Uint8Array, line: number): void {
  for (let k = 5; k < 7; k++) {
    let p = next;
    let c = 0;
    while ((c = buf[p]!) !== COMMA && c !== LF) p++;
    if (c !== COMMA) throw new KlineCsvError(`missing column ${k + 1}`, line);
    next = p + 1;
  }
}

/** Where the field after the one {@linkcode readNumber} read last starts. */
let next = 0;

/**
 * The decimal at `p`, which must end in a comma (with `last`, also a line
 * end); sets {@linkcode next} past the comma. The line must end in LF
 * within `buf` (every digit loop stops there).
 */
function readNumber(
  buf: Uint8Array,
  p: number,
  line: number,
  what: string,
  last: boolean,
): number {
  const from = p;
  const negative = buf[p] === MINUS;
  if (negative) p++;
  let m = 0;
  let c = 0;
  const int0 = p;
  while (((c = buf[p]! - 48) >>> 0) <= 9) {
    m = m * 10 + c;
    p++;
  }
  let digits = p - int0;
  let fraction = 0;
  if (buf[p] === DOT) {
    const f0 = ++p;
    while (((c = buf[p]! - 48) >>> 0) <= 9) {
      m = m * 10 + c;
      p++;
    }
    fraction = p - f0;
    digits += fraction;
  }
  const stop = buf[p];
  // Below 1e15 the mantissa is exact (also once it grew past 2^53 it stays
  // above 1e15), and so is 10^fraction up to 22.
  if (
    digits > 0 && m < 1e15 && fraction <= 22 &&
    (stop === COMMA || (last && (stop === LF || stop === CR)))
  ) {
    next = p + 1;
    const v = fraction === 0 ? m : m / POW10[fraction]!;
    return negative ? -v : v;
  }
  return slowNumber(buf, from, line, what, last);
}

/** Exponents, long mantissas, anything odd: `Number()` decides. */
function slowNumber(
  buf: Uint8Array,
  from: number,
  line: number,
  what: string,
  last: boolean,
): number {
  let p = from;
  let stop = 0;
  while (
    p < buf.length && (stop = buf[p]!) !== COMMA && stop !== LF && stop !== CR
  ) p++;
  const text = decoder.decode(buf.subarray(from, p));
  if (stop !== COMMA && !last) {
    throw new KlineCsvError(`missing columns after ${what}`, line);
  }
  const value = text.trim() === "" ? NaN : Number(text);
  if (Number.isNaN(value)) {
    throw new KlineCsvError(
      `${what} is not a number: ${JSON.stringify(text.slice(0, 40))}`,
      line,
    );
  }
  next = p + 1;
  return value;
}
