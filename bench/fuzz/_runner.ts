/**
 * The runner of the fuzz bench: trials of one target run in a worker
 * (`_worker.ts`) watched from this thread, so that a trial stuck in a
 * synchronous endless loop is reported as a hang and the run goes on in a
 * new worker.
 *
 * @module
 */

import { loadCorpus } from "./_corpus.ts";
import {
  emptyReport,
  type FuzzOptions,
  type FuzzReport,
  mergeReport,
} from "./_report.ts";
import { mutate } from "./_trials.ts";
import type { FromWorker, ToWorker } from "./_worker.ts";

/**
 * Runs trials in a worker watched by this thread: a trial that has not
 * finished after `hangMs` (default 10 s) is a `hang` failure; the worker is
 * terminated and a new one goes on with the next trial. A worker that dies
 * (an uncaught error, a crash) is a failure of the trial it was running.
 */
export async function runFuzz(
  o: FuzzOptions & { hangMs?: number },
): Promise<FuzzReport> {
  const total = emptyReport(o);
  const hangMs = o.hangMs ?? 10_000;
  let next = o.firstTrial ?? 0;
  const end = next + o.trials;
  const t0 = performance.now();
  while (next < end) {
    const part = await new Promise<
      { report?: FuzzReport; stuck?: number; why?: string }
    >((resolve) => {
      const worker = new Worker(new URL("./_worker.ts", import.meta.url), {
        type: "module",
      });
      let current = next;
      let started = performance.now();
      const timer = setInterval(() => {
        if (performance.now() - started > hangMs) {
          clearInterval(timer);
          worker.terminate();
          resolve({ stuck: current, why: `no result after ${hangMs} ms` });
        }
      }, 100);
      worker.onmessage = (ev: MessageEvent<FromWorker>) => {
        if (ev.data.type === "start") {
          current = ev.data.trial;
          started = performance.now();
        } else {
          clearInterval(timer);
          worker.terminate();
          resolve({ report: ev.data.report });
        }
      };
      worker.onerror = (ev: ErrorEvent) => {
        ev.preventDefault();
        clearInterval(timer);
        worker.terminate();
        resolve({ stuck: current, why: `the worker died: ${ev.message}` });
      };
      const msg: ToWorker = {
        options: { ...o, firstTrial: next, trials: end - next },
      };
      worker.postMessage(msg);
    });
    if (part.report) {
      mergeReport(total, part.report);
      next = end;
    } else {
      const trial = part.stuck!;
      // Count the trials the lost worker finished: rerun is not needed,
      // but their figures are gone; rerun them here without the stuck one.
      if (trial > next) {
        const redo = await runFuzz({
          ...o,
          firstTrial: next,
          trials: trial - next,
        });
        mergeReport(total, redo);
      }
      const corpus = await loadCorpus();
      const m = mutate(corpus, o.target, o.seed, trial);
      total.trials++;
      total.failures.push({
        target: o.target,
        seed: o.seed,
        trial,
        source: m.source,
        ops: m.ops,
        kind: "hang",
        error: part.why!,
        stack: "",
      });
      next = trial + 1;
    }
  }
  total.elapsedMs = performance.now() - t0;
  return total;
}
