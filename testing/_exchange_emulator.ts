/**
 * Shared machinery of the loopback exchange emulators (Binance spot, Bybit v5):
 * an HTTP server on 127.0.0.1, deterministic candles with maintenance gaps and
 * a forming last candle, a weight-based rate limit, injectable faults,
 * latency and a request log. Private to `testing/`.
 *
 * @module
 */

import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { listenLoopback } from "./_loopback_server.ts";
import type { Timeframe } from "../format/timeframe.ts";
import type { CandleBatch } from "../format/candle_batch.ts";
import type {
  CandleSource,
  EmulatorSymbol,
  MaintenanceGap,
} from "./_candle_source.ts";

export { CandleSource, priceString } from "./_candle_source.ts";
export type { EmulatorSymbol, MaintenanceGap } from "./_candle_source.ts";

/** The kinds of injectable faults. */
export type FaultKind =
  | "400"
  | "429"
  | "418"
  | "500"
  | "503"
  | "drop"
  | "slow"
  | "malformed"
  /** Every candle of the answer with its high and low swapped (high < low). */
  | "invalid";

/** A fault to inject into chosen requests. */
export interface EmulatorFault {
  /** What goes wrong. */
  readonly kind: FaultKind;
  /**
   * Which request: a number is the n-th (1-based) candle-data request; a
   * function picks requests by path and query.
   */
  readonly at: number | ((request: LoggedRequest) => boolean);
  /** How many matching requests get the fault. @default {1} */
  readonly times?: number;
  /** Retry-After seconds sent with 429/418/503. @default {1} */
  readonly retryAfter?: number;
  /** Extra delay of a `"slow"` response, ms. @default {2000} */
  readonly delayMs?: number;
}

/** One entry of an emulator's request log. */
export interface LoggedRequest {
  /** 1-based number of the request. */
  readonly n: number;
  /** 1-based number among candle-data requests (klines), else 0. */
  readonly dataN: number;
  /** Wall-clock time the request arrived, ms. */
  readonly at: number;
  /** HTTP method. */
  readonly method: string;
  /** URL path. */
  readonly path: string;
  /** Query parameters. */
  readonly query: Readonly<Record<string, string>>;
  /** Request headers (lower-case names). */
  readonly headers: Readonly<Record<string, string>>;
  /** HTTP status answered (0 for a connection dropped mid-response). */
  status: number;
  /** Request weight counted against the rate limit. */
  weight: number;
  /** The injected fault, if any. */
  fault?: FaultKind;
}

/** Options every emulator takes. */
export interface ExchangeEmulatorOptions {
  /** Port; 0 picks a free one. @default {0} */
  readonly port?: number;
  /** The emulator's clock (ms): decides the forming candle and `serverTime`. @default {Date.now} */
  readonly now?: () => number;
  /** Instruments served; each emulator has a default set. */
  readonly symbols?: readonly EmulatorSymbol[];
  /** Maintenance gaps: time ranges without candles. @default {[]} */
  readonly gaps?: readonly MaintenanceGap[];
  /** Delay before each response, ms (a number or a function of the request). @default {0} */
  readonly latencyMs?: number | ((request: LoggedRequest) => number);
  /** Request weight allowed per rate-limit window. @default {6000 (Binance), 600 (Bybit)} */
  readonly weightLimit?: number;
  /** Rate-limit window length, ms (fixed windows on the wall clock). @default {60000 (Binance), 5000 (Bybit)} */
  readonly weightWindowMs?: number;
  /** Requests sent while told to back off before the IP is banned. @default {3} */
  readonly abuseThreshold?: number;
  /**
   * Requests arriving within this time after the first 429 of a backoff was
   * answered were sent before the client could know: they do not count
   * towards a ban. @default {200}
   */
  readonly backoffGraceMs?: number;
  /** Length of a ban, ms. @default {120000} */
  readonly banMs?: number;
  /** Faults to inject. @default {[]} */
  readonly faults?: readonly EmulatorFault[];
  /** Seed mixed into every symbol's candle series. @default {""} */
  readonly seed?: string;
}

/** A running emulator. */
export interface ExchangeEmulator extends AsyncDisposable {
  /** Base URL, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;
  /** The port bound. */
  readonly port: number;
  /** The request log (live). */
  readonly requests: readonly LoggedRequest[];
  /** The instruments served. */
  readonly symbols: readonly EmulatorSymbol[];
  /** Adds a fault at run time. */
  addFault(fault: EmulatorFault): void;
  /**
   * The closed candles the emulator serves for `id` and timeframe with open
   * time in `[from, to)`: the truth tests compare downloads with.
   */
  expectedCandles(
    id: string,
    timeframe: Timeframe,
    from: number,
    to: number,
  ): CandleBatch;
  /** Number of logged responses with this HTTP status. */
  countStatus(status: number): number;
  /** Stops the server and drops open connections. */
  close(): Promise<void>;
}

