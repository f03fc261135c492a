/**
 * Candle requests of real ccxt downloads against the loopback venue
 * emulators, next to the windows `downloadPlan()` counts for the same
 * options. A window is one page (`pageSize` periods), so the planned count is
 * what a pager trusting page length would send; the ccxt pager continues a
 * window answered short with the part it did not cover, so gaps and capped
 * pages show up as requests beyond the plan.
 *
 * For each venue (Binance, Bybit, OKX, Kraken, KuCoin, Coinbase), with a
 * fixed clock and no rate limit in the way:
 *
 * - a gap-free range of 1-minute candles needing several pages (30.5 days;
 *   Kraken serves only its latest 720 periods: the served 12 hours, in its
 *   own 720-candle page and in pages of 100);
 * - the same range crossing two maintenance gaps;
 * - OKX only (the one emulator with a page cap): pages capped at 30 candles
 *   below the 100 asked.
 *
 * Every download must store exactly the emulator's closed candles
 * (`expectedCandles`) and see no 429; the script stops otherwise. Prints a
 * Markdown table.
 *
 * Run: `deno run -A bench/ccxt_request_counts.ts`
 *
 * @module
 */

import { join } from "node:path";
import { startBinanceEmulator } from "../testing/binance_emulator.ts";
import { startBybitEmulator } from "../testing/bybit_emulator.ts";
import { startOkxEmulator } from "../testing/okx_emulator.ts";
import { startKrakenEmulator } from "../testing/kraken_emulator.ts";
import { startKucoinEmulator } from "../testing/kucoin_emulator.ts";
import { startCoinbaseEmulator } from "../testing/coinbase_emulator.ts";
import type {
  ExchangeEmulator,
  MaintenanceGap,
} from "../testing/_exchange_emulator.ts";
import { CCXTProvider } from "../providers/ccxt.ts";
import { download } from "../pipeline/download.ts";
import { downloadPlan } from "../pipeline/dry_run.ts";
import { batchLength } from "../format/candle_batch.ts";
import { parseTimeframe } from "../format/timeframe.ts";

const M = 60_000;
const H = 3_600_000;
const D = 86_400_000;
const NOW = Date.UTC(2024, 2, 1, 12, 0, 30);
const DAY0 = Date.UTC(2024, 2, 1);
/** Start of the range: 30.5 days (43,920 closed 1-minute candles) before NOW. */
const FROM = DAY0 - 30 * D;
const TIMEFRAME = "1";
/** A 45-minute gap inside the range and a 6-hour one starting at midnight. */
const GAPS: readonly MaintenanceGap[] = [
  { from: FROM + 10 * D + 437 * M, to: FROM + 10 * D + 482 * M },
  { from: FROM + 20 * D, to: FROM + 20 * D + 6 * H },
];
/** Kraken's served history (00:01 to 12:00) with gaps across 100-candle windows. */
const KRAKEN_FROM = DAY0 + M;
const KRAKEN_GAPS: readonly MaintenanceGap[] = [
  { from: DAY0 + 95 * M, to: DAY0 + 105 * M },
  { from: DAY0 + 200 * M, to: DAY0 + 260 * M },
];
/** Candles per page of the capped OKX (it is asked for 100). */
const OKX_CAP = 30;

/** How an emulator is set up for one scenario. */
interface EmulatorSetup {
  readonly gaps: readonly MaintenanceGap[];
  /** Largest page the venue answers, below what is asked. */
  readonly pageCap?: number | undefined;
}

/** A venue emulator and the market downloaded from it. */
interface Venue {
  readonly name: string;
  /** ccxt exchange id (the key of the provider's `exchanges` settings). */
  readonly exchange: string;
  readonly symbol: string;
  /** The emulator's key of the market, for `expectedCandles`. */
  readonly key: string;
  readonly start: (setup: EmulatorSetup) => Promise<ExchangeEmulator>;
}

/** One download to measure. */
interface Scenario {
  readonly venue: Venue;
  readonly label: string;
  readonly from: number;
  readonly setup: EmulatorSetup;
  readonly pageSize?: number | undefined;
}

/** What one download cost. */
interface Row {
  readonly venue: string;
  readonly scenario: string;
  readonly candles: number;
  readonly windows: number;
  readonly requests: number;
}

/** Emulator options shared by every venue: the clock, no rate limit in the way. */
function base(setup: EmulatorSetup) {
  return { now: () => NOW, weightLimit: 1_000_000, gaps: setup.gaps };
}

