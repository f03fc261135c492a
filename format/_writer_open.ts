/**
 * Private: how `OhlcvWriter.open` finds its file. A new file is
 * written under a temporary name and renamed into place; an empty file gets a
 * fresh header; an existing one must be a v2 file of the same period and
 * layout, and the bytes past its committed records (a crashed commit) are
 * truncated away; replace mode writes a fresh temporary file beside it.
 *
 * @module
 */

import { type FileHandle, open, rename, unlink } from "node:fs/promises";
import { FormatError } from "./format_error.ts";
import { parsePeriod, parseTimeframe, type Timeframe } from "./timeframe.ts";
import { encodeHeader, type HeaderFields } from "./_header.ts";
import { inspectOpenFile } from "./_inspect.ts";
import { fsyncDir, isNotFound, writeFully } from "./_file_io.ts";
import { ownedTag } from "./_stale_files.ts";
import { Sidecar, sidecarPath } from "./_sidecar.ts";
import type { OhlcvWriterOptions } from "./ohlcv_writer_options.ts";
import { checkGrid, type Grid } from "./_batch_validation.ts";

/** An opened file, ready for a writer. */
export interface OpenedFile {
  /** The file written to (a temporary file in replace mode). */
  filePath: string;
  fh: FileHandle;
  sidecar: Sidecar;
  /** The header on disk. */
  fields: HeaderFields;
  /**
   * The grid the options asked for, when it differs from the existing file's
   * (the writer then sets it).
   */
  newGrid: Grid | null;
}

/** The writer's options, checked, with their defaults. */
export interface OpenOptions {
  tf: Timeframe;
  grid: Grid | null;
  replace: boolean;
  durable: boolean;
  /** Hold the lock file. */
  locked: boolean;
}

/** Checks the arguments of `OhlcvWriter.open` and applies the defaults. */
export function resolveOpenOptions(
  path: string,
  options: OhlcvWriterOptions,
): OpenOptions {
  if (typeof path !== "string" || path === "") {
    throw new TypeError("OhlcvWriter.open needs a file path");
  }
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      "OhlcvWriter.open needs options with at least a period",
    );
  }
  const tf = typeof options.period === "string"
    ? parsePeriod(options.period)
    : parseTimeframe(options.period);
  const grid = checkGrid(options.minmove, options.pricescale);
  return {
    tf,
    grid,
    replace: options.replace ?? false,
    durable: options.durable ?? true,
    locked: options.lock ?? true,
  };
}

/**
 * Opens (or creates) the file at `path` for a writer of timeframe `tf`. With
 * `replace` a fresh temporary file is created beside it instead (its name
 * tagged `L` when the caller holds the lock, see `_stale_files.ts`). Throws
 * (leaving the file untouched) when an existing file cannot be appended to.
 */
export function openWriterFile(
  path: string,
  tf: Timeframe,
  grid: Grid | null,
  durable: boolean,
  replace: boolean,
  locked: boolean,
): Promise<OpenedFile> {
  return replace
    ? openReplace(path, tf, grid, durable, locked)
    : openAppend(path, tf, grid, durable, locked);
}

async function createFile(
  filePath: string,
  fields: HeaderFields,
  durable: boolean,
  exclusive: boolean,
): Promise<FileHandle> {
  const fh = await open(filePath, exclusive ? "wx+" : "w+");
  try {
    const header = encodeHeader(fields);
    await writeFully(fh, header, 0, header.length, 0);
    if (durable) await fh.sync();
    return fh;
  } catch (err) {
    // A full or failing disk: the file this call created goes again.
    await fh.close().catch(() => {});
    if (exclusive) await unlink(filePath).catch(() => {});
    throw err;
  }
}

