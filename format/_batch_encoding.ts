/**
 * Private: turns a batch into the records it appends. The hot path (36-byte
 * records, clean candles) validates and encodes in one pass; otherwise the
 * batch is validated first (see `_batch_validation.ts`), then encoded in the
 * current layout or, where float32 deltas fail on the tick grid, through each
 * promoted layout in turn.
 *
 * @module
 */

import { allocBatch, type CandleBatch } from "./candle_batch.ts";
import { standardLayout } from "./_header.ts";
import { decodeStandard, encodeStandard, validateEncode36 } from "./_codec.ts";
import { resolutionLimit } from "./_promotion.ts";
import {
  type BatchBase,
  denseAfter,
  validateBatch,
} from "./_batch_validation.ts";

/** A validated batch, encoded. */
export interface EncodedBatch {
  /** The records, in `pending[0, pendingLen)`. */
  pending: Uint8Array;
  pendingLen: number;
  /** Layouts the committed records go through (a rebuild) — empty for an append. */
  chain: number[];
  /** The layout after the batch. */
  mask: number;
  /** The DENSE flag after the batch. */
  dense: boolean;
  /** The pooled buffer `pending` is in, to give back after the commit. */
  buffer: Uint8Array | undefined;
}

/**
 * Validates `batch[0, n)` (`n > 0`) against `base`, the state before it, and
 * encodes it. Throws a `RangeError` naming the first bad candle. Buffers are
 * taken from `pool` (and given back to it when the batch is refused or needs
 * a layout of its own).
 */
export function encodeBatch(
  batch: CandleBatch,
  n: number,
  base: BatchBase,
  pool: Uint8Array[],
): EncodedBatch {
  const grid = base.minmove > 0;
  // Hot path: 36-byte records, clean candles: validate + encode in one pass.
  let buffer: Uint8Array | undefined;
  if (base.mask === 0) {
    buffer = takeBuffer(pool, n * 36);
    const k = validateEncode36(batch, n, {
      prev: base.count > 0 ? base.last : -Infinity,
      limit: grid ? resolutionLimit(base.minmove / base.pricescale / 2) : 0,
      minmove: base.minmove,
      pricescale: base.pricescale,
    }, new DataView(buffer.buffer));
    if (k === n) {
      return {
        pending: buffer,
        pendingLen: n * 36,
        chain: [],
        mask: 0,
        dense: denseAfter(batch.time, n, base),
        buffer,
      };
    }
  }
  let plan;
  try {
    plan = validateBatch(batch, n, base);
  } catch (err) {
    if (buffer) pool.push(buffer);
    throw err;
  }
  const { dense } = plan;
  if (plan.events.length === 0) {
    const mask = base.mask;
    const size = n * standardLayout(mask).recordSize;
    if (buffer === undefined || buffer.length < size) {
      buffer = takeBuffer(pool, size);
    }
    encodeStandard(batch, 0, n, mask, new DataView(buffer.buffer), 0);
    return {
      pending: buffer,
      pendingLen: size,
      chain: [],
      mask,
      dense,
      buffer,
    };
  }
  // A promotion on a later bar converts the records before it.
  if (buffer) pool.push(buffer);
  const { pending, chain, mask } = encodePromoted(
    batch,
    n,
    plan.events,
    base.mask,
    base.count,
    base,
  );
  return {
    pending,
    pendingLen: pending.length,
    chain,
    mask,
    dense,
    buffer: undefined,
  };
}

function takeBuffer(pool: Uint8Array[], size: number): Uint8Array {
  const buf = pool.pop();
  return buf !== undefined && buf.length >= size ? buf : new Uint8Array(size);
}

/** A batch encoded through its promotions. */
export interface PromotedRecords {
  /** The batch's records, in the final layout. */
  pending: Uint8Array;
  /** The layouts the committed records go through (empty when there are none). */
  chain: number[];
  /** The final layout. */
  mask: number;
}

/**
 * Encodes `batch[0, n)` starting in layout `mask`, promoting at each
 * `[index, newMask]` pair of `events`: the records before a promotion (this
 * batch's) are re-read with grid snapping and re-packed, exactly as if the
 * candles had been appended one at a time. `count` is the number of
 * committed records before the batch: when it is not 0, each promotion adds
 * a layout to `chain`, which the file's rebuild takes them through.
 */
export function encodePromoted(
  batch: CandleBatch,
  n: number,
  events: number[],
  mask: number,
  count: number,
  grid: { minmove: number; pricescale: number },
): PromotedRecords {
  const chain: number[] = [];
  let pending: Uint8Array = new Uint8Array(0);
  let done = 0;
  for (let e = 0; e <= events.length; e += 2) {
    const k = e < events.length ? events[e]! : n;
    if (k > done) {
      pending = appendEncoded(pending, batch, done, k, mask);
      done = k;
    }
    if (e === events.length) break;
    const newMask = events[e + 1]!;
    if (count + k > 0) {
      pending = convertRecords(
        pending,
        k,
        mask,
        newMask,
        grid.minmove,
        grid.pricescale,
      );
      if (count > 0) chain.push(newMask);
    }
    mask = newMask;
  }
  return { pending, chain, mask };
}

function appendEncoded(
  prev: Uint8Array,
  batch: CandleBatch,
  start: number,
  end: number,
  mask: number,
): Uint8Array {
  const rs = standardLayout(mask).recordSize;
  const out = new Uint8Array(prev.length + (end - start) * rs);
  out.set(prev, 0);
  encodeStandard(
    batch,
    start,
    end,
    mask,
    new DataView(out.buffer),
    prev.length,
  );
  return out;
}

/** Re-reads `n` records with grid snapping and re-packs them in another layout. */
export function convertRecords(
  bytes: Uint8Array,
  n: number,
  fromMask: number,
  toMask: number,
  minmove: number,
  pricescale: number,
): Uint8Array {
  const tmp = allocBatch(n);
  decodeStandard(
    new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    0,
    n,
    fromMask,
    minmove,
    pricescale,
    tmp,
    0,
  );
  const out = new Uint8Array(n * standardLayout(toMask).recordSize);
  encodeStandard(tmp, 0, n, toMask, new DataView(out.buffer), 0);
  return out;
}
