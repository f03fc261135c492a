/**
 * Tick grids: PyneCore describes the price tick as `mintick = minmove / pricescale`
 * with two positive integers. Providers report a decimal tick size (`0.01`,
 * `0.025`, `1e-8`); {@linkcode tickGridFromMintick} turns it into the pair.
 *
 * @example
 * ```ts
 * import { tickGridFromMintick } from "@pyne/data/format";
 *
 * console.log(tickGridFromMintick(0.025)); // { minmove: 25, pricescale: 1000 }
 * console.log(tickGridFromMintick(5)); // { minmove: 5, pricescale: 1 }
 * ```
 *
 * @module
 */

/** A tick grid: `mintick = minmove / pricescale`. */
export interface TickGrid {
  /** Grid numerator, a positive integer below 2^32. */
  minmove: number;
  /** Grid denominator, a positive integer below 2^32 (a power of ten from {@linkcode tickGridFromMintick}). */
  pricescale: number;
}

const MAX_U32 = 0xffffffff;
/** Largest power of ten that fits the `.ohlcv` header's u32 pricescale. */
const MAX_DECIMALS = 9;

/**
 * Converts a decimal tick size into `{ minmove, pricescale }` with a power-of-ten
 * pricescale, the way TradingView writes grids: `0.01` → 1/100, `0.5` → 5/10,
 * `0.025` → 25/1000, `5` → 5/1, `1e-8` → 1/100000000, `0.00001` → 1/100000.
 * Float noise such as `0.30000000000000004` is tolerated (→ 3/10).
 *
 * Throws a `RangeError` when the tick is not a positive finite number or needs
 * more than nine decimals (the pricescale would not fit the file header).
 */
export function tickGridFromMintick(mintick: number): TickGrid {
  if (typeof mintick !== "number") {
    throw new TypeError(`mintick must be a number, got ${typeof mintick}`);
  }
  if (!Number.isFinite(mintick) || mintick <= 0) {
    throw new RangeError(
      `mintick must be a positive finite number, got ${mintick}`,
    );
  }
  for (let k = 0; k <= MAX_DECIMALS; k++) {
    const pricescale = 10 ** k;
    const scaled = mintick * pricescale;
    const minmove = Math.round(scaled);
    if (minmove >= 1 && Math.abs(scaled - minmove) <= scaled * 1e-12) {
      if (minmove > MAX_U32) {
        throw new RangeError(
          `mintick ${mintick} is too large: minmove ${minmove} does not fit 32 bits`,
        );
      }
      return { minmove, pricescale };
    }
  }
  throw new RangeError(
    `mintick ${mintick} needs more than ${MAX_DECIMALS} decimals; the pricescale would not fit the .ohlcv header (at most ${MAX_U32})`,
  );
}

/**
 * Checks a tick grid pair: both positive integers below 2^32. Throws a
 * `RangeError` naming the bad value.
 */
export function assertTickGrid(minmove: number, pricescale: number): void {
  for (const [name, v] of [["minmove", minmove], ["pricescale", pricescale]]) {
    if (
      typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > MAX_U32
    ) {
      throw new RangeError(
        `${name} must be a whole number from 1 to ${MAX_U32}, got ${v}`,
      );
    }
  }
}

/** The tick size of a grid: `minmove / pricescale`. */
export function mintickOf(grid: TickGrid): number {
  return grid.minmove / grid.pricescale;
}
