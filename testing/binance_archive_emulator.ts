/**
 * A loopback stand-in for Binance's public data archives
 * (`data.binance.vision`): monthly and daily kline zips with their
 * `.CHECKSUM` files for spot (`/data/spot/...`), USDⓈ-M
 * (`/data/futures/um/...`) and COIN-M (`/data/futures/cm/...`), generated
 * from the same candles as {@linkcode startBinanceEmulator} serves (the same
 * symbols, gaps, clock and seed give the same candles), so a download
 * through the archive and one through REST can be compared byte for byte.
 *
 * It mimics the format's drift — open times in microseconds for spot files
 * from 2025-01-01 on, a header row in futures files from 2022-05 on (both
 * can be set per file), zips with sizes in the local header or in a data
 * descriptor — and injects faults: a wrong checksum, a missing file, a
 * truncated zip, a file whose candles differ from REST, HTTP 500. A file
 * whose month or day has not ended on the clock is not published yet (404).
 *
 * @example
 * ```ts
 * import { startBinanceArchiveEmulator } from "@pyne/data/testing";
 *
 * await using archive = await startBinanceArchiveEmulator({
 *   now: () => Date.UTC(2024, 2, 1),
 * });
 * const url = `${archive.url}/data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-02-01.zip`;
 * console.log((await fetch(`${url}.CHECKSUM`).then((r) => r.text())).slice(66));
 * ```
 *
 * @module
 */

import { createServer, type Server } from "node:http";
import { createHash } from "node:crypto";
import { listenLoopback } from "./_loopback_server.ts";
import {
  CandleSource,
  type EmulatorSymbol,
  type MaintenanceGap,
  priceString,
} from "./_candle_source.ts";
import { BINANCE_EMULATOR_SYMBOLS } from "./binance_emulator.ts";
import { zipOne } from "./_zip_writer.ts";
import { nextPeriodStart, parseTimeframe } from "../format/timeframe.ts";

export type { EmulatorSymbol, MaintenanceGap } from "./_candle_source.ts";

/** One archive file, as a request names it. */
export interface ArchiveFileRef {
  /** `spot`, `futures/um` or `futures/cm`. */
  readonly market: string;
  /** `monthly` or `daily`. */
  readonly kind: "monthly" | "daily";
  /** Venue id, `BTCUSDT`. */
  readonly symbol: string;
  /** Binance interval, `1m`. */
  readonly interval: string;
  /** `2024-01` or `2024-01-15`. */
  readonly label: string;
  /** Start of its span, ms. */
  readonly from: number;
  /** End of its span, exclusive, ms. */
  readonly to: number;
}

/** What can go wrong with a file. */
export type ArchiveFaultKind =
  /** Its `.CHECKSUM` declares another SHA-256. */
  | "checksum"
  /** Neither the zip nor its checksum exists (404). */
  | "missing"
  /** The zip is served cut to half its length. */
  | "truncated"
  /** One candle (`at`, default the file's last) has another volume, consistently checksummed. */
  | "altered"
  /** HTTP 500 for the zip. */
  | "500";

/** A fault of chosen files. */
export interface ArchiveFault {
  /** What goes wrong. */
  readonly kind: ArchiveFaultKind;
  /** Which files: a date label (`"2024-01"`, `"2024-01-15"`) or a test. */
  readonly file: string | ((file: ArchiveFileRef) => boolean);
  /** The candle an `"altered"` fault changes (open time, ms). */
  readonly at?: number;
  /** Requests that get it. @default {Infinity} */
  readonly times?: number;
}

/** One entry of the request log. */
export interface ArchiveRequest {
  /** URL path. */
  readonly path: string;
  /** The file named, if the path names one. */
  readonly file: ArchiveFileRef | undefined;
  /** True for a `.CHECKSUM` request. */
  readonly checksum: boolean;
  /** HTTP status answered. */
  status: number;
  /** The fault injected, if any. */
  fault?: ArchiveFaultKind;
}

