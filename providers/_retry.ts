/**
 * Retries with exponential backoff and jitter, shared by the providers.
 *
 * @module
 */

import { TransientProviderError } from "./provider.ts";

/** Options for {@linkcode withRetry}. */
export interface RetryOptions {
  /** Retries after the first attempt. @default {5} */
  readonly maxRetries?: number;
  /** First backoff delay in ms. @default {500} */
  readonly baseDelayMs?: number;
  /** Largest backoff delay in ms. @default {30000} */
  readonly maxDelayMs?: number;
  /** Aborts waiting and retrying; the signal's reason is thrown. */
  readonly signal?: AbortSignal | undefined;
  /** Decides whether an error is retryable. @default {err instanceof TransientProviderError} */
  readonly isRetryable?: (error: unknown) => boolean;
  /** Called before each retry with the attempt number (1-based), the error and the delay. */
  readonly onRetry?: (attempt: number, error: unknown, delayMs: number) => void;
  /** Random source in [0, 1) for jitter (injectable for tests). @default {Math.random} */
  readonly random?: () => number;
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, Math.max(0, ms));
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The backoff delay before retry `attempt` (1-based): full jitter on an exponential cap. */
export function backoffDelay(
  attempt: number,
  baseDelayMs: number,
  maxDelayMs: number,
  random: () => number = Math.random,
): number {
  const cap = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
  return Math.round(cap / 2 + random() * cap / 2);
}

/**
 * Runs `fn`, retrying retryable failures with exponential backoff and jitter.
 * A `TransientProviderError` with `retryAfterMs` waits at least that long.
 * Non-retryable errors and the last failure are rethrown as they are.
 */
export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  options: RetryOptions = {},
): Promise<T> {
  const maxRetries = options.maxRetries ?? 5;
  const base = options.baseDelayMs ?? 500;
  const max = options.maxDelayMs ?? 30_000;
  const isRetryable = options.isRetryable ??
    ((e: unknown) => e instanceof TransientProviderError);
  for (let attempt = 0;; attempt++) {
    options.signal?.throwIfAborted();
    try {
      return await fn(attempt);
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      if (attempt >= maxRetries || !isRetryable(error)) throw error;
      let delay = backoffDelay(attempt + 1, base, max, options.random);
      if (
        error instanceof TransientProviderError &&
        error.retryAfterMs !== undefined
      ) {
        delay = Math.max(delay, error.retryAfterMs);
      }
      options.onRetry?.(attempt + 1, error, delay);
      await sleep(delay, options.signal);
    }
  }
}
