/**
 * The worker of the fuzz bench, started by `runFuzz` (`_runner.ts`): it
 * receives the options of a run, loads the corpus, runs the trials and
 * posts a `start` message before each trial (for the hang watchdog in the
 * main thread) and the report at the end. Also the types of the messages
 * between the two.
 *
 * @module
 */

import { loadCorpus } from "./_corpus.ts";
import type { FuzzOptions, FuzzReport } from "./_report.ts";
import { runTrialsHere } from "./_trials.ts";

/** The message the runner posts to the worker. */
export type ToWorker = { options: FuzzOptions };
/** The messages the worker posts to the runner. */
export type FromWorker =
  | { type: "start"; trial: number }
  | { type: "done"; report: FuzzReport };

const inWorker = "WorkerGlobalScope" in globalThis;

if (inWorker) {
  const scope = self as unknown as {
    onmessage: ((ev: MessageEvent<ToWorker>) => void) | null;
    postMessage(m: FromWorker): void;
  };
  scope.onmessage = async (ev) => {
    const corpus = await loadCorpus();
    const report = await runTrialsHere(
      corpus,
      ev.data.options,
      (trial) => scope.postMessage({ type: "start", trial }),
    );
    scope.postMessage({ type: "done", report });
  };
}
