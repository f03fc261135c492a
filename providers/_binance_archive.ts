/**
 * Binance's public data archives (`https://data.binance.vision`): closed
 * klines as one zip of CSV per UTC month or day, each with a `.CHECKSUM`
 * (SHA-256), free of request weight. This module knows the layout, picks the
 * files that make a range faster than REST pages, and fetches one file:
 * checksum and zip side by side, the zip hashed, inflated and parsed as it
 * streams (`_archive_inflate.ts`, in a worker where there are workers), its
 * candles used only once the hash matches. Private to the ccxt
 * provider (`_ccxt_archive_source.ts` stitches the files to REST).
 *
 * Layout: `<origin>/data/<market>/<monthly|daily>/klines/<SYMBOL>/<interval>/
 * <SYMBOL>-<interval>-<YYYY-MM | YYYY-MM-DD>.zip` and the same name plus
 * `.CHECKSUM`, holding `<sha256 hex>  <SYMBOL>-<interval>-<date>.zip`;
 * `<market>` is `spot`, `futures/um` (USDⓈ-M) or `futures/cm` (COIN-M). A
 * file that does not exist is an HTTP 404 (S3's XML body).
 *
 * @module
 */

import { createHash } from "node:crypto";
import type { CandleBatch } from "../format/candle_batch.ts";
import type { Timeframe } from "../format/timeframe.ts";
import {
  type ArchiveInflater,
  IN_THREAD,
  type ParsedKlines,
} from "./_archive_inflate.ts";
import { backoffDelay, sleep } from "./_retry.ts";

/** The archive's default origin. */
export const DEFAULT_ARCHIVE_URL = "https://data.binance.vision";

/** Where a market's klines are in the archive. */
export type ArchiveMarket = "spot" | "futures/um" | "futures/cm";

/** Kline intervals the archive publishes (Binance's names; `1s` spot only). */
const INTERVALS = new Set([
  "1s",
  "1m",
  "3m",
  "5m",
  "15m",
  "30m",
  "1h",
  "2h",
  "4h",
  "6h",
  "8h",
  "12h",
  "1d",
]);

/** A month holding more periods than this is read from daily files (1s). */
const MONTHLY_MAX_PERIODS = 50_000;

const DAY = 86_400_000;

/** One archive file: a whole UTC month or day. */
export interface ArchiveFile {
  /** Monthly or daily file. */
  readonly kind: "monthly" | "daily";
  /** First open time it covers, ms. */
  readonly from: number;
  /** End, exclusive, ms. */
  readonly to: number;
  /** `2024-01` or `2024-01-15`. */
  readonly label: string;
}

/** A part of a range: an archive file, or a span for REST pages. */
export type ArchivePiece =
  | { readonly kind: "file"; readonly file: ArchiveFile }
  | { readonly kind: "rest"; readonly from: number; readonly to: number };

/** The archive market of a ccxt market, if the archive has one. */
export function archiveMarket(
  m: {
    spot?: boolean | undefined;
    linear?: boolean | undefined;
    inverse?: boolean | undefined;
    option?: boolean | undefined;
  },
): ArchiveMarket | undefined {
  if (m.option) return undefined;
  if (m.spot) return "spot";
  if (m.linear) return "futures/um";
  if (m.inverse) return "futures/cm";
  return undefined;
}

/** The zip's URL of a file (its checksum: the same plus `.CHECKSUM`). */
export function archiveFileUrl(
  origin: string,
  market: ArchiveMarket,
  symbolId: string,
  interval: string,
  file: ArchiveFile,
): string {
  return `${
    origin.replace(/\/+$/, "")
  }/data/${market}/${file.kind}/klines/${symbolId}/${interval}/${symbolId}-${interval}-${file.label}.zip`;
}

const pad = (n: number) => String(n).padStart(2, "0");

function monthFile(t: number): ArchiveFile {
  const d = new Date(t);
  const y = d.getUTCFullYear(), m = d.getUTCMonth();
  return {
    kind: "monthly",
    from: t,
    to: Date.UTC(y, m + 1, 1),
    label: `${y}-${pad(m + 1)}`,
  };
}

function dayFile(t: number): ArchiveFile {
  const d = new Date(t);
  return {
    kind: "daily",
    from: t,
    to: t + DAY,
    label: `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${
      pad(d.getUTCDate())
    }`,
  };
}

/** What {@linkcode planArchive} needs. */
export interface ArchivePlanInput {
  /** Timeframe (its archive interval is `interval`). */
  readonly timeframe: Timeframe;
  /** Binance's interval name (`1m`). */
  readonly interval: string;
  /** First open time wanted, ms. */
  readonly from: number;
  /** End, exclusive, ms. */
  readonly to: number;
  /** The exchange's clock: only files whose span has ended are used. */
  readonly now: number;
  /** Candles per REST request. */
  readonly pageSize: number;
}

