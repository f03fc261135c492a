/**
 * Private: the `.ohlcv` v2 header and column descriptors (encode, decode,
 * validation), shared by the writer and the reader.
 *
 * @module
 */

import { FormatError } from "./format_error.ts";
import { periodFromHeader } from "./timeframe.ts";

/** `\x89PYN\r\n\x1a\n`. */
export const MAGIC: Uint8Array = new Uint8Array([
  0x89,
  0x50,
  0x59,
  0x4e,
  0x0d,
  0x0a,
  0x1a,
  0x0a,
]);
/** Size of the fixed header. */
export const FIXED_HEADER_SIZE = 64;
/** Size of one column descriptor. */
export const DESCRIPTOR_SIZE = 24;
/** Header size of a standard six-column file. */
export const STANDARD_HEADER_SIZE = FIXED_HEADER_SIZE + 6 * DESCRIPTOR_SIZE;
/** The DENSE flag bit. */
export const FLAG_DENSE = 1;
/** Size of a legacy v1 record. */
export const V1_RECORD_SIZE = 24;

/** Column roles. */
export const ROLE_TIME = 0,
  ROLE_OPEN = 1,
  ROLE_HIGH = 2,
  ROLE_LOW = 3,
  ROLE_CLOSE = 4,
  ROLE_VOLUME = 5,
  ROLE_CUSTOM = 255;
/** Column dtypes. */
export const DTYPE_I64 = 2, DTYPE_F32 = 5, DTYPE_F64 = 6;
/** `base` of an absolute column. */
export const BASE_ABSOLUTE = 255;

const ROLE_NAMES = ["timestamp", "open", "high", "low", "close", "volume"];
const DTYPE_SIZE: Record<number, number> = { 2: 8, 5: 4, 6: 8 };

/** Length in ms of one `interval_unit` (months have none: never DENSE). */
export function unitMs(unit: number): number {
  switch (unit) {
    case 1:
      return 1_000;
    case 2:
      return 60_000;
    case 3:
      return 3_600_000;
    case 4:
      return 86_400_000;
    case 5:
      return 604_800_000;
    default:
      return 0;
  }
}

/** One column descriptor. */
export interface ColumnDescriptor {
  role: number;
  dtype: number;
  base: number;
  offset: number;
  name: string;
}

/** A decoded and validated v2 header. */
export interface V2Header {
  versionMajor: number;
  versionMinor: number;
  headerSize: number;
  recordSize: number;
  columnCount: number;
  flags: number;
  count: number;
  first: number;
  last: number;
  intervalValue: number;
  intervalUnit: number;
  minmove: number;
  pricescale: number;
  columns: ColumnDescriptor[];
  /** Period string for the interval. */
  period: string;
  /** Byte offset of the timestamp column inside a record. */
  timeOffset: number;
  /**
   * Promotion mask when the layout is one the writer produces (bit 0 high,
   * bit 1 low, bit 2 close stored as absolute float64), otherwise -1.
   */
  standardMask: number;
}

/** Bits of the promotion mask. */
export const PROMOTE_HIGH = 1, PROMOTE_LOW = 2, PROMOTE_CLOSE = 4;

/** Byte offsets of the standard layout for a promotion mask. */
export interface StandardLayout {
  mask: number;
  recordSize: number;
  open: number;
  high: number;
  low: number;
  close: number;
  volume: number;
}

const LAYOUTS: StandardLayout[] = [];
for (let mask = 0; mask < 8; mask++) {
  let off = 16;
  const high = off;
  off += mask & PROMOTE_HIGH ? 8 : 4;
  const low = off;
  off += mask & PROMOTE_LOW ? 8 : 4;
  const close = off;
  off += mask & PROMOTE_CLOSE ? 8 : 4;
  const volume = off;
  off += 8;
  LAYOUTS.push({ mask, recordSize: off, open: 8, high, low, close, volume });
}

/** The standard layout (role order, float32 deltas unless promoted) for a mask. */
export function standardLayout(mask: number): StandardLayout {
  return LAYOUTS[mask & 7]!;
}

