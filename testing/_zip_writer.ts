/**
 * Writes a one-entry zip archive, as Binance's public data archives are:
 * the entry deflated by the built-in `CompressionStream("deflate-raw")`, in
 * a zip container with its CRC-32 — sizes in the local header, or (as
 * streaming zip writers do) in a data descriptor after the data. Private to
 * `testing/`.
 *
 * @module
 */

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** The CRC-32 (IEEE 802.3, zip's) of `data`. */
export function crc32(data: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) {
    c = CRC_TABLE[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  }
  return (c ^ 0xffffffff) >>> 0;
}

/** Options of {@linkcode zipOne}. */
export interface ZipOneOptions {
  /** Sizes and CRC in a data descriptor after the data (flag bit 3). @default {false} */
  readonly dataDescriptor?: boolean;
}

/** Deflates `data` with the built-in `CompressionStream`. */
export async function deflateRaw(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream("deflate-raw"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** A zip archive holding one deflated entry `name` with `data`. */
export async function zipOne(
  name: string,
  data: Uint8Array,
  options: ZipOneOptions = {},
): Promise<Uint8Array> {
  const nameBytes = new TextEncoder().encode(name);
  const packed = await deflateRaw(data);
  const crc = crc32(data);
  const descriptor = options.dataDescriptor === true;
  const time = 0; // 00:00:00
  const date = ((2024 - 1980) << 9) | (1 << 5) | 1; // 2024-01-01
  const local = new DataView(new ArrayBuffer(30));
  local.setUint32(0, 0x04034b50, true);
  local.setUint16(4, 20, true);
  local.setUint16(6, descriptor ? 8 : 0, true);
  local.setUint16(8, 8, true);
  local.setUint16(10, time, true);
  local.setUint16(12, date, true);
  local.setUint32(14, descriptor ? 0 : crc, true);
  local.setUint32(18, descriptor ? 0 : packed.length, true);
  local.setUint32(22, descriptor ? 0 : data.length, true);
  local.setUint16(26, nameBytes.length, true);
  local.setUint16(28, 0, true);
  const dd = new DataView(new ArrayBuffer(descriptor ? 16 : 0));
  if (descriptor) {
    dd.setUint32(0, 0x08074b50, true);
    dd.setUint32(4, crc, true);
    dd.setUint32(8, packed.length, true);
    dd.setUint32(12, data.length, true);
  }
  const central = new DataView(new ArrayBuffer(46));
  central.setUint32(0, 0x02014b50, true);
  central.setUint16(4, 20, true);
  central.setUint16(6, 20, true);
  central.setUint16(8, descriptor ? 8 : 0, true);
  central.setUint16(10, 8, true);
  central.setUint16(12, time, true);
  central.setUint16(14, date, true);
  central.setUint32(16, crc, true);
  central.setUint32(20, packed.length, true);
  central.setUint32(24, data.length, true);
  central.setUint16(28, nameBytes.length, true);
  central.setUint32(42, 0, true); // local header offset
  const cdOffset = 30 + nameBytes.length + packed.length + dd.byteLength;
  const cdSize = 46 + nameBytes.length;
  const end = new DataView(new ArrayBuffer(22));
  end.setUint32(0, 0x06054b50, true);
  end.setUint16(8, 1, true);
  end.setUint16(10, 1, true);
  end.setUint32(12, cdSize, true);
  end.setUint32(16, cdOffset, true);
  const parts = [
    new Uint8Array(local.buffer),
    nameBytes,
    packed,
    new Uint8Array(dd.buffer),
    new Uint8Array(central.buffer),
    nameBytes,
    new Uint8Array(end.buffer),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
