/**
 * A Capital.com-compatible REST server on 127.0.0.1 for tests, benchmarks and
 * offline demos: session login (plain and RSA-encrypted password), rotating
 * tokens that expire after 10 idle minutes, `/markets` search and details
 * with realistic opening hours, `/prices` with bid/ask bars that exist only
 * while the market is open, the `max`/`from`/`to` rules and the date-range
 * error, a forming last bar, the 10 requests/s and 1 login/s limits,
 * injectable faults and a request log.
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

import { zoneOffsetMs } from "../format/_time_zone.ts";

import { Buffer } from "node:buffer";
import {
  constants,
  generateKeyPairSync,
  type KeyObject,
  privateDecrypt,
  randomUUID,
} from "node:crypto";
import {
  createServer,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import { listenLoopback } from "./_loopback_server.ts";
import { allocBatch, type CandleBatch } from "../format/candle_batch.ts";
import { parsePeriod, periodStart } from "../format/timeframe.ts";
import { CandleGenerator, decimalsOf } from "./candle_generator.ts";

export type { CandleBatch, CandleExtra } from "../format/candle_batch.ts";

/** Opening hours in Capital.com's shape. */
export interface EmulatorOpeningHours {
  /** IANA zone of the times. */
  readonly zone: string;
  /** Monday segments such as `"00:00 - 21:00"`. */
  readonly mon: readonly string[];
  /** Tuesday. */
  readonly tue: readonly string[];
  /** Wednesday. */
  readonly wed: readonly string[];
  /** Thursday. */
  readonly thu: readonly string[];
  /** Friday. */
  readonly fri: readonly string[];
  /** Saturday. */
  readonly sat: readonly string[];
  /** Sunday. */
  readonly sun: readonly string[];
}

/** One market the emulator serves. */
export interface EmulatorMarket {
  /** Epic, e.g. `"EURUSD"`. */
  readonly epic: string;
  /** Instrument name, e.g. `"EUR/USD"`. */
  readonly name: string;
  /** `instrument.symbol`, e.g. `"EUR/USD"`. */
  readonly symbol: string;
  /** `CURRENCIES`, `SHARES`, `INDICES`, `COMMODITIES`, `CRYPTOCURRENCIES`. */
  readonly type: string;
  /** Quote currency. */
  readonly currency: string;
  /** Contract size. */
  readonly lotSize: number;
  /** Price tick (`dealingRules.minStepDistance`). */
  readonly minStep: number;
  /** Smallest deal (`dealingRules.minDealSize`). */
  readonly minDealSize: number;
  /** Price level of the generated series. */
  readonly basePrice: number;
  /** Typical spread in ticks (ask = bid + spread). */
  readonly spreadTicks: number;
  /** Opening hours, in the zone whose clock the market follows. */
  readonly openingHours: EmulatorOpeningHours;
  /**
   * The zone the market details give the hours in: like Capital.com, which
   * gives New York-anchored hours in UTC as they are at the moment asked
   * (they shift by an hour with daylight saving time).
   * @default {the hours' own zone}
   */
  readonly servedZone?: string | undefined;
  /** First bar time with data, ms. @default {Date.UTC(2020, 0, 1)} */
  readonly historyStart?: number;
  /**
   * Closures the opening hours do not show (holidays), as UTC `[from, to)`
   * ms ranges: no bar opens inside one.
   */
  readonly closures?: readonly (readonly [number, number])[];
}

/** Forex follows New York: Sunday 17:05 to Friday 17:00, a 5-minute pause at 17:00. */
const FOREX_WEEK = {
  zone: "America/New_York",
  mon: ["00:00 - 17:00", "17:05 - 00:00"],
  tue: ["00:00 - 17:00", "17:05 - 00:00"],
  wed: ["00:00 - 17:00", "17:05 - 00:00"],
  thu: ["00:00 - 17:00", "17:05 - 00:00"],
  fri: ["00:00 - 17:00"],
  sat: [],
  sun: ["17:05 - 00:00"],
};