/** Reads a little-endian signed 64-bit integer as a number (exact below 2^53). */
export function getI64(dv: DataView, offset: number): number {
  return dv.getInt32(offset + 4, true) * 4294967296 +
    dv.getUint32(offset, true);
}

/** Writes a safe integer as a little-endian signed 64-bit integer. */
export function setI64(dv: DataView, offset: number, value: number): void {
  const hi = Math.floor(value / 4294967296);
  dv.setUint32(offset, value - hi * 4294967296, true);
  dv.setInt32(offset + 4, hi, true);
}

/** The fields the writer puts into a header. */
export interface HeaderFields {
  mask: number;
  count: number;
  first: number;
  last: number;
  dense: boolean;
  intervalValue: number;
  intervalUnit: number;
  minmove: number;
  pricescale: number;
}

/** Encodes the 64-byte fixed header plus the six standard descriptors. */
export function encodeHeader(h: HeaderFields): Uint8Array {
  const layout = standardLayout(h.mask);
  const bytes = new Uint8Array(STANDARD_HEADER_SIZE);
  const dv = new DataView(bytes.buffer);
  bytes.set(MAGIC, 0);
  dv.setUint16(8, 2, true);
  dv.setUint16(10, 1, true);
  dv.setUint32(12, STANDARD_HEADER_SIZE, true);
  dv.setUint32(16, layout.recordSize, true);
  dv.setUint16(20, 6, true);
  dv.setUint16(22, h.dense ? FLAG_DENSE : 0, true);
  setI64(dv, 24, h.count);
  setI64(dv, 32, h.count > 0 ? h.first : 0);
  setI64(dv, 40, h.count > 0 ? h.last : 0);
  dv.setUint32(48, h.intervalValue, true);
  dv.setUint8(52, h.intervalUnit);
  dv.setUint32(56, h.minmove, true);
  dv.setUint32(60, h.pricescale, true);
  const offsets = [
    0,
    layout.open,
    layout.high,
    layout.low,
    layout.close,
    layout.volume,
  ];
  for (let role = 0; role < 6; role++) {
    const d = FIXED_HEADER_SIZE + role * DESCRIPTOR_SIZE;
    let dtype = DTYPE_F64, base = BASE_ABSOLUTE;
    if (role === ROLE_TIME) dtype = DTYPE_I64;
    else if (role >= ROLE_HIGH && role <= ROLE_CLOSE) {
      const promoted = (h.mask & (1 << (role - ROLE_HIGH))) !== 0;
      if (!promoted) {
        dtype = DTYPE_F32;
        base = ROLE_OPEN;
      }
    }
    dv.setUint8(d, role);
    dv.setUint8(d + 1, dtype);
    dv.setUint8(d + 2, base);
    dv.setUint16(d + 4, offsets[role]!, true);
    const name = ROLE_NAMES[role]!;
    for (let k = 0; k < name.length; k++) {
      bytes[d + 6 + k] = name.charCodeAt(k);
    }
  }
  return bytes;
}

/** True when the bytes start with the v2 magic. */
export function hasV2Magic(bytes: Uint8Array): boolean {
  if (bytes.length < 8) return false;
  for (let i = 0; i < 8; i++) if (bytes[i] !== MAGIC[i]) return false;
  return true;
}

/** True when the bytes look like text (CSV, JSON, ...), not binary records. */
export function looksLikeText(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, 256);
  if (n === 0) return false;
  for (let i = 0; i < n; i++) {
    const b = bytes[i]!;
    if (b === 9 || b === 10 || b === 13 || (b >= 0x20 && b < 0x7f)) continue;
    // Allow UTF-8 multi-byte sequences (a BOM or accented header names).
    if (b >= 0x80 && b !== 0x89) continue;
    return false;
  }
  return true;
}

