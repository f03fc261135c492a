/**
 * Private: opening validation of an `.ohlcv` file, shared by reader and writer.
 *
 * @module
 */

import type { FileHandle } from "node:fs/promises";
import { extname } from "node:path";
import { FormatError } from "./format_error.ts";
import {
  checkStoredTimes,
  FIXED_HEADER_SIZE,
  FLAG_DENSE,
  getI64,
  hasV2Magic,
  legacyV1Count,
  looksLikeText,
  MAGIC,
  parseV2Header,
  V1_RECORD_SIZE,
  type V2Header,
} from "./_header.ts";
import { readFully } from "./_file_io.ts";
import type { OhlcvInfo } from "./ohlcv_info.ts";

/** Result of validating an open file. */
export interface InspectedFile {
  info: OhlcvInfo;
  header: V2Header | null;
  size: number;
}

/**
 * Validates an open file (v2 header + stored first/last, or v1 shape) and
 * returns its info. Shared by the reader and the writer.
 */
export async function inspectOpenFile(
  fh: FileHandle,
  path: string,
): Promise<InspectedFile> {
  const size = (await fh.stat()).size;
  const head = new Uint8Array(Math.min(size, FIXED_HEADER_SIZE));
  await readFully(fh, head, 0, head.length, 0);
  if (hasV2Magic(head)) {
    let bytes = head;
    if (size >= FIXED_HEADER_SIZE) {
      const columnCount = new DataView(head.buffer).getUint16(20, true);
      const want = Math.min(size, FIXED_HEADER_SIZE + 24 * columnCount);
      bytes = new Uint8Array(want);
      await readFully(fh, bytes, 0, want, 0);
    }
    const header = parseV2Header(bytes, size, path);
    let first: number | undefined, last: number | undefined;
    if (header.count > 0) {
      const scratch = new Uint8Array(8);
      const dv = new DataView(scratch.buffer);
      await readFully(fh, scratch, 0, 8, header.headerSize + header.timeOffset);
      const f = getI64(dv, 0);
      await readFully(
        fh,
        scratch,
        0,
        8,
        header.headerSize + (header.count - 1) * header.recordSize +
          header.timeOffset,
      );
      const l = getI64(dv, 0);
      checkStoredTimes(header, f, l, path);
      first = f;
      last = l;
    }
    return {
      info: {
        format: "v2",
        period: header.period,
        count: header.count,
        first,
        last,
        dense: (header.flags & FLAG_DENSE) !== 0,
        minmove: header.minmove,
        pricescale: header.pricescale,
        recordSize: header.recordSize,
        headerSize: header.headerSize,
        versionMinor: header.versionMinor,
      },
      header,
      size,
    };
  }
  // Legacy v1 (or not an OHLCV file at all).
  if (size > 0 && size < 8 && head.every((b, i) => b === MAGIC[i])) {
    throw new FormatError(
      `Cannot open ${path}: the file is ${size} bytes, shorter than the ${FIXED_HEADER_SIZE}-byte v2 header it starts (truncated or corrupt)`,
      { path },
    );
  }
  if (looksLikeText(head)) {
    const ext = extname(path).toLowerCase();
    const fix = ext === ".csv" || ext === ".json"
      ? `convert it with "convert ${path} OUT.ohlcv"`
      : "if it holds CSV or JSON candles, rename it to .csv or .json and convert that to .ohlcv with the convert command";
    throw new FormatError(
      `Cannot open ${path}: this is a text file (CSV or JSON?), not binary OHLCV data; ${fix}`,
      { path },
    );
  }
  const count = legacyV1Count(head, size, path);
  let first: number | undefined, last: number | undefined;
  if (count > 0) {
    const scratch = new Uint8Array(4);
    const dv = new DataView(scratch.buffer);
    await readFully(fh, scratch, 0, 4, 0);
    first = dv.getUint32(0, true) * 1000;
    await readFully(fh, scratch, 0, 4, (count - 1) * V1_RECORD_SIZE);
    last = dv.getUint32(0, true) * 1000;
  }
  return {
    info: {
      format: "v1",
      period: null,
      count,
      first,
      last,
      dense: false,
      minmove: 0,
      pricescale: 0,
      recordSize: V1_RECORD_SIZE,
      headerSize: 0,
      versionMinor: null,
    },
    header: null,
    size,
  };
}
