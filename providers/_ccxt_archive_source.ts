/**
 * Stitches Binance's archive files to REST pages into one ordered stream of
 * batches, numbered by `seq` from 0, with the same coverage claims as REST
 * windows. Private to the ccxt provider.
 *
 * - The range arrives as pieces (`planArchive`): archive files (whole
 *   months and days) and REST spans. Files are fetched `concurrency` ahead
 *   of the consumer; the REST spans of the plan start at once, and the
 *   cross-checks below as soon as their file is verified, so their round
 *   trips overlap the files'.
 * - A verified file is one batch claiming its span `"fetched"`: the candles
 *   it holds, and its missing periods verified empty, as a REST window's.
 * - A file that fails (missing, checksum mismatch, unreadable, archive
 *   unreachable) is reported and its span fetched over REST exactly, by
 *   the REST pager (with its claims); adjacent failed files are one span.
 * - Where a verified file meets REST, one REST window of up to a page
 *   inside the file is fetched and compared candle by candle with the
 *   file's. A difference is reported and the REST candles replace the
 *   file's in that window (REST wins): the two are never silently mixed.
 *
 * @module
 */

import {
  type CandleBatch,
  concatBatches,
  type CoverageClaim,
  sliceBatch,
} from "../format/candle_batch.ts";
import type { Timeframe } from "../format/timeframe.ts";
import type {
  ArchiveFailureKind,
  ArchiveFile,
  ArchiveFileResult,
  ArchivePiece,
} from "./_binance_archive.ts";
import { alignUp } from "./_ccxt_paging.ts";

/** A fallback or a difference, told to the user. */
export interface ArchiveReport {
  /** What happened: a file not used, or archive and REST disagreeing. */
  readonly kind: ArchiveFailureKind | "mismatch";
  /** Start of the span concerned, ms. */
  readonly from: number;
  /** End, exclusive, ms. */
  readonly to: number;
  /** One line, saying what was done about it. */
  readonly message: string;
}

/** What {@linkcode archiveCandles} stitches. */
export interface ArchiveSourcePlan {
  /** Timeframe. */
  readonly timeframe: Timeframe;
  /** Start of the range, ms (the first claim starts here). */
  readonly from: number;
  /** The range as files and REST spans, in order. */
  readonly pieces: readonly ArchivePiece[];
  /** Candles per REST page (the cross-check window). */
  readonly pageSize: number;
  /** Files fetched ahead. */
  readonly concurrency: number;
  /** Aborts everything. */
  readonly signal?: AbortSignal | undefined;
  /** Fetches and verifies one file. */
  readonly fetchFile: (
    file: ArchiveFile,
    signal: AbortSignal,
  ) => Promise<ArchiveFileResult>;
  /** The REST batches of a span, in order, with their claims. */
  readonly restPages: (from: number, to: number) => AsyncGenerator<CandleBatch>;
  /** One complete REST window `[from, to)` (the cross-check). */
  readonly restWindow: (
    from: number,
    to: number,
    signal: AbortSignal,
  ) => Promise<CandleBatch>;
  /** Told of each fallback and difference. */
  readonly report: (report: ArchiveReport) => void;
  /** Told of each file used. */
  readonly onFile?:
    | ((file: ArchiveFile, result: ArchiveFileResult) => void)
    | undefined;
}

const iso = (t: number) => new Date(t).toISOString().replace(".000Z", "Z");

const WHAT: Record<ArchiveFailureKind, string> = {
  missing: "not in the archive",
  checksum: "failed its SHA-256 check",
  corrupt: "unreadable",
  unavailable: "not fetched (archive unavailable)",
};

