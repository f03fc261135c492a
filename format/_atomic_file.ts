/**
 * Private helpers for writing files atomically (temporary file in the same
 * folder, fsync, rename).
 *
 * @module
 */

import { type FileHandle, open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** A temporary path beside `path`, unique enough for concurrent writers. */
export function tempPathFor(path: string): string {
  return join(
    dirname(path),
    `.${basename(path)}.${Date.now().toString(36)}${
      Math.random().toString(36).slice(2, 10)
    }.tmp`,
  );
}

/**
 * Runs `write` on a fresh temporary file beside `path`, fsyncs it and renames
 * it over `path`. When `write` (or anything else) fails the temporary file is
 * removed and `path` is left untouched.
 */
export async function withAtomicFile<T>(
  path: string,
  write: (fh: FileHandle) => Promise<T>,
): Promise<T> {
  const tmp = tempPathFor(path);
  let ok = false;
  try {
    const fh = await open(tmp, "wx");
    let result: T;
    try {
      result = await write(fh);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    ok = true;
    return result;
  } finally {
    if (!ok) await unlink(tmp).catch(() => {});
  }
}

/** Writes `data` to `path` atomically (see {@linkcode withAtomicFile}). */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
): Promise<void> {
  await withAtomicFile(path, async (fh) => {
    await fh.writeFile(data);
  });
}
