/**
 * The candles of one ccxt request, once the venue, market and clock are
 * known: REST pages through `_ccxt_paging.ts`, or — for Binance markets
 * that Binance's public data archives hold, when that is faster — archive
 * files for the closed months and days stitched to REST pages for the rest
 * (`_ccxt_archive_source.ts`). Private to the ccxt provider.
 *
 * @module
 */

import type { CandleBatch } from "../format/candle_batch.ts";
import type { Timeframe } from "../format/timeframe.ts";
import { ProviderError } from "./provider.ts";
import {
  fetchWindow,
  InconsistentAnswerError,
  pageCandles,
  type PageFetcher,
} from "./_ccxt_paging.ts";
import { ccxtVenue, historyReason } from "./_ccxt_venues.ts";
import type { Venue } from "./_ccxt_exchange.ts";
import type { CcxtMarket } from "./_ccxt_symbols.ts";
import {
  archiveFileUrl,
  type ArchiveMarket,
  archiveMarket,
  type ArchivePiece,
  type ArchivePlanInput,
  DEFAULT_ARCHIVE_URL,
  fetchArchiveFile,
  planArchive,
} from "./_binance_archive.ts";
import { archiveCandles } from "./_ccxt_archive_source.ts";
import { type ArchiveInflater, startInflater } from "./_archive_inflate.ts";

/** Everything {@linkcode ccxtCandles} needs. */
export interface CcxtCandlesInput {
  /** The ccxt instance and its settings. */
  readonly venue: Venue;
  /** ccxt exchange id. */
  readonly exchange: string;
  /** The market. */
  readonly market: CcxtMarket;
  /** Timeframe. */
  readonly timeframe: Timeframe;
  /** The exchange's name of the timeframe (`1m`). */
  readonly tfKey: string;
  /** First open time wanted, ms. */
  readonly from: number;
  /** End, exclusive, ms. */
  readonly to: number;
  /** The exchange's clock. */
  readonly now: number;
  /** Candles per request. */
  readonly pageSize: number;
  /** Requests in flight. */
  readonly concurrency: number;
  /** Aborts the download. */
  readonly signal?: AbortSignal | undefined;
  /** False: REST only (`--no-archive`). */
  readonly archive: boolean;
  /** A ccxt call with retries and error conversion. */
  readonly call: <T>(
    what: string,
    fn: () => Promise<T>,
    signal?: AbortSignal,
  ) => Promise<T>;
  /** Retry settings (archive requests). */
  readonly retry: { readonly baseDelayMs: number; readonly maxDelayMs: number };
  /** Counts an HTTP request the provider sends itself. */
  readonly onRequest: () => void;
  /** Diagnostic lines (verbose). */
  readonly log: (line: string) => void;
  /** Lines worth telling the user (an archive fallback, a difference). */
  readonly notice?: ((line: string) => void) | undefined;
}

/** The archive's origin for a venue, or `undefined` when it is not used. */
export function archiveOrigin(
  exchange: string,
  venue: Venue,
  archive: boolean,
): string | undefined {
  const s = venue.settings;
  if (!archive || ccxtVenue(exchange).archive !== true) return undefined;
  if (s.archive === false || s.sandbox) return undefined;
  // A base URL points REST at a mirror or an emulator: the real archive
  // would not hold the same candles, so only an archive_url of its own.
  return s.archiveUrl ??
    (s.baseUrl === undefined ? DEFAULT_ARCHIVE_URL : undefined);
}

/** The archive files of a request, when the archive is used for it. */
export interface CcxtArchivePlan {
  /** The archive's origin. */
  readonly origin: string;
  /** Where the market's klines are in it. */
  readonly market: ArchiveMarket;
  /** The range as files and REST spans. */
  readonly pieces: readonly ArchivePiece[];
}

/**
 * The archive plan of a request: `undefined` when the venue has no archive,
 * it is off (`archive`, `--no-archive`, a `base_url` without `archive_url`,
 * the sandbox) or it would not be faster.
 */
export function ccxtArchivePlan(
  exchange: string,
  venue: Venue,
  m: CcxtMarket,
  p: Omit<ArchivePlanInput, "interval"> & {
    readonly tfKey: string;
    readonly archive: boolean;
  },
): CcxtArchivePlan | undefined {
  const origin = archiveOrigin(exchange, venue, p.archive);
  const market = archiveMarket(m);
  if (origin === undefined || market === undefined) return undefined;
  const pieces = planArchive({ ...p, interval: p.tfKey });
  return pieces && { origin, market, pieces };
}

