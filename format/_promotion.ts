/**
 * Private: exact float32 and tick-grid arithmetic of the `.ohlcv` format —
 * float32 resolution, Python-compatible rounding, the writer's promotion test
 * and the reader's grid snapping. Every formula is evaluated in the order the
 * spec writes it, so boundary cases agree with PyneCore bit for bit.
 *
 * @module
 */

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** Spacing of float32 values per biased exponent: 2^(e-150), 2^-149 for e = 0. */
const ULP_BY_EXPONENT = new Float64Array(256);
for (let e = 0; e < 256; e++) {
  ULP_BY_EXPONENT[e] = e === 0 ? 2 ** -149 : 2 ** (e - 150);
}
ULP_BY_EXPONENT[255] = Infinity;

/** Below this magnitude `x + ROUND_MAGIC - ROUND_MAGIC` is Python's round(x). */
export const TWO51 = 2 ** 51;
/** 1.5 * 2^52: adding and subtracting it rounds to an integer, ties to even. */
export const ROUND_MAGIC = 1.5 * 2 ** 52;

/**
 * |d| below this rounds to a finite float32 (at it, the tie goes to the even
 * 2^128, i.e. Infinity).
 */
export const F32_OVERFLOW = 2 ** 128 - 2 ** 103;

/**
 * Bounds for deciding the writer's off-grid test without the division. With
 * x = v * s, r = round(x), rho = |r - x| and u = 2^-53, the computed
 * g = r * minmove / pricescale satisfies
 * |g - v| <= |v| * (4.0001u + (rho / |x|)(1 + 4u)) and
 * |g - v| >= |v| * ((rho / |x|)(1 - 4u) - 4.0001u). So rho <= |x| * 2^-50 gives
 * |g - v| < |v| * 2^-48 (on the grid) and rho >= |x| * 2^-46 gives
 * |g - v| > |v| * 2^-48 (off the grid); in between the exact formula decides.
 */
export const EPS50 = 2 ** -50;
/** See {@linkcode EPS50}. */
const EPS46 = 2 ** -46;

/** 2^-48, the writer's off-grid tolerance factor. */
const GRID_WRITE_TOLERANCE = 2 ** -48;
/** 2^-52. */
export const EPS52 = 2 ** -52;
/** 2^-23. */
export const EPS23 = 2 ** -23;

/**
 * The float32 resolution at `x`: the larger distance from `f = fround(x)` to
 * its two float32 neighbours; 2^-149 at 0; Infinity when `f` is infinite or a
 * neighbour is (±FLT_MAX).
 */
export function float32Resolution(x: number): number {
  scratchF32[0] = x;
  const bits = scratchU32[0]! & 0x7fffffff;
  // The larger gap of a normal float is always the one away from zero (at a
  // power of two the gap towards zero is half as big).
  if (bits >= 0x7f7fffff) return Infinity; // ±FLT_MAX, ±Infinity, NaN
  return ULP_BY_EXPONENT[bits >>> 23]!;
}

/**
 * Python's `round(x)` for a float: ties to even, and an integer result (never
 * -0). `Math.round` rounds ties up.
 */
export function pyRound(x: number): number {
  let r = Math.round(x);
  if (r - x === 0.5 && r % 2 !== 0) r -= 1;
  return r + 0;
}

/**
 * The writer's promotion test for one float32 delta column when a tick grid
 * is set: true when `value` is a number and open is NaN, the float32
 * resolution at `value - open` is at least `half` (half a tick), or `value`
 * is off the grid. `s = pricescale / minmove`.
 */
export function failsDelta(
  value: number,
  open: number,
  half: number,
  s: number,
  minmove: number,
  pricescale: number,
): boolean {
  if (value !== value) return false;
  if (open !== open) return true;
  if (float32Resolution(value - open) >= half) return true;
  return offGrid(value, s, minmove, pricescale);
}

/**
 * The float64 bound for the resolution test: `float32Resolution(d) >= half`
 * exactly when `|d| >= resolutionLimit(half)`. Resolution grows with the
 * magnitude of `fround(d)`; the bound is the rounding midpoint below the
 * smallest float32 whose resolution reaches `half` (a tie there rounds up to
 * that power of two, whose mantissa is even).
 */
