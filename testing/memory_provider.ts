/**
 * A deterministic in-memory {@linkcode Provider}: candles come from
 * {@linkcode CandleGenerator}, paged like a real venue, with configurable
 * misbehaviour — overlapping pages, newest-first or shuffled pages, duplicate
 * and conflicting candles, a forming last candle, gaps, closed-market hours,
 * transient and permanent failures at chosen pages, and concurrent
 * sequence-numbered batches. Tests, benchmarks and offline demos use it.
 *
 * @example
 * ```ts
 * import { MemoryProvider } from "@pyne/data/testing";
 * import { parseTimeframe } from "@pyne/data/format";
 *
 * await using provider = new MemoryProvider({ overlap: 2, order: "desc" });
 * const from = Date.UTC(2024, 0, 1);
 * for await (const batch of provider.candles({
 *   symbol: "BTCUSDT",
 *   timeframe: parseTimeframe("1"),
 *   from,
 *   to: from + 3_600_000,
 * })) {
 *   console.log(batch.time.length);
 * }
 * ```
 *
 * @module
 */

import {
  allocBatch,
  type CandleBatch,
  type CandleExtra,
} from "../format/candle_batch.ts";
import type { SymbolInfo } from "../format/symbol_info.ts";
import { tickGridFromMintick } from "../format/tick_grid.ts";
import {
  nextPeriodStart,
  periodStart,
  type Timeframe,
} from "../format/timeframe.ts";
import { OpeningHoursCalendar } from "../pipeline/_opening_hours.ts";
import {
  type CandleRequest,
  type ListSymbolsOptions,
  type Provider,
  ProviderError,
  type ProviderStats,
  type SymbolListing,
  TransientProviderError,
} from "../providers/provider.ts";
import { sleep, withRetry } from "../providers/_retry.ts";
import {
  addProviderEntry,
  lookupProviderEntry,
} from "../providers/_provider_entries.ts";
import { CandleGenerator } from "./candle_generator.ts";
import {
  DEFAULT_SYMBOLS,
  every,
  marketHours,
  positiveInt,
  rng,
  SUPPORTED,
  type SymbolState,
} from "./_memory_markets.ts";
import type { MemoryProviderOptions } from "./_memory_options.ts";

export type {
  MemoryFailure,
  MemoryMarket,
  MemoryProviderOptions,
  MemoryRequestInfo,
  MemorySymbolOptions,
} from "./_memory_options.ts";

/** The deterministic in-memory provider. See the module docs. */
export class MemoryProvider implements Provider {
  /** Registry name. */
  readonly name: string = "memory";
  /** Request and retry counters. */
  readonly stats: ProviderStats = { requests: 0, retries: 0 };
  readonly #o: MemoryProviderOptions;
  readonly #symbols = new Map<string, SymbolState>();
  readonly #pageSize: number;
  readonly #overlap: number;
  #calls = 0;
  #disposed = false;