/** The request's candles as ordered, claimed batches (see the module doc). */
export async function* ccxtCandles(
  input: CcxtCandlesInput,
): AsyncGenerator<CandleBatch> {
  const { venue, exchange, market: m, timeframe: tf, tfKey } = input;
  const label = `${exchange.toUpperCase()}:${m.symbol}`;
  const row = ccxtVenue(exchange);
  let offGrid = 0;
  const fetch: PageFetcher = (since, until, limit, sig) =>
    input.call(
      `Cannot fetch ${label} ${tf.period} candles from ${
        new Date(since).toISOString()
      }`,
      () => venue.ex.fetchOHLCV(m.symbol, tfKey, since, limit, { until }),
      sig,
    );
  const onOffGrid = (t: number) => {
    if (offGrid++ === 0) {
      input.log(
        `${label} sent ${tf.period} candles that do not open on the UTC grid of ${tf.period} (first: ${
          new Date(t).toISOString()
        }); the exchange's candles may be aligned to another time zone`,
      );
    }
  };
  const restPages = (from: number, to: number) =>
    pageCandles({
      timeframe: tf,
      from,
      to,
      pageSize: input.pageSize,
      concurrency: input.concurrency,
      now: input.now,
      signal: input.signal,
      rangeProbes: row.rangeProbes,
      historyLimit: row.historyLimit,
      historyReason: row.historyLimit === undefined
        ? undefined
        : historyReason(exchange, row.historyLimit),
      onOffGrid,
      fetch,
    });
  let inflater: Promise<ArchiveInflater> | undefined;
  try {
    const plan = ccxtArchivePlan(exchange, venue, m, {
      timeframe: tf,
      tfKey,
      from: input.from,
      to: input.to,
      now: input.now,
      pageSize: input.pageSize,
      archive: input.archive,
    });
    if (plan === undefined) {
      yield* restPages(input.from, input.to);
      return;
    }
    const { origin, market, pieces } = plan;
    let files = 0, candles = 0, fallbacks = 0;
    const timeout = venue.ex.timeout ?? 10_000;
    // Started now: its workers load while the first files are requested.
    inflater = startInflater();
    yield* archiveCandles({
      timeframe: tf,
      from: input.from,
      pieces,
      pageSize: input.pageSize,
      concurrency: input.concurrency,
      signal: input.signal,
      fetchFile: (file, signal) =>
        fetchArchiveFile({
          url: archiveFileUrl(origin, market, m.id, tfKey, file),
          file,
          timeframe: tf,
          volumeColumn: market === "futures/cm" ? 7 : 5,
          signal,
          deadlineMs: 10 * timeout,
          retries: 2,
          baseDelayMs: input.retry.baseDelayMs,
          maxDelayMs: input.retry.maxDelayMs,
          onRequest: input.onRequest,
          inflater,
        }),
      restPages,
      restWindow: (from, to, signal) =>
        fetchWindow(
          tf,
          from,
          to,
          input.pageSize,
          input.now,
          fetch,
          signal,
          onOffGrid,
        ),
      report: (r) => {
        if (r.kind !== "mismatch") fallbacks++;
        input.log(r.message);
        input.notice?.(`${label}: ${r.message}`);
      },
      onFile: (_file, r) => {
        files++;
        if (r.ok) candles += r.batch.time.length;
      },
    });
    input.log(
      `${label} ${tf.period}: ${files} archive files (${candles} candles) from ${origin}, ${fallbacks} fallbacks to REST, REST for the rest`,
    );
  } catch (e) {
    // Answers that contradicted themselves on every attempt: name the page.
    if (e instanceof InconsistentAnswerError && e.from !== undefined) {
      throw new ProviderError(
        `Cannot fetch ${label} ${tf.period} candles from ${
          new Date(e.from).toISOString()
        }: ${e.message}`,
        { code: e.code ?? "inconsistent.answer", cause: e },
      );
    }
    throw e;
  } finally {
    if (inflater !== undefined) (await inflater).close();
  }
}