/**
 * The range as archive files and REST spans, or `undefined` when the
 * archive would not be faster. A file is fetched in one round trip (its
 * checksum beside it) without request weight; REST needs a page per
 * `pageSize` periods. So a file is used when it replaces at least two pages
 * (1-minute days, months up to 30 minutes), monthly files for whole months,
 * daily files for the other whole days; and the archive at all when the
 * pages it replaces outnumber its files plus one cross-check request per
 * place where it meets REST.
 */
export function planArchive(p: ArchivePlanInput): ArchivePiece[] | undefined {
  const tf = p.timeframe;
  if (!INTERVALS.has(p.interval) || tf.calendar || DAY % tf.ms !== 0) {
    return undefined;
  }
  const end = Math.min(p.to, p.now);
  const periods = (a: number, b: number) => Math.ceil((b - a) / tf.ms);
  const worth = (f: ArchiveFile) => periods(f.from, f.to) > p.pageSize;
  const files: ArchiveFile[] = [];
  let d = Math.ceil(p.from / DAY) * DAY;
  while (d + DAY <= end) {
    const month = monthFile(d);
    if (
      new Date(d).getUTCDate() === 1 && month.to <= end &&
      periods(month.from, month.to) <= MONTHLY_MAX_PERIODS && worth(month)
    ) {
      files.push(month);
      d = month.to;
      continue;
    }
    const day = dayFile(d);
    if (worth(day)) files.push(day);
    d += DAY;
  }
  const pieces: ArchivePiece[] = [];
  let at = p.from;
  for (const f of files) {
    if (f.from > at) pieces.push({ kind: "rest", from: at, to: f.from });
    pieces.push({ kind: "file", file: f });
    at = f.to;
  }
  if (at < p.to) pieces.push({ kind: "rest", from: at, to: p.to });
  let saved = 0;
  let junctions = 0;
  for (let i = 0; i < pieces.length; i++) {
    const x = pieces[i]!;
    if (x.kind === "file") {
      saved += Math.ceil(periods(x.file.from, x.file.to) / p.pageSize);
    } else {
      if (pieces[i - 1]?.kind === "file") junctions++;
      if (pieces[i + 1]?.kind === "file") junctions++;
    }
  }
  return saved > files.length + junctions ? pieces : undefined;
}

/** Why a file's candles were not used. */
export type ArchiveFailureKind =
  /** The file (or its checksum) does not exist: HTTP 404. */
  | "missing"
  /** The zip's SHA-256 is not the one its `.CHECKSUM` declares. */
  | "checksum"
  /** The zip or its CSV cannot be read. */
  | "corrupt"
  /** The archive did not answer (network errors, 5xx), after retries. */
  | "unavailable";

/** What fetching one file gave. */
export type ArchiveFileResult =
  | {
    readonly ok: true;
    /** The file's candles, in time order, inside its span. */
    readonly batch: CandleBatch;
    /** The CSV had a header row. */
    readonly header: boolean;
    /** Its open times were microseconds. */
    readonly microseconds: boolean;
  }
  | {
    readonly ok: false;
    /** What went wrong. */
    readonly kind: ArchiveFailureKind;
    /** One line. */
    readonly message: string;
  };

/** How to fetch one file. */
export interface ArchiveFetchOptions {
  /** The zip's URL. */
  readonly url: string;
  /** The file. */
  readonly file: ArchiveFile;
  /** Timeframe of its candles. */
  readonly timeframe: Timeframe;
  /** CSV column of the volume (7 for COIN-M). @default {5} */
  readonly volumeColumn?: 5 | 7 | undefined;
  /** Aborts the fetch (the signal's reason is thrown). */
  readonly signal: AbortSignal;
  /** Longest a file may take, ms. */
  readonly deadlineMs: number;
  /** Retries after network errors and 5xx. */
  readonly retries: number;
  /** First backoff delay, ms. */
  readonly baseDelayMs: number;
  /** Largest backoff delay, ms. */
  readonly maxDelayMs: number;
  /** Called for each HTTP request. */
  readonly onRequest: () => void;
  /** Where the zip is inflated and parsed. @default {the calling thread} */
  readonly inflater?: ArchiveInflater | Promise<ArchiveInflater> | undefined;
}

class Failure extends Error {
  constructor(readonly kind: ArchiveFailureKind, message: string) {
    super(message);
  }
}