  /** Creates the provider; throws a `RangeError` for bad options. */
  constructor(options: MemoryProviderOptions = {}) {
    this.#o = options;
    this.#pageSize = positiveInt("pageSize", options.pageSize, 500, 1);
    this.#overlap = positiveInt("overlap", options.overlap, 0);
    positiveInt("duplicateEvery", options.duplicateEvery, 0);
    positiveInt("conflictEvery", options.conflictEvery, 0);
    positiveInt("missingVolumeEvery", options.missingVolumeEvery, 0);
    positiveInt("zeroVolumeEvery", options.zeroVolumeEvery, 0);
    positiveInt("brokenEvery", options.brokenEvery, 0);
    positiveInt("concurrency", options.concurrency, 1, 1);
    positiveInt("recycle", options.recycle, 0);
    if (
      options.order !== undefined &&
      !["asc", "desc", "shuffle"].includes(options.order)
    ) {
      throw new RangeError(
        `MemoryProvider: "order" must be "asc", "desc" or "shuffle", got ${options.order}`,
      );
    }
    const seed = options.seed ?? "memory";
    for (
      const [symbol, so] of Object.entries(options.symbols ?? DEFAULT_SYMBOLS)
    ) {
      const m = marketHours(so.market ?? "crypto");
      const hours = so.info?.openingHours ?? m.hours;
      const timezone = so.info?.timezone ?? m.timezone;
      this.#symbols.set(symbol.toUpperCase(), {
        options: so,
        gen: new CandleGenerator({
          seed: `${seed}:${symbol.toUpperCase()}`,
          basePrice: so.basePrice ?? 100,
          tick: so.tick ?? 0.01,
        }),
        calendar: new OpeningHoursCalendar(hours, timezone),
        hours: [...hours],
        timezone,
        recycled: new Map(),
      });
    }
  }

  #symbol(symbol: string): SymbolState {
    if (this.#disposed) {
      throw new ProviderError("MemoryProvider: the provider was disposed");
    }
    const s = this.#symbols.get(this.normalizeSymbol(symbol));
    if (!s) {
      throw new ProviderError(
        `Unknown symbol "${symbol}" for the memory provider; known: ${
          [...this.#symbols.keys()].join(", ")
        }`,
        { code: "unknown-symbol" },
      );
    }
    return s;
  }

  /** Upper-cases the symbol; throws a `ProviderError` for a malformed one. */
  normalizeSymbol(symbol: string): string {
    const s = String(symbol).trim().toUpperCase();
    if (!/^[A-Z0-9][A-Z0-9._/-]*$/.test(s)) {
      throw new ProviderError(
        `Malformed symbol "${symbol}": use letters, digits, ".", "_", "/" or "-"`,
      );
    }
    return s;
  }

  /** Lists the configured symbols, optionally filtered. */
  listSymbols(options: ListSymbolsOptions = {}): Promise<SymbolListing[]> {
    const q = options.search?.toLowerCase();
    const out: SymbolListing[] = [];
    for (const [symbol, s] of this.#symbols) {
      const type = s.options.market ?? "crypto";
      const description = s.options.info?.description ??
        `${symbol} (memory, ${type})`;
      if (
        q && !symbol.toLowerCase().includes(q) &&
        !description.toLowerCase().includes(q)
      ) {
        continue;
      }
      out.push({ symbol, description, type });
    }
    return Promise.resolve(out);
  }

  /** Symbol information with the preset's hours and the tick grid of the tick. */
  symbolInfo(symbol: string, timeframe: Timeframe): Promise<SymbolInfo> {
    try {
      const s = this.#symbol(symbol);
      this.#checkTimeframe(timeframe);
      const tick = s.options.tick ?? 0.01;
      const grid = tickGridFromMintick(tick);
      const m = marketHours(s.options.market ?? "crypto");
      const ticker = this.normalizeSymbol(symbol);
      const days = [...new Set(s.hours.map((h) => h.day))];
      const info: SymbolInfo = {
        prefix: "MEMORY",
        description: `${ticker} (deterministic in-memory data)`,
        ticker,
        currency: "USD",
        period: timeframe.period,
        type: m.type,
        mintick: grid.minmove / grid.pricescale,
        pricescale: grid.pricescale,
        minmove: grid.minmove,
        pointvalue: 1,
        timezone: s.timezone,
        volumetype: "base",
        openingHours: s.hours,
        sessionStarts: days.map((day) => ({
          day,
          time: s.hours.find((h) => h.day === day)!.start,
        })),
        sessionEnds: days.map((day) => ({
          day,
          time: s.hours.find((h) => h.day === day)!.end,
        })),
        ...s.options.info,
      };
      return Promise.resolve(info);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** The supported timeframes. */
  timeframes(_symbol?: string): Promise<string[]> {
    return Promise.resolve([...SUPPORTED]);
  }

  #checkTimeframe(tf: Timeframe): void {
    if (tf.unit === "S") {
      throw new ProviderError(
        `The memory provider has no ${tf.period} (seconds) candles; supported: ${
          SUPPORTED.join(", ")
        }`,
        { code: "unsupported-timeframe" },
      );
    }
  }

  /** Candles of the request, paged and misbehaving as configured. */
  async *candles(request: CandleRequest): AsyncGenerator<CandleBatch> {
    const s = this.#symbol(request.symbol);
    const tf = request.timeframe;
    this.#checkTimeframe(tf);
    const o = this.#o;
    const call = this.#calls++;
    const now = (o.now ?? Date.now)();
    const pageSize = request.pageSize ?? this.#pageSize;
    if (!Number.isInteger(pageSize) || pageSize < 1) {
      throw new RangeError(
        `pageSize must be a whole number >= 1, got ${pageSize}`,
      );
    }
    const overlap = Math.min(this.#overlap, pageSize - 1);
    const concurrency = request.concurrency ?? o.concurrency ?? 1;
    let start = Math.max(request.from, s.options.listedFrom ?? -Infinity);
    if (request.resumeAfter !== undefined) {
      start = Math.max(start, request.resumeAfter + 1);
    }
    if (!Number.isFinite(start)) {
      throw new RangeError(
        `The request's "from" must be a time in ms, got ${request.from}`,
      );
    }
    const first = periodStart(tf, start);
    start = first < start ? nextPeriodStart(tf, first) : first;
    const forming = o.forming ?? true;
    // Slots that exist: t < to, and opened (forming) or ended by now.
    const end = request.to;
    const exists = (t: number) =>
      t < end && (forming ? t <= now : nextPeriodStart(tf, t) <= now);
    const random = rng(call * 7919 + 17);

    // Page starts.
    const pages: number[] = [];
    for (let p = start; exists(p);) {
      pages.push(p);
      let next = p;
      for (let i = 0; i < pageSize - overlap; i++) {
        next = nextPeriodStart(tf, next);
      }
      p = next;
    }
    const fetchPage = async (page: number): Promise<CandleBatch> => {
      const failure = o.failures?.find((f) =>
        f.page === page && (f.call === undefined || f.call === call)
      );
      return await withRetry(async (attempt) => {
        request.signal?.throwIfAborted();
        this.stats.requests++;
        o.onRequest?.({
          call,
          page,
          attempt,
          requests: this.stats.requests,
          from: pages[page]!,
        });
        request.signal?.throwIfAborted();
        if (o.latencyMs) await sleep(o.latencyMs, request.signal);
        if (failure) {
          if (failure.kind === "permanent") {
            throw new ProviderError(
              `Injected permanent failure at page ${page} of call ${call}`,
              { code: "injected" },
            );
          }
          if (attempt < (failure.times ?? 1)) {
            throw new TransientProviderError(
              `Injected transient failure at page ${page} of call ${call} (attempt ${
                attempt + 1
              })`,
            );
          }
        }
        return this.#page(
          s,
          tf,
          pages[page]!,
          pageSize,
          exists,
          now,
          request,
          random,
        );
      }, {
        maxRetries: o.maxRetries ?? 3,
        baseDelayMs: o.retryDelayMs ?? 1,
        maxDelayMs: 50,
        signal: request.signal,
        onRetry: () => {
          this.stats.retries++;
        },
      });
    };

    if (concurrency <= 1) {
      for (let page = 0; page < pages.length; page++) {
        const b = await fetchPage(page);
        if (b.time.length > 0) yield b;
      }
      return;
    }
    for (let g = 0; g < pages.length; g += concurrency) {
      const idx: number[] = [];
      for (
        let page = g;
        page < Math.min(pages.length, g + concurrency);
        page++
      ) {
        idx.push(page);
      }
      const results = await Promise.all(idx.map((page) => fetchPage(page)));
      // Deliver the group in a shuffled (seeded) order, as racing fetchers would.
      const order = idx.map((_, i) => i);
      for (let i = order.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      for (const i of order) yield { ...results[i]!, seq: idx[i]! };
    }
  }

  #page(
    s: SymbolState,
    tf: Timeframe,
    pageStart: number,
    pageSize: number,
    exists: (t: number) => boolean,
    now: number,
    request: CandleRequest,
    random: () => number,
  ): CandleBatch {
    const o = this.#o;
    const times: number[] = [];
    const gaps = o.gaps ?? [];
    const listed = s.options.listedFrom ?? -Infinity;
    let t = pageStart;
    for (let i = 0; i < pageSize && exists(t); i++) {
      const next = nextPeriodStart(tf, t);
      if (
        t >= listed && !gaps.some(([a, b]) => t >= a && t < b) &&
        (s.calendar.alwaysOpen || s.calendar.overlapsOpen(t, next))
      ) times.push(t);
      t = next;
    }
    const dupEvery = o.duplicateEvery ?? 0;
    const conflictEvery = o.conflictEvery ?? 0;
    const rows: number[] = []; // indices into times; negative = conflict copy
    for (let i = 0; i < times.length; i++) {
      rows.push(i);
      const k = Math.round((times[i]! - pageStart) / tf.ms) + 1;
      if (dupEvery > 0 && k % dupEvery === 0) rows.push(i);
      else if (conflictEvery > 0 && k % conflictEvery === 0) rows.push(-1 - i);
    }
    const n = rows.length;
    const b = allocBatch(n);
    const values = this.#values(s, tf, times);
    for (let j = 0; j < n; j++) {
      const r = rows[j]!;
      const i = r < 0 ? -1 - r : r;
      b.time[j] = times[i]!;
      b.open[j] = values.open[i]!;
      b.high[j] = values.high[i]!;
      b.low[j] = values.low[i]!;
      b.close[j] = values.close[i]!;
      b.volume[j] = r < 0 ? values.volume[i]! + 1 : values.volume[i]!;
      const slot = Math.round(times[i]! / tf.ms);
      if (every(o.zeroVolumeEvery, slot)) {
        b.high[j] = b.low[j] = b.close[j] = b.open[j]!;
        b.volume[j] = 0;
      }
      if (every(o.missingVolumeEvery, slot)) b.volume[j] = NaN;
      if (every(o.brokenEvery, slot)) b.high[j] = b.low[j]! - 10 * s.gen.tick;
      if (nextPeriodStart(tf, times[i]!) > now) {
        // The forming candle: only part of the period so far.
        b.close[j] = b.open[j]!;
        b.high[j] = b.open[j]!;
        b.low[j] = b.open[j]!;
        b.volume[j] = Math.round(b.volume[j]! * 500) / 1000;
      }
    }
    let out: CandleBatch = b;
    if (request.extraData) {
      const tick = s.gen.tick;
      const extra: CandleExtra[] = [];
      for (let j = 0; j < n; j++) {
        extra.push({ ask_close: Number((b.close[j]! + tick).toFixed(10)) });
      }
      out = { ...b, extra };
    }
    const order = o.order ?? "asc";
    if (order === "asc" || n < 2) return out;
    const perm = Array.from({ length: n }, (_, i) => i);
    if (order === "desc") perm.reverse();
    else {
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [perm[i], perm[j]] = [perm[j]!, perm[i]!];
      }
    }
    const p = allocBatch(n);
    for (let j = 0; j < n; j++) {
      const i = perm[j]!;
      p.time[j] = out.time[i]!;
      p.open[j] = out.open[i]!;
      p.high[j] = out.high[i]!;
      p.low[j] = out.low[i]!;
      p.close[j] = out.close[i]!;
      p.volume[j] = out.volume[i]!;
    }
    return out.extra ? { ...p, extra: perm.map((i) => out.extra![i]) } : p;
  }

  /** Candle values for sorted slot times (generated, or recycled for benchmarks). */
  #values(s: SymbolState, tf: Timeframe, times: number[]): CandleBatch {
    const recycle = this.#o.recycle ?? 0;
    const n = times.length;
    const out = allocBatch(n);
    if (recycle === 0 || tf.calendar) {
      for (let i = 0; i < n; i++) {
        const c = s.gen.candle(
          times[i]!,
          nextPeriodStart(tf, times[i]!) - times[i]!,
        );
        out.time[i] = c.time;
        out.open[i] = c.open;
        out.high[i] = c.high;
        out.low[i] = c.low;
        out.close[i] = c.close;
        out.volume[i] = c.volume;
      }
      return out;
    }
    let tpl = s.recycled.get(tf.period);
    if (!tpl) {
      tpl = s.gen.batch(0, recycle * tf.ms, tf.ms);
      s.recycled.set(tf.period, tpl);
    }
    const m = tpl.time.length;
    let i = 0;
    while (i < n) {
      const j = ((Math.round(times[i]! / tf.ms) % m) + m) % m;
      // Copy the longest contiguous run at once.
      let run = 1;
      while (
        i + run < n && j + run < m &&
        times[i + run]! - times[i]! === run * tf.ms
      ) run++;
      out.open.set(tpl.open.subarray(j, j + run), i);
      out.high.set(tpl.high.subarray(j, j + run), i);
      out.low.set(tpl.low.subarray(j, j + run), i);
      out.close.set(tpl.close.subarray(j, j + run), i);
      out.volume.set(tpl.volume.subarray(j, j + run), i);
      for (let r = 0; r < run; r++) out.time[i + r] = times[i + r]!;
      i += run;
    }
    return out;
  }

  /** Marks the provider closed; later calls throw a `ProviderError`. */
  [Symbol.asyncDispose](): Promise<void> {
    this.#disposed = true;
    return Promise.resolve();
  }
}

// Loading the test kit makes the in-memory provider available by name
// (`openProvider("memory")`, provider strings like `memory:BTCUSDT@60`),
// unless a provider of that name was registered before.
if (
  lookupProviderEntry("memory") === undefined &&
  lookupProviderEntry("MemoryProvider") === undefined
) {
  addProviderEntry(
    {
      name: "memory",
      aliases: ["MemoryProvider"],
      description:
        "Deterministic in-memory candles, for tests and offline demos",
      open: (options) => new MemoryProvider(options),
    },
    true,
    false,
  );
}
