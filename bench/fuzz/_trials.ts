/**
 * One fuzz trial and a run of trials in this thread: the input of a trial
 * for any target, the check it goes through, and the loop that times each
 * trial, watches the memory and records failures (the worker's side of
 * `runFuzz`).
 *
 * @module
 */

import { parseCsvCandles, readCsvFile } from "../../format/csv.ts";
import { parseJsonCandles, readJsonFile } from "../../format/json.ts";
import { checkOhlcv } from "./_checks_ohlcv.ts";
import { checkImport } from "./_checks_text.ts";
import { checkToml } from "./_checks_toml.ts";
import type { Corpus, Mutated } from "./_corpus.ts";
import {
  InvariantError,
  type Notes,
  setCurrentTrial,
  type TrialOutcome,
} from "./_invariants.ts";
import { mutateOhlcv } from "./_ohlcv_mutations.ts";
import { openFilesUnder } from "./_proc.ts";
import { Rng, type Target, trialSeed } from "./_prng.ts";
import {
  emptyReport,
  type FuzzFailure,
  type FuzzOptions,
  type FuzzReport,
} from "./_report.ts";
import { mutateCsv, mutateJson } from "./_text_mutations.ts";
import { mutateToml } from "./_toml_mutations.ts";

/** The input of one trial (as bytes for `.ohlcv`, text otherwise). */
export function mutate(
  corpus: Corpus,
  target: Target,
  seed: number,
  trial: number,
): Mutated<Uint8Array | string> {
  switch (target) {
    case "ohlcv":
      return mutateOhlcv(corpus, seed, trial);
    case "csv":
      return mutateCsv(corpus, seed, trial);
    case "json":
      return mutateJson(corpus, seed, trial);
    case "toml":
      return mutateToml(corpus, seed, trial);
  }
}

/** Runs one trial; throws when a rule is broken. */
export async function runTrial(
  corpus: Corpus,
  target: Target,
  seed: number,
  trial: number,
  dir: string,
  notes: Notes,
): Promise<TrialOutcome> {
  setCurrentTrial(trial);
  const m = mutate(corpus, target, seed, trial);
  const r = new Rng(trialSeed(seed, target, trial) ^ 0x5bd1e995);
  switch (target) {
    case "ohlcv": {
      const path = `${dir}/fuzz.ohlcv`;
      const bytes = m.input as Uint8Array;
      Deno.writeFileSync(path, bytes);
      return await checkOhlcv(bytes, path, notes, m.expected, r);
    }
    case "csv":
      return await checkImport(
        m.input as string,
        (t) => parseCsvCandles(t),
        r.chance(0.3) ? (p) => readCsvFile(p) : undefined,
        `${dir}/fuzz.csv`,
      );
    case "json":
      return await checkImport(
        m.input as string,
        (t) => parseJsonCandles(t),
        r.chance(0.2) ? (p) => readJsonFile(p) : undefined,
        `${dir}/fuzz.json`,
      );
    case "toml":
      return checkToml(
        m.input as string,
        r.chance(0.5) ? `${dir}/fuzz.toml` : undefined,
        notes,
      );
  }
}

function stackOf(e: unknown): string {
  const s = e instanceof Error ? e.stack ?? "" : "";
  return s.split("\n").slice(0, 8).join("\n");
}

/** Runs trials in this thread (the worker's side of `runFuzz`). */
export async function runTrialsHere(
  corpus: Corpus,
  o: FuzzOptions,
  onStart?: (trial: number) => void,
): Promise<FuzzReport> {
  const rep = emptyReport(o);
  const maxMs = o.maxTrialMs ?? 2000;
  const maxRss = o.maxRss ?? 2 ** 30;
  const first = o.firstTrial ?? 0;
  const t0 = performance.now();
  for (let trial = first; trial < first + o.trials; trial++) {
    onStart?.(trial);
    const start = performance.now();
    if (trial === o.hangAtTrial) {
      let spin = 0;
      while (spin >= 0) spin = (spin + 1) % 1e9;
    }
    let failure:
      | Omit<FuzzFailure, "target" | "seed" | "trial" | "source" | "ops">
      | undefined;
    try {
      const out = await runTrial(
        corpus,
        o.target,
        o.seed,
        trial,
        o.dir,
        rep.notes,
      );
      if (out === "ok") rep.ok++;
      else rep.formatError++;
    } catch (e) {
      failure = {
        kind: e instanceof InvariantError ? "invariant" : "exception",
        error: e instanceof Error ? `${e.name}: ${e.message}` : String(e),
        stack: stackOf(e),
      };
    }
    const ms = performance.now() - start;
    const rss = Deno.memoryUsage().rss;
    rep.trials++;
    if (ms > rep.slowestMs) {
      rep.slowestMs = ms;
      rep.slowestTrial = trial;
    }
    if (rss > rep.peakRss) rep.peakRss = rss;
    if (!failure && ms > maxMs) {
      failure = {
        kind: "slow",
        error: `trial took ${ms.toFixed(0)} ms (limit ${maxMs})`,
        stack: "",
      };
    }
    if (!failure && rss > maxRss) {
      failure = {
        kind: "memory",
        error: `RSS ${(rss / 2 ** 20).toFixed(0)} MiB after the trial`,
        stack: "",
      };
    }
    if (failure) {
      const m = mutate(corpus, o.target, o.seed, trial);
      rep.failures.push({
        ...failure,
        target: o.target,
        seed: o.seed,
        trial,
        source: m.source,
        ops: m.ops,
      });
    }
  }
  rep.elapsedMs = performance.now() - t0;
  rep.leakedFds = openFilesUnder(o.dir);
  return rep;
}