export function resolutionLimit(half: number): number {
  let e = 0;
  while (e < 255 && !(ULP_BY_EXPONENT[e]! >= half)) e++;
  if (e <= 1) return 0; // every float32 (subnormals included) fails
  if (e >= 255) {
    // Only ±FLT_MAX (and overflow) fail: above the midpoint FLT_MAX - 2^103,
    // where a tie rounds down to the even FLT_MAX - 2^104.
    return 2 ** 128 - 2 ** 104 - 2 ** 103 + 2 ** 75;
  }
  return 2 ** (e - 127) - 2 ** (e - 152);
}

/** The exact off-grid formula of the spec, in its order of operations. */
function offGrid(
  v: number,
  s: number,
  minmove: number,
  pricescale: number,
): boolean {
  const g = pyRound(v * s) * minmove / pricescale;
  return Math.abs(g - v) > Math.abs(v) * GRID_WRITE_TOLERANCE;
}

/**
 * Index of the first candle in `[start, end)` whose delta column `values`
 * fails the promotion test (the same decision as {@linkcode failsDelta}), or
 * `end`. `limit` comes from {@linkcode resolutionLimit}.
 */
export function firstFailing(
  values: Float64Array,
  open: Float64Array,
  start: number,
  end: number,
  limit: number,
  s: number,
  minmove: number,
  pricescale: number,
): number {
  for (let i = start; i < end; i++) {
    const v = values[i]!;
    const d = v - open[i]!;
    if (!(Math.abs(d) < limit)) {
      if (v !== v) continue; // a NaN value never fails
      return i; // NaN open, or resolution >= half a tick
    }
    const x = v * s;
    const ax = Math.abs(x);
    if (!(ax < TWO51)) {
      if (offGrid(v, s, minmove, pricescale)) return i;
      continue;
    }
    // Division-free decision when it is certain (see EPS50/EPS46), the exact
    // formula otherwise. x + M - M rounds to an integer, ties to even.
    const rho = Math.abs(x + ROUND_MAGIC - ROUND_MAGIC - x);
    if (rho <= ax * EPS50) continue;
    if (rho >= ax * EPS46 || offGrid(v, s, minmove, pricescale)) return i;
  }
  return end;
}

/**
 * Snaps decoded delta-column values in place: `values[i] = open_raw + delta`
 * with `deltas[i]` the stored float32 delta.
 */
export function snapDeltaColumn(
  values: Float64Array,
  deltas: Float64Array,
  start: number,
  end: number,
  s: number,
  minmove: number,
  pricescale: number,
): void {
  // NaN values fall through every comparison and stay NaN.
  for (let i = start; i < end; i++) {
    const v = values[i]!;
    const x = v * s;
    // Python's round(): ties to even. Adding and subtracting 1.5 * 2^52
    // rounds to an integer with ties to even, branch-free, for |x| < 2^51.
    const r = Math.abs(x) < TWO51 ? x + ROUND_MAGIC - ROUND_MAGIC : pyRound(x);
    const g = r * minmove / pricescale;
    if (
      Math.abs(g - v) <=
        Math.abs(deltas[i - start]!) * EPS23 + Math.abs(v) * EPS52
    ) values[i] = g;
  }
}

/** Snaps open prices in place. */
export function snapOpenColumn(
  values: Float64Array,
  start: number,
  end: number,
  s: number,
  minmove: number,
  pricescale: number,
): void {
  for (let i = start; i < end; i++) {
    const v = values[i]!;
    const x = v * s;
    // Python's round(): ties to even. Adding and subtracting 1.5 * 2^52
    // rounds to an integer with ties to even, branch-free, for |x| < 2^51.
    const r = Math.abs(x) < TWO51 ? x + ROUND_MAGIC - ROUND_MAGIC : pyRound(x);
    const g = r * minmove / pricescale;
    if (Math.abs(g - v) <= Math.abs(v) * EPS52) values[i] = g;
  }
}

/** Reader snapping of an open price (not NaN) to the grid. */
export function snapOpen(
  open: number,
  s: number,
  minmove: number,
  pricescale: number,
): number {
  const g = pyRound(open * s) * minmove / pricescale;
  return Math.abs(g - open) <= Math.abs(open) * EPS52 ? g : open;
}

/** Reader snapping of a decoded delta column `v = open_raw + delta` (neither NaN). */
export function snapDelta(
  v: number,
  delta: number,
  s: number,
  minmove: number,
  pricescale: number,
): number {
  const g = pyRound(v * s) * minmove / pricescale;
  return Math.abs(g - v) <= Math.abs(delta) * EPS23 + Math.abs(v) * EPS52
    ? g
    : v;
}
