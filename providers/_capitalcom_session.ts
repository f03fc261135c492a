/**
 * Capital.com REST client: lazy session login (plain or RSA-encrypted
 * password), rotating `CST`/`X-SECURITY-TOKEN` tokens, re-login on expired
 * sessions, a client-side rate limiter, timeouts and retries with backoff.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { constants, createPublicKey, publicEncrypt } from "node:crypto";
import { withRetry } from "./_retry.ts";
import type { CapitalComCredentials } from "./_capitalcom_config.ts";
import type { SlidingWindowLimiter } from "./_capitalcom_rate_limiter.ts";
import {
  ProviderError,
  type ProviderStats,
  TransientProviderError,
} from "./provider.ts";

/** Error codes that mean the session is gone: log in again and repeat. */
export const SESSION_ERROR_CODES: ReadonlySet<string> = new Set([
  "error.invalid.session.token",
  "error.null.client.token",
  "error.security.client-token-missing",
]);

/** Options for {@linkcode CapitalComClient}. */
export interface CapitalComClientOptions {
  /** Origin, e.g. `https://api-capital.backend-capital.com`. */
  readonly baseUrl: string;
  /** Credentials. */
  readonly credentials: CapitalComCredentials;
  /** Send the password RSA-encrypted. */
  readonly encryptPassword: boolean;
  /** Retries after the first attempt. */
  readonly maxRetries: number;
  /** Per-request timeout, ms. */
  readonly timeoutMs: number;
  /** First backoff delay, ms. */
  readonly retryBaseDelayMs: number;
  /** Shared limiter of all requests. */
  readonly limiter: SlidingWindowLimiter;
  /** Limiter of session (login) requests. */
  readonly loginLimiter: SlidingWindowLimiter;
  /** Shared counters. */
  readonly stats: ProviderStats;
  /** Diagnostic lines (already redacted by the client). */
  readonly log: (line: string) => void;
  /** Hint appended to login failures (where to fix credentials). */
  readonly credentialsHint: string;
}

/** Query parameters. */
export type Query = Readonly<Record<string, string | number | undefined>>;

interface RawResponse {
  status: number;
  body: unknown;
  errorCode: string | undefined;
  headers: Headers;
}

const SAFE_CODE = /^[A-Za-z0-9_.\-]{1,120}$/;

/** Replaces every occurrence of each secret (3+ characters) in `text` with `***`. */
export function redactSecrets(
  text: string,
  secrets: ReadonlyArray<string | undefined>,
): string {
  let out = text;
  for (const s of secrets) {
    if (s && s.length >= 3) out = out.split(s).join("***");
  }
  return out;
}

/** The message of an error, for logs. */
function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * One Capital.com session for one set of credentials. All requests go through
 * {@linkcode CapitalComClient.request}, which returns the parsed JSON body or
 * throws a `ProviderError` carrying the venue's `errorCode` as `code`.
 */
export class CapitalComClient {
  readonly #o: CapitalComClientOptions;
  #cst: string | undefined;
  #token: string | undefined;
  #login: Promise<void> | undefined;
  /** Counts logins, so concurrent requests that all met an expired session renew it once. */
  #generation = 0;
  #closed = false;
  /** The venue's clock from the last response's `Date` header, with the local time it came. */
  #venue: { server: number; at: number } | undefined;

  /** Creates a client; nothing is sent until the first request. */
  constructor(options: CapitalComClientOptions) {
    this.#o = options;
  }

  /** True while a session is open. */
  get loggedIn(): boolean {
    return this.#cst !== undefined;
  }

  /**
   * The venue's current time estimated from the `Date` header of the last
   * response plus the (monotonic) time since it arrived, in ms; `undefined`
   * before the first response. The header is truncated to whole seconds and
   * was written before the response travelled, so the estimate is never
   * ahead of the venue's clock.
   */
  venueNow(): number | undefined {
    const v = this.#venue;
    return v ? v.server + (performance.now() - v.at) : undefined;
  }