/** What a venue-specific route handler answers. */
export interface RouteAnswer {
  /** HTTP status. @default {200} */
  readonly status?: number;
  /** JSON body (serialized) or raw text. */
  readonly body: unknown;
  /** Extra headers. */
  readonly headers?: Readonly<Record<string, string>>;
}

/** A venue profile plugged into the shared server. */
export interface VenueProfile {
  /** Weight limit default. */
  readonly defaultWeightLimit: number;
  /** Window default, ms. */
  readonly defaultWindowMs: number;
  /** True for candle-data paths (counted by `dataN`, default fault target). */
  isData(path: string): boolean;
  /** Weight of a request. */
  weight(path: string, query: Readonly<Record<string, string>>): number;
  /** Answers a request. */
  route(
    path: string,
    query: Readonly<Record<string, string>>,
  ): RouteAnswer;
  /** Body of a rate-limit answer. */
  rateLimitBody(limit: number, windowMs: number): unknown;
  /** Status and body of a ban answer. */
  banAnswer(): { status: number; body: unknown };
  /** Body of a 5xx answer. */
  serverErrorBody(status: number): unknown;
  /** Status and body of a permanent request error (the venue's "invalid symbol"). */
  badRequestAnswer(): { status: number; body: unknown };
  /** Headers reporting the used weight. */
  usageHeaders(used: number, limit: number, windowMs: number): Record<
    string,
    string
  >;
}

