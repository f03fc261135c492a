/**
 * Private: what a writer that has just taken the lock of `NAME.ohlcv` may
 * clear away — the temporary files of writers that are gone.
 *
 * Every temporary file this library makes carries a tag `<pid>-<kind>-<hex>`
 * (see {@linkcode ownedTag}) naming the process that made it and how its
 * maker can be proven gone:
 *
 * - `L`: made while holding `NAME.ohlcv.lock` — a replacement
 *   (`NAME.ohlcv.<tag>.tmp`, its sidecar `NAME.ohlcv.<tag>.tmp.extra.csv`), a
 *   new file before its rename, a promotion rebuild
 *   (`NAME.ohlcv[.<tag>.tmp].<tag>.rebuild.tmp`). Its maker is done with it
 *   once it no longer holds the lock, so the next lock holder removes it.
 * - `G`: guarded by an exclusive OS lock (flock) its maker holds while it is
 *   alive (Deno) — atomic whole-file writes `.NAME.toml.<tag>.tmp`,
 *   `.NAME.ohlcv.<tag>.tmp`. Removed when that flock can be taken.
 * - `P`: neither (Node and Bun atomic writes, writers opened with
 *   `lock: false`). Removed when the pid is provably not a live process;
 *   when that cannot be known (Deno without `--allow-run`), once untouched
 *   for {@linkcode LEGACY_TEMP_AGE_MS}.
 *
 * Names without a tag (written by versions before it) are removed only when
 * untouched for {@linkcode LEGACY_TEMP_AGE_MS}. `NAME.ohlcv.lock.takeover`
 * (a lock takeover cut short) is removed when its pid is dead or it is over
 * 10 s old: under the lock nobody needs it.
 *
 * @module
 */

import { readdir, readFile, stat, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import process from "node:process";
import { removeIfUnguarded } from "./_os_lock.ts";

/** Temporary files without a pid in their name are removed when this old. */
export const LEGACY_TEMP_AGE_MS = 10 * 60_000;
/** A takeover file this old is left over (a takeover takes milliseconds). */
export const TAKEOVER_AGE_MS = 10_000;

/** How the maker of a temporary file can be proven gone (see the module doc). */
export type TempKind = "L" | "G" | "P";

/** `<pid>-<kind>-<8 hex digits>`: the owner part of a temporary file's name. */
export function ownedTag(kind: TempKind): string {
  const hex = Math.floor(Math.random() * 0x100000000).toString(16);
  return `${process.pid}-${kind}-${hex.padStart(8, "0")}`;
}

function errCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** Whether a process is alive; `true` when that cannot be determined. */
export async function pidAlive(pid: number): Promise<boolean> {
  return (await pidKnownAlive(pid)) ?? true;
}

/** Whether a process is alive; `undefined` when that cannot be determined. */
async function pidKnownAlive(pid: number): Promise<boolean | undefined> {
  if (pid === process.pid) return true;
  if (!(pid > 0)) return true; // 0 and negatives address process groups
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    const code = errCode(err);
    if (code === "ESRCH") return false;
    if (code === "EPERM") return true;
  }
  // No permission to signal (e.g. Deno without --allow-run): try /proc
  // (Deno needs --allow-all for it).
  try {
    await stat("/proc/self");
  } catch {
    return undefined;
  }
  try {
    await stat(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

const TAG = String.raw`(\d+)-([LGP])-[0-9a-f]{8}`;
const OWNED = new RegExp(
  String
    .raw`^${TAG}\.(?:tmp|tmp\.extra\.csv|rebuild\.tmp|tmp\.\d+-[LGP]-[0-9a-f]{8}\.rebuild\.tmp)$`,
);
const OWNED_ATOMIC = new RegExp(String.raw`^${TAG}\.tmp$`);
const LEGACY =
  /^[0-9a-f]{8}\.(?:tmp|tmp\.extra\.csv|rebuild\.tmp|tmp\.[0-9a-f]{8}\.rebuild\.tmp)$/;
const LEGACY_ATOMIC = /^[0-9a-z]{9,16}\.tmp$/;

/** The maker of a temporary file, from its name. */
export interface TempOwner {
  readonly pid: number;
  readonly kind: TempKind;
}

/**
 * Who made `name`, a file in the folder of `path` (an `.ohlcv`): its tag,
 * `null` for a temporary file of an older version (no tag in the name),
 * `undefined` when it is not one of the temporary files of `path`.
 */
export function tempOwner(
  path: string,
  name: string,
): TempOwner | null | undefined {
  const base = basename(path);
  const stem = base.replace(/\.ohlcv$/i, "");
  const owner = (m: RegExpExecArray) => ({
    pid: Number(m[1]),
    kind: m[2] as TempKind,
  });
  if (name.startsWith(`${base}.`)) {
    const rest = name.slice(base.length + 1);
    const m = OWNED.exec(rest);
    if (m) return owner(m);
    return LEGACY.test(rest) ? null : undefined;
  }
  for (const prefix of [`.${base}.`, `.${stem}.toml.`]) {
    if (!name.startsWith(prefix)) continue;
    const rest = name.slice(prefix.length);
    const m = OWNED_ATOMIC.exec(rest);
    if (m) return owner(m);
    return LEGACY_ATOMIC.test(rest) ? null : undefined;
  }
  return undefined;
}

/** Age of a file in ms (0 when it cannot be read: treated as fresh). */
async function ageMs(path: string): Promise<number> {
  return await stat(path).then((s) => Date.now() - s.mtimeMs, () => 0);
}

/**
 * Removes the temporary files of `path` whose writers are gone, and a
 * leftover `<path>.lock.takeover`. Call it only while holding `<path>.lock`.
 * Returns the paths removed. Errors are ignored (a file that cannot be
 * removed stays, to be tried again by the next writer).
 */
export async function removeStaleFiles(path: string): Promise<string[]> {
  const dir = dirname(path);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  const remove = async (p: string) => {
    try {
      await unlink(p);
      removed.push(p);
    } catch {
      // gone already, or not ours to remove: left for the next writer
    }
  };
  const takeover = `${basename(path)}.lock.takeover`;
  for (const name of names) {
    const full = join(dir, name);
    if (name === takeover) {
      const text = await readFile(full, "utf8").catch(() => "");
      const pid = /^\s*(\d+)\s*$/.test(text) ? Number(text.trim()) : undefined;
      const dead = pid !== undefined && !(await pidAlive(pid));
      if (dead || (await ageMs(full)) > TAKEOVER_AGE_MS) await remove(full);
      continue;
    }
    const owner = tempOwner(path, name);
    if (owner === undefined) continue;
    if (owner === null) {
      if ((await ageMs(full)) > LEGACY_TEMP_AGE_MS) await remove(full);
      continue;
    }
    if (owner.kind === "L") {
      await remove(full); // its maker held the lock we hold now
      continue;
    }
    if (owner.kind === "G") {
      const gone = await removeIfUnguarded(full);
      if (gone === true) removed.push(full);
      if (gone !== undefined) continue; // no flock here: decide by the pid
    }
    if (owner.pid === process.pid) continue;
    const alive = await pidKnownAlive(owner.pid);
    if (alive === false) await remove(full);
    else if (
      alive === undefined && (await ageMs(full)) > LEGACY_TEMP_AGE_MS
    ) await remove(full);
  }
  return removed;
}