async function openReplace(
  path: string,
  tf: Timeframe,
  grid: Grid | null,
  durable: boolean,
  locked: boolean,
): Promise<OpenedFile> {
  const fields = emptyFields(tf, grid);
  const filePath = `${path}.${ownedTag(locked ? "L" : "P")}.tmp`;
  const fh = await createFile(filePath, fields, durable, true);
  let sidecar: Sidecar;
  try {
    sidecar = await Sidecar.open(sidecarPath(filePath), 0, durable, true);
  } catch (err) {
    await fh.close().catch(() => {});
    await unlink(filePath).catch(() => {});
    throw err;
  }
  return { filePath, fh, sidecar, fields, newGrid: null };
}

async function openAppend(
  path: string,
  tf: Timeframe,
  grid: Grid | null,
  durable: boolean,
  locked: boolean,
): Promise<OpenedFile> {
  let fh: FileHandle;
  try {
    fh = await open(path, "r+");
  } catch (err) {
    if (!isNotFound(err)) throw err;
    // New file: write it under a temporary name and rename it into place.
    const fields = emptyFields(tf, grid);
    const tmp = `${path}.${ownedTag(locked ? "L" : "P")}.tmp`;
    const tfh = await createFile(tmp, fields, durable, true);
    await tfh.close();
    try {
      await rename(tmp, path);
    } catch (e) {
      await unlink(tmp).catch(() => {});
      throw e;
    }
    if (durable) await fsyncDir(path);
    const sidecar = await freshSidecar(path, durable);
    fh = await open(path, "r+");
    return { filePath: path, fh, sidecar, fields, newGrid: null };
  }
  try {
    const size = (await fh.stat()).size;
    if (size === 0) {
      // An empty file holds nothing to lose: give it a fresh header.
      const fields = emptyFields(tf, grid);
      await fh.close();
      fh = await createFile(path, fields, durable, false);
      const sidecar = await freshSidecar(path, durable);
      return { filePath: path, fh, sidecar, fields, newGrid: null };
    }
    const { info, header } = await inspectOpenFile(fh, path);
    if (header === null) {
      throw new FormatError(
        `Cannot append to ${path}: it is a legacy v1 file, which is read-only; open the writer with replace: true to rewrite it as v2`,
        { path },
      );
    }
    if (header.period !== tf.period) {
      throw new RangeError(
        `Cannot append to ${path}: the file holds period "${header.period}" but the writer was opened with "${tf.period}"; use the file's period or replace: true`,
      );
    }
    if (header.standardMask < 0) {
      throw new FormatError(
        `Cannot append to ${path}: its column layout is not one this writer produces; open the writer with replace: true to rewrite it`,
        { path },
      );
    }
    const fields: HeaderFields = {
      mask: header.standardMask,
      count: header.count,
      first: info.first ?? 0,
      last: info.last ?? 0,
      dense: info.dense,
      intervalValue: header.intervalValue,
      intervalUnit: header.intervalUnit,
      minmove: header.minmove,
      pricescale: header.pricescale,
    };
    const extent = header.headerSize + header.count * header.recordSize;
    if (size > extent) {
      // A crash between writing records and committing the header.
      await fh.truncate(extent);
      if (durable) await fh.sync();
    }
    const sidecar = await Sidecar.open(
      sidecarPath(path),
      header.count,
      durable,
      false,
    );
    const newGrid = grid &&
        (grid.minmove !== fields.minmove ||
          grid.pricescale !== fields.pricescale)
      ? grid
      : null;
    return { filePath: path, fh, sidecar, fields, newGrid };
  } catch (err) {
    await fh.close().catch(() => {});
    throw err;
  }
}

/** A new `.ohlcv` starts without a sidecar: an orphan one is deleted. */
async function freshSidecar(path: string, durable: boolean): Promise<Sidecar> {
  const side = sidecarPath(path);
  await unlink(side).catch(() => {});
  return Sidecar.open(side, 0, durable, true);
}

function emptyFields(tf: Timeframe, grid: Grid | null): HeaderFields {
  return {
    mask: 0,
    count: 0,
    first: 0,
    last: 0,
    dense: false,
    intervalValue: tf.value,
    intervalUnit: tf.headerUnit,
    minmove: grid?.minmove ?? 0,
    pricescale: grid?.pricescale ?? 0,
  };
}