function lowerBound(t: Float64Array, x: number): number {
  let lo = 0, hi = t.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (t[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const values = (b: CandleBatch, i: number) =>
  `[${b.open[i]}, ${b.high[i]}, ${b.low[i]}, ${b.close[i]}, ${b.volume[i]}]`;

/** Yields the plan's candles in order (see the module doc). */
export async function* archiveCandles(
  plan: ArchiveSourcePlan,
): AsyncGenerator<CandleBatch> {
  const tf = plan.timeframe;
  const pieces = plan.pieces;
  const inner = new AbortController();
  const onAbort = () => inner.abort(plan.signal!.reason);
  plan.signal?.addEventListener("abort", onAbort, { once: true });
  if (plan.signal?.aborted) inner.abort(plan.signal.reason);

  /** The sides of file `i` where a REST span of the plan meets it. */
  const restSides = (i: number) => {
    const sides: Array<"start" | "end"> = [];
    if (pieces[i - 1]?.kind === "rest") sides.push("start");
    if (pieces[i + 1]?.kind === "rest") sides.push("end");
    return sides;
  };
  const tasks = new Map<number, Promise<ArchiveFileResult>>();
  let launched = 0;
  const launch = (cursor: number) => {
    const until = Math.min(pieces.length, cursor + plan.concurrency + 1);
    for (; launched < until; launched++) {
      const p = pieces[launched]!;
      if (p.kind !== "file") continue;
      const file = p.file;
      const sides = restSides(launched);
      // A verified file next to a REST span of the plan starts its
      // cross-check at once (a failed one needs none).
      const task = plan.fetchFile(file, inner.signal).then((r) => {
        if (r.ok) { for (const side of sides) overlap(file, side); }
        return r;
      });
      task.catch(() => {});
      tasks.set(launched, task);
    }
  };
  /** File `i`'s result; `take` also lets go of it (its candles). */
  const result = (i: number, take = false) => {
    launch(i);
    const task = tasks.get(i)!;
    if (take) tasks.delete(i);
    return task;
  };

  // The cross-check windows: one page inside a file, at the side where it
  // meets REST (fetched once; `launch` starts those next to the plan's REST
  // spans as soon as the file is verified).
  const overlaps = new Map<string, Promise<CandleBatch>>();
  const overlapSpan = (f: ArchiveFile, side: "start" | "end") => {
    const ms = Math.min(plan.pageSize * tf.ms, f.to - f.from);
    return side === "start" ? [f.from, f.from + ms] : [f.to - ms, f.to];
  };
  const overlap = (f: ArchiveFile, side: "start" | "end") => {
    const key = `${f.from}:${side}`;
    let p = overlaps.get(key);
    if (p === undefined) {
      const [a, b] = overlapSpan(f, side);
      p = plan.restWindow(a!, b!, inner.signal);
      p.catch(() => {});
      overlaps.set(key, p);
    }
    return p;
  };
  // REST spans of the plan, started at once (each pager buffers a bounded
  // number of pages ahead).
  const primed = new Map<
    number,
    {
      gen: AsyncGenerator<CandleBatch>;
      first: Promise<IteratorResult<CandleBatch>>;
    }
  >();
  for (let i = 0; i < pieces.length; i++) {
    const p = pieces[i]!;
    if (p.kind !== "rest") continue;
    const gen = plan.restPages(p.from, p.to);
    const first = gen.next();
    first.catch(() => {});
    primed.set(i, { gen, first });
  }

  let seq = 0;
  let claimedTo = plan.from; // end of the last claim passed on
  const pass = (batch: CandleBatch): CandleBatch => {
    for (const c of batch.coverage ?? []) claimedTo = Math.max(claimedTo, c.to);
    return { ...batch, seq: seq++ };
  };
  async function* rest(
    gen: AsyncGenerator<CandleBatch>,
    first?: Promise<IteratorResult<CandleBatch>>,
  ): AsyncGenerator<CandleBatch> {
    try {
      let r = await (first ?? gen.next());
      while (!r.done) {
        yield pass(r.value);
        r = await gen.next();
      }
    } finally {
      await gen.return(undefined);
    }
  }

  const crossCheck = async (
    batch: CandleBatch,
    f: ArchiveFile,
    side: "start" | "end",
  ): Promise<CandleBatch> => {
    const [a, b] = overlapSpan(f, side) as [number, number];
    const restBatch = await overlap(f, side);
    overlaps.delete(`${f.from}:${side}`);
    const lo = lowerBound(batch.time, a), hi = lowerBound(batch.time, b);
    const n = restBatch.time.length;
    let differ = 0;
    let first: string | undefined;
    const cols = ["open", "high", "low", "close", "volume"] as const;
    for (let i = lo, j = 0; i < hi || j < n;) {
      const ta = i < hi ? batch.time[i]! : Infinity;
      const tr = j < n ? restBatch.time[j]! : Infinity;
      if (ta === tr) {
        if (cols.some((c) => !Object.is(batch[c][i], restBatch[c][j]))) {
          differ++;
          first ??= `${iso(ta)}: archive ${values(batch, i)}, REST ${
            values(restBatch, j)
          }`;
        }
        i++, j++;
      } else if (ta < tr) {
        differ++;
        first ??= `${iso(ta)}: in the archive only`;
        i++;
      } else {
        differ++;
        first ??= `${iso(tr)}: from REST only`;
        j++;
      }
    }
    if (differ === 0) return batch;
    plan.report({
      kind: "mismatch",
      from: a,
      to: b,
      message: `The archive file ${f.label} and REST differ at ${differ} of ${
        Math.max(hi - lo, n)
      } candles where they meet (${iso(a)} to ${
        iso(b)
      }); first ${first}; the REST candles are used`,
    });
    return concatBatches([
      sliceBatch(batch, 0, lo),
      restBatch,
      sliceBatch(batch, hi),
    ]);
  };

  try {
    let prevRest = false;
    for (let i = 0; i < pieces.length;) {
      launch(i);
      const piece = pieces[i]!;
      if (piece.kind === "rest") {
        const p = primed.get(i)!;
        primed.delete(i);
        yield* rest(p.gen, p.first);
        prevRest = true;
        i++;
        continue;
      }
      const r = await result(i, true);
      if (!r.ok) {
        // Failed files next to each other are one REST span.
        const failed: Array<
          { file: ArchiveFile; kind: ArchiveFailureKind; message: string }
        > = [
          { file: piece.file, kind: r.kind, message: r.message },
        ];
        let j = i;
        for (;;) {
          const next = pieces[j + 1];
          if (next?.kind !== "file") break;
          const r2 = await result(j + 1);
          if (r2.ok) break;
          tasks.delete(j + 1);
          failed.push({ file: next.file, kind: r2.kind, message: r2.message });
          j++;
        }
        for (let k = 0; k < failed.length;) {
          let m = k;
          while (failed[m + 1]?.kind === failed[k]!.kind) m++;
          const a = failed[k]!, z = failed[m]!;
          const count = m - k + 1;
          plan.report({
            kind: a.kind,
            from: a.file.from,
            to: z.file.to,
            message: `${
              count === 1
                ? `Archive file ${a.file.label}`
                : `${count} archive files ${a.file.label} to ${z.file.label}`
            } ${WHAT[a.kind]}: fetched over REST instead (${a.message})`,
          });
          k = m + 1;
        }
        const from = piece.file.from;
        const to = failed[failed.length - 1]!.file.to;
        yield* rest(plan.restPages(from, to));
        prevRest = true;
        i = j + 1;
        continue;
      }
      const f = piece.file;
      plan.onFile?.(f, r);
      const next = pieces[i + 1];
      const nextRest = next?.kind === "rest" ||
        (next?.kind === "file" && !(await result(i + 1)).ok);
      let batch = r.batch;
      if (prevRest) batch = await crossCheck(batch, f, "start");
      if (nextRest) batch = await crossCheck(batch, f, "end");
      // A span before the file too short to hold a period is claimed with it.
      const from = claimedTo < f.from && alignUp(tf, claimedTo) >= f.from
        ? claimedTo
        : f.from;
      const claim: CoverageClaim = { from, to: f.to, state: "fetched" };
      yield pass({ ...batch, coverage: [claim] });
      prevRest = false;
      i++;
    }
  } finally {
    plan.signal?.removeEventListener("abort", onAbort);
    if (!inner.signal.aborted) inner.abort(new Error("archive paging stopped"));
    for (const p of primed.values()) {
      await p.gen.return(undefined).catch(() => {});
    }
  }
}