  #redact(text: string): string {
    const c = this.#o.credentials;
    return redactSecrets(text, [
      c.password,
      c.apiKey,
      c.identifier,
      this.#cst,
      this.#token,
    ]);
  }

  #log(line: string): void {
    this.#o.log(this.#redact(line));
  }

  #error(
    message: string,
    options: {
      code?: string | undefined;
      cause?: unknown;
      transient?: boolean;
    },
  ): ProviderError {
    const msg = this.#redact(message);
    const opts: { code?: string; cause?: unknown } = {};
    if (options.code !== undefined) opts.code = options.code;
    if (options.cause !== undefined) opts.cause = options.cause;
    return options.transient
      ? new TransientProviderError(msg, opts)
      : new ProviderError(msg, opts);
  }

  /** Sends one HTTP request (after the limiter), without session handling. */
  async #send(
    method: string,
    path: string,
    query: Query | undefined,
    headers: Record<string, string>,
    body: unknown,
    signal: AbortSignal | undefined,
    limiter: SlidingWindowLimiter,
  ): Promise<RawResponse> {
    await limiter.acquire(signal);
    if (limiter !== this.#o.limiter) await this.#o.limiter.acquire(signal);
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v !== undefined) params.set(k, String(v));
    }
    const qs = params.toString();
    const target = path + (qs ? `?${qs}` : "");
    const url = this.#o.baseUrl + target;
    const timeout = AbortSignal.timeout(this.#o.timeoutMs);
    const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
    const started = performance.now();
    this.#o.stats.requests++;
    let res: Response;
    let text: string;
    try {
      res = await fetch(url, {
        method,
        headers: {
          "Accept": "application/json",
          ...(body !== undefined ? { "Content-Type": "application/json" } : {}),
          ...headers,
        },
        body: body === undefined ? null : JSON.stringify(body),
        signal: combined,
      });
      text = await res.text();
    } catch (e) {
      if (signal?.aborted) throw signal.reason;
      const timedOut = timeout.aborted;
      const why = timedOut
        ? `timed out after ${this.#o.timeoutMs / 1000} s`
        : `failed: ${describe(e)}`;
      this.#log(`${method} ${target} ${why}`);
      throw this.#error(`Capital.com ${method} ${path} ${why}`, {
        code: timedOut ? "timeout" : "network",
        transient: true,
      });
    }
    const date = Date.parse(res.headers.get("Date") ?? "");
    if (Number.isFinite(date)) {
      this.#venue = { server: date, at: performance.now() };
    }
    // Rotated tokens replace the old ones.
    const cst = res.headers.get("CST");
    const token = res.headers.get("X-SECURITY-TOKEN");
    if (this.#cst !== undefined || path === "/api/v1/session") {
      if (cst) this.#cst = cst;
      if (token) this.#token = token;
    }
    let parsed: unknown = undefined;
    if (text.length > 0) {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = undefined;
      }
    }
    let errorCode: string | undefined;
    const raw = (parsed as { errorCode?: unknown } | undefined)?.errorCode;
    if (typeof raw === "string") {
      errorCode = SAFE_CODE.test(raw) ? raw : "(unreadable error code)";
    }
    this.#log(
      `${method} ${target} -> ${res.status}${
        errorCode ? ` ${errorCode}` : ""
      } (${Math.round(performance.now() - started)} ms)`,
    );
    return {
      status: res.status,
      body: parsed,
      errorCode,
      headers: res.headers,
    };
  }

  #failure(method: string, path: string, r: RawResponse): ProviderError {
    const code = r.errorCode;
    const what = `Capital.com ${method} ${path} failed: HTTP ${r.status}${
      code ? ` ${code}` : ""
    }`;
    if (r.status === 429 || code === "error.too-many.requests") {
      return this.#error(`${what} (rate limit)`, {
        code: code ?? "error.too-many.requests",
        transient: true,
      });
    }
    if (r.status >= 500) {
      return this.#error(what, {
        code: code ?? `http.${r.status}`,
        transient: true,
      });
    }
    return this.#error(what, { code: code ?? `http.${r.status}` });
  }

  async #doLogin(signal: AbortSignal | undefined): Promise<void> {
    const c = this.#o.credentials;
    this.#cst = undefined;
    this.#token = undefined;
    let password = c.password;
    let encrypted = false;
    if (this.#o.encryptPassword) {
      const r = await this.#send(
        "GET",
        "/api/v1/session/encryptionKey",
        undefined,
        { "X-CAP-API-KEY": c.apiKey },
        undefined,
        signal,
        this.#o.limiter, // only POST /session is held to 1 per second
      );
      if (r.status !== 200) throw this.#loginFailure(r);
      const body = r.body as { encryptionKey?: unknown; timeStamp?: unknown };
      if (
        typeof body?.encryptionKey !== "string" ||
        (typeof body.timeStamp !== "number" &&
          typeof body.timeStamp !== "string")
      ) {
        throw this.#error(
          "Capital.com GET /api/v1/session/encryptionKey answered without encryptionKey/timeStamp",
          { code: "bad.response" },
        );
      }
      try {
        password = encryptPassword(
          c.password,
          body.encryptionKey,
          body.timeStamp,
        );
      } catch (e) {
        throw this.#error(
          `Capital.com GET /api/v1/session/encryptionKey answered with a key that cannot encrypt (${
            describe(e)
          }); set encrypted_password = false to log in without it`,
          { code: "bad.response" },
        );
      }
      encrypted = true;
    }
    const r = await this.#send(
      "POST",
      "/api/v1/session",
      undefined,
      { "X-CAP-API-KEY": c.apiKey },
      { identifier: c.identifier, password, encryptedPassword: encrypted },
      signal,
      this.#o.loginLimiter,
    );
    if (r.status !== 200) throw this.#loginFailure(r);
    const cst = r.headers.get("CST");
    const token = r.headers.get("X-SECURITY-TOKEN");
    if (!cst || !token) {
      throw this.#error(
        "Capital.com login answered without CST/X-SECURITY-TOKEN headers",
        { code: "bad.response" },
      );
    }
    this.#cst = cst;
    this.#token = token;
    this.#generation++;
    this.#log(
      `Capital.com session opened${encrypted ? " (encrypted password)" : ""}`,
    );
  }

  #loginFailure(r: RawResponse): ProviderError {
    const e = this.#failure("POST", "/api/v1/session", r);
    if (e instanceof TransientProviderError) return e;
    return this.#error(
      `Capital.com login failed: HTTP ${r.status}${
        r.errorCode ? ` ${r.errorCode}` : ""
      }; check ${this.#o.credentialsHint}`,
      { code: e.code },
    );
  }

  /** Logs in (once, shared by concurrent callers). */
  #ensureLogin(signal: AbortSignal | undefined, force: boolean): Promise<void> {
    if (this.#closed) {
      return Promise.reject(
        new ProviderError("The Capital.com provider was disposed"),
      );
    }
    if (!force && this.#cst !== undefined) return Promise.resolve();
    if (!this.#login) {
      this.#login = this.#doLogin(signal).finally(() => {
        this.#login = undefined;
      });
    }
    return this.#login;
  }

  /**
   * Sends an authenticated request and returns the parsed JSON body. Expired
   * sessions are renewed and the request repeated once; rate limits,
   * timeouts and HTTP 5xx are retried with backoff; other failures throw a
   * `ProviderError` whose `code` is the venue's `errorCode`.
   */
  request(
    method: string,
    path: string,
    query?: Query,
    signal?: AbortSignal,
  ): Promise<unknown> {
    return withRetry(async () => {
      await this.#ensureLogin(signal, false);
      let r: RawResponse;
      for (let repeat = 0;; repeat++) {
        const generation = this.#generation;
        const sent = this.#token;
        r = await this.#authed(method, path, query, signal);
        if (
          r.errorCode === undefined || !SESSION_ERROR_CODES.has(r.errorCode) ||
          repeat >= 2
        ) break;
        this.#o.stats.retries++;
        if (this.#generation !== generation || this.#token !== sent) {
          // Another request renewed or rotated the session meanwhile: use that.
          await this.#ensureLogin(signal, false);
        } else {
          this.#log(
            `Capital.com session expired (${r.errorCode}); logging in again`,
          );
          await this.#ensureLogin(signal, true);
        }
      }
      if (r.status >= 200 && r.status < 300) return r.body;
      throw this.#failure(method, path, r);
    }, {
      maxRetries: this.#o.maxRetries,
      baseDelayMs: this.#o.retryBaseDelayMs,
      signal,
      onRetry: (attempt, error, delay) => {
        this.#o.stats.retries++;
        this.#log(
          `retry ${attempt}/${this.#o.maxRetries} in ${delay} ms after: ${
            describe(error)
          }`,
        );
      },
    });
  }

  #authed(
    method: string,
    path: string,
    query: Query | undefined,
    signal: AbortSignal | undefined,
  ): Promise<RawResponse> {
    const headers: Record<string, string> = {};
    if (this.#cst) headers["CST"] = this.#cst;
    if (this.#token) headers["X-SECURITY-TOKEN"] = this.#token;
    return this.#send(
      method,
      path,
      query,
      headers,
      undefined,
      signal,
      this.#o.limiter,
    );
  }

  /** Closes the session (`DELETE /api/v1/session`); failures are only logged. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#login?.catch(() => {});
    if (this.#cst === undefined) return;
    try {
      const r = await this.#authed(
        "DELETE",
        "/api/v1/session",
        undefined,
        undefined,
      );
      this.#log(
        r.status === 200
          ? "Capital.com session closed"
          : `Capital.com session already gone (HTTP ${r.status}${
            r.errorCode ? ` ${r.errorCode}` : ""
          })`,
      );
    } catch (e) {
      this.#log(`closing the Capital.com session failed: ${describe(e)}`);
    } finally {
      this.#cst = undefined;
      this.#token = undefined;
    }
  }
}

/**
 * Encrypts the password as Capital.com's encrypted login wants it: RSA
 * PKCS#1 v1.5 with the base64-DER public key over `base64(password|timeStamp)`,
 * returned as base64.
 */
export function encryptPassword(
  password: string,
  encryptionKey: string,
  timeStamp: number | string,
): string {
  const key = createPublicKey({
    key: Buffer.from(encryptionKey, "base64"),
    format: "der",
    type: "spki",
  });
  const input = Buffer.from(
    Buffer.from(`${password}|${timeStamp}`, "utf8").toString("base64"),
    "utf8",
  );
  return publicEncrypt({ key, padding: constants.RSA_PKCS1_PADDING }, input)
    .toString("base64");
}
