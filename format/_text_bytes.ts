/**
 * Private: PyneCore-shaped CSV rows and JSON records written straight into
 * bytes (no intermediate strings for the common numbers), the engine of the
 * CSV and JSON exports.
 *
 * @module
 */

import type { CandleBatch } from "./candle_batch.ts";
import { pyFloatRepr, pyIntRepr } from "./_py_float.ts";

const POW10: readonly number[] = [
  1,
  1e1,
  1e2,
  1e3,
  1e4,
  1e5,
  1e6,
  1e7,
  1e8,
  1e9,
  1e10,
  1e11,
  1e12,
];
const FAST_LIMIT = 2 ** 50;
const COMMA = 0x2c, DOT = 0x2e, MINUS = 0x2d, ZERO = 0x30, CR = 0x0d, LF = 0x0a;

/** A growable byte buffer for ASCII text. */
class AsciiBuffer {
  buf: Uint8Array;
  n = 0;

  constructor(capacity: number) {
    this.buf = new Uint8Array(Math.max(64, capacity));
  }

  /** Makes room for `k` more bytes. */
  reserve(k: number): void {
    if (this.n + k <= this.buf.length) return;
    const next = new Uint8Array(Math.max(this.buf.length * 2, this.n + k));
    next.set(this.buf.subarray(0, this.n));
    this.buf = next;
  }

  /** Appends an ASCII string. */
  ascii(s: string): void {
    this.reserve(s.length);
    const b = this.buf;
    let p = this.n;
    for (let i = 0; i < s.length; i++) b[p++] = s.charCodeAt(i);
    this.n = p;
  }

  /** Appends the digits of `0 <= m < 2^31`, zero-padded to `width`. */
  digits(m: number, width: number): void {
    let len = 1;
    for (let t = m; t >= 10; t = (t / 10) | 0) len++;
    if (len < width) len = width;
    this.reserve(len);
    const b = this.buf;
    let p = this.n + len;
    this.n = p;
    for (let j = 0; j < len; j++) {
      const q = (m / 10) | 0;
      b[--p] = ZERO + m - q * 10;
      m = q;
    }
  }

  /** Appends the digits of a whole number `0 <= m < 2^53`. */
  uint(m: number): void {
    if (m < 2147483648) this.digits(m | 0, 0);
    else {
      const hi = Math.floor(m / 1e9);
      this.uint(hi);
      this.digits((m - hi * 1e9) | 0, 9);
    }
  }

  /**
   * Appends `x` as Python's `repr` prints it (`NaN` for NaN). A value with
   * few decimals (prices on a tick grid, most volumes) is printed from
   * integers: the smallest `k <= 12` with `round(a * 10^k) / 10^k === a`
   * gives the decimal `m / 10^k`, and while `a * 10^k < 2^50` the float
   * spacing at `a` is far below `10^-k`, so that decimal is the unique
   * shortest one reading back as `a` — the digits `String(x)` and Python
   * choose. Everything else goes through {@linkcode pyFloatRepr}.
   */
  pyFloat(x: number): void {
    if (x !== x) {
      this.ascii("NaN");
      return;
    }
    const a = x < 0 ? -x : x;
    if (a >= 1e-4 && a < 1e15) {
      for (let k = 0; k < POW10.length; k++) {
        const p = POW10[k]!;
        const y = a * p;
        if (y >= FAST_LIMIT) break;
        const m = Math.round(y);
        if (m / p === a) {
          this.reserve(2);
          if (x < 0) this.buf[this.n++] = MINUS;
          const ip = Math.floor(a);
          this.uint(ip);
          this.reserve(2);
          this.buf[this.n++] = DOT;
          if (k === 0) this.buf[this.n++] = ZERO;
          else this.uint9(m - ip * p, k);
          return;
        }
      }
    }
    this.ascii(pyFloatRepr(x));
  }

  /** `k` (<= 12) digits of `0 <= f < 10^k`, zero-padded. */
  uint9(f: number, k: number): void {
    if (k <= 9) this.digits(f, k);
    else {
      const hi = Math.floor(f / 1e9);
      this.digits(hi, k - 9);
      this.digits(f - hi * 1e9, 9);
    }
  }

  /** Python's `repr` of a finite number, `null` otherwise (JSON). */
  jsonFloat(x: number): void {
    if (x - x === 0) this.pyFloat(x); // finite
    else this.ascii("null");
  }

  /** A timestamp in ms as Python prints an int (a float when fractional). */
  pyInt(t: number): void {
    if (Number.isSafeInteger(t)) {
      if (t < 0) {
        this.reserve(1);
        this.buf[this.n++] = MINUS;
        t = -t;
      }
      this.uint(t);
    } else this.ascii(pyIntRepr(t));
  }

  /** The bytes written so far. */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.n);
  }
}

/**
 * CSV bytes for `batch`: `header` (already a CSV line, or `""`) then one
 * `time,open,high,low,close,volume\r\n` row per candle, numbers as Python's
 * `repr`, NaN as `NaN`, times as ms or (`iso`) ISO 8601.
 */
export function csvBytes(
  batch: CandleBatch,
  iso: boolean,
  header: string,
): Uint8Array {
  const { time, open, high, low, close, volume } = batch;
  const n = time.length;
  const out = new AsciiBuffer(header.length + n * 72);
  out.ascii(header);
  for (let i = 0; i < n; i++) {
    if (iso) out.ascii(new Date(time[i]!).toISOString());
    else out.pyInt(time[i]!);
    out.reserve(1);
    out.buf[out.n++] = COMMA;
    out.pyFloat(open[i]!);
    out.reserve(1);
    out.buf[out.n++] = COMMA;
    out.pyFloat(high[i]!);
    out.reserve(1);
    out.buf[out.n++] = COMMA;
    out.pyFloat(low[i]!);
    out.reserve(1);
    out.buf[out.n++] = COMMA;
    out.pyFloat(close[i]!);
    out.reserve(1);
    out.buf[out.n++] = COMMA;
    out.pyFloat(volume[i]!);
    out.reserve(2);
    out.buf[out.n++] = CR;
    out.buf[out.n++] = LF;
  }
  return out.bytes();
}

/**
 * JSON records for `batch` in PyneCore's `json.dump(indent=2)` layout, each
 * `  {...}`, joined by `,\n`, after `prefix` (`"[\n"` or `",\n"`): numbers
 * as Python's `repr`, NaN as `null`, times as ms or (`iso`) an ISO string.
 */
export function jsonBytes(
  batch: CandleBatch,
  iso: boolean,
  prefix: string,
): Uint8Array {
  const { time, open, high, low, close, volume } = batch;
  const n = time.length;
  const out = new AsciiBuffer(prefix.length + n * 180);
  out.ascii(prefix);
  for (let i = 0; i < n; i++) {
    const t = time[i]!;
    if (i > 0) out.ascii(",\n");
    if (iso) {
      out.ascii(
        `  {\n    "time": "${new Date(t).toISOString()}",\n    "open": `,
      );
    } else {
      out.ascii('  {\n    "timestamp": ');
      if (t - t === 0) out.pyInt(t);
      else out.ascii("null");
      out.ascii(',\n    "open": ');
    }
    out.jsonFloat(open[i]!);
    out.ascii(',\n    "high": ');
    out.jsonFloat(high[i]!);
    out.ascii(',\n    "low": ');
    out.jsonFloat(low[i]!);
    out.ascii(',\n    "close": ');
    out.jsonFloat(close[i]!);
    out.ascii(',\n    "volume": ');
    out.jsonFloat(volume[i]!);
    out.ascii("\n  }");
  }
  return out.bytes();
}
