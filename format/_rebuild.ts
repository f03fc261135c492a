/**
 * Private: the writer's rebuild on promotion. When a batch promotes columns
 * of a file that already holds records (see `encodePromoted` in
 * `_batch_encoding.ts`), the file is rewritten into a temporary file in the
 * wider layout and renamed into place.
 *
 * @module
 */

import { type FileHandle, open, rename, unlink } from "node:fs/promises";
import { FormatError } from "./format_error.ts";
import {
  encodeHeader,
  type HeaderFields,
  STANDARD_HEADER_SIZE,
  standardLayout,
} from "./_header.ts";
import { convertRecords } from "./_batch_encoding.ts";
import { fsyncDir, readFully, writeFully } from "./_file_io.ts";
import { ownedTag } from "./_stale_files.ts";

const REBUILD_CHUNK = 65536;

/** What {@linkcode rebuildFile} rewrites. */
export interface RebuildJob {
  /** The destination path, for messages. */
  path: string;
  /** The file written to (a temporary file in replace mode). */
  filePath: string;
  /** Its open handle (closed once the rebuilt file is in place). */
  fh: FileHandle;
  /** What the header on disk says. */
  disk: HeaderFields;
  /** The layouts the committed records go through. */
  chain: number[];
  /** The new batch's records, already in the final layout. */
  pending: Uint8Array;
  pendingLen: number;
  /** The header after the batch. */
  fields: HeaderFields;
  /** fsync the new file and its folder. */
  durable: boolean;
  /** The writer holds the lock (the temporary file is tagged `L`). */
  locked: boolean;
  /** Test hook: runs when the temporary file is complete, before the rename. */
  beforeRename?: (() => void | Promise<void>) | undefined;
}

/**
 * Rebuilds the file into a temporary file in the same folder with the new
 * layout (committed records re-read with grid snapping and re-packed through
 * each layout in `chain`), appends `pending`, syncs and renames it into
 * place, and returns a handle on the new file. A failure before the rename
 * leaves the original intact.
 */
export async function rebuildFile(job: RebuildJob): Promise<FileHandle> {
  const { disk, fields, chain } = job;
  const tmp = `${job.filePath}.${ownedTag(job.locked ? "L" : "P")}.rebuild.tmp`;
  const out = await open(tmp, "wx+");
  let renamed = false;
  try {
    const oldRs = standardLayout(disk.mask).recordSize;
    const newRs = standardLayout(fields.mask).recordSize;
    const inBuf = new Uint8Array(REBUILD_CHUNK * oldRs);
    let outPos = STANDARD_HEADER_SIZE;
    for (let i = 0; i < disk.count; i += REBUILD_CHUNK) {
      const n = Math.min(REBUILD_CHUNK, disk.count - i);
      const len = n * oldRs;
      const got = await readFully(
        job.fh,
        inBuf,
        0,
        len,
        STANDARD_HEADER_SIZE + i * oldRs,
      );
      if (got < len) {
        throw new FormatError(
          `Cannot rebuild ${job.path}: the file shrank while being rewritten`,
          { path: job.path },
        );
      }
      let bytes: Uint8Array = inBuf.subarray(0, len);
      let from = disk.mask;
      for (const to of chain) {
        bytes = convertRecords(
          bytes,
          n,
          from,
          to,
          fields.minmove,
          fields.pricescale,
        );
        from = to;
      }
      await writeFully(out, bytes, 0, n * newRs, outPos);
      outPos += n * newRs;
    }
    await writeFully(out, job.pending, 0, job.pendingLen, outPos);
    const header = encodeHeader(fields);
    await writeFully(out, header, 0, header.length, 0);
    if (job.durable) await out.sync();
    await out.close();
    await job.beforeRename?.();
    await rename(tmp, job.filePath);
    renamed = true;
    if (job.durable) await fsyncDir(job.filePath);
  } catch (err) {
    if (!renamed) {
      await out.close().catch(() => {});
      await unlink(tmp).catch(() => {});
    }
    throw err;
  }
  const fh = await open(job.filePath, "r+");
  await job.fh.close().catch(() => {});
  return fh;
}
