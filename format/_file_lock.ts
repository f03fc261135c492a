/**
 * Private: the writer's lock file `<path>.lock` (the holder's pid inside). A
 * lock left behind by a dead process is taken over.
 *
 * @module
 */

import { open, readFile, stat, unlink } from "node:fs/promises";
import process from "node:process";
import { cannotCreate } from "./_atomic_file.ts";

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

/** Whether a process is alive; `true` when that cannot be determined. */
async function pidAlive(pid: number): Promise<boolean> {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    const code = errCode(err);
    if (code === "ESRCH") return false;
    if (code === "EPERM") return true;
  }
  // No permission to signal (e.g. Deno without --allow-run): try /proc.
  try {
    await stat("/proc/self");
  } catch {
    return true;
  }
  try {
    await stat(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/**
 * Deletes a stale lock file, but only while holding `<lock>.takeover` and
 * only if it still holds `staleText`: two processes that both found the same
 * stale lock could otherwise each delete it, the second one deleting the
 * fresh lock the first had just created, and both would write. Returns false
 * when another process holds the takeover file (a takeover file left by a
 * crash is removed after 10 s).
 */
async function removeStaleLock(
  lockPath: string,
  staleText: string,
): Promise<boolean> {
  const takeover = `${lockPath}.takeover`;
  try {
    await (await open(takeover, "wx")).close();
  } catch (err) {
    if (errCode(err) !== "EEXIST") throw err;
    const mtime = await stat(takeover).then((s) => s.mtimeMs, () => Date.now());
    if (Date.now() - mtime > 10_000) await unlink(takeover).catch(() => {});
    return false;
  }
  try {
    const now = await readFile(lockPath, "utf8").catch(() => null);
    if (now === staleText) await unlink(lockPath).catch(() => {});
  } finally {
    await unlink(takeover).catch(() => {});
  }
  return true;
}

/** Takes `<path>.lock`, or throws {@linkcode OhlcvLockedError}. */
export async function acquireLock(path: string): Promise<FileLock> {
  const lockPath = `${path}.lock`;
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      const fh = await open(lockPath, "wx");
      try {
        await fh.writeFile(`${process.pid}\n`);
      } finally {
        await fh.close();
      }
      let released = false;
      return {
        lockPath,
        async release() {
          if (released) return;
          released = true;
          await unlink(lockPath).catch(() => {});
        },
      };
    } catch (err) {
      if (errCode(err) !== "EEXIST") {
        throw await cannotCreate(path, "the lock file", err);
      }
    }
    let text = "";
    try {
      text = await readFile(lockPath, "utf8");
    } catch (err) {
      if (errCode(err) === "ENOENT") continue; // released meanwhile: retry
      throw err;
    }
    const pid = /^\s*(\d+)\s*$/.test(text) ? Number(text.trim()) : undefined;
    let stale: boolean;
    if (pid === undefined) {
      // Unreadable content: stale only if old (a new lock may be mid-write).
      const age = Date.now() - (await stat(lockPath)).mtimeMs;
      stale = age > 10_000;
    } else stale = !(await pidAlive(pid));
    if (!stale) {
      throw new OhlcvLockedError(
        `Cannot write ${path}: another writer${
          pid !== undefined ? ` (pid ${pid})` : ""
        } holds the lock file ${lockPath}. Wait for it to finish; if no other process is writing this file, delete the lock file.`,
        lockPath,
        pid,
      );
    }
    if (!(await removeStaleLock(lockPath, text))) {
      // Another process is taking the stale lock over right now.
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  throw new OhlcvLockedError(
    `Cannot write ${path}: could not take the lock file ${lockPath} (contended)`,
    lockPath,
    undefined,
  );
}