/** The markets served by default: forex, an index, a share, gold and bitcoin. */
export const DEFAULT_EMULATOR_MARKETS: readonly EmulatorMarket[] = [
  {
    epic: "EURUSD",
    name: "EUR/USD",
    symbol: "EUR/USD",
    type: "CURRENCIES",
    currency: "USD",
    lotSize: 1,
    minStep: 0.00001,
    minDealSize: 100,
    basePrice: 1.08,
    spreadTicks: 6,
    openingHours: FOREX_WEEK,
    servedZone: "UTC",
  },
  {
    epic: "GBPUSD",
    name: "GBP/USD",
    symbol: "GBP/USD",
    type: "CURRENCIES",
    currency: "USD",
    lotSize: 1,
    minStep: 0.00001,
    minDealSize: 100,
    basePrice: 1.27,
    spreadTicks: 9,
    openingHours: FOREX_WEEK,
    servedZone: "UTC",
  },
  {
    epic: "US500",
    name: "US 500",
    symbol: "US500",
    type: "INDICES",
    currency: "USD",
    lotSize: 1,
    minStep: 0.25,
    minDealSize: 0.1,
    basePrice: 5000,
    spreadTicks: 2,
    openingHours: {
      zone: "America/New_York",
      mon: ["00:00 - 16:00", "17:00 - 00:00"],
      tue: ["00:00 - 16:00", "17:00 - 00:00"],
      wed: ["00:00 - 16:00", "17:00 - 00:00"],
      thu: ["00:00 - 16:00", "17:00 - 00:00"],
      fri: ["00:00 - 16:00"],
      sat: [],
      sun: ["17:00 - 00:00"],
    },
    servedZone: "UTC",
  },
  {
    epic: "AAPL",
    name: "Apple Inc",
    symbol: "AAPL",
    type: "SHARES",
    currency: "USD",
    lotSize: 1,
    minStep: 0.01,
    minDealSize: 1,
    basePrice: 190,
    spreadTicks: 3,
    openingHours: {
      zone: "America/New_York",
      mon: ["09:30 - 16:00"],
      tue: ["09:30 - 16:00"],
      wed: ["09:30 - 16:00"],
      thu: ["09:30 - 16:00"],
      fri: ["09:30 - 16:00"],
      sat: [],
      sun: [],
    },
  },
  {
    epic: "GOLD",
    name: "Gold",
    symbol: "Gold",
    type: "COMMODITIES",
    currency: "USD",
    lotSize: 1,
    minStep: 0.01,
    minDealSize: 0.01,
    basePrice: 2000,
    spreadTicks: 30,
    openingHours: {
      zone: "America/New_York",
      mon: ["00:00 - 17:00", "18:00 - 00:00"],
      tue: ["00:00 - 17:00", "18:00 - 00:00"],
      wed: ["00:00 - 17:00", "18:00 - 00:00"],
      thu: ["00:00 - 17:00", "18:00 - 00:00"],
      fri: ["00:00 - 17:00"],
      sat: [],
      sun: ["18:00 - 00:00"],
    },
    servedZone: "UTC",
  },
  {
    epic: "BTCUSD",
    name: "Bitcoin to US Dollar",
    symbol: "BTC/USD",
    type: "CRYPTOCURRENCIES",
    currency: "USD",
    lotSize: 1,
    minStep: 0.5,
    minDealSize: 0.0001,
    basePrice: 60000,
    spreadTicks: 40,
    openingHours: {
      zone: "UTC",
      mon: ["00:00 - 00:00"],
      tue: ["00:00 - 00:00"],
      wed: ["00:00 - 00:00"],
      thu: ["00:00 - 00:00"],
      fri: ["00:00 - 00:00"],
      sat: ["00:00 - 00:00"],
      sun: ["00:00 - 00:00"],
    },
  },
];

/** Capital.com resolutions and their TradingView periods. */
export const EMULATOR_RESOLUTIONS: Readonly<Record<string, string>> = {
  MINUTE: "1",
  MINUTE_5: "5",
  MINUTE_15: "15",
  MINUTE_30: "30",
  HOUR: "60",
  HOUR_4: "240",
  DAY: "1D",
  WEEK: "1W",
};

