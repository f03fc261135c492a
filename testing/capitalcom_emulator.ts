/**
 * A Capital.com-compatible REST server on 127.0.0.1 for tests, benchmarks and
 * offline demos: session login (plain and RSA-encrypted password), rotating
 * tokens that expire after 10 idle minutes, `/markets` search and details
 * with realistic opening hours, `/prices` with bid/ask bars that exist only
 * while the market is open, the `max`/`from`/`to` rules and the date-range
 * error, a forming last bar, the 10 requests/s and 1 login/s limits,
 * optionally a page cap below `max` (answers cut short), injectable faults
 * and a request log.
 *
 * @example
 * ```ts ignore
import { startCapitalComEmulator } from "@pyne/data/testing";
 *
 * await using emu = await startCapitalComEmulator({ now: () => Date.UTC(2025, 0, 10) });
 * console.log(emu.url, emu.credentials.apiKey);
 * ```
 *
 * @module
 */

import { createServer } from "node:http";
import { allocBatch, type CandleBatch } from "../format/candle_batch.ts";
import { parsePeriod } from "../format/timeframe.ts";
import { listenLoopback } from "./_loopback_server.ts";
import { json, Reply } from "./_capitalcom_http.ts";
import { MarketData } from "./_capitalcom_market_data.ts";
import {
  DEFAULT_EMULATOR_MARKETS,
  EMULATOR_RESOLUTIONS,
  type EmulatorFault,
  type EmulatorMarket,
} from "./_capitalcom_markets.ts";
import { type EmulatorState, handleRequest } from "./_capitalcom_routes.ts";
import { LoginKeys, RateWindow, SessionTable } from "./_capitalcom_sessions.ts";

export type { CandleBatch, CandleExtra } from "../format/candle_batch.ts";
export {
  DEFAULT_EMULATOR_MARKETS,
  EMULATOR_RESOLUTIONS,
  type EmulatorFault,
  type EmulatorMarket,
  type EmulatorOpeningHours,
} from "./_capitalcom_markets.ts";

/** One entry of the request log. */
export interface EmulatorRequest {
  /** HTTP method. */
  readonly method: string;
  /** Path without the query. */
  readonly path: string;
  /** Query parameters. */
  readonly query: Readonly<Record<string, string>>;
  /** Status answered. */
  readonly status: number;
  /** `errorCode` answered, if any. */
  readonly errorCode: string | undefined;
  /** Emulator clock at arrival, ms. */
  readonly time: number;
}

/** Options of {@linkcode startCapitalComEmulator}. */
export interface CapitalComEmulatorOptions {
  /** Port; 0 picks a free one. @default {0} */
  readonly port?: number | undefined;
  /** Accepted API key. @default {"emulator-api-key"} */
  readonly apiKey?: string | undefined;
  /** Accepted login. @default {"trader@example.com"} */
  readonly identifier?: string | undefined;
  /** Accepted password. @default {"emulator-password"} */
  readonly password?: string | undefined;
  /** Market clock (bars, forming bar, session expiry), ms. @default {Date.now} */
  readonly now?: (() => number) | undefined;
  /** Idle time after which a session dies, ms. @default {600000} */
  readonly sessionTimeoutMs?: number | undefined;
  /** Rotate the tokens every N authenticated requests (0 = never). @default {5} */
  readonly rotateEvery?: number | undefined;
  /** Requests allowed per second (real time); `Infinity` disables. @default {10} */
  readonly requestsPerSecond?: number | undefined;
  /** Logins allowed per second per API key (real time); `Infinity` disables. @default {1} */
  readonly loginsPerSecond?: number | undefined;
  /** Clock of the rate limits, ms. @default {performance.now} */
  readonly rateClock?: (() => number) | undefined;
  /** Markets served. @default {DEFAULT_EMULATOR_MARKETS} */
  readonly markets?: readonly EmulatorMarket[] | undefined;
  /** RSA key size for the encrypted login. @default {2048} */
  readonly rsaBits?: number | undefined;
  /** Faults active from the start. */
  readonly faults?: readonly EmulatorFault[] | undefined;
  /**
   * Send the venue's time (`now`) in each answer's `Date` header, as the real
   * service does; `false` sends no `Date` header at all. @default {true}
   */
  readonly dateHeader?: boolean | undefined;
  /** Delay before each request is handled, ms (network latency in benchmarks). @default {0} */
  readonly latencyMs?: number | undefined;
  /**
   * Most bars one `/prices` answer holds, whatever `max` asked for (a venue
   * may always answer fewer rows than asked): a range holding more is cut
   * short, keeping its `pageCapKeeps` end. @default {Infinity}
   */
  readonly pageCap?: number | undefined;
  /**
   * Which bars of a range cut short by `pageCap` are answered: the
   * `"oldest"` (what a range read forward from `from` gives) or the
   * `"newest"` (what Capital.com answers without `from`). @default {"oldest"}
   */
  readonly pageCapKeeps?: "oldest" | "newest" | undefined;
}

