/**
 * Seeded randomness of the fuzz bench: the mulberry32 generator, its
 * helpers, the seed of one trial (a hash of the run seed, the target and the
 * trial number alone, so any trial can be rerun by itself), and the weighted
 * pick of a mutation operator.
 *
 * @module
 */

/** mulberry32: a small, fast, seeded 32-bit PRNG; returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Helpers over {@linkcode mulberry32}. */
export class Rng {
  readonly #next: () => number;
  /** Creates a generator from a 32-bit seed. */
  constructor(seed: number) {
    this.#next = mulberry32(seed);
  }
  /** A float in [0, 1). */
  next(): number {
    return this.#next();
  }
  /** A whole number in [0, n). */
  int(n: number): number {
    return Math.floor(this.#next() * n);
  }
  /** A whole number in [lo, hi]. */
  range(lo: number, hi: number): number {
    return lo + this.int(hi - lo + 1);
  }
  /** True with probability p. */
  chance(p: number): boolean {
    return this.#next() < p;
  }
  /** A random element. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  /** A random unsigned 64-bit integer. */
  u64(): bigint {
    return (BigInt(this.int(0x100000000)) << 32n) |
      BigInt(this.int(0x100000000));
  }
}

const TARGET_IDS = { ohlcv: 1, csv: 2, json: 3, toml: 4 } as const;

/** What is fuzzed. */
export type Target = keyof typeof TARGET_IDS;

/** All targets, in the order the bench runs them. */
export const TARGETS: readonly Target[] = ["ohlcv", "csv", "json", "toml"];

/** The seed of one trial: a hash of the run seed, the target and the trial. */
export function trialSeed(seed: number, target: Target, trial: number): number {
  let h = Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ TARGET_IDS[target];
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) ^ trial;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** How many mutations one trial stacks: 1 (60%), 2 (25%) or 3 (15%). */
export function opCount(r: Rng): number {
  const x = r.next();
  return x < 0.6 ? 1 : x < 0.85 ? 2 : 3;
}

/** A random entry of a `[weight, name, value]` table, by weight. */
export function weighted<T>(
  r: Rng,
  items: readonly [number, string, T][],
): [string, T] {
  let total = 0;
  for (const [w] of items) total += w;
  let x = r.next() * total;
  for (const [w, name, v] of items) {
    x -= w;
    if (x < 0) return [name, v];
  }
  const last = items[items.length - 1]!;
  return [last[1], last[2]];
}