/** A fault the emulator answers instead of the normal response. */
export interface EmulatorFault {
  /** Only requests whose path starts with this (e.g. `"/api/v1/prices"`). @default {every path} */
  readonly path?: string | undefined;
  /** Only this method. @default {any} */
  readonly method?: string | undefined;
  /** HTTP status to answer. @default {500} */
  readonly status?: number | undefined;
  /** `errorCode` of the JSON body. */
  readonly errorCode?: string | undefined;
  /** Wait this long (ms) before answering (to provoke client timeouts). */
  readonly delayMs?: number | undefined;
  /** JSON body to answer instead of `{errorCode}` (for malformed or odd answers). */
  readonly body?: unknown;
  /** How many matching requests get the fault. @default {1} */
  readonly count?: number | undefined;
}

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

// ---- time zones and opening hours ----------------------------------------

const DAY_MS = 86_400_000;
const DAY_KEYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"] as const;
const unknownZones = new Set<string>();

function zoneOffset(zone: string, utcMs: number): number {
  if (unknownZones.has(zone)) return 0;
  try {
    return zoneOffsetMs(zone, utcMs);
  } catch {
    unknownZones.add(zone); // served as given, computed as UTC
    return 0;
  }
}

function localToUtc(zone: string, localMs: number): number {
  const guess = localMs - zoneOffset(zone, localMs);
  return localMs - zoneOffset(zone, guess);
}

function parseSegment(segment: string): [number, number] {
  const m = /^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$/.exec(segment);
  if (!m) throw new RangeError(`Bad opening hours segment "${segment}"`);
  const s = (Number(m[1]) * 60 + Number(m[2])) * 60_000;
  let e = (Number(m[3]) * 60 + Number(m[4])) * 60_000;
  if (e <= s) e += DAY_MS; // "00:00" end = midnight; earlier end = next day
  return [s, e];
}

/** Open intervals `[start, end)` in UTC ms overlapping `[from, to)`, sorted and merged. */
function openIntervals(
  hours: EmulatorOpeningHours,
  from: number,
  to: number,
): [number, number][] {
  const out: [number, number][] = [];
  const firstDay = Math.floor(from / DAY_MS) - 2;
  const lastDay = Math.floor(to / DAY_MS) + 2;
  for (let day = firstDay; day <= lastDay; day++) {
    const weekday = ((day + 3) % 7 + 7) % 7; // 1970-01-01 was a Thursday (3)
    const localMidnight = day * DAY_MS;
    for (const seg of hours[DAY_KEYS[weekday]!]) {
      const [s, e] = parseSegment(seg);
      const a = localToUtc(hours.zone, localMidnight + s);
      const b = localToUtc(hours.zone, localMidnight + e);
      if (b > from && a < to) out.push([a, b]);
    }
  }
  out.sort((x, y) => x[0] - y[0]);
  const merged: [number, number][] = [];
  for (const iv of out) {
    const last = merged[merged.length - 1];
    if (last && iv[0] <= last[1]) last[1] = Math.max(last[1], iv[1]);
    else merged.push([iv[0], iv[1]]);
  }
  return merged;
}

function formatLocal(zone: string, utcMs: number): string {
  return new Date(utcMs + zoneOffset(zone, utcMs)).toISOString().slice(0, 19);
}

/**
 * The market's hours as the details answer gives them: in `servedZone`,
 * converted with the offsets at `at`, cut at midnights, `"00:00"` ending a
 * span at midnight.
 */