/**
 * Why a file without the full v2 magic is a v2 file with a damaged header
 * rather than legacy v1 records, or `undefined` when nothing says so. Read as
 * v1, such a file would silently give garbage candles (PyneCore does that).
 * Each sign is a bit pattern no v1 file has in its first record (u32 seconds,
 * then float32 open, high, low, close, volume):
 * - bytes 0-1 are the magic's `89 50`: a u32 time in seconds with that low
 *   half is odd, never a whole minute;
 * - bytes 4-7 are the magic's `0D 0A 1A 0A`: as the float32 open, 7.4e-33;
 * - bytes 12-15 hold a v2 header_size, `64 + 24 * column_count` (bytes
 *   20-21): as the float32 low, a denormal below 1e-38.
 */
export function damagedV2Sign(head: Uint8Array): string | undefined {
  if (head.length >= 2 && head[0] === MAGIC[0] && head[1] === MAGIC[1]) {
    return "it starts with the first bytes of the v2 magic but not all eight";
  }
  if (head.length >= 8 && [4, 5, 6, 7].every((i) => head[i] === MAGIC[i])) {
    return "its bytes 4-7 are the end of the v2 magic";
  }
  if (head.length >= 24) {
    const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
    const columnCount = dv.getUint16(20, true);
    if (
      columnCount > 0 &&
      dv.getUint32(12, true) ===
        FIXED_HEADER_SIZE + DESCRIPTOR_SIZE * columnCount
    ) {
      return `its bytes 12-15 are the v2 header_size for the ${columnCount} columns at bytes 20-21`;
    }
  }
  return undefined;
}

/**
 * The number of whole legacy v1 records in a file without the v2 magic
 * (`head` is its first bytes, up to 64). Like PyneCore, a partial record at
 * the end (a truncated file, or bytes appended) is ignored. Refuses a v2 file
 * with a damaged header (see {@linkcode damagedV2Sign}) and a non-empty file
 * too short to hold even one record (a zero-byte file is empty). Text files
 * are the caller's check.
 */
export function legacyV1Count(
  head: Uint8Array,
  size: number,
  path: string,
): number {
  const damaged = damagedV2Sign(head);
  if (damaged !== undefined) {
    fail(
      path,
      `no v2 magic bytes, yet not a legacy v1 file: ${damaged}, so it is a v2 file with a damaged header (read as v1 records it would give garbage candles)`,
    );
  }
  if (size > 0 && size < V1_RECORD_SIZE) {
    fail(
      path,
      `no v2 magic bytes, and ${size} bytes is shorter than one 24-byte legacy v1 record`,
    );
  }
  return Math.floor(size / V1_RECORD_SIZE);
}

function fail(path: string, problem: string): never {
  throw new FormatError(`Cannot open ${path}: ${problem}`, { path });
}

/**
 * Decodes and validates a v2 header. `bytes` holds at least the fixed header
 * (and the descriptors when the file is that long); `fileSize` is the size of
 * the file. Checks everything but the stored first/last timestamps (see
 * {@linkcode checkStoredTimes}).
 */
