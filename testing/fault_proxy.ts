/**
 * A fault-injecting HTTP proxy for tests: it listens on 127.0.0.1, forwards
 * every request to a loopback `target` (any emulator of this folder, or any
 * other server on the machine) and, for requests its rules pick, breaks the
 * answer the way real venues and the networks in front of them do:
 *
 * - HTTP status faults: `429` and `418` (with `Retry-After`), `500`, `503`
 *   (with `Retry-After`) — the venue never sees the request;
 * - transport faults: `timeout` (no answer for `delayMs`, beyond the
 *   client's timeout), `stall` (headers and half the body, then nothing for
 *   `delayMs`), `reset` (the connection dies mid-body), `truncate` (half the
 *   body, cleanly ended), `malformed` (a body that is not JSON), `html`
 *   (HTTP 200 with an HTML error page, as a CDN or a captive portal sends);
 * - candle faults, on the first array of candle rows in a JSON answer
 *   (venue-shape-agnostic: arrays `[time, open, high, low, close, ...]` as
 *   Binance, Bybit, OKX and Kraken send, or another {@linkcode CandleLayout}
 *   such as {@linkcode CANDLE_LAYOUTS}`.coinbase`): `reverse` (the rows in
 *   the opposite order), `duplicate` (the middle candle twice, the copy with
 *   other values), `high-low` (the middle candle's high and low swapped:
 *   high < low), `null-price` / `nan-price` (the middle candle's close null /
 *   `"NaN"`), `seconds` (every time in seconds instead of ms — or in ms
 *   where the venue sends seconds).
 *
 * A rule picks requests by path and by number: `at: 1` is the first request
 * whose path matches, `at: 3` the third; a function picks by the logged
 * request (its path, query, URL). `times` says how many requests get the
 * fault: 1 (the default) is a transient fault, `Infinity` a permanent one.
 * After its first hit a rule hits only requests for the same URL (path and
 * query): the retries of the page it broke, so a permanent fault is a page
 * that never comes through while every other page does.
 *
 * The target must be a loopback origin (127.0.0.1, localhost, ::1): the
 * proxy never sends anything off the machine.
 *
 * @example
 * ```ts
 * import { startBinanceEmulator, startFaultProxy } from "@pyne/data/testing";
 *
 * await using emu = await startBinanceEmulator({ now: () => Date.UTC(2024, 0, 2) });
 * await using proxy = await startFaultProxy({
 *   target: emu.url,
 *   rules: [{ path: "/api/v3/klines", at: 1, fault: "503", retryAfter: 1 }],
 * });
 * const url = `${proxy.url}/api/v3/klines?symbol=BTCUSDT&interval=1h&limit=2`;
 * console.log((await fetch(url)).status); // 503
 * const res = await fetch(url);
 * console.log(res.status, (await res.json()).length); // 200 2
 * ```
 *
 * @module
 */

import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import {
  breakCandles,
  CANDLE_LAYOUTS,
  type CandleLayout,
} from "./_fault_rows.ts";
import { forward, loopbackOrigin, readAll } from "./_fault_upstream.ts";
import { listenLoopback } from "./_loopback_server.ts";

export { CANDLE_LAYOUTS, type CandleLayout } from "./_fault_rows.ts";

/** What a rule does to a request it picks. */
export type ProxyFaultKind =
  | "429"
  | "418"
  | "500"
  | "503"
  | "timeout"
  | "stall"
  | "reset"
  | "truncate"
  | "malformed"
  | "html"
  | "reverse"
  | "duplicate"
  | "high-low"
  | "null-price"
  | "nan-price"
  | "seconds";

/** Every {@linkcode ProxyFaultKind}, in the order of the module doc. */
export const PROXY_FAULT_KINDS: readonly ProxyFaultKind[] = [
  "429",
  "418",
  "500",
  "503",
  "timeout",
  "stall",
  "reset",
  "truncate",
  "malformed",
  "html",
  "reverse",
  "duplicate",
  "high-low",
  "null-price",
  "nan-price",
  "seconds",
];

/** One request the proxy received. */
export interface ProxyRequest {
  /** 1-based number of the request. */
  readonly n: number;
  /** Wall-clock time it arrived, ms. */
  readonly at: number;
  /** HTTP method. */
  readonly method: string;
  /** URL path. */
  readonly path: string;
  /** Query parameters. */
  readonly query: Readonly<Record<string, string>>;
  /** Path and query as sent (`/api/v3/klines?symbol=...`). */
  readonly url: string;
  /** Status answered; 0 while pending or when the connection died first. */
  status: number;
  /** The fault applied, if any. */
  fault?: ProxyFaultKind;
  /**
   * For a candle fault: whether the body held candle rows to break (a
   * candle fault on an answer without them forwards it unchanged).
   */
  changed?: boolean;
}

