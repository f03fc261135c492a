/**
 * The rule-keeping primitives of the fuzz bench's checks: the error a
 * broken rule throws, candle-batch comparison, the outcome of a trial, the
 * notes (observations that are not failures) with the trial that first
 * showed each, the `FormatError` that must name its file, and capturing a
 * call's result or error.
 *
 * @module
 */

import { FormatError } from "../../format/format_error.ts";
import type { CandleBatch } from "../../format/candle_batch.ts";

/** A broken rule: the parser's result is not what it documents. */
export class InvariantError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "InvariantError";
  }
}

/** Throws an {@linkcode InvariantError} with `msg` unless `ok`. */
export function must(ok: boolean, msg: string): void {
  if (!ok) throw new InvariantError(msg);
}

const same = (a: number, b: number) => a === b || (a !== a && b !== b);

/** Where two batches differ (NaN equals NaN), or undefined when they are the same. */
export function sameBatch(a: CandleBatch, b: CandleBatch): string | undefined {
  for (
    const col of ["time", "open", "high", "low", "close", "volume"] as const
  ) {
    const x = a[col], y = b[col];
    if (
      x.length !== y.length
    ) return `${col}: ${x.length} vs ${y.length} values`;
    for (let i = 0; i < x.length; i++) {
      if (!same(x[i]!, y[i]!)) return `${col}[${i}]: ${x[i]} vs ${y[i]}`;
    }
  }
  return undefined;
}

/** Outcome of one trial that kept the rules. */
export type TrialOutcome = "ok" | "formatError";

/**
 * Extra observations (not failures) over a run: how often, and the first
 * trial that showed it (for `--repro`).
 */
export type Notes = Record<string, { count: number; trial: number }>;

/** The trial being run (for the notes). */
let currentTrial = -1;

/** Sets the trial being run, which {@linkcode note} records as the first. */
export function setCurrentTrial(trial: number): void {
  currentTrial = trial;
}

/** Counts one observation `key` in `notes`. */
export function note(notes: Notes, key: string): void {
  const n = notes[key];
  if (n) n.count++;
  else notes[key] = { count: 1, trial: currentTrial };
}

/** `"formatError"` when `e` is a `FormatError` naming `path` (if given); else throws. */
export function formatErrorNaming(
  e: unknown,
  path: string | undefined,
): TrialOutcome {
  if (!(e instanceof FormatError)) throw e;
  if (path !== undefined) {
    must(
      e.message.includes(path),
      `the FormatError does not name the file: ${e.message}`,
    );
  }
  return "formatError";
}

/** The result of a call, or the error it threw. */
export type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** Calls `f`, capturing its result or error. */
export function attempt<T>(f: () => T): Outcome<T> {
  try {
    return { ok: true, value: f() };
  } catch (error) {
    return { ok: false, error };
  }
}

/** Awaits `f`, capturing its result or error. */
export async function attemptAsync<T>(
  f: () => Promise<T>,
): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await f() };
  } catch (error) {
    return { ok: false, error };
  }
}