/** Starts the shared HTTP server for a venue profile. */
export async function startExchangeServer(
  options: ExchangeEmulatorOptions,
  profile: VenueProfile,
  source: CandleSource,
  symbols: readonly EmulatorSymbol[],
): Promise<ExchangeEmulator> {
  const log: LoggedRequest[] = [];
  const faults: { fault: EmulatorFault; left: number }[] = (options.faults ??
    []).map((fault) => ({ fault, left: fault.times ?? 1 }));
  const limit = options.weightLimit ?? profile.defaultWeightLimit;
  const windowMs = options.weightWindowMs ?? profile.defaultWindowMs;
  const abuseThreshold = options.abuseThreshold ?? 3;
  const graceMs = options.backoffGraceMs ?? 200;
  const banMs = options.banMs ?? 120_000;
  let windowStart = 0;
  let used = 0;
  let backoffUntil = 0;
  let backoffToldAt = Infinity; // when the first 429 of a backoff was answered
  let violations = 0;
  let bannedUntil = 0;
  let dataCount = 0;

  const takeFault = (req: LoggedRequest): EmulatorFault | undefined => {
    for (const f of faults) {
      if (f.left <= 0) continue;
      const at = f.fault.at;
      const hit = typeof at === "number" ? req.dataN === at : at(req);
      if (hit) {
        f.left--;
        return f.fault;
      }
    }
    return undefined;
  };

  const handle = async (
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const query: Record<string, string> = {};
    url.searchParams.forEach((v, k) => (query[k] = v));
    const path = url.pathname;
    const isData = profile.isData(path);
    if (isData) dataCount++;
    const entry: LoggedRequest = {
      n: log.length + 1,
      dataN: isData ? dataCount : 0,
      at: Date.now(),
      method: req.method ?? "GET",
      path,
      query,
      headers: Object.fromEntries(
        Object.entries(req.headers).map(([k, v]) => [
          k,
          Array.isArray(v) ? v.join(", ") : String(v ?? ""),
        ]),
      ),
      status: 0,
      weight: profile.weight(path, query),
    };
    log.push(entry);
    const latency = typeof options.latencyMs === "function"
      ? options.latencyMs(entry)
      : options.latencyMs ?? 0;

    const send = async (
      status: number,
      body: unknown,
      headers: Record<string, string> = {},
    ): Promise<void> => {
      if (latency > 0) await delay(latency);
      entry.status = status;
      const text = typeof body === "string" ? body : JSON.stringify(body);
      const bytes = encoder.encode(text);
      res.writeHead(status, {
        "content-type": "application/json;charset=UTF-8",
        "content-length": String(bytes.byteLength),
        ...headers,
      });
      res.end(bytes);
    };

    // Rate limit and bans, on the wall clock.
    const wall = Date.now();
    if (wall < bannedUntil) {
      const ban = profile.banAnswer();
      await send(ban.status, ban.body, {
        "retry-after": String(Math.ceil((bannedUntil - wall) / 1000)),
      });
      return;
    }
    // Only requests sent after a 429 reached the client fail to back off;
    // those already in flight when it was answered do not count.
    if (wall < backoffUntil && entry.at >= backoffToldAt + graceMs) {
      violations++;
      if (violations >= abuseThreshold) {
        bannedUntil = wall + banMs;
        const ban = profile.banAnswer();
        await send(ban.status, ban.body, {
          "retry-after": String(Math.ceil(banMs / 1000)),
        });
        return;
      }
    }
    const win = Math.floor(wall / windowMs) * windowMs;
    if (win !== windowStart) {
      windowStart = win;
      used = 0;
    }
    if (used + entry.weight > limit) {
      const retryMs = windowStart + windowMs - wall;
      const until = windowStart + windowMs;
      if (backoffUntil !== until) {
        backoffUntil = until; // a new backoff: not told yet
        backoffToldAt = Infinity;
      }
      await send(429, profile.rateLimitBody(limit, windowMs), {
        "retry-after": String(Math.max(1, Math.ceil(retryMs / 1000))),
        ...profile.usageHeaders(used, limit, windowMs),
      });
      if (backoffUntil === until && backoffToldAt === Infinity) {
        backoffToldAt = Date.now();
      }
      return;
    }
    used += entry.weight;
    if (wall >= backoffUntil) violations = 0;

    const fault = takeFault(entry);
    if (fault) entry.fault = fault.kind;
    const retryAfter = String(fault?.retryAfter ?? 1);
    switch (fault?.kind) {
      case "400": {
        const bad = profile.badRequestAnswer();
        await send(bad.status, bad.body);
        return;
      }
      case "429":
        await send(429, profile.rateLimitBody(limit, windowMs), {
          "retry-after": retryAfter,
        });
        return;
      case "418":
        await send(418, profile.banAnswer().body, {
          "retry-after": retryAfter,
        });
        return;
      case "500":
      case "503":
        await send(
          Number(fault.kind),
          profile.serverErrorBody(Number(fault.kind)),
          fault.kind === "503" ? { "retry-after": retryAfter } : {},
        );
        return;
      case "drop": {
        // The connection dies mid-response: headers and half the body sent.
        if (latency > 0) await delay(latency);
        entry.status = 0;
        let text: string;
        try {
          text = JSON.stringify(profile.route(path, query).body);
        } catch {
          text = "{}";
        }
        const bytes = encoder.encode(text);
        res.writeHead(200, {
          "content-type": "application/json;charset=UTF-8",
          "content-length": String(bytes.byteLength),
        });
        res.write(bytes.subarray(0, bytes.byteLength >> 1));
        await delay(5);
        req.socket.destroy();
        return;
      }
      case "slow":
        await delay(fault.delayMs ?? 2000);
        break;
      default:
        break;
    }
    let answer: RouteAnswer;
    try {
      answer = profile.route(path, query);
    } catch (e) {
      await send(500, profile.serverErrorBody(500));
      console.error(e);
      return;
    }
    const headers = {
      ...profile.usageHeaders(used, limit, windowMs),
      ...answer.headers,
    };
    if (fault?.kind === "invalid") {
      await send(answer.status ?? 200, swapHighLow(answer.body), headers);
      return;
    }
    if (fault?.kind === "malformed") {
      const text = JSON.stringify(answer.body);
      await send(
        answer.status ?? 200,
        text.slice(0, Math.ceil(text.length / 2)),
        headers,
      );
      return;
    }
    await send(answer.status ?? 200, answer.body, headers);
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      try {
        res.destroy(e as Error);
      } catch {
        // already gone
      }
    });
  });
  const { port, close } = await listenLoopback(server, options.port);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests: log,
    symbols,
    addFault(fault: EmulatorFault): void {
      faults.push({ fault, left: fault.times ?? 1 });
    },
    expectedCandles(id, timeframe, from, to): CandleBatch {
      return source.expected(id, timeframe, from, to);
    },
    countStatus(status: number): number {
      return log.filter((r) => r.status === status).length;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}

const encoder = new TextEncoder();

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * The body with the high and low of every candle row swapped: any array of
 * at least five numbers or numeric strings, `[time, open, high, low, ...]`,
 * as Binance, Bybit and OKX rows are.
 */
function swapHighLow(body: unknown): unknown {
  if (Array.isArray(body)) {
    const numeric = (v: unknown) =>
      (typeof v === "number" || typeof v === "string") && v !== "" &&
      Number.isFinite(Number(v));
    if (body.length >= 5 && body.slice(0, 5).every(numeric)) {
      const row = [...body];
      [row[2], row[3]] = [row[3], row[2]];
      return row;
    }
    return body.map(swapHighLow);
  }
  if (body !== null && typeof body === "object") {
    return Object.fromEntries(
      Object.entries(body).map(([k, v]) => [k, swapHighLow(v)]),
    );
  }
  return body;
}

/** Parses an integer query parameter; `undefined` when absent, NaN when malformed. */
export function intParam(
  query: Readonly<Record<string, string>>,
  key: string,
): number | undefined {
  const v = query[key];
  if (v === undefined || v === "") return undefined;
  return /^-?\d+$/.test(v) ? Number(v) : NaN;
}
