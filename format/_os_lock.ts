/**
 * Private: the lock file on disk, with an operating-system advisory lock
 * (`flock`) where the runtime offers one. Deno does (`Deno.FsFile.lock`):
 * the holder keeps its lock file open with an exclusive flock, which the
 * kernel drops the moment the process dies, so a later process can prove the
 * holder gone with a shared `tryLock` — without `--allow-run` (needed to
 * signal a pid) or `--allow-all` (needed to read `/proc`), and immune to pid
 * reuse. The lock text is the pid and a newline either way (what older
 * versions and other tools read); a second newline marks a flock holder.
 * Node and Bun have no flock: there the pid decides liveness.
 *
 * @module
 */

import { open, readFile, stat, unlink } from "node:fs/promises";

/** The part of `Deno.FsFile` used here. */
interface DenoFile {
  lock(exclusive?: boolean): Promise<void>;
  tryLock(exclusive?: boolean): Promise<boolean>;
  write(p: Uint8Array): Promise<number>;
  read(p: Uint8Array): Promise<number | null>;
  stat(): Promise<{ ino: number | null }>;
  close(): void;
}

/** The part of the `Deno` namespace used here. */
interface DenoOpen {
  open(
    path: string,
    options: { read?: boolean; write?: boolean; createNew?: boolean },
  ): Promise<DenoFile>;
}

function denoOpen(): DenoOpen | undefined {
  const deno = (globalThis as { Deno?: Partial<DenoOpen> }).Deno;
  return typeof deno?.open === "function" ? deno as DenoOpen : undefined;
}

const encoder = new TextEncoder();

/** A created lock file, held until `close()`. */
export interface HeldLockFile {
  /** True when an exclusive flock is held (the text says `flock`). */
  readonly flocked: boolean;
  /** Drops the flock (call after deleting the file). */
  close(): void;
}

/**
 * Creates `lockPath` exclusively (throwing the runtime's "already exists"
 * error when it exists) holding `<pid>\n` — `<pid>\n\n` once an exclusive
 * flock is held. The flock is taken before the text is written, so a
 * lock file with a pid in it whose flock is free has lost its holder.
 */
export async function createLockFile(
  lockPath: string,
  pid: number,
): Promise<HeldLockFile> {
  const deno = denoOpen();
  if (deno) {
    const f = await deno.open(lockPath, {
      read: true,
      write: true,
      createNew: true,
    });
    let flocked = false;
    try {
      try {
        // Waits only while another process probes it (a shared lock, ms).
        await f.lock(true);
        flocked = true;
      } catch {
        // No flock on this file system: the pid alone decides.
      }
      const bytes = encoder.encode(`${pid}\n${flocked ? "\n" : ""}`);
      let done = 0;
      while (done < bytes.length) done += await f.write(bytes.subarray(done));
    } catch (err) {
      f.close();
      throw err;
    }
    return { flocked, close: () => f.close() };
  }
  const fh = await open(lockPath, "wx");
  try {
    await fh.writeFile(`${pid}\n`);
  } finally {
    await fh.close();
  }
  return { flocked: false, close: () => {} };
}

/** What a look at an existing lock file found. */
export interface LockProbe {
  /** Its text ("" when unreadable: on Windows a held lock cannot be read). */
  readonly text: string;
  /** Its inode, when known (to delete exactly the file looked at). */
  readonly ino: number | undefined;
  /**
   * Whether its flock is free: `false` proves a live holder, `true` a dead
   * one when the text carries the flock mark; `undefined` when unknown.
   */
  readonly free: boolean | undefined;
}

/** Looks at an existing lock file; `null` when it is gone. */
export async function probeLockFile(
  lockPath: string,
): Promise<LockProbe | null> {
  const deno = denoOpen();
  if (deno) {
    let f: DenoFile;
    try {
      f = await deno.open(lockPath, { read: true });
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
    try {
      const free = await f.tryLock(false).catch(() => undefined);
      const ino = (await f.stat().catch(() => null))?.ino ?? undefined;
      let text = "";
      if (free !== false) {
        const buf = new Uint8Array(64);
        let n = 0;
        for (;;) {
          const got = await f.read(buf.subarray(n)).catch(() => null);
          if (got === null || got === 0) break;
          n += got;
          if (n === buf.length) break;
        }
        text = new TextDecoder().decode(buf.subarray(0, n));
      } else {
        text = await readFile(lockPath, "utf8").catch(() => "");
      }
      return { text, ino, free };
    } finally {
      f.close();
    }
  }
  try {
    const text = await readFile(lockPath, "utf8");
    const ino = (await stat(lockPath).catch(() => null))?.ino;
    return { text, ino, free: undefined };
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
}

/** The inode of `path` now (`undefined` when unknown or gone). */
export async function inodeOf(path: string): Promise<number | undefined> {
  return (await stat(path).catch(() => null))?.ino ?? undefined;
}

function isNotFound(err: unknown): boolean {
  const e = err as { code?: unknown; name?: unknown } | null;
  return e?.code === "ENOENT" || e?.name === "NotFound";
}

/**
 * Removes a `G` temporary file (see `_stale_files.ts`) if its maker's
 * exclusive flock is free: the maker is gone (a maker that finds its new
 * file already flocked by a cleaner abandons it). Returns true when removed,
 * false when its maker holds it, `undefined` when this runtime or file
 * system has no flock (or the file is gone).
 */
export async function removeIfUnguarded(
  path: string,
): Promise<boolean | undefined> {
  const deno = denoOpen();
  if (!deno) return undefined;
  let f: DenoFile;
  try {
    f = await deno.open(path, { read: true });
  } catch {
    return undefined;
  }
  try {
    const free = await f.tryLock(true).catch(() => undefined);
    if (free !== true) return free;
    return await unlink(path).then(() => true, () => undefined);
  } finally {
    f.close();
  }
}

/** A `G` temporary file, guarded by its maker's flock until `release()`. */
export interface GuardedTemp {
  /** The temporary file's path. */
  readonly path: string;
  /** The tag kind used: `G` with a flock, `P` without. */
  readonly kind: "G" | "P";
  /** Drops the flock (after the file is renamed or removed). */
  release(): void;
}

/**
 * Creates an empty temporary file at `pathFor(kind)` and, in Deno, holds an
 * exclusive flock on it until `release()`: a cleaner can then tell a live
 * maker's file from a dead one's. A file a cleaner flocked first (it found
 * it between its creation and the flock) is abandoned for a new name.
 * Without flock the file is made with kind `P` (decided by the pid).
 */
export async function createGuardedTemp(
  pathFor: (kind: "G" | "P") => string,
): Promise<GuardedTemp> {
  const deno = denoOpen();
  if (deno) {
    for (let attempt = 0; attempt < 5; attempt++) {
      const path = pathFor("G");
      const f = await deno.open(path, {
        read: true,
        write: true,
        createNew: true,
      });
      const locked = await f.tryLock(true).catch(() => undefined);
      if (locked === true) return { path, kind: "G", release: () => f.close() };
      f.close();
      if (locked === undefined) {
        await unlink(path).catch(() => {});
        break; // no flock on this file system
      }
      // A cleaner holds it and removes it: take another name.
    }
  }
  const path = pathFor("P");
  await (await open(path, "wx")).close();
  return { path, kind: "P", release: () => {} };
}
