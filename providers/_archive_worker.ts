/**
 * The archive worker (`_archive_inflate.ts` starts it): inflates and parses
 * the zips whose bytes it is sent, one job per file, and sends the candles
 * back as transferred columns. Private to the ccxt provider.
 *
 * @module
 */

import { type ArchiveJob, parseJob } from "./_archive_inflate.ts";
import { KlineCsvParser } from "./_kline_csv.ts";

/** The worker's global scope, as far as this module uses it. */
const scope = globalThis as unknown as {
  postMessage(message: unknown, transfer?: ArrayBuffer[]): void;
  onmessage: ((e: { data: Message }) => void) | null;
};

type Message =
  | {
    readonly op: "open";
    readonly id: number;
    readonly volumeColumn: 5 | 7;
    readonly capacity: number;
  }
  | { readonly op: "chunk"; readonly id: number; readonly chunk: Uint8Array }
  | { readonly op: "end" | "abort"; readonly id: number };

interface Job {
  readonly job: ArchiveJob;
  /** The writes so far, in order. */
  chain: Promise<void>;
}

const jobs = new Map<number, Job>();

const fail = (id: number, e: unknown) =>
  scope.postMessage({
    op: "error",
    id,
    message: (e as Error)?.message ?? String(e),
  });

scope.onmessage = (e) => {
  const m = e.data;
  if (m.op === "open") {
    jobs.set(m.id, {
      job: parseJob(m.volumeColumn, m.capacity),
      chain: Promise.resolve(),
    });
    return;
  }
  const j = jobs.get(m.id);
  if (j === undefined) return;
  if (m.op === "chunk") {
    j.chain = j.chain.then(() => j.job.write(m.chunk));
    j.chain.catch(() => {});
  } else if (m.op === "abort") {
    jobs.delete(m.id);
    j.job.abort();
  } else {
    jobs.delete(m.id);
    j.chain.then(() => j.job.end()).then(
      ({ batch, header, microseconds }) => {
        const columns = [
          batch.time,
          batch.open,
          batch.high,
          batch.low,
          batch.close,
          batch.volume,
        ];
        scope.postMessage(
          { op: "done", id: m.id, columns, header, microseconds },
          columns.map((c) => c.buffer as ArrayBuffer),
        );
      },
      (error) => fail(m.id, error),
    );
  }
};

// Warm the parser up before the first file (a fresh worker's code is cold;
// the first files would be parsed several times slower).
{
  const row = "1704067200000,42000.12000000,42010.50000000,41990.00000000," +
    "42005.25000000,12.34500000,1704067259999,518500.12345678,100," +
    "6.17250000,259250.06172839,0\n";
  const rows = new TextEncoder().encode(row.repeat(4000));
  for (let i = 0; i < 3; i++) {
    const p = new KlineCsvParser({ capacity: 4000 });
    p.push(rows);
    p.finish();
  }
}

scope.postMessage({ op: "ready" });
