/**
 * Writing your own provider and registering it: `KlinesProvider` below talks
 * to a Binance-style `/api/v3/klines` REST API with plain `fetch` (no ccxt)
 * and implements the library's `Provider` interface — symbols, symbol info,
 * timeframes, paged candles with coverage claims. Registered under a name
 * (`registerProvider`), it is opened like a built-in (`openProvider`) and
 * `download()` writes PyneCore files for it (`klines_BTCUSDT_60.ohlcv` with
 * the provider string `klines:BTCUSDT@60` in its `.toml`).
 *
 * Offline: the API is the bundled Binance-style emulator on 127.0.0.1; the
 * provider takes its address from the `KLINES_BASE_URL` variable of the
 * environment the registry passes it (`ProviderOptions.env`).
 *
 * ```sh
 * deno run -A examples/custom_provider.ts           # temporary folder, removed at the end
 * deno run -A examples/custom_provider.ts my-data   # keeps the files in ./my-data
 * ```
 *
 * @module
 */

import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import process from "node:process";
// From JSR: import { ... } from "@pyne/data";
import {
  batchFromRows,
  type CandleBatch,
  type CandleRequest,
  download,
  listProviders,
  type ListSymbolsOptions,
  OhlcvReader,
  openProvider,
  type Provider,
  ProviderError,
  type ProviderOptions,
  type ProviderStats,
  registerProvider,
  sessions247,
  type SymbolInfo,
  type SymbolListing,
  tickGridFromMintick,
  type Timeframe,
  TransientProviderError,
} from "../mod.ts";
// From JSR: import { startBinanceEmulator } from "@pyne/data/testing";
import { startBinanceEmulator } from "../testing/mod.ts";

/** TradingView period → the API's interval name. */
const INTERVALS: Record<string, string> = {
  "1": "1m",
  "5": "5m",
  "15": "15m",
  "60": "1h",
  "240": "4h",
  "1D": "1d",
};
/** Candles per request (the API's maximum). */
const PAGE = 1000;

interface ApiSymbol {
  symbol: string;
  baseAsset: string;
  quoteAsset: string;
  filters: { filterType: string; tickSize?: string }[];
}

/** A provider over a Binance-style klines API. */
class KlinesProvider implements Provider {
  readonly name = "klines";
  readonly stats: ProviderStats = { requests: 0, retries: 0 };
  readonly #baseUrl: string;
  #symbols: Promise<Map<string, ApiSymbol>> | undefined;

  constructor(baseUrl: string) {
    this.#baseUrl = baseUrl.replace(/\/+$/, "");
  }

