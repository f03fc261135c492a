/**
 * Private: the writer's lock file `<path>.lock` (the holder's pid inside, and
 * an OS lock where the runtime has one: `_os_lock.ts`). A lock left behind
 * by a dead process is taken over (deleted and made anew);
 * whoever takes the lock then removes the temporary files that dead writers
 * of `path` left behind (see `_stale_files.ts`).
 *
 * @module
 */

import { open, readFile, stat, unlink } from "node:fs/promises";
import process from "node:process";
import { cannotCreate } from "./_atomic_file.ts";
import { pidAlive, removeStaleFiles, TAKEOVER_AGE_MS } from "./_stale_files.ts";
import {
  createLockFile,
  type HeldLockFile,
  inodeOf,
  probeLockFile,
} from "./_os_lock.ts";

/** How long `acquireLock` keeps trying while others take a stale lock over. */
const CONTENDED_MS = TAKEOVER_AGE_MS + 2_000;

/** Raised when another writer holds the lock of an `.ohlcv` file. */
export class OhlcvLockedError extends Error {
  /** Path of the lock file. */
  readonly lockPath: string;
  /** Pid recorded in the lock file, when readable. */
  readonly pid: number | undefined;

  /** Creates the error. */
  constructor(message: string, lockPath: string, pid: number | undefined) {
    super(message);
    this.name = "OhlcvLockedError";
    this.lockPath = lockPath;
    this.pid = pid;
  }
}

/** A held lock. */
export interface FileLock {
  /** Path of the lock file. */
  readonly lockPath: string;
  /**
   * What taking the lock cleared away: the stale lock of a dead process and
   * the temporary files writers that are gone left beside the file.
   */
  readonly removed: readonly string[];
  /** Deletes the lock file. */
  release(): Promise<void>;
}

function errCode(err: unknown): string | undefined {
  if (typeof err !== "object" || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string") return code;
  const name = (err as { name?: unknown }).name;
  return name === "AlreadyExists"
    ? "EEXIST"
    : name === "NotFound"
    ? "ENOENT"
    : undefined;
}

/**
 * `<pid>\n`, or `<pid>\n\n` when its holder keeps an OS lock on it (an
 * older reader still finds just the pid).
 */
const LOCK_TEXT = /^\s*(\d+)(\n\n)?\s*$/;

/**
 * Deletes a stale lock file, but only while holding `<lock>.takeover` and
 * only if it still holds `staleText` (and is the inode looked at): two
 * processes that both found the same stale lock could otherwise each delete
 * it, the second one deleting the fresh lock the first had just created, and
 * both would write. Returns whether the stale lock was deleted, `undefined`
 * when another process holds the takeover file (one left by a crash is
 * removed after 10 s, or by the next lock holder once its pid is dead).
 */
async function removeStaleLock(
  lockPath: string,
  staleText: string,
  staleIno: number | undefined,
): Promise<boolean | undefined> {
  const takeover = `${lockPath}.takeover`;
  try {
    const fh = await open(takeover, "wx");
    try {
      await fh.writeFile(`${process.pid}\n`);
    } finally {
      await fh.close();
    }
  } catch (err) {
    if (errCode(err) !== "EEXIST") throw err;
    const mtime = await stat(takeover).then((s) => s.mtimeMs, () => Date.now());
    if (Date.now() - mtime > TAKEOVER_AGE_MS) {
      await unlink(takeover).catch(() => {});
    }
    return undefined;
  }
  try {
    const now = await readFile(lockPath, "utf8").catch(() => null);
    if (now !== staleText) return false;
    const ino = await inodeOf(lockPath);
    if (staleIno !== undefined && ino !== undefined && ino !== staleIno) {
      return false;
    }
    return await unlink(lockPath).then(() => true, () => false);
  } finally {
    await unlink(takeover).catch(() => {});
  }
}

/**
 * Takes `<path>.lock`, or throws {@linkcode OhlcvLockedError}; then removes
 * what dead writers of `path` left behind (listed in `removed`). The holder
 * is proven gone by its OS lock where the runtime has one (see
 * `_os_lock.ts`), else by its pid; a lock file without a pid is stale once
 * 10 s old.
 */
export async function acquireLock(path: string): Promise<FileLock> {
  const lockPath = `${path}.lock`;
  const removed: string[] = [];
  const deadline = Date.now() + CONTENDED_MS;
  const wait = () => new Promise((resolve) => setTimeout(resolve, 10));
  for (let attempt = 0; attempt < 100 || Date.now() < deadline; attempt++) {
    let held: HeldLockFile | undefined;
    try {
      held = await createLockFile(lockPath, process.pid);
    } catch (err) {
      if (errCode(err) !== "EEXIST") {
        throw await cannotCreate(path, "the lock file", err);
      }
    }
    if (held !== undefined) {
      const file = held;
      let released = false;
      removed.push(...await removeStaleFiles(path));
      return {
        lockPath,
        removed,
        async release() {
          if (released) return;
          released = true;
          // Delete while the OS lock still shows this holder alive.
          await unlink(lockPath).catch(() => {});
          file.close();
        },
      };
    }
    const seen = await probeLockFile(lockPath);
    if (seen === null) continue; // released meanwhile: retry
    const m = LOCK_TEXT.exec(seen.text);
    const pid = m ? Number(m[1]) : undefined;
    let stale: boolean;
    if (seen.free === false) stale = false; // its holder keeps the OS lock
    else if (m === null) {
      // No pid (yet): a new lock may be mid-write, or its writer was killed
      // between creating and filling it. Stale once 10 s old; wait till then.
      const mtime = await stat(lockPath).then((s) => s.mtimeMs, () => null);
      if (mtime === null) continue; // released meanwhile: retry
      stale = Date.now() - mtime > TAKEOVER_AGE_MS;
      if (!stale && Date.now() < deadline) {
        await wait();
        continue;
      }
    } else if (m[2] !== undefined && seen.free === true) stale = true;
    else stale = !(await pidAlive(pid!));
    if (!stale) {
      throw new OhlcvLockedError(
        `Cannot write ${path}: another writer${
          pid !== undefined ? ` (pid ${pid})` : ""
        } holds the lock file ${lockPath}. Wait for it to finish; if no other process is writing this file, delete the lock file.`,
        lockPath,
        pid,
      );
    }
    const took = await removeStaleLock(lockPath, seen.text, seen.ino);
    if (took) removed.push(lockPath);
    else if (took === undefined) await wait(); // another process takes it over
  }
  throw new OhlcvLockedError(
    `Cannot write ${path}: could not take the lock file ${lockPath} (contended)`,
    lockPath,
    undefined,
  );
}