function servedHours(m: EmulatorMarket, at: number): EmulatorOpeningHours {
  const h = m.openingHours;
  const zone = m.servedZone ?? h.zone;
  if (zone === h.zone) return { ...h };
  const WEEK = 7 * 1440;
  const shift = Math.round(
    (zoneOffset(zone, at) - zoneOffset(h.zone, at)) / 60_000,
  );
  const spans: [number, number][] = [];
  DAY_KEYS.forEach((key, d) => {
    for (const seg of h[key]) {
      const [s, e] = parseSegment(seg).map((x) => x / 60_000) as [
        number,
        number,
      ];
      const a = ((d * 1440 + s + shift) % WEEK + WEEK) % WEEK;
      const b = a + e - s;
      if (b > WEEK) spans.push([a, WEEK], [0, b - WEEK]);
      else spans.push([a, b]);
    }
  });
  spans.sort((x, y) => x[0] - y[0]);
  const merged: [number, number][] = [];
  for (const [a, b] of spans) {
    const q = merged[merged.length - 1];
    if (q && a <= q[1]) q[1] = Math.max(q[1], b);
    else merged.push([a, b]);
  }
  const hm = (x: number) =>
    `${String(Math.floor(x / 60) % 24).padStart(2, "0")}:${
      String(x % 60).padStart(2, "0")
    }`;
  const out: Record<string, string[]> = {};
  for (const key of DAY_KEYS) out[key] = [];
  for (const [a, b] of merged) {
    for (let d = Math.floor(a / 1440); d * 1440 < b; d++) {
      const s = Math.max(a, d * 1440) - d * 1440;
      const e = Math.min(b, (d + 1) * 1440) - d * 1440;
      if (e > s) out[DAY_KEYS[d % 7]!]!.push(`${hm(s)} - ${hm(e)}`);
    }
  }
  return {
    zone,
    mon: out.mon!,
    tue: out.tue!,
    wed: out.wed!,
    thu: out.thu!,
    fri: out.fri!,
    sat: out.sat!,
    sun: out.sun!,
  };
}

// ---- bars -----------------------------------------------------------------

interface Bar {
  t: number;
  bid: [number, number, number, number];
  ask: [number, number, number, number];
  spread: number;
  volume: number;
}

class MarketData {
  readonly market: EmulatorMarket;
  readonly gen: CandleGenerator;
  readonly decimals: number;
  readonly historyStart: number;

  constructor(market: EmulatorMarket) {
    this.market = market;
    this.gen = new CandleGenerator({
      seed: market.epic,
      basePrice: market.basePrice,
      tick: market.minStep,
      volumeStep: 1,
    });
    this.decimals = decimalsOf(market.minStep);
    this.historyStart = market.historyStart ?? Date.UTC(2020, 0, 1);
  }

  round(x: number): number {
    return Number(x.toFixed(this.decimals));
  }

  spreadAt(t: number): number {
    const wobble = ((Math.floor(t / 60_000) % 3) + 3) % 3;
    return this.round((this.market.spreadTicks + wobble) * this.market.minStep);
  }

  bar(t: number, periodMs: number, now: number): Bar {
    const forming = t + periodMs > now;
    const len = forming
      ? Math.max(60_000, Math.floor((now - t) / 60_000) * 60_000)
      : periodMs;
    const c = this.gen.candle(t, len);
    const spread = this.spreadAt(t);
    const bid: [number, number, number, number] = [
      c.open,
      c.high,
      c.low,
      c.close,
    ];
    return {
      t,
      bid,
      ask: bid.map((v) => this.round(v + spread)) as [
        number,
        number,
        number,
        number,
      ],
      spread,
      volume: c.volume,
    };
  }

  /**
   * Times of the bars (open at some point of their period) with
   * `lo <= t <= hi` and `t <= now`, ascending.
   */
  times(period: string, lo: number, hi: number, now: number): number[] {
    const tf = parsePeriod(period);
    const start = Math.max(lo, this.historyStart);
    const end = Math.min(hi, now);
    if (end < start) return [];
    let t = periodStart(tf, start);
    if (t < start) t += tf.ms;
    const ivs = openIntervals(this.market.openingHours, t, end + tf.ms);
    const out: number[] = [];
    let i = 0;
    const closures = this.market.closures ?? [];
    for (; t <= end; t += tf.ms) {
      while (i < ivs.length && ivs[i]![1] <= t) i++;
      const iv = ivs[i];
      if (
        iv && iv[0] < t + tf.ms && iv[0] <= now &&
        !closures.some(([a, b]) => a <= t && t < b)
      ) out.push(t);
    }
    return out;
  }
}

// ---- server ---------------------------------------------------------------

function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "Content-Type": "application/json",
    "Content-Length": String(Buffer.byteLength(text)),
    ...headers,
  });
  res.end(text);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

const DATE_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/;

function parseDate(text: string): number {
  if (!DATE_RE.test(text)) return NaN;
  return Date.parse(text.length === 16 ? `${text}:00Z` : `${text}Z`);
}

class Reply extends Error {
  constructor(readonly status: number, readonly errorCode: string) {
    super(errorCode);
  }
}