  /** GET a path; HTTP 429/5xx and network failures are retried (3 times). */
  async #get<T>(path: string, signal?: AbortSignal): Promise<T> {
    for (let attempt = 0;; attempt++) {
      this.stats.requests++;
      try {
        const res = await fetch(`${this.#baseUrl}${path}`, {
          signal: signal ?? null,
        });
        if (res.ok) return await res.json() as T;
        const text = await res.text();
        if (res.status !== 429 && res.status < 500) {
          throw new ProviderError(`GET ${path}: HTTP ${res.status} ${text}`);
        }
        throw new TransientProviderError(`GET ${path}: HTTP ${res.status}`);
      } catch (e) {
        const transient = e instanceof TransientProviderError ||
          !(e instanceof ProviderError || signal?.aborted);
        if (!transient || attempt >= 3) throw e;
        this.stats.retries++;
        await new Promise((r) => setTimeout(r, 200 * 2 ** attempt));
      }
    }
  }

  #markets(signal?: AbortSignal): Promise<Map<string, ApiSymbol>> {
    this.#symbols ??= this.#get<{ symbols: ApiSymbol[] }>(
      "/api/v3/exchangeInfo",
      signal,
    ).then((info) => new Map(info.symbols.map((s) => [s.symbol, s])));
    return this.#symbols;
  }

  async #market(symbol: string): Promise<ApiSymbol> {
    const id = this.normalizeSymbol(symbol);
    const m = (await this.#markets()).get(id);
    if (m === undefined) throw new ProviderError(`Unknown symbol "${symbol}"`);
    return m;
  }

  #interval(tf: Timeframe): string {
    const interval = INTERVALS[tf.period];
    if (interval === undefined) {
      throw new ProviderError(
        `Timeframe ${tf.period} is not offered; use one of ${
          Object.keys(INTERVALS).join(", ")
        }`,
      );
    }
    return interval;
  }

  normalizeSymbol(symbol: string): string {
    const id = symbol.replace("/", "").toUpperCase();
    if (!/^[A-Z0-9]{2,20}$/.test(id)) {
      throw new ProviderError(`Malformed symbol "${symbol}" (try BTCUSDT)`);
    }
    return id;
  }

  async listSymbols(
    options: ListSymbolsOptions = {},
  ): Promise<SymbolListing[]> {
    const text = (options.search ?? "").toUpperCase();
    return [...(await this.#markets(options.signal)).values()]
      .filter((m) => m.symbol.includes(text))
      .map((m) => ({
        symbol: m.symbol,
        description: `${m.baseAsset} / ${m.quoteAsset}`,
        type: "spot",
      }));
  }

  timeframes(): Promise<string[]> {
    return Promise.resolve(Object.keys(INTERVALS));
  }

  async symbolInfo(symbol: string, timeframe: Timeframe): Promise<SymbolInfo> {
    this.#interval(timeframe);
    const m = await this.#market(symbol);
    const tick = Number(
      m.filters.find((f) => f.filterType === "PRICE_FILTER")?.tickSize ?? 0.01,
    );
    return {
      prefix: "BINANCE",
      description: `${m.baseAsset} / ${m.quoteAsset}`,
      ticker: m.symbol,
      currency: m.quoteAsset,
      basecurrency: m.baseAsset,
      period: timeframe.period,
      type: "crypto",
      mintick: tick,
      ...tickGridFromMintick(tick), // minmove, pricescale
      pointvalue: 1,
      timezone: "UTC",
      volumetype: "base",
      ...sessions247(), // trades around the clock
    };
  }

  /**
   * One request per window of `PAGE` periods. The API answers a window whole
   * (oldest `limit` candles of the range, and a window holds no more), so
   * each batch claims its window as fetched. A venue that may answer short
   * needs to continue a window after its last candle instead.
   */
  async *candles(request: CandleRequest): AsyncIterable<CandleBatch> {
    const { timeframe, from, to, signal } = request;
    const interval = this.#interval(timeframe);
    const id = (await this.#market(request.symbol)).symbol;
    const step = Math.min(request.pageSize ?? PAGE, PAGE) * timeframe.ms;
    let seq = 0;
    for (let start = from; start < to; start += step) {
      const end = Math.min(start + step, to);
      const rows = await this.#get<(string | number)[][]>(
        `/api/v3/klines?symbol=${id}&interval=${interval}&startTime=${start}&endTime=${
          end - 1
        }&limit=${PAGE}`,
        signal,
      );
      const batch = batchFromRows(rows.map((r) => r.slice(0, 6).map(Number)));
      yield {
        ...batch,
        seq: seq++,
        coverage: [{ from: start, to: end, state: "fetched" }],
      };
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    // Nothing to release: fetch keeps no session.
  }
}

registerProvider({
  name: "klines",
  aliases: ["KlinesProvider"],
  description: "A Binance-style klines API (examples/custom_provider.ts)",
  // The registry passes the options given to openProvider (configDir, env, log).
  open: (options: ProviderOptions) => {
    const baseUrl = (options.env ?? process.env)["KLINES_BASE_URL"];
    if (!baseUrl) {
      throw new ProviderError("Set KLINES_BASE_URL to the API's origin");
    }
    return new KlinesProvider(baseUrl);
  },
});

const NOW = Date.UTC(2024, 2, 1, 0, 0, 30); // 2024-03-01 00:00:30 UTC, frozen
const at = (t: number | undefined) =>
  t === undefined ? "-" : new Date(t).toISOString().slice(0, 16) + "Z";

const keep = process.argv[2];
const dir = keep ?? await mkdtemp(join(tmpdir(), "pyne-data-example-"));
await using emulator = await startBinanceEmulator({ now: () => NOW });
try {
  const mine = listProviders().find((p) => p.name === "klines")!;
  console.log(
    `Registered: ${mine.name} (aliases ${
      mine.aliases.join(", ")
    }; built-in ${mine.builtin}): ${mine.description}`,
  );

  await using provider = await openProvider("KlinesProvider", {
    env: { KLINES_BASE_URL: emulator.url },
  });
  const symbols = await provider.listSymbols({ search: "usdt" });
  console.log(`Symbols: ${symbols.map((s) => s.symbol).join(", ")}`);

  const summary = await download(provider, "btc/usdt", {
    timeframe: "60",
    from: "2024-02-01",
    dataDir: dir,
    now: () => NOW,
  });
  console.log(
    `Downloaded ${summary.candles} candles ${at(summary.first)} .. ${
      at(summary.last)
    } → ${basename(summary.path)}`,
  );
  console.log(
    `  provider string ${summary.providerString}, ${summary.requests} requests, ${summary.retries} retries, ` +
      `coverage complete: ${summary.coverage.complete}`,
  );
  await using reader = await OhlcvReader.open(summary.path);
  console.log(
    `Read back: ${reader.info.count} candles, period ${reader.info.period}, tick grid ${reader.info.minmove}/${reader.info.pricescale}`,
  );
} finally {
  if (keep === undefined) await rm(dir, { recursive: true, force: true });
}