/** Which requests get which fault. */
export interface FaultRule {
  /** The fault. */
  readonly fault: ProxyFaultKind;
  /**
   * Requests that count for this rule: an exact path, a pattern tested
   * against the path, or every request when absent.
   */
  readonly path?: string | RegExp;
  /**
   * Which counting request gets the fault first: the n-th (1-based), or
   * the first the function accepts. @default {1}
   */
  readonly at?: number | ((request: ProxyRequest) => boolean);
  /**
   * How many requests get it: 1 is a transient fault, `Infinity` a
   * permanent one. After the first, only requests for the same URL (the
   * retries of that page) get it. @default {1}
   */
  readonly times?: number;
  /** `Retry-After` of a 429, 418 or 503, seconds. @default {1} */
  readonly retryAfter?: number;
  /** How long a `timeout` or `stall` holds the answer back, ms. @default {30000} */
  readonly delayMs?: number;
  /** Body of a status fault. @default {a short JSON error} */
  readonly body?: string;
  /** Where a candle fault finds the fields of a row. @default {CANDLE_LAYOUTS.tohlc} */
  readonly layout?: CandleLayout;
  /**
   * `duplicate`: the copy with other values comes before the original
   * instead of after it (the one a reader keeping the first copy keeps).
   * @default {false}
   */
  readonly copyFirst?: boolean;
}

/** Options of {@linkcode startFaultProxy}. */
export interface FaultProxyOptions {
  /** The origin to forward to, e.g. an emulator's `url`; loopback only. */
  readonly target: string;
  /** The faults to inject. @default {[]} */
  readonly rules?: readonly FaultRule[];
  /** Port; 0 picks a free one. @default {0} */
  readonly port?: number;
}

/** A running fault proxy. */
export interface FaultProxy extends AsyncDisposable {
  /** Base URL to give the client instead of the target's, e.g. `http://127.0.0.1:40124`. */
  readonly url: string;
  /** The port bound. */
  readonly port: number;
  /** Every request received, in order (live). */
  readonly requests: readonly ProxyRequest[];
  /** Adds a rule at run time. */
  addRule(rule: FaultRule): void;
  /** Removes every rule: from now on requests pass untouched. */
  clearRules(): void;
  /** The requests that got a fault. */
  faulted(): ProxyRequest[];
  /** Stops the proxy, drops its connections and ends pending faults. */
  close(): Promise<void>;
}

interface ActiveRule {
  readonly rule: FaultRule;
  /** Counting requests seen. */
  seen: number;
  /** Requests faulted. */
  hits: number;
  /** The URL of the first hit. */
  url: string | undefined;
}

const STATUS_TEXT: Readonly<Record<string, string>> = {
  "429": "Too Many Requests",
  "418": "I'm a teapot",
  "500": "Internal Server Error",
  "503": "Service Unavailable",
};

const HTML_PAGE = `<!DOCTYPE html>
<html><head><title>502 Bad Gateway</title></head>
<body><h1>502 Bad Gateway</h1><p>The origin server did not answer in time. Please try again in a few minutes.</p>
<hr><address>edge-proxy</address></body></html>
`;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Starts a fault proxy on 127.0.0.1 in front of `target`. Close it with
 * `close()` or `await using`.
 */