/** A running emulator. */
export interface CapitalComEmulator extends AsyncDisposable {
  /** Origin, e.g. `http://127.0.0.1:40123`. */
  readonly url: string;
  /** Port bound. */
  readonly port: number;
  /** Every request received, in order. */
  readonly requests: EmulatorRequest[];
  /** The credentials it accepts. */
  readonly credentials: {
    readonly apiKey: string;
    readonly identifier: string;
    readonly password: string;
  };
  /** Adds a fault for the next matching request(s). */
  fault(fault: EmulatorFault): void;
  /** Ends every session now (the next authenticated request gets `error.invalid.session.token`). */
  expireSessions(): void;
  /** Number of live sessions. */
  readonly sessionCount: number;
  /**
   * The closed bars of `[from, to)` exactly as `/prices` serves them: bid OHLC
   * and volume in the columns, `ask_open`/`ask_high`/`ask_low`/`ask_close`/`spread`
   * in `extra`. `resolution` is Capital.com's (`"HOUR"`) or a TradingView period (`"60"`).
   */
  bars(epic: string, resolution: string, from: number, to: number): CandleBatch;
  /** Stops the server. */
  close(): Promise<void>;
}

/**
 * Starts a Capital.com emulator on 127.0.0.1. Close it with `close()` or
 * `await using`.
 */
export async function startCapitalComEmulator(
  options: CapitalComEmulatorOptions = {},
): Promise<CapitalComEmulator> {
  const now = options.now ?? (() => Date.now());
  const pageCap = options.pageCap ?? Infinity;
  if (
    !(pageCap >= 1) || (Number.isFinite(pageCap) && !Number.isInteger(pageCap))
  ) {
    throw new RangeError(
      `pageCap must be a whole number >= 1 or Infinity, got ${options.pageCap}`,
    );
  }
  const pageCapKeeps = options.pageCapKeeps ?? "oldest";
  if (pageCapKeeps !== "oldest" && pageCapKeeps !== "newest") {
    throw new RangeError(
      `pageCapKeeps must be "oldest" or "newest", got ${
        JSON.stringify(options.pageCapKeeps)
      }`,
    );
  }
  const rateClock = options.rateClock ?? (() => performance.now());
  const markets = new Map<string, MarketData>();
  for (const m of options.markets ?? DEFAULT_EMULATOR_MARKETS) {
    markets.set(m.epic, new MarketData(m));
  }
  const state: EmulatorState = {
    credentials: {
      apiKey: options.apiKey ?? "emulator-api-key",
      identifier: options.identifier ?? "trader@example.com",
      password: options.password ?? "emulator-password",
    },
    now,
    markets,
    pageCap: { max: pageCap, keeps: pageCapKeeps },
    faults: (options.faults ?? []).map((f) => ({
      fault: f,
      left: f.count ?? 1,
    })),
    sessions: new SessionTable({
      now,
      timeoutMs: options.sessionTimeoutMs ?? 600_000,
      rotateEvery: options.rotateEvery ?? 5,
    }),
    keys: new LoginKeys(options.rsaBits ?? 2048),
    requestLimit: new RateWindow(options.requestsPerSecond ?? 10, rateClock),
    loginLimit: new RateWindow(options.loginsPerSecond ?? 1, rateClock),
  };
  const requests: EmulatorRequest[] = [];
  const handle = handleRequest.bind(undefined, state);

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const arrived = now();
    const record = (status: number, errorCode: string | undefined) => {
      requests.push({
        method: req.method ?? "GET",
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        status,
        errorCode,
        time: arrived,
      });
    };
    // Like the real service, every answer carries the venue's time (from the
    // injectable clock).
    if (options.dateHeader === false) res.sendDate = false;
    else res.setHeader("Date", new Date(arrived).toUTCString());
    const ctx = { headers: {} as Record<string, string> };
    const latency = options.latencyMs ?? 0;
    (latency > 0
      ? new Promise((r) => setTimeout(r, latency)).then(() =>
        handle(req, res, ctx)
      )
      : handle(req, res, ctx)).then(
        (r) => record(r.status, r.errorCode),
        (e) => {
          if (e instanceof Reply) {
            if (!res.headersSent) {
              json(res, e.status, { errorCode: e.errorCode }, ctx.headers);
            }
            record(e.status, e.errorCode);
          } else {
            if (!res.headersSent) {
              json(res, 500, { errorCode: "error.internal" });
            }
            record(500, "error.internal");
          }
        },
      );
  });
  const { port, close } = await listenLoopback(server, options.port);

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    credentials: state.credentials,
    fault(fault: EmulatorFault): void {
      state.faults.push({ fault, left: fault.count ?? 1 });
    },
    expireSessions(): void {
      state.sessions.clear();
    },
    get sessionCount(): number {
      return state.sessions.size;
    },
    bars(
      epic: string,
      resolution: string,
      from: number,
      to: number,
    ): CandleBatch {
      const md = markets.get(epic);
      if (!md) throw new RangeError(`The emulator has no market "${epic}"`);
      const period = EMULATOR_RESOLUTIONS[resolution] ?? resolution;
      const tf = parsePeriod(period);
      const t = now();
      const times = md.times(period, from, to - 1, t).filter((bt) =>
        bt + tf.ms <= t && bt < to
      );
      const b = allocBatch(times.length);
      const extra = times.map((bt, i) => {
        const bar = md.bar(bt, tf.ms, t);
        b.time[i] = bt;
        b.open[i] = bar.bid[0];
        b.high[i] = bar.bid[1];
        b.low[i] = bar.bid[2];
        b.close[i] = bar.bid[3];
        b.volume[i] = bar.volume;
        return {
          ask_open: bar.ask[0],
          ask_high: bar.ask[1],
          ask_low: bar.ask[2],
          ask_close: bar.ask[3],
          spread: bar.spread,
        };
      });
      return { ...b, extra };
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