interface Session {
  cst: string;
  token: string;
  previousCst?: string;
  previousToken?: string;
  lastUsed: number;
  uses: number;
}

/**
 * RSA PKCS#1 v1.5 decryption of the encrypted login. Deno's `node:crypto`
 * does it directly; Node and Bun refuse `RSA_PKCS1_PADDING` in
 * `privateDecrypt` (CVE-2023-46809 hardening, `ERR_INVALID_ARG_VALUE`), so
 * there the emulator decrypts raw (`RSA_NO_PADDING`) and strips the
 * `00 02 PS 00` padding itself. A test emulator: timing oracles do not matter.
 */
function decryptPkcs1(key: KeyObject, data: Buffer): Buffer {
  try {
    return privateDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, data);
  } catch (e) {
    if ((e as { code?: unknown }).code !== "ERR_INVALID_ARG_VALUE") throw e;
  }
  const em = privateDecrypt({ key, padding: constants.RSA_NO_PADDING }, data);
  const sep = em.indexOf(0, 2);
  if (em[0] !== 0 || em[1] !== 2 || sep < 10) {
    throw new Error("Bad PKCS#1 v1.5 padding");
  }
  return em.subarray(sep + 1);
}

/**
 * Starts a Capital.com emulator on 127.0.0.1. Close it with `close()` or
 * `await using`.
 */