const VENUES: Readonly<Record<string, Venue>> = {
  binance: {
    name: "Binance",
    exchange: "binance",
    symbol: "BINANCE:BTC/USDT",
    key: "BTCUSDT",
    start: (s) => startBinanceEmulator(base(s)),
  },
  bybit: {
    name: "Bybit",
    exchange: "bybit",
    symbol: "BYBIT:BTC/USDT",
    key: "spot:BTCUSDT",
    start: (s) => startBybitEmulator(base(s)),
  },
  okx: {
    name: "OKX",
    exchange: "okx",
    symbol: "OKX:BTC/USDT",
    key: "BTC-USDT",
    start: (s) =>
      startOkxEmulator({
        ...base(s),
        ...(s.pageCap === undefined
          ? {}
          : { candlesLimit: s.pageCap, historyLimit: s.pageCap }),
      }),
  },
  kraken: {
    name: "Kraken",
    exchange: "kraken",
    symbol: "KRAKEN:BTC/USD",
    key: "XXBTZUSD",
    start: (s) => startKrakenEmulator(base(s)),
  },
  kucoin: {
    name: "KuCoin",
    exchange: "kucoin",
    symbol: "KUCOIN:BTC/USDT",
    key: "BTC-USDT",
    start: (s) => startKucoinEmulator(base(s)),
  },
  coinbase: {
    name: "Coinbase",
    exchange: "coinbase",
    symbol: "COINBASE:BTC/USD",
    key: "BTC-USD",
    start: (s) => startCoinbaseEmulator(base(s)),
  },
};

/** A range without gaps and the same range crossing `gaps`. */
function withAndWithoutGaps(
  venue: Venue,
  span: string,
  from: number,
  gaps: readonly MaintenanceGap[],
  pageSize?: number,
): Scenario[] {
  const pages = pageSize === undefined ? "" : `, pages of ${pageSize}`;
  return [
    {
      venue,
      label: `${span}, no gaps${pages}`,
      from,
      setup: { gaps: [] },
      pageSize,
    },
    {
      venue,
      label: `${span}, 2 gaps${pages}`,
      from,
      setup: { gaps },
      pageSize,
    },
  ];
}

/** The scenarios of every venue, in table order. */
function scenarios(): Scenario[] {
  const out: Scenario[] = [];
  for (const venue of Object.values(VENUES)) {
    if (venue.exchange === "kraken") {
      out.push(
        ...withAndWithoutGaps(venue, "12 h", KRAKEN_FROM, KRAKEN_GAPS),
        ...withAndWithoutGaps(venue, "12 h", KRAKEN_FROM, KRAKEN_GAPS, 100),
      );
      continue;
    }
    out.push(...withAndWithoutGaps(venue, "30.5 d", FROM, GAPS));
    if (venue.exchange === "okx") {
      out.push({
        venue,
        label: `30.5 d, no gaps, pages capped at ${OKX_CAP}`,
        from: FROM,
        setup: { gaps: [], pageCap: OKX_CAP },
      });
    }
  }
  return out;
}

/** Candle-data requests the emulator has logged so far. */
function candleRequests(emu: ExchangeEmulator): number {
  return emu.requests.filter((r) => r.dataN > 0).length;
}

/** A provider pointed at the emulator, ccxt's throttle out of the way. */
function providerFor(
  emu: ExchangeEmulator,
  venue: Venue,
  configDir: string,
): CCXTProvider {
  return new CCXTProvider({
    configDir,
    baseUrl: emu.url,
    env: {},
    retryBaseDelayMs: 5,
    retryMaxDelayMs: 40,
    exchanges: { [venue.exchange]: { rateLimit: 1 } },
  });
}

/** Plans and downloads one scenario; checks the file holds the emulator's truth. */
async function measure(s: Scenario): Promise<Row> {
  await using emu = await s.venue.start(s.setup);
  const dir = await Deno.makeTempDir({ prefix: "pyne_requests_" });
  try {
    await using p = providerFor(emu, s.venue, dir);
    const options = {
      timeframe: TIMEFRAME,
      dataDir: join(dir, "data"),
      from: new Date(s.from),
      now: () => NOW,
      pageSize: s.pageSize,
    };
    const plan = await downloadPlan(p, s.venue.symbol, options);
    const before = candleRequests(emu);
    const summary = await download(p, s.venue.symbol, options);
    const requests = candleRequests(emu) - before;
    const tf = parseTimeframe(TIMEFRAME);
    const expected = batchLength(
      emu.expectedCandles(s.venue.key, tf, s.from, NOW),
    );
    const where = `${s.venue.name}, ${s.label}`;
    if (summary.candles !== expected) {
      throw new Error(
        `${where}: stored ${summary.candles} candles, the emulator serves ${expected}`,
      );
    }
    if (emu.countStatus(429) > 0) {
      throw new Error(
        `${where}: rate-limited, the counts would include retries`,
      );
    }
    return {
      venue: s.venue.name,
      scenario: s.label,
      candles: summary.candles,
      windows: plan.requests.candles,
      requests,
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The rows as a Markdown table. */
function table(rows: readonly Row[]): string {
  const n = (v: number) => v.toLocaleString("en-US");
  const lines = [
    "| venue | scenario | candles | planned windows | actual candle requests | ratio |",
    "| --- | --- | ---: | ---: | ---: | ---: |",
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.venue} | ${r.scenario} | ${n(r.candles)} | ${n(r.windows)} | ${
        n(r.requests)
      } | ${(r.requests / r.windows).toFixed(2)} |`,
    );
  }
  return lines.join("\n");
}

async function main(): Promise<void> {
  const started = performance.now();
  const rows: Row[] = [];
  for (const s of scenarios()) rows.push(await measure(s));
  console.log(table(rows));
  const seconds = (performance.now() - started) / 1000;
  console.log(`\n${rows.length} downloads in ${seconds.toFixed(1)} s`);
}

if (import.meta.main) await main();