/** Options of {@linkcode startBinanceArchiveEmulator}. */
export interface BinanceArchiveEmulatorOptions {
  /** Port; 0 picks a free one. @default {0} */
  readonly port?: number;
  /** The clock (ms): files whose span has not ended are not published. @default {Date.now} */
  readonly now?: () => number;
  /** Instruments (every market serves the same ids). @default {BINANCE_EMULATOR_SYMBOLS} */
  readonly symbols?: readonly EmulatorSymbol[];
  /** Maintenance gaps. @default {[]} */
  readonly gaps?: readonly MaintenanceGap[];
  /** Seed of the candle series. @default {""} */
  readonly seed?: string;
  /** Delay before each answer, ms. @default {0} */
  readonly latencyMs?: number;
  /** Open times in microseconds. @default {spot files from 2025-01-01 on} */
  readonly microseconds?: boolean | ((file: ArchiveFileRef) => boolean);
  /** A header row. @default {futures files from 2022-05-01 on} */
  readonly header?: boolean | ((file: ArchiveFileRef) => boolean);
  /** Sizes in a data descriptor after the data. @default {false} */
  readonly dataDescriptor?: boolean | ((file: ArchiveFileRef) => boolean);
  /** Faults. @default {[]} */
  readonly faults?: readonly ArchiveFault[];
  /** Zips kept in memory once built. @default {128} */
  readonly cacheFiles?: number;
}

/** A running archive emulator. */
export interface BinanceArchiveEmulator extends AsyncDisposable {
  /** Origin, e.g. `http://127.0.0.1:40123` (the config's `archive_url`). */
  readonly url: string;
  /** The request log (live). */
  readonly requests: readonly ArchiveRequest[];
  /** Adds a fault at run time. */
  addFault(fault: ArchiveFault): void;
  /** Stops the server. */
  close(): Promise<void>;
}

const PATH =
  /^\/data\/(spot|futures\/um|futures\/cm)\/(monthly|daily)\/klines\/([A-Z0-9_]+)\/([0-9a-zA-Z]+)\/([A-Z0-9_]+)-([0-9a-zA-Z]+)-(\d{4})-(\d{2})(?:-(\d{2}))?\.zip(\.CHECKSUM)?$/;

const HEADER =
  "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore\n";

function parseRef(
  path: string,
): { ref: ArchiveFileRef; checksum: boolean } | undefined {
  const m = PATH.exec(path);
  if (!m) return undefined;
  const [, market, kind, symbol, interval, sym2, int2, y, mo, d, sum] = m;
  if (symbol !== sym2 || interval !== int2) return undefined;
  if ((kind === "daily") !== (d !== undefined)) return undefined;
  const year = Number(y), month = Number(mo) - 1;
  const from = Date.UTC(year, month, d === undefined ? 1 : Number(d));
  const to = d === undefined ? Date.UTC(year, month + 1, 1) : from + 86_400_000;
  return {
    ref: {
      market: market!,
      kind: kind as "monthly" | "daily",
      symbol: symbol!,
      interval: interval!,
      label: d === undefined ? `${y}-${mo}` : `${y}-${mo}-${d}`,
      from,
      to,
    },
    checksum: sum !== undefined,
  };
}

const pick = (
  v: boolean | ((f: ArchiveFileRef) => boolean) | undefined,
  f: ArchiveFileRef,
  fallback: boolean,
) => v === undefined ? fallback : typeof v === "function" ? v(f) : v;