export function parseV2Header(
  bytes: Uint8Array,
  fileSize: number,
  path: string,
): V2Header {
  if (!hasV2Magic(bytes)) fail(path, "missing the v2 magic bytes");
  if (fileSize < FIXED_HEADER_SIZE || bytes.length < FIXED_HEADER_SIZE) {
    fail(
      path,
      `the file is ${fileSize} bytes, shorter than the ${FIXED_HEADER_SIZE}-byte v2 header (truncated or corrupt)`,
    );
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const versionMajor = dv.getUint16(8, true);
  const versionMinor = dv.getUint16(10, true);
  if (versionMajor !== 2) {
    fail(
      path,
      `unsupported format version ${versionMajor}.${versionMinor} (this reader supports 2.0 and 2.1)`,
    );
  }
  if (versionMinor > 1) {
    fail(
      path,
      `unsupported minor version 2.${versionMinor} (this reader supports 2.0 and 2.1)`,
    );
  }
  const headerSize = dv.getUint32(12, true);
  const recordSize = dv.getUint32(16, true);
  const columnCount = dv.getUint16(20, true);
  const flags = dv.getUint16(22, true);
  const countBig = dv.getBigUint64(24, true);
  const first = getI64(dv, 32);
  const last = getI64(dv, 40);
  const intervalValue = dv.getUint32(48, true);
  const intervalUnit = dv.getUint8(52);
  const minmove = dv.getUint32(56, true);
  const pricescale = dv.getUint32(60, true);
  if (flags & ~FLAG_DENSE) {
    fail(
      path,
      `unknown flag bits 0x${
        (flags & ~FLAG_DENSE).toString(16)
      } in the header (only bit 0, DENSE, is defined)`,
    );
  }
  if (columnCount === 0) fail(path, "the header declares zero columns");
  if (headerSize !== FIXED_HEADER_SIZE + DESCRIPTOR_SIZE * columnCount) {
    fail(
      path,
      `header_size is ${headerSize} but ${columnCount} columns need ${
        FIXED_HEADER_SIZE + DESCRIPTOR_SIZE * columnCount
      }`,
    );
  }
  if (recordSize === 0) fail(path, "record_size is 0");
  if (intervalValue === 0) fail(path, "interval_value is 0");
  if (intervalUnit < 1 || intervalUnit > 6) {
    fail(path, `unknown interval_unit ${intervalUnit} (expected 1 to 6)`);
  }
  if ((minmove === 0) !== (pricescale === 0)) {
    fail(
      path,
      `incomplete tick grid: minmove ${minmove}, pricescale ${pricescale} (both must be set or both 0)`,
    );
  }
  if (fileSize < headerSize || bytes.length < headerSize) {
    fail(
      path,
      `the file is ${fileSize} bytes, shorter than its ${headerSize}-byte header`,
    );
  }
  // Descriptors.
  const columns: ColumnDescriptor[] = [];
  const roleCount = new Map<number, number>();
  for (let i = 0; i < columnCount; i++) {
    const d = FIXED_HEADER_SIZE + i * DESCRIPTOR_SIZE;
    const role = dv.getUint8(d);
    const dtype = dv.getUint8(d + 1);
    const base = dv.getUint8(d + 2);
    const offset = dv.getUint16(d + 4, true);
    let name = "";
    let ended = false;
    for (let k = 0; k < 18; k++) {
      const c = bytes[d + 6 + k]!;
      if (c === 0) {
        ended = true;
        continue;
      }
      if (ended) {
        fail(path, `column ${i} has bytes after the NUL ending its name`);
      }
      if (c < 0x20 || c > 0x7e) {
        fail(path, `column ${i} has a non-ASCII name byte 0x${c.toString(16)}`);
      }
      name += String.fromCharCode(c);
    }
    if (name === "") fail(path, `column ${i} has an empty name`);
    if (!(role <= 13 || role === ROLE_CUSTOM)) {
      fail(path, `column ${i} ("${name}") has unknown role ${role}`);
    }
    if (!(dtype in DTYPE_SIZE)) {
      fail(
        path,
        `column ${i} ("${name}") has unknown dtype ${dtype} (expected 2 int64, 5 float32 or 6 float64)`,
      );
    }
    columns.push({ role, dtype, base, offset, name });
    if (role !== ROLE_CUSTOM) {
      roleCount.set(role, (roleCount.get(role) ?? 0) + 1);
    }
  }
  for (const [role, n] of roleCount) {
    if (n > 1) fail(path, `role ${role} appears in ${n} columns`);
  }
  // Bases: name a role present once, no cycles.
  const byRole = new Map<number, ColumnDescriptor>();
  for (const c of columns) if (c.role !== ROLE_CUSTOM) byRole.set(c.role, c);
  for (const c of columns) {
    if (c.base === BASE_ABSOLUTE) continue;
    if (!byRole.has(c.base)) {
      fail(
        path,
        `column "${c.name}" is a delta of role ${c.base}, which no column has`,
      );
    }
    // Follow the chain; a cycle never reaches an absolute column.
    let cur: ColumnDescriptor | undefined = c;
    for (let steps = 0; cur && cur.base !== BASE_ABSOLUTE; steps++) {
      if (steps > columns.length) {
        fail(path, `column "${c.name}" has a cycle of delta bases`);
      }
      cur = byRole.get(cur.base);
    }
  }
  const times = columns.filter((c) => c.role === ROLE_TIME);
  if (
    times.length !== 1 || times[0]!.dtype !== DTYPE_I64 ||
    times[0]!.base !== BASE_ABSOLUTE
  ) {
    fail(path, "expected exactly one absolute int64 timestamp column");
  }
  // Offsets tile the record exactly.
  const sorted = [...columns].sort((a, b) => a.offset - b.offset);
  let pos = 0;
  for (const c of sorted) {
    if (c.offset !== pos) {
      fail(
        path,
        `column byte offsets do not tile the ${recordSize}-byte record: "${c.name}" starts at ${c.offset}, expected ${pos}`,
      );
    }
    pos += DTYPE_SIZE[c.dtype]!;
  }
  if (pos !== recordSize) {
    fail(
      path,
      `columns cover ${pos} bytes but record_size is ${recordSize}`,
    );
  }
  if (countBig > BigInt(Number.MAX_SAFE_INTEGER)) {
    fail(path, `record_count ${countBig} is impossibly large`);
  }
  const count = Number(countBig);
  const dataBytes = fileSize - headerSize;
  if (count * recordSize > dataBytes) {
    fail(
      path,
      `header declares ${count} records but the file holds ${
        Math.floor(dataBytes / recordSize)
      }`,
    );
  }
  if (count === 0 && (first !== 0 || last !== 0)) {
    fail(
      path,
      `the file has no records but first/last timestamps ${first}/${last} (must be 0)`,
    );
  }
  if (count < 2 && flags & FLAG_DENSE) {
    fail(
      path,
      `the DENSE flag is set on a file with ${count} record${
        count === 1 ? "" : "s"
      }`,
    );
  }
  if (count > 0 && last < first) {
    fail(path, `last_timestamp ${last} is before first_timestamp ${first}`);
  }
  // Standard layout?
  let standardMask = -1;
  if (columnCount === 6) {
    let mask = 0;
    let ok = true;
    for (let role = 0; role < 6 && ok; role++) {
      const c = columns[role]!;
      if (c.role !== role || c.name !== ROLE_NAMES[role]) ok = false;
      else if (role === ROLE_TIME) ok = c.dtype === DTYPE_I64;
      else if (role >= ROLE_HIGH && role <= ROLE_CLOSE) {
        if (c.dtype === DTYPE_F64 && c.base === BASE_ABSOLUTE) {
          mask |= 1 << (role - ROLE_HIGH);
        } else ok = c.dtype === DTYPE_F32 && c.base === ROLE_OPEN;
      } else ok = c.dtype === DTYPE_F64 && c.base === BASE_ABSOLUTE;
    }
    if (ok) {
      const l = standardLayout(mask);
      if (
        l.recordSize === recordSize && columns[1]!.offset === l.open &&
        columns[2]!.offset === l.high && columns[3]!.offset === l.low &&
        columns[4]!.offset === l.close && columns[5]!.offset === l.volume &&
        columns[0]!.offset === 0
      ) standardMask = mask;
    }
  }
  return {
    versionMajor,
    versionMinor,
    headerSize,
    recordSize,
    columnCount,
    flags,
    count,
    first,
    last,
    intervalValue,
    intervalUnit,
    minmove,
    pricescale,
    columns,
    period: periodFromHeader(intervalValue, intervalUnit),
    timeOffset: times[0]!.offset,
    standardMask,
  };
}

/** Checks that the header's first/last timestamps match the stored records. */
export function checkStoredTimes(
  header: V2Header,
  storedFirst: number,
  storedLast: number,
  path: string,
): void {
  if (header.count === 0) return;
  if (storedFirst !== header.first) {
    fail(
      path,
      `header first_timestamp ${header.first} differs from the first stored record's ${storedFirst}`,
    );
  }
  if (storedLast !== header.last) {
    fail(
      path,
      `header last_timestamp ${header.last} differs from the last stored record's ${storedLast}`,
    );
  }
}