export async function startCapitalComEmulator(
  options: CapitalComEmulatorOptions = {},
): Promise<CapitalComEmulator> {
  const creds = {
    apiKey: options.apiKey ?? "emulator-api-key",
    identifier: options.identifier ?? "trader@example.com",
    password: options.password ?? "emulator-password",
  };
  const now = options.now ?? (() => Date.now());
  const rateClock = options.rateClock ?? (() => performance.now());
  const sessionTimeout = options.sessionTimeoutMs ?? 600_000;
  const rotateEvery = options.rotateEvery ?? 5;
  const rps = options.requestsPerSecond ?? 10;
  const lps = options.loginsPerSecond ?? 1;
  const markets = new Map<string, MarketData>();
  for (const m of options.markets ?? DEFAULT_EMULATOR_MARKETS) {
    markets.set(m.epic, new MarketData(m));
  }
  const faults: { fault: EmulatorFault; left: number }[] = [];
  for (const f of options.faults ?? []) {
    faults.push({ fault: f, left: f.count ?? 1 });
  }
  const sessions = new Map<string, Session>(); // by CST
  const previous = new Map<string, Session>(); // by the CST before the last rotation
  const endSession = (s: Session): void => {
    sessions.delete(s.cst);
    if (s.previousCst !== undefined) previous.delete(s.previousCst);
  };
  const requests: EmulatorRequest[] = [];
  const stamps: number[] = [];
  const loginStamps: number[] = [];
  const issuedTimestamps = new Set<number>();
  let keys: { publicDer: string; privateKey: KeyObject } | undefined;

  function rsa(): { publicDer: string; privateKey: KeyObject } {
    if (!keys) {
      const pair = generateKeyPairSync("rsa", {
        modulusLength: options.rsaBits ?? 2048,
      });
      keys = {
        publicDer: Buffer.from(
          pair.publicKey.export({ type: "spki", format: "der" }),
        ).toString("base64"),
        privateKey: pair.privateKey,
      };
    }
    return keys;
  }

  function limited(list: number[], perSecond: number): boolean {
    if (!Number.isFinite(perSecond)) return false;
    const t = rateClock();
    while (list.length > 0 && list[0]! <= t - 1000) list.shift();
    if (list.length >= perSecond) return true;
    list.push(t);
    return false;
  }

  function authenticate(
    req: IncomingMessage,
  ): { session: Session; headers: Record<string, string> } {
    const cst = req.headers["cst"];
    const token = req.headers["x-security-token"];
    if (typeof cst !== "string" || cst === "") {
      throw new Reply(401, "error.null.client.token");
    }
    if (typeof token !== "string" || token === "") {
      throw new Reply(401, "error.security.client-token-missing");
    }
    // The pair before the latest rotation stays valid until the next one
    // (requests already under way when the tokens rotated).
    const s = sessions.get(cst) ?? previous.get(cst);
    const valid = s !== undefined &&
      ((cst === s.cst && token === s.token) ||
        (cst === s.previousCst && token === s.previousToken));
    if (!valid) throw new Reply(401, "error.invalid.session.token");
    if (now() - s.lastUsed > sessionTimeout) {
      endSession(s);
      throw new Reply(401, "error.invalid.session.token");
    }
    s.lastUsed = now();
    s.uses++;
    const headers: Record<string, string> = {};
    if (rotateEvery > 0 && s.uses % rotateEvery === 0) {
      sessions.delete(s.cst);
      if (s.previousCst !== undefined) previous.delete(s.previousCst);
      s.previousCst = s.cst;
      s.previousToken = s.token;
      previous.set(s.cst, s);
      s.cst = randomUUID().replaceAll("-", "");
      s.token = randomUUID().replaceAll("-", "");
      sessions.set(s.cst, s);
      headers["CST"] = s.cst;
      headers["X-SECURITY-TOKEN"] = s.token;
    }
    return { session: s, headers };
  }

  function marketListing(md: MarketData) {
    const m = md.market;
    const t = now();
    const q = md.bar(Math.floor(t / 60_000) * 60_000, 60_000, t);
    return {
      epic: m.epic,
      symbol: m.symbol,
      instrumentName: m.name,
      instrumentType: m.type,
      expiry: "-",
      lotSize: m.lotSize,
      bid: q.bid[3],
      offer: q.ask[3],
      marketStatus: isOpen(md, t) ? "TRADEABLE" : "CLOSED",
      updateTimeUTC: new Date(t).toISOString().slice(0, 19),
      delayTime: 0,
      streamingPricesAvailable: true,
      scalingFactor: 1,
    };
  }

  function isOpen(md: MarketData, t: number): boolean {
    return openIntervals(md.market.openingHours, t, t + 1).some(([a, b]) =>
      a <= t && t < b
    ) && !(md.market.closures ?? []).some(([a, b]) => a <= t && t < b);
  }

  function marketDetails(md: MarketData) {
    const m = md.market;
    const l = marketListing(md);
    return {
      instrument: {
        epic: m.epic,
        symbol: m.symbol,
        expiry: "-",
        name: m.name,
        lotSize: m.lotSize,
        type: m.type,
        guaranteedStopAllowed: true,
        streamingPricesAvailable: true,
        currency: m.currency,
        marginFactor: 3.33,
        marginFactorUnit: "PERCENTAGE",
        openingHours: servedHours(m, now()),
      },
      dealingRules: {
        minStepDistance: { unit: "POINTS", value: m.minStep },
        minDealSize: { unit: "AMOUNT", value: m.minDealSize },
        maxDealSize: { unit: "AMOUNT", value: m.minDealSize * 100000 },
        minSizeIncrement: { unit: "AMOUNT", value: m.minDealSize },
        minGuaranteedStopDistance: { unit: "PERCENTAGE", value: 0.1 },
        minStopOrProfitDistance: { unit: "PERCENTAGE", value: 0.01 },
        maxStopOrProfitDistance: { unit: "PERCENTAGE", value: 75 },
        marketOrderPreference: "AVAILABLE_DEFAULT_OFF",
        trailingStopsPreference: "AVAILABLE",
      },
      snapshot: {
        marketStatus: l.marketStatus,
        netChange: 0,
        percentageChange: 0,
        updateTime: l.updateTimeUTC,
        delayTime: 0,
        bid: l.bid,
        offer: l.offer,
        decimalPlacesFactor: md.decimals,
        scalingFactor: 1,
      },
    };
  }

  function barsResponse(md: MarketData, query: URLSearchParams) {
    const resolution = query.get("resolution") ?? "MINUTE";
    const period = EMULATOR_RESOLUTIONS[resolution];
    if (!period) throw new Reply(400, "error.invalid.resolution");
    const tf = parsePeriod(period);
    const maxText = query.get("max");
    const max = maxText === null ? 10 : Number(maxText);
    if (!Number.isInteger(max) || max < 1 || max > 1000) {
      throw new Reply(400, "error.invalid.max");
    }
    const fromText = query.get("from");
    const toText = query.get("to");
    const from = fromText === null ? undefined : parseDate(fromText);
    const to = toText === null ? undefined : parseDate(toText);
    if (from !== undefined && !Number.isFinite(from)) {
      throw new Reply(400, "error.invalid.from");
    }
    if (to !== undefined && !Number.isFinite(to)) {
      throw new Reply(400, "error.invalid.to");
    }
    const t = now();
    // The real API refuses a `to` in the future.
    if (to !== undefined && to > t) {
      throw new Reply(400, "error.invalid.daterange");
    }
    if (from !== undefined && to !== undefined) {
      if (to < from) throw new Reply(400, "error.invalid.daterange");
      // Both edges count: at most `max` bar slots fit in the window.
      if (to - from > (max - 1) * tf.ms) {
        throw new Reply(400, "error.invalid.max.daterange");
      }
    }
    let times: number[];
    if (from !== undefined) {
      const hi = to ?? Math.min(t, from + max * tf.ms * 4 + 14 * DAY_MS);
      times = md.times(period, from, hi, t).slice(0, max);
    } else {
      const hi = to ?? t;
      // Look back far enough to find `max` bars even across long closures.
      let span = max * tf.ms * 2 + 7 * DAY_MS;
      times = md.times(period, hi - span, hi, t);
      while (times.length < max && hi - span > md.historyStart) {
        span *= 2;
        times = md.times(period, hi - span, hi, t);
      }
      times = times.slice(-max);
    }
    if (times.length === 0) throw new Reply(404, "error.prices.not-found");
    const zone = md.market.openingHours.zone;
    return {
      prices: times.map((bt) => {
        const b = md.bar(bt, tf.ms, t);
        return {
          snapshotTime: formatLocal(zone, bt),
          snapshotTimeUTC: new Date(bt).toISOString().slice(0, 19),
          openPrice: { bid: b.bid[0], ask: b.ask[0] },
          highPrice: { bid: b.bid[1], ask: b.ask[1] },
          lowPrice: { bid: b.bid[2], ask: b.ask[2] },
          closePrice: { bid: b.bid[3], ask: b.ask[3] },
          lastTradedVolume: b.volume,
        };
      }),
      instrumentType: md.market.type,
    };
  }

  async function handle(
    req: IncomingMessage,
    res: ServerResponse,
    ctx: { headers: Record<string, string> },
  ): Promise<{ status: number; errorCode?: string }> {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const method = req.method ?? "GET";
    const path = url.pathname;
    const body = method === "POST" || method === "PUT"
      ? await readBody(req)
      : "";
    for (const f of faults) {
      if (f.left <= 0) continue;
      if (f.fault.path !== undefined && !path.startsWith(f.fault.path)) {
        continue;
      }
      if (f.fault.method !== undefined && f.fault.method !== method) continue;
      f.left--;
      if (f.fault.delayMs) {
        await new Promise((r) => setTimeout(r, f.fault.delayMs));
      }
      const status = f.fault.status ?? 500;
      if (!res.destroyed) {
        json(
          res,
          status,
          f.fault.body !== undefined
            ? f.fault.body
            : f.fault.errorCode
            ? { errorCode: f.fault.errorCode }
            : { message: "fault" },
        );
      }
      return f.fault.errorCode
        ? { status, errorCode: f.fault.errorCode }
        : { status };
    }
    if (limited(stamps, rps)) throw new Reply(429, "error.too-many.requests");

    if (path === "/api/v1/session/encryptionKey" && method === "GET") {
      if (req.headers["x-cap-api-key"] !== creds.apiKey) {
        throw new Reply(401, "error.invalid.api.key");
      }
      const timeStamp = now();
      issuedTimestamps.add(timeStamp);
      json(res, 200, { encryptionKey: rsa().publicDer, timeStamp });
      return { status: 200 };
    }
    if (path === "/api/v1/session" && method === "POST") {
      const key = req.headers["x-cap-api-key"];
      if (typeof key !== "string" || key === "") {
        throw new Reply(400, "error.null.api.key");
      }
      if (limited(loginStamps, lps)) {
        throw new Reply(429, "error.too-many.requests");
      }
      if (key !== creds.apiKey) throw new Reply(401, "error.invalid.api.key");
      let parsed: {
        identifier?: unknown;
        password?: unknown;
        encryptedPassword?: unknown;
      };
      try {
        parsed = JSON.parse(body);
      } catch {
        throw new Reply(400, "error.invalid.details");
      }
      let password = parsed.password;
      if (parsed.encryptedPassword === true) {
        if (typeof password !== "string" || !keys) {
          throw new Reply(401, "error.invalid.details");
        }
        let plain: string;
        try {
          const raw = decryptPkcs1(
            keys.privateKey,
            Buffer.from(password, "base64"),
          ).toString("utf8");
          plain = Buffer.from(raw, "base64").toString("utf8");
        } catch {
          throw new Reply(401, "error.invalid.details");
        }
        const bar = plain.lastIndexOf("|");
        const stamp = Number(plain.slice(bar + 1));
        if (bar < 0 || !issuedTimestamps.has(stamp)) {
          throw new Reply(401, "error.invalid.details");
        }
        issuedTimestamps.delete(stamp);
        password = plain.slice(0, bar);
      }
      if (
        parsed.identifier !== creds.identifier || password !== creds.password
      ) {
        throw new Reply(401, "error.invalid.details");
      }
      const s: Session = {
        cst: randomUUID().replaceAll("-", ""),
        token: randomUUID().replaceAll("-", ""),
        lastUsed: now(),
        uses: 0,
      };
      sessions.set(s.cst, s);
      json(res, 200, {
        accountType: "CFD",
        currencyIsoCode: "USD",
        currencySymbol: "$",
        currentAccountId: "emulator-account",
        streamingHost: "wss://127.0.0.1/",
        clientId: "emulator-client",
        timezoneOffset: 0,
        hasActiveDemoAccounts: true,
        hasActiveLiveAccounts: true,
        trailingStopsEnabled: false,
      }, { "CST": s.cst, "X-SECURITY-TOKEN": s.token });
      return { status: 200 };
    }

    const { session, headers } = authenticate(req);
    ctx.headers = headers; // rotated tokens go out with error answers too
    if (path === "/api/v1/session" && method === "DELETE") {
      endSession(session);
      json(res, 200, { status: "SUCCESS" });
      return { status: 200 };
    }
    if (path === "/api/v1/session" && method === "GET") {
      json(res, 200, {
        clientId: "emulator-client",
        accountId: "emulator-account",
        timezoneOffset: 0,
        locale: "en",
        currency: "USD",
        streamEndpoint: "wss://127.0.0.1/",
      }, headers);
      return { status: 200 };
    }
    if (path === "/api/v1/ping" && method === "GET") {
      json(res, 200, { status: "OK" }, headers);
      return { status: 200 };
    }
    if (path === "/api/v1/markets" && method === "GET") {
      const search = url.searchParams.get("searchTerm");
      const epics = url.searchParams.get("epics");
      let list = [...markets.values()];
      if (epics) {
        const wanted = new Set(epics.split(",").map((e) => e.trim()));
        list = list.filter((md) => wanted.has(md.market.epic));
      } else if (search) {
        const s = search.toLowerCase();
        list = list.filter((md) =>
          md.market.epic.toLowerCase().includes(s) ||
          md.market.name.toLowerCase().includes(s)
        );
      }
      json(res, 200, { markets: list.map(marketListing) }, headers);
      return { status: 200 };
    }
    let m = /^\/api\/v1\/markets\/([^/]+)$/.exec(path);
    if (m && method === "GET") {
      const md = markets.get(decodeURIComponent(m[1]!));
      if (!md) throw new Reply(404, "error.not-found.epic");
      json(res, 200, marketDetails(md), headers);
      return { status: 200 };
    }
    m = /^\/api\/v1\/prices\/([^/]+)$/.exec(path);
    if (m && method === "GET") {
      const md = markets.get(decodeURIComponent(m[1]!));
      if (!md) throw new Reply(404, "error.not-found.epic");
      json(res, 200, barsResponse(md, url.searchParams), headers);
      return { status: 200 };
    }
    throw new Reply(404, "error.not-found");
  }

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
    credentials: creds,
    fault(fault: EmulatorFault): void {
      faults.push({ fault, left: fault.count ?? 1 });
    },
    expireSessions(): void {
      sessions.clear();
      previous.clear();
    },
    get sessionCount(): number {
      return sessions.size;
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
