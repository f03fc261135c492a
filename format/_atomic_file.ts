/**
 * Private helpers for writing files atomically (temporary file in the same
 * folder, fsync, rename).
 *
 * @module
 */

import { type FileHandle, open, rename, stat, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { ownedTag, type TempKind } from "./_stale_files.ts";
import { createGuardedTemp } from "./_os_lock.ts";

/**
 * A temporary path beside `path`, unique enough for concurrent writers:
 * `.NAME.<pid>-<kind>-<hex>.tmp`, the tag telling a later writer whether its
 * maker is gone (see `_stale_files.ts`).
 */
export function tempPathFor(path: string, kind: TempKind): string {
  return join(dirname(path), `.${basename(path)}.${ownedTag(kind)}.tmp`);
}

/**
 * The error for a file that could not be created at `path` (`what` names the
 * file made: "a temporary file", "the lock file"): a missing folder is said
 * so; anything else keeps the system's reason. `code` and `cause` are kept.
 */
export async function cannotCreate(
  path: string,
  what: string,
  err: unknown,
): Promise<Error> {
  const code = (err as { code?: unknown } | null)?.code;
  const dir = dirname(path);
  let problem = `cannot create ${what} in ${dir}: ${
    err instanceof Error ? err.message : String(err)
  }`;
  if (code === "ENOENT" || (err as { name?: unknown })?.name === "NotFound") {
    const missing = await stat(dir).then(() => false, () => true);
    if (missing) problem = `the folder ${dir} does not exist; create it first`;
  }
  return Object.assign(
    new Error(`Cannot write ${path}: ${problem}`, { cause: err }),
    { code, path },
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
  let tmp: string | undefined;
  let guard: (() => void) | undefined;
  let ok = false;
  try {
    let fh: FileHandle;
    try {
      const made = await createGuardedTemp((kind) => tempPathFor(path, kind));
      tmp = made.path;
      guard = made.release;
      fh = await open(tmp, "r+");
    } catch (err) {
      throw await cannotCreate(path, "a temporary file", err);
    }
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
    if (!ok && tmp !== undefined) await unlink(tmp).catch(() => {});
    guard?.();
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