export async function startFaultProxy(
  options: FaultProxyOptions,
): Promise<FaultProxy> {
  const target = loopbackOrigin(options.target);
  const rules: ActiveRule[] = [];
  const addRule = (rule: FaultRule) =>
    rules.push({ rule, seen: 0, hits: 0, url: undefined });
  for (const r of options.rules ?? []) addRule(r);
  const log: ProxyRequest[] = [];
  let closed = false;
  /** Ends the waits of pending `timeout` and `stall` faults. */
  const cancels = new Set<() => void>();

  /** Waits `ms`, or less when the client goes away or the proxy closes. */
  const hold = (ms: number, res: ServerResponse): Promise<void> =>
    new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = () => {
        if (timer !== undefined) clearTimeout(timer);
        timer = undefined;
        cancels.delete(done);
        res.off("close", done);
        resolve();
      };
      timer = setTimeout(done, ms);
      cancels.add(done);
      res.on("close", done);
    });

  const pick = (entry: ProxyRequest): FaultRule | undefined => {
    let picked: FaultRule | undefined;
    for (const r of rules) {
      const { path } = r.rule;
      const counts = path === undefined ||
        (typeof path === "string"
          ? entry.path === path
          : path.test(entry.path));
      if (!counts) continue;
      r.seen++;
      if (picked !== undefined) continue; // still counted by every rule
      const times = r.rule.times ?? 1;
      if (r.hits >= times) continue;
      let hit: boolean;
      if (r.url !== undefined) hit = entry.url === r.url;
      else {
        const at = r.rule.at ?? 1;
        hit = typeof at === "number" ? r.seen === at : at(entry);
      }
      if (!hit) continue;
      r.hits++;
      r.url ??= entry.url;
      picked = r.rule;
    }
    return picked;
  };

  const send = (
    entry: ProxyRequest,
    res: ServerResponse,
    status: number,
    headers: Record<string, string>,
    body: Uint8Array,
  ) => {
    entry.status = status;
    res.writeHead(status, {
      ...headers,
      "content-length": String(body.byteLength),
    });
    res.end(body);
  };

  const handle = async (
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> => {
    const requestBody = await readAll(req);
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    const query: Record<string, string> = {};
    url.searchParams.forEach((v, k) => (query[k] = v));
    const entry: ProxyRequest = {
      n: log.length + 1,
      at: Date.now(),
      method: req.method ?? "GET",
      path: url.pathname,
      query,
      url: url.pathname + url.search,
      status: 0,
    };
    log.push(entry);
    const rule = pick(entry);
    if (rule) entry.fault = rule.fault;
    const kind = rule?.fault;

    // Faults the venue never sees.
    if (kind === "429" || kind === "418" || kind === "500" || kind === "503") {
      const headers: Record<string, string> = {
        "content-type": "application/json;charset=UTF-8",
      };
      if (kind !== "500") {
        headers["retry-after"] = String(rule!.retryAfter ?? 1);
      }
      const body = rule!.body ??
        JSON.stringify({ code: Number(kind), msg: STATUS_TEXT[kind] });
      send(entry, res, Number(kind), headers, encoder.encode(body));
      return;
    }
    if (kind === "timeout") {
      await hold(rule!.delayMs ?? 30_000, res);
      if (closed || res.destroyed || res.writableEnded) return;
    }

    const up = await forward(target, req, requestBody);
    if (closed || res.destroyed) return;
    const { status, headers, body } = up;
    switch (kind) {
      case "stall":
      case "reset": {
        // Headers announce the whole body; half of it comes.
        entry.status = status;
        res.writeHead(status, {
          ...headers,
          "content-length": String(body.byteLength),
        });
        const half = body.byteLength >> 1;
        res.write(body.subarray(0, half));
        if (kind === "reset") {
          await hold(5, res);
          entry.status = 0;
          req.socket.destroy();
          return;
        }
        await hold(rule!.delayMs ?? 30_000, res);
        if (closed || res.destroyed) return;
        res.end(body.subarray(half));
        return;
      }
      case "truncate":
        send(
          entry,
          res,
          status,
          headers,
          body.subarray(0, body.byteLength >> 1),
        );
        return;
      case "malformed":
        send(
          entry,
          res,
          status,
          headers,
          encoder.encode(malform(decoder.decode(body))),
        );
        return;
      case "html":
        send(entry, res, 200, {
          "content-type": "text/html; charset=utf-8",
        }, encoder.encode(HTML_PAGE));
        return;
      case "reverse":
      case "duplicate":
      case "high-low":
      case "null-price":
      case "nan-price":
      case "seconds": {
        const broken = breakCandles(
          decoder.decode(body),
          kind,
          rule!.layout ?? CANDLE_LAYOUTS.tohlc,
          rule!.copyFirst ?? false,
        );
        entry.changed = broken !== undefined;
        send(
          entry,
          res,
          status,
          headers,
          broken === undefined ? body : encoder.encode(broken),
        );
        return;
      }
      default:
        send(entry, res, status, headers, body);
    }
  };

  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => {
      // The target is down or the client went away: a dead connection.
      try {
        if (!res.headersSent && !closed) {
          res.writeHead(502, { "content-type": "text/plain" });
          res.end("fault proxy: the target did not answer");
        } else res.destroy();
      } catch {
        // already gone
      }
    });
  });
  const listener = await listenLoopback(server, options.port);
  const close = async () => {
    closed = true;
    for (const c of [...cancels]) c();
    await listener.close();
  };
  return {
    url: `http://127.0.0.1:${listener.port}`,
    port: listener.port,
    requests: log,
    addRule,
    clearRules: () => void rules.splice(0),
    faulted: () => log.filter((r) => r.fault !== undefined),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/**
 * The text made into something that is not JSON at about its middle (a
 * separator turned into garbage), same length or close to it.
 */
function malform(text: string): string {
  const mid = text.length >> 1;
  const at = text.indexOf(",", mid);
  if (at >= 0) return text.slice(0, at) + ";" + text.slice(at + 1);
  return text.slice(0, mid) + "}{" + text.slice(mid);
}