const status = (res: Response, url: string): Failure =>
  res.status === 404 || res.status === 403
    ? new Failure(
      "missing",
      `${url} is not in the archive (HTTP ${res.status})`,
    )
    : new Failure("unavailable", `${url} answered HTTP ${res.status}`);

/** Fetches, verifies and parses one archive file; never throws but for an abort. */
export async function fetchArchiveFile(
  o: ArchiveFetchOptions,
): Promise<ArchiveFileResult> {
  for (let attempt = 0;; attempt++) {
    o.signal.throwIfAborted();
    try {
      return await fetchOnce(o);
    } catch (e) {
      if (o.signal.aborted) throw o.signal.reason;
      const f = e instanceof Failure
        ? e
        : new Failure("unavailable", `${o.url}: ${(e as Error)?.message ?? e}`);
      if (f.kind !== "unavailable" || attempt >= o.retries) {
        return { ok: false, kind: f.kind, message: f.message };
      }
      await sleep(
        backoffDelay(attempt + 1, o.baseDelayMs, o.maxDelayMs),
        o.signal,
      );
    }
  }
}

async function fetchOnce(o: ArchiveFetchOptions): Promise<ArchiveFileResult> {
  const signal = AbortSignal.any([o.signal, AbortSignal.timeout(o.deadlineMs)]);
  const name = o.url.slice(o.url.lastIndexOf("/") + 1);
  o.onRequest();
  o.onRequest();
  const [sumRes, zipRes] = await Promise.allSettled([
    fetch(`${o.url}.CHECKSUM`, { signal }),
    fetch(o.url, { signal }),
  ]);
  const drop = (r: PromiseSettledResult<Response>) => {
    if (r.status === "fulfilled") r.value.body?.cancel().catch(() => {});
  };
  if (sumRes.status === "rejected" || zipRes.status === "rejected") {
    drop(sumRes);
    drop(zipRes);
    const e = sumRes.status === "rejected"
      ? sumRes.reason
      : (zipRes as PromiseRejectedResult).reason;
    throw e;
  }
  const sum = sumRes.value, zip = zipRes.value;
  if (!sum.ok || !zip.ok || zip.body === null) {
    drop(sumRes);
    drop(zipRes);
    throw status(sum.ok ? zip : sum, sum.ok ? o.url : `${o.url}.CHECKSUM`);
  }
  const sumText = (await sum.text()).trim();
  const m = /^([0-9a-fA-F]{64})\s+\*?(\S+)$/.exec(sumText);
  if (!m || m[2] !== name) {
    drop(zipRes);
    throw new Failure(
      "checksum",
      `${o.url}.CHECKSUM does not hold "<sha256>  ${name}": ${
        JSON.stringify(sumText.slice(0, 100))
      }`,
    );
  }
  const expected = m[1]!.toLowerCase();
  const tf = o.timeframe;
  const job = (await (o.inflater ?? IN_THREAD)).open(
    o.volumeColumn ?? 5,
    Math.ceil((o.file.to - o.file.from) / tf.ms),
  );
  const hash = createHash("sha256");
  let broken: unknown;
  let parsed: ParsedKlines | undefined;
  let read = false;
  try {
    // Every byte is hashed; the entry is inflated and parsed alongside (a
    // failure there is told after the hash, which may explain it).
    for await (const chunk of zip.body) {
      hash.update(chunk);
      if (broken === undefined) {
        try {
          await job.write(chunk);
        } catch (e) {
          broken = e;
        }
      }
    }
    read = true;
  } finally {
    if (!read) job.abort();
  }
  if (broken === undefined) {
    try {
      parsed = await job.end();
    } catch (e) {
      broken = e;
    }
  } else job.abort();
  const actual = hash.digest("hex");
  if (actual !== expected) {
    throw new Failure(
      "checksum",
      `${o.url} has SHA-256 ${actual}; its .CHECKSUM says ${expected}`,
    );
  }
  if (parsed === undefined) {
    throw new Failure(
      "corrupt",
      `${o.url} cannot be read: ${(broken as Error)?.message ?? broken}`,
    );
  }
  const batch = parsed.batch;
  const t = batch.time;
  for (let i = 0; i < t.length; i++) {
    const x = t[i]!;
    const outside = !(x >= o.file.from && x < o.file.to);
    if (outside || (i > 0 && !(x > t[i - 1]!))) {
      throw new Failure(
        "corrupt",
        `${o.url} holds a candle at ${
          Number.isFinite(x) ? new Date(x).toISOString() : x
        } ${outside ? "outside its" : "out of order in its"} ${
          o.file.kind === "monthly" ? "month" : "day"
        }`,
      );
    }
  }
  return {
    ok: true,
    batch,
    header: parsed.header,
    microseconds: parsed.microseconds,
  };
}
