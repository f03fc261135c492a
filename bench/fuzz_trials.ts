/**
 * Seeded fuzzing of every parser of untrusted bytes: the `.ohlcv` reader
 * (`OhlcvReader`), CSV and JSON candle import (`parseCsvCandles`,
 * `readCsvFile`, `parseJsonCandles`, `readJsonFile`) and symbol-info TOML
 * (`parseSymbolInfoToml`, plus `coverageFromToml` on its `[coverage]` table).
 * Each trial mutates a fixture of `tests/fixtures/pynecore/` (bit flips,
 * header fields, truncation, appended junk, duplicated / removed records,
 * junk fields, ...) and feeds it to the parser. The rule: the call returns a
 * well-formed result (see the `check*` functions) or throws a `FormatError`
 * — never another exception, never a trial over 2 s, never a hang, never
 * more than 1 GB of RSS. Trials run in a worker watched from the main thread,
 * so even a synchronous endless loop is reported (and the run goes on).
 *
 * `tests/fuzz_test.ts` runs a bounded number of trials in `deno task test`;
 * this script runs the full figures recorded in RELIABILITY.md:
 *
 * ```sh
 * deno run -A bench/fuzz_trials.ts [N=10000] [seed=20261206] [--only=ohlcv,csv,json,toml] [--verbose]
 * # one trial again: its mutations, its input written to a file, its outcome
 * deno run -A bench/fuzz_trials.ts --repro=csv:1234 [seed]
 * ```
 *
 * Every trial is seeded by `(seed, target, trial)` alone, so a failure is
 * reproduced with `--repro=TARGET:TRIAL` without running the trials before it.
 *
 * The harness is in `bench/fuzz/`, one job a file: seeded randomness
 * (`_prng.ts`), the corpus (`_corpus.ts`, `_ohlcv_bytes.ts`), the
 * mutations (`_ohlcv_mutations.ts`, `_ohlcv_relayout.ts`, `_text_ops.ts`,
 * `_text_mutations.ts` for CSV and JSON, `_toml_mutations.ts`), the checks
 * (`_invariants.ts`, `_checks_ohlcv.ts`, `_checks_text.ts`,
 * `_checks_toml.ts`), the trials and their figures (`_trials.ts`,
 * `_report.ts`, `_proc.ts`) and the worker-based runner with its hang
 * watchdog (`_runner.ts`, `_worker.ts`). This file is the command line and
 * re-exports the harness for `tests/fuzz_test.ts`.
 *
 * @module
 */

import { loadCorpus } from "./fuzz/_corpus.ts";
import type { Notes } from "./fuzz/_invariants.ts";
import { countFds, peakRssFromProc } from "./fuzz/_proc.ts";
import { type Target, TARGETS } from "./fuzz/_prng.ts";
import { failureSignatures, type FuzzReport } from "./fuzz/_report.ts";
import { runFuzz } from "./fuzz/_runner.ts";
import { mutate, runTrial } from "./fuzz/_trials.ts";

export {
  mulberry32,
  Rng,
  type Target,
  TARGETS,
  trialSeed,
} from "./fuzz/_prng.ts";
export { type Corpus, loadCorpus, type Mutated } from "./fuzz/_corpus.ts";
export { mutateOhlcv } from "./fuzz/_ohlcv_mutations.ts";
export { mutateCsv, mutateJson } from "./fuzz/_text_mutations.ts";
export { mutateToml } from "./fuzz/_toml_mutations.ts";
export {
  InvariantError,
  type Notes,
  type TrialOutcome,
} from "./fuzz/_invariants.ts";
export { checkOhlcv } from "./fuzz/_checks_ohlcv.ts";
export { checkImported } from "./fuzz/_checks_text.ts";
export { checkSymbolInfo, checkToml } from "./fuzz/_checks_toml.ts";
export {
  failureSignatures,
  type FuzzFailure,
  type FuzzOptions,
  type FuzzReport,
} from "./fuzz/_report.ts";
export { mutate, runTrial, runTrialsHere } from "./fuzz/_trials.ts";
export { runFuzz } from "./fuzz/_runner.ts";
export { openFilesUnder, peakRssFromProc } from "./fuzz/_proc.ts";

const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;

async function main(args: string[]): Promise<number> {
  const flags = args.filter((a) => a.startsWith("--"));
  const pos = args.filter((a) => !a.startsWith("--"));
  const n = Number(pos[0] ?? 10_000);
  const seed = Number(pos[1] ?? 20261206);
  const verbose = flags.includes("--verbose");
  const only = flags.find((f) => f.startsWith("--only="))?.slice(7).split(
    ",",
  ) as Target[] | undefined;
  const repro = flags.find((f) => f.startsWith("--repro="))?.slice(8);
  const dir = await Deno.makeTempDir({ prefix: "pyne-fuzz-" });
  try {
    if (repro) {
      const [target, trial] = repro.split(":") as [Target, string];
      const corpus = await loadCorpus();
      const m = mutate(corpus, target, seed, Number(trial));
      const out = Deno.makeTempFileSync({
        prefix: `fuzz_${target}_${seed}_${trial}_`,
        suffix: `.${target}`,
      });
      if (typeof m.input === "string") Deno.writeTextFileSync(out, m.input);
      else Deno.writeFileSync(out, m.input);
      console.log(
        `${target} trial ${trial} (seed ${seed}): ${m.source}; ${
          m.ops.join("; ")
        }`,
      );
      console.log(`input written to ${out}`);
      const notes: Notes = {};
      try {
        console.log(
          "outcome:",
          await runTrial(corpus, target, seed, Number(trial), dir, notes),
        );
      } catch (e) {
        console.log("FAILED:", e);
        return 1;
      }
      return 0;
    }
    const fdsBefore = countFds();
    const reports: FuzzReport[] = [];
    for (const target of only ?? TARGETS) {
      const rep = await runFuzz({ target, trials: n, seed, dir });
      reports.push(rep);
      const sig = failureSignatures(rep.failures);
      console.log(
        `${
          target.padEnd(5)
        } ${rep.trials} trials: ${rep.ok} decoded, ${rep.formatError} FormatError, ${rep.failures.length} failures (${sig.size} distinct); slowest ${
          rep.slowestMs.toFixed(1)
        } ms (trial ${rep.slowestTrial}); peak RSS ${
          mib(rep.peakRss)
        }; fds left open ${rep.leakedFds ?? "?"}; ${
          (rep.elapsedMs / 1000).toFixed(1)
        } s`,
      );
      for (const [key, list] of sig) {
        const f = list[0]!;
        console.log(`  ${list.length} x ${key}`);
        console.log(
          `     e.g. trial ${f.trial}: ${f.source}; ${f.ops.join("; ")}`,
        );
        if (verbose) console.log(f.stack.replace(/^/gm, "       "));
      }
      for (const [k, v] of Object.entries(rep.notes).sort()) {
        console.log(`  note: ${v.count} x ${k} (first: trial ${v.trial})`);
      }
    }
    const fdsAfter = countFds();
    const hwm = peakRssFromProc();
    console.log(
      `seed ${seed}; process peak RSS ${
        hwm === undefined ? "(needs --allow-all)" : mib(hwm)
      }; open fds before/after ${fdsBefore ?? "?"}/${fdsAfter ?? "?"}`,
    );
    const bad = reports.reduce(
      (s, r) => s + r.failures.length + (r.leakedFds ?? 0),
      0,
    );
    console.log(bad === 0 ? "all rules held" : `${bad} trials broke a rule`);
    return bad === 0 ? 0 : 1;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
