/**
 * Inflating and parsing archive files, off the main thread where the
 * runtime has Web Workers (Deno, Bun): a zip's bytes go to a worker as they
 * arrive, its candles come back as transferred columns, so the inflating
 * and parsing of files run beside the download's own work (hashing, the
 * pipeline, the writer). Without workers (Node), or when the worker module
 * cannot be loaded (a compiled binary without it), the same job runs on
 * the calling thread. Private to the ccxt provider.
 *
 * @module
 */

import type { CandleBatch } from "../format/candle_batch.ts";
import { KlineCsvParser } from "./_kline_csv.ts";
import { ZipEntryStream } from "./_zip_entry.ts";

/** The candles of one archive file. */
export interface ParsedKlines {
  /** In file order. */
  readonly batch: CandleBatch;
  /** The CSV had a header row. */
  readonly header: boolean;
  /** Its open times were microseconds. */
  readonly microseconds: boolean;
}

/** One file being inflated and parsed, fed its zip's bytes in order. */
export interface ArchiveJob {
  /** Feeds the next bytes (a rejection: the zip cannot be read). */
  write(chunk: Uint8Array): Promise<void> | void;
  /** Ends the bytes and gives the candles (a rejection: unreadable). */
  end(): Promise<ParsedKlines>;
  /** Drops the job. */
  abort(): void;
}

/** Opens jobs; close it to release its workers. */
export interface ArchiveInflater {
  /** A job for one file (`volumeColumn` 7 for COIN-M). */
  open(volumeColumn: 5 | 7, capacity: number): ArchiveJob;
  /** Ends every job and worker. */
  close(): void;
}

/** A job on the calling thread: unzip → inflate → parse, as streams. */
export function parseJob(volumeColumn: 5 | 7, capacity: number): ArchiveJob {
  const parser = new KlineCsvParser({ volumeColumn, capacity });
  const unzip = new ZipEntryStream();
  const parsing = (async () => {
    for await (const chunk of unzip.readable) parser.push(chunk);
  })();
  parsing.catch(() => {});
  const writer = unzip.writable.getWriter();
  return {
    write: (chunk) => writer.write(chunk),
    async end() {
      await writer.close();
      await parsing;
      return {
        batch: parser.finish(),
        header: parser.header,
        microseconds: parser.microseconds,
      };
    },
    abort() {
      writer.abort(new Error("archive job dropped")).catch(() => {});
    },
  };
}

/** Jobs on the calling thread. */
export const IN_THREAD: ArchiveInflater = {
  open: parseJob,
  close() {},
};

/** What a worker answers. */
export type WorkerAnswer =
  | { readonly op: "ready" }
  | {
    readonly op: "done";
    readonly id: number;
    readonly columns: readonly Float64Array[];
    readonly header: boolean;
    readonly microseconds: boolean;
  }
  | { readonly op: "error"; readonly id: number; readonly message: string };

interface Open {
  readonly slot: { jobs: number };
  resolve?(p: ParsedKlines): void;
  reject?(e: Error): void;
}

/** A Web Worker, as far as the pool uses it. */
interface WorkerLike {
  postMessage(message: unknown): void;
  terminate(): void;
  onmessage: ((e: { data: WorkerAnswer }) => void) | null;
  onerror:
    | ((e: { message?: string; preventDefault?: () => void }) => void)
    | null;
}

const WORKER_READY_MS = 10_000;

/**
 * Worker-backed jobs (one worker per core, at most `max`), or
 * {@linkcode IN_THREAD} when the runtime has no workers, the machine one
 * core, or the workers do not start.
 */
export async function startInflater(max = 2): Promise<ArchiveInflater> {
  const W = (globalThis as { Worker?: new (url: URL, o: object) => WorkerLike })
    .Worker;
  if (typeof W !== "function") return IN_THREAD;
  const cores =
    (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator
      ?.hardwareConcurrency ?? 2;
  // One worker per core up to `max`: the calling thread's own share of the
  // work (hashing, the pipeline, the writer) is small. One core: no gain.
  if (cores < 2) return IN_THREAD;
  const count = Math.min(max, cores);
  const workers: Array<{ w: WorkerLike; jobs: number }> = [];
  const jobs = new Map<number, Open>(); // open jobs by id
  let broken: Error | undefined;
  const settle = (id: number): Open | undefined => {
    const j = jobs.get(id);
    if (j === undefined) return undefined;
    jobs.delete(id);
    j.slot.jobs--;
    return j;
  };
  const failAll = (e: Error) => {
    broken ??= e;
    for (const id of [...jobs.keys()]) settle(id)?.reject?.(e);
  };
  try {
    await Promise.all(
      Array.from(
        { length: count },
        () =>
          new Promise<void>((resolve, reject) => {
            const w = new W(new URL("./_archive_worker.ts", import.meta.url), {
              type: "module",
            });
            const slot = { w, jobs: 0 };
            workers.push(slot);
            const timer = setTimeout(
              () => reject(new Error("the archive worker did not start")),
              WORKER_READY_MS,
            );
            w.onerror = (e) => {
              e.preventDefault?.();
              clearTimeout(timer);
              const error = new Error(
                `the archive worker failed: ${e.message ?? "unknown error"}`,
              );
              reject(error);
              failAll(error);
            };
            w.onmessage = (e) => {
              const m = e.data;
              if (m.op === "ready") {
                clearTimeout(timer);
                resolve();
                return;
              }
              const p = settle(m.id);
              if (p?.resolve === undefined) return;
              if (m.op === "error") p.reject!(new Error(m.message));
              else {
                const [time, open, high, low, close, volume] = m.columns as [
                  Float64Array,
                  Float64Array,
                  Float64Array,
                  Float64Array,
                  Float64Array,
                  Float64Array,
                ];
                p.resolve({
                  batch: { time, open, high, low, close, volume },
                  header: m.header,
                  microseconds: m.microseconds,
                });
              }
            };
          }),
      ),
    );
  } catch {
    for (const { w } of workers) w.terminate();
    return IN_THREAD;
  }
  let nextId = 1;
  return {
    open(volumeColumn, capacity): ArchiveJob {
      if (broken !== undefined) return parseJob(volumeColumn, capacity);
      const slot = workers.reduce((a, b) => (b.jobs < a.jobs ? b : a));
      slot.jobs++;
      const id = nextId++;
      const job: Open = { slot };
      jobs.set(id, job);
      slot.w.postMessage({ op: "open", id, volumeColumn, capacity });
      let result: Promise<ParsedKlines> | undefined;
      return {
        write(chunk) {
          slot.w.postMessage({ op: "chunk", id, chunk });
        },
        end() {
          result ??= new Promise<ParsedKlines>((resolve, reject) => {
            if (!jobs.has(id)) {
              return reject(broken ?? new Error("archive job dropped"));
            }
            job.resolve = resolve;
            job.reject = reject;
            slot.w.postMessage({ op: "end", id });
          });
          return result;
        },
        abort() {
          if (settle(id) === undefined) return;
          slot.w.postMessage({ op: "abort", id });
          job.reject?.(new Error("archive job dropped"));
        },
      };
    },
    close() {
      failAll(new Error("the archive inflater was closed"));
      for (const { w } of workers) w.terminate();
    },
  };
}
