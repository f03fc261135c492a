/**
 * One ccxt call as the provider makes it: retried with backoff on transient
 * failures, paused for every request of the exchange after a `Retry-After`,
 * abortable, and its failure turned into a (transient) provider error with
 * the credentials taken out. Private to the ccxt provider.
 *
 * @module
 */

import { ProviderError, TransientProviderError } from "./provider.ts";
import { sleep, withRetry } from "./_retry.ts";
import type { Venue } from "./_ccxt_exchange.ts";

/** A `Retry-After` longer than this (ms) is not waited for: the download fails. */
export const MAX_RETRY_AFTER_MS = 300_000;

const TRANSIENT_MESSAGE =
  /System error|Internal error|try again later|Service Unavailable|timed? ?out/i;

/** `p`, or a rejection with the signal's reason as soon as `signal` aborts. */
export function abortable<T>(p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

/** Converts a ccxt failure into a (transient) provider error without secrets. */
export function venueError(
  venue: Venue,
  e: unknown,
  what: string,
): ProviderError {
  if (e instanceof ProviderError) return e;
  const { ccxt } = venue;
  const redact = (text: string) => {
    for (const s of venue.secrets) text = text.split(s).join("***");
    return text;
  };
  const message = redact(e instanceof Error ? e.message : String(e));
  // The ccxt error stays the cause (its class tells what failed): take any
  // credential out of it too, as verbose reports print causes.
  for (
    let cur: unknown = e, depth = 0;
    cur instanceof Error && depth < 5;
    cur = cur.cause, depth++
  ) {
    try {
      cur.message = redact(cur.message);
      if (cur.stack !== undefined) cur.stack = redact(cur.stack);
    } catch {
      // a frozen error: left as it is
    }
  }
  const codeMatch = /"(?:code|retCode)"\s*:\s*"?(-?\d+)/.exec(message);
  const code = codeMatch?.[1] ??
    (e instanceof Error ? e.constructor.name : undefined);
  const full = `${what}: ${message}`;
  const opts = code !== undefined ? { code, cause: e } : { cause: e };
  // Errors that are not ccxt's come from the network layer (a connection
  // reset while reading the body, for example): transient too.
  const isCcxt = e instanceof ccxt.BaseError;
  const failed = e instanceof ccxt.OperationFailed;
  const plainExchangeError = e instanceof ccxt.ExchangeError &&
    (e as Error).constructor === ccxt.ExchangeError;
  const transient = !isCcxt || failed ||
    (plainExchangeError && TRANSIENT_MESSAGE.test(message));
  if (transient) {
    const after = (e as { retryAfterMs?: number }).retryAfterMs;
    return new TransientProviderError(
      full,
      after !== undefined ? { ...opts, retryAfterMs: after } : opts,
    );
  }
  return new ProviderError(full, opts);
}

/** Retry settings of {@linkcode callVenue}. */
export interface CallRetry {
  /** Retries after the first attempt. */
  readonly maxRetries: number;
  /** First backoff delay, ms. */
  readonly baseDelayMs: number;
  /** Largest backoff delay, ms. */
  readonly maxDelayMs: number;
  /** Called before each retry. */
  readonly onRetry: (attempt: number, error: unknown, delayMs: number) => void;
}

/**
 * `p`, or a ccxt `RequestTimeout` when it has not settled after twice the
 * exchange's timeout: ccxt's timer ends once the headers arrive, so a venue
 * that stalls in the middle of a body would otherwise be waited for forever.
 */
function withDeadline<T>(venue: Venue, p: Promise<T>): Promise<T> {
  const ms = 2 * (venue.ex.timeout ?? 10_000);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new venue.ccxt.RequestTimeout(
            `${venue.ex.id} sent no complete answer within ${ms} ms`,
          ),
        ),
      ms,
    );
  });
  p.catch(() => {}); // a late failure of an abandoned call is not reported
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

/** Runs a ccxt call with retries, error conversion and abort. */
export function callVenue<T>(
  venue: Venue,
  what: string,
  fn: () => Promise<T>,
  retry: CallRetry,
  signal?: AbortSignal,
): Promise<T> {
  return withRetry(async () => {
    // A rate-limit answer pauses every request to the exchange, not just
    // the one that got it: requests that keep coming after a 429 get the
    // IP banned (418).
    const pause = venue.pausedUntil - Date.now();
    if (pause > 0) await sleep(pause, signal);
    let error: ProviderError;
    try {
      return await abortable(withDeadline(venue, fn()), signal);
    } catch (e) {
      if (signal?.aborted) throw signal.reason;
      error = venueError(venue, e, what);
    }
    const wait = error instanceof TransientProviderError
      ? error.retryAfterMs
      : undefined;
    if (wait !== undefined && wait <= MAX_RETRY_AFTER_MS) {
      venue.pausedUntil = Math.max(venue.pausedUntil, Date.now() + wait);
    }
    if (wait !== undefined && wait > MAX_RETRY_AFTER_MS) {
      throw new ProviderError(
        `${error.message} (the exchange asks to wait ${
          Math.round(wait / 1000)
        } s, probably an IP ban; try again later)`,
        error.code !== undefined
          ? { code: error.code, cause: error }
          : { cause: error },
      );
    }
    throw error;
  }, {
    maxRetries: retry.maxRetries,
    baseDelayMs: retry.baseDelayMs,
    maxDelayMs: retry.maxDelayMs,
    signal,
    onRetry: retry.onRetry,
  });
}
