/**
 * Private: what a writer that has just taken the lock of `NAME.ohlcv` may
 * clear away — the temporary files of writers that are gone.
 *
 * Every temporary file this library makes carries the creating process's pid
 * in its name (see {@linkcode ownedSuffix}):
 *
 * - `NAME.ohlcv.<pid>-<hex>.tmp` — a replacement (`replace: true`) or a new
 *   file before its rename; `NAME.ohlcv.<pid>-<hex>.tmp.extra.csv` is the
 *   replacement's sidecar;
 * - `NAME.ohlcv[.<pid>-<hex>.tmp].<pid>-<hex>.rebuild.tmp` — a promotion
 *   rebuild;
 * - `.NAME.ohlcv.<pid>-<rand>.tmp`, `.NAME.toml.<pid>-<rand>.tmp` — atomic
 *   whole-file writes (`convert` output, the symbol-info `.toml`).
 *
 * Such a file is removed only when its pid is not a live process (nor this
 * one): a killed writer's files go, a live writer's (even one running with
 * `lock: false`) stay. Names without a pid (written by versions before the
 * pid was added) are removed only when untouched for
 * {@linkcode LEGACY_TEMP_AGE_MS}. `NAME.ohlcv.lock.takeover` (a lock takeover
 * cut short) is removed when its pid is dead or it is over 10 s old: under
 * the lock nobody needs it.
 *
 * @module
 */

import { readdir, readFile, stat, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import process from "node:process";

/** Temporary files without a pid in their name are removed when this old. */
export const LEGACY_TEMP_AGE_MS = 10 * 60_000;
/** A takeover file this old is left over (a takeover takes milliseconds). */
export const TAKEOVER_AGE_MS = 10_000;

/** `<pid>-<8 hex digits>`: the owner part of a temporary file's name. */
export function ownedSuffix(): string {
  const hex = Math.floor(Math.random() * 0x100000000).toString(16);
  return `${process.pid}-${hex.padStart(8, "0")}`;
}

function errCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/** Whether a process is alive; `true` when that cannot be determined. */
export async function pidAlive(pid: number): Promise<boolean> {
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

const OWNED =
  /^(\d+)-[0-9a-f]{8}\.(?:tmp|tmp\.extra\.csv|rebuild\.tmp|tmp\.\d+-[0-9a-f]{8}\.rebuild\.tmp)$/;
const OWNED_ATOMIC = /^(\d+)-[0-9a-z]{8,}\.tmp$/;
const LEGACY =
  /^[0-9a-f]{8}\.(?:tmp|tmp\.extra\.csv|rebuild\.tmp|tmp\.[0-9a-f]{8}\.rebuild\.tmp)$/;
const LEGACY_ATOMIC = /^[0-9a-z]{9,16}\.tmp$/;

/**
 * Who made `name`, a file in the folder of `path` (an `.ohlcv`): a pid, `null`
 * for a temporary file of an older version (no pid in the name), `undefined`
 * when it is not one of the temporary files of `path`.
 */
export function tempOwner(path: string, name: string): number | null | undefined {
  const base = basename(path);
  const stem = base.replace(/\.ohlcv$/i, "");
  if (name.startsWith(`${base}.`)) {
    const rest = name.slice(base.length + 1);
    const m = OWNED.exec(rest);
    if (m) return Number(m[1]);
    return LEGACY.test(rest) ? null : undefined;
  }
  for (const prefix of [`.${base}.`, `.${stem}.toml.`]) {
    if (!name.startsWith(prefix)) continue;
    const rest = name.slice(prefix.length);
    const m = OWNED_ATOMIC.exec(rest);
    if (m) return Number(m[1]);
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
    } else if (!(await pidAlive(owner))) await remove(full);
  }
  return removed;
}