/** Starts the archive emulator on 127.0.0.1. Close it with `close()` or `await using`. */
export async function startBinanceArchiveEmulator(
  options: BinanceArchiveEmulatorOptions = {},
): Promise<BinanceArchiveEmulator> {
  const symbols = options.symbols ?? BINANCE_EMULATOR_SYMBOLS;
  const now = options.now ?? Date.now;
  const source = new CandleSource(
    symbols,
    options.gaps ?? [],
    now,
    options.seed ?? "",
  );
  const faults = (options.faults ?? []).map((fault) => ({
    fault,
    left: fault.times ?? Infinity,
  }));
  const log: ArchiveRequest[] = [];
  const cache = new Map<string, Promise<{ zip: Uint8Array; sha: string }>>();
  const cacheMax = options.cacheFiles ?? 128;

  const faultOf = (ref: ArchiveFileRef, kinds: ArchiveFaultKind[]) => {
    for (const f of faults) {
      if (f.left <= 0 || !kinds.includes(f.fault.kind)) continue;
      const sel = f.fault.file;
      if (typeof sel === "string" ? sel === ref.label : sel(ref)) return f;
    }
    return undefined;
  };

  const build = async (ref: ArchiveFileRef, alteredAt: number | undefined) => {
    const tf = parseTimeframe(ref.interval);
    const t = now();
    const us = pick(
      options.microseconds,
      ref,
      ref.market === "spot" && ref.from >= Date.UTC(2025, 0, 1),
    );
    const header = pick(
      options.header,
      ref,
      ref.market !== "spot" && ref.from >= Date.UTC(2022, 4, 1),
    );
    const times = source.times(
      ref.symbol,
      tf,
      ref.from,
      ref.to - 1,
      Infinity,
      false,
      t,
    );
    const lines: string[] = header ? [HEADER] : [];
    const last = times[times.length - 1];
    const scale = us ? 1000 : 1;
    for (const time of times) {
      const c = source.candle(ref.symbol, tf, time, t);
      const close = nextPeriodStart(tf, time) * scale - 1;
      const quoteVol = c.volume * (c.open + c.close) / 2;
      const altered = alteredAt === undefined
        ? false
        : alteredAt === -1
        ? time === last
        : time === alteredAt;
      lines.push(
        `${time * scale},${priceString(c.open, 8)},${priceString(c.high, 8)},${
          priceString(c.low, 8)
        },${priceString(c.close, 8)},${
          priceString(c.volume + (altered ? 1 : 0), 8)
        },${close},${priceString(quoteVol, 8)},${
          Math.max(1, Math.round(c.volume * 7))
        },${priceString(c.volume / 2, 8)},${priceString(quoteVol / 2, 8)},0\n`,
      );
    }
    const name = `${ref.symbol}-${ref.interval}-${ref.label}.csv`;
    const zip = await zipOne(name, new TextEncoder().encode(lines.join("")), {
      dataDescriptor: pick(options.dataDescriptor, ref, false),
    });
    return { zip, sha: createHash("sha256").update(zip).digest("hex") };
  };

  const file = (ref: ArchiveFileRef, alteredAt: number | undefined) => {
    const key =
      `${ref.market}/${ref.kind}/${ref.symbol}/${ref.interval}/${ref.label}/${alteredAt}`;
    let p = cache.get(key);
    if (p === undefined) {
      p = build(ref, alteredAt);
      cache.set(key, p);
      p.catch(() => cache.delete(key));
      while (cache.size > cacheMax) cache.delete(cache.keys().next().value!);
    }
    return p;
  };

  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname;
    const parsed = parseRef(path);
    const entry: ArchiveRequest = {
      path,
      file: parsed?.ref,
      checksum: parsed?.checksum ?? false,
      status: 0,
    };
    log.push(entry);
    const send = (status: number, body: Uint8Array | string, type: string) => {
      entry.status = status;
      const bytes = typeof body === "string"
        ? new TextEncoder().encode(body)
        : body;
      const go = () => {
        res.writeHead(status, {
          "content-type": type,
          "content-length": String(bytes.byteLength),
        });
        res.end(bytes);
      };
      if (options.latencyMs) setTimeout(go, options.latencyMs);
      else go();
    };
    const notFound = () =>
      send(
        404,
        `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message><Key>${
          path.slice(1)
        }</Key></Error>`,
        "application/xml",
      );
    (async () => {
      if (parsed === undefined) return notFound();
      const { ref, checksum } = parsed;
      if (!source.symbol(ref.symbol) || ref.to > now()) return notFound();
      const take = (kinds: ArchiveFaultKind[]) => {
        const f = faultOf(ref, kinds);
        if (f === undefined) return undefined;
        f.left--;
        entry.fault = f.fault.kind;
        return f.fault;
      };
      if (take(["missing"])) return notFound();
      const altered = faultOf(ref, ["altered"])?.fault;
      const { zip, sha } = await file(
        ref,
        altered === undefined ? undefined : altered.at ?? -1,
      );
      const zipName = `${ref.symbol}-${ref.interval}-${ref.label}.zip`;
      if (checksum) {
        const bad = take(["checksum"]);
        const sum = bad ? createHash("sha256").update(sha).digest("hex") : sha;
        return send(200, `${sum}  ${zipName}\n`, "text/plain");
      }
      if (take(["500"])) {
        return send(
          500,
          "<Error><Code>InternalError</Code></Error>",
          "application/xml",
        );
      }
      const truncated = take(["truncated"]);
      send(
        200,
        truncated ? zip.subarray(0, zip.length >> 1) : zip,
        "application/zip",
      );
    })().catch((e) => {
      entry.status = 500;
      res.destroy(e as Error);
    });
  });
  const { port, close } = await listenLoopback(server, options.port);
  return {
    url: `http://127.0.0.1:${port}`,
    requests: log,
    addFault(fault: ArchiveFault): void {
      faults.push({ fault, left: fault.times ?? Infinity });
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
