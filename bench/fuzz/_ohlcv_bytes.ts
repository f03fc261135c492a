/**
 * Byte-level helpers of the fuzz bench over `.ohlcv` files: the v2 magic
 * and little-endian reads and writes of header and record fields.
 *
 * @module
 */

/** The eight bytes a v2 `.ohlcv` file starts with. */
export const MAGIC = [0x89, 0x50, 0x59, 0x4e, 0x0d, 0x0a, 0x1a, 0x0a];

/** True when `b` starts with {@linkcode MAGIC} (a v2 file). */
export function hasMagic(b: Uint8Array): boolean {
  if (b.length < 8) return false;
  for (let i = 0; i < 8; i++) if (b[i] !== MAGIC[i]) return false;
  return true;
}

/** The unsigned little-endian integer of `width` bytes at `off` (0 past the end). */
export function readLE(b: Uint8Array, off: number, width: number): bigint {
  let v = 0n;
  for (let k = width - 1; k >= 0; k--) v = (v << 8n) | BigInt(b[off + k] ?? 0);
  return v;
}

/** Writes `v` as a little-endian integer of `width` bytes at `off` (clipped at the end). */
export function writeLE(
  b: Uint8Array,
  off: number,
  width: number,
  v: bigint,
): void {
  const u = BigInt.asUintN(width * 8, v);
  for (let k = 0; k < width && off + k < b.length; k++) {
    b[off + k] = Number((u >> BigInt(8 * k)) & 0xffn);
  }
}
