/**
 * The figures of a fuzz run: the options it runs with, the failures (one
 * broken rule each, with the trial to rerun), the report of one target,
 * merging the reports of the workers that ran parts of it, and grouping
 * failures into distinct signatures.
 *
 * @module
 */

import type { Notes } from "./_invariants.ts";
import type { Target } from "./_prng.ts";

/** One broken rule. */
export interface FuzzFailure {
  target: Target;
  seed: number;
  trial: number;
  source: string;
  ops: string[];
  kind: "exception" | "invariant" | "slow" | "hang" | "memory";
  error: string;
  stack: string;
}

/** The figures of one run of one target. */
export interface FuzzReport {
  target: Target;
  seed: number;
  trials: number;
  ok: number;
  formatError: number;
  failures: FuzzFailure[];
  slowestMs: number;
  slowestTrial: number;
  peakRss: number;
  notes: Notes;
  elapsedMs: number;
  /** Descriptors into the trials' folder left open at the end (undefined: not measurable). */
  leakedFds: number | undefined;
}

/** Options of a run. */
export interface FuzzOptions {
  target: Target;
  trials: number;
  seed: number;
  /** Folder for the files the trials write (one file per target, reused). */
  dir: string;
  /** First trial number. @default {0} */
  firstTrial?: number;
  /** A trial slower than this fails. @default {2000} */
  maxTrialMs?: number;
  /** Process RSS above this fails the trial. @default {1 GiB} */
  maxRss?: number;
  /**
   * Self-test of the watchdog: this trial spins synchronously for ever
   * instead of running (it must be reported as a hang, and the run go on).
   */
  hangAtTrial?: number;
}

/** A report of no trials yet, for the run `o`. */
export function emptyReport(o: FuzzOptions): FuzzReport {
  return {
    target: o.target,
    seed: o.seed,
    trials: 0,
    ok: 0,
    formatError: 0,
    failures: [],
    slowestMs: 0,
    slowestTrial: -1,
    peakRss: 0,
    notes: {},
    elapsedMs: 0,
    leakedFds: undefined,
  };
}

/** Adds the figures of `r` to `into`. */
export function mergeReport(into: FuzzReport, r: FuzzReport): void {
  into.trials += r.trials;
  into.ok += r.ok;
  into.formatError += r.formatError;
  into.failures.push(...r.failures);
  if (r.slowestMs > into.slowestMs) {
    into.slowestMs = r.slowestMs;
    into.slowestTrial = r.slowestTrial;
  }
  into.peakRss = Math.max(into.peakRss, r.peakRss);
  if (r.leakedFds !== undefined) {
    into.leakedFds = (into.leakedFds ?? 0) + r.leakedFds;
  }
  for (const [k, v] of Object.entries(r.notes)) {
    const n = into.notes[k];
    if (n) n.count += v.count;
    else into.notes[k] = { ...v };
  }
}

/** Distinct failures by kind and first line of the error (numbers elided). */
export function failureSignatures(
  failures: readonly FuzzFailure[],
): Map<string, FuzzFailure[]> {
  const m = new Map<string, FuzzFailure[]>();
  for (const f of failures) {
    const where = f.stack.split("\n").find((l) => l.includes("/format/")) ?? "";
    const key = `${f.kind}: ${
      f.error.replace(/-?\d[\d.e+]*/g, "N").slice(0, 100)
    } ${where.trim()}`;
    const list = m.get(key) ?? [];
    list.push(f);
    m.set(key, list);
  }
  return m;
}
