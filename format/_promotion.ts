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

/** 2^-48, the writer's off-grid tolerance factor. */
export const GRID_WRITE_TOLERANCE = 2 ** -48;
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
  const g = pyRound(value * s) * minmove / pricescale;
  return Math.abs(g - value) > Math.abs(value) * GRID_WRITE_TOLERANCE;
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
