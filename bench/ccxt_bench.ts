/**
 * Benchmark of the ccxt provider against the Binance emulator (run in a
 * separate process, so its work does not count as ours):
 *
 * 1. 50 ms latency per request, Binance's real weight limit (6000 per
 *    minute): a year of 1-minute candles (525,600 candles, 526 pages) with a
 *    sequential page-after-page loop over ccxt (what PyneCore does) versus the
 *    provider's concurrent paging at several concurrencies; 429s counted.
 * 2. Zero latency: candles/s end to end (provider alone, and through
 *    `download()` into a `.ohlcv` file) and the share of wall time spent
 *    outside ccxt's own request/parse work (`fetchOHLCV`), i.e. our overhead.
 *
 * Run: `deno run -A bench/ccxt_bench.ts` (add `--quick` for a month instead
 * of a year). `deno bench` runs a small smoke version.
 *
 * @module
 */

import { startBinanceEmulator } from "../testing/binance_emulator.ts";
import { startServingChild } from "./_serving_child.ts";
import { CCXTProvider } from "../providers/ccxt.ts";
import { parseTimeframe } from "../format/timeframe.ts";
import { pageCandles } from "../providers/_ccxt_paging.ts";

const NOW = Date.UTC(2024, 0, 1, 0, 0, 30);
const YEAR_FROM = Date.UTC(2023, 0, 1);
const MONTH_FROM = Date.UTC(2023, 11, 1);
const TO = Date.UTC(2024, 0, 1);

// ---------------------------------------------------------------------------
// Emulator child process.

interface Child {
  url: string;
  stop(): Promise<{ requests: number; status429: number; status418: number }>;
}

async function emulatorServe(latencyMs: number): Promise<void> {
  const emu = await startBinanceEmulator({
    now: () => NOW,
    latencyMs,
    weightLimit: 6000,
    weightWindowMs: 60_000,
  });
  console.log(emu.url);
  // Run until stdin closes, then report.
  for await (const _ of Deno.stdin.readable) { /* wait */ }
  console.log(JSON.stringify({
    requests: emu.requests.length,
    status429: emu.countStatus(429),
    status418: emu.countStatus(418),
  }));
  await emu.close();
}

async function spawnEmulator(latencyMs: number): Promise<Child> {
  const child = await startServingChild([
    "run",
    "--allow-net=127.0.0.1",
    "--allow-read",
    "--allow-env",
    new URL(import.meta.url).pathname,
    "--serve",
    String(latencyMs),
  ]);
  return {
    url: child.ready,
    stop: async () => JSON.parse(await child.stop()),
  };
}

// ---------------------------------------------------------------------------
// Measured runs.

type CcxtLike = {
  // deno-lint-ignore no-explicit-any
  binance: new (config: Record<string, unknown>) => any;
};

// deno-lint-ignore no-explicit-any
function pointAt(ex: any, url: string): void {
  for (const [k, v] of Object.entries(ex.urls.api)) {
    if (typeof v === "string") {
      ex.urls.api[k] = v.replace(/^[a-z]+:\/\/[^/]+/i, url);
    }
  }
}

/** PyneCore-style: one request after the other, next since = last + 1 period. */
async function sequentialLoop(
  url: string,
  from: number,
): Promise<{ candles: number; ms: number }> {
  const ccxt = (await import("ccxt")) as unknown as CcxtLike;
  const ex = new ccxt.binance({
    enableRateLimit: true,
    options: { fetchMarkets: { types: ["spot"] } },
  });
  pointAt(ex, url);
  const t0 = performance.now();
  await ex.loadMarkets();
  let since = from;
  let candles = 0;
  while (since < TO) {
    const rows: number[][] = await ex.fetchOHLCV(
      "BTC/USDT",
      "1m",
      since,
      1000,
    );
    let n = 0;
    for (const r of rows) if (r[0]! < TO) n++;
    candles += n;
    if (rows.length === 0) break;
    since = rows[rows.length - 1]![0]! + 60_000;
  }
  return { candles, ms: performance.now() - t0 };
}

/** ccxt's default leaky-bucket throttle with concurrent windows (for the analysis). */
async function leakyConcurrent(
  url: string,
  from: number,
  concurrency: number,
): Promise<{ candles: number; ms: number }> {
  const ccxt = (await import("ccxt")) as unknown as CcxtLike;
  const ex = new ccxt.binance({
    enableRateLimit: true,
    options: { fetchMarkets: { types: ["spot"] } },
  });
  pointAt(ex, url);
  const t0 = performance.now();
  await ex.loadMarkets();
  let candles = 0;
  for await (
    const b of pageCandles({
      timeframe: parseTimeframe("1"),
      from,
      to: TO,
      pageSize: 1000,
      concurrency,
      now: NOW,
      fetch: (since, until, limit) =>
        ex.fetchOHLCV("BTC/USDT", "1m", since, limit, { until }),
    })
  ) candles += b.time.length;
  return { candles, ms: performance.now() - t0 };
}

let ccxtMs = 0;
async function instrumentCcxt(): Promise<void> {
  const ccxt = (await import("ccxt")) as unknown as CcxtLike;
  const proto = ccxt.binance.prototype;
  const orig = proto.fetchOHLCV;
  proto.fetchOHLCV = async function (...args: unknown[]) {
    const t = performance.now();
    try {
      return await orig.apply(this, args);
    } finally {
      ccxtMs += performance.now() - t;
    }
  };
}

async function providerRun(
  url: string,
  from: number,
  concurrency: number,
): Promise<{ candles: number; ms: number; ccxtMs: number; requests: number }> {
  const dir = await Deno.makeTempDir();
  await using p = new CCXTProvider({ configDir: dir, baseUrl: url, env: {} });
  const t0 = performance.now();
  ccxtMs = 0;
  let candles = 0;
  for await (
    const b of p.candles({
      symbol: "BINANCE:BTC/USDT",
      timeframe: parseTimeframe("1"),
      from,
      to: TO,
      concurrency,
    })
  ) candles += b.time.length;
  const ms = performance.now() - t0;
  await Deno.remove(dir, { recursive: true });
  return { candles, ms, ccxtMs, requests: p.stats.requests };
}

async function downloadRun(
  url: string,
  from: number,
  concurrency: number,
): Promise<{ candles: number; ms: number }> {
  const { download } = await import("../pipeline/download.ts");
  const dir = await Deno.makeTempDir();
  await using p = new CCXTProvider({ configDir: dir, baseUrl: url, env: {} });
  const t0 = performance.now();
  const s = await download(p, "BINANCE:BTC/USDT", {
    timeframe: "1",
    dataDir: dir,
    from: new Date(from),
    to: new Date(TO),
    now: () => NOW,
    concurrency,
  });
  const ms = performance.now() - t0;
  await Deno.remove(dir, { recursive: true });
  return { candles: s.candles, ms };
}

function fmt(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

async function report(quick: boolean): Promise<void> {
  const from = quick ? MONTH_FROM : YEAR_FROM;
  await instrumentCcxt();
  console.log(
    `# ccxt provider benchmark (${
      quick ? "one month" : "one year"
    } of BINANCE:BTC/USDT 1m, Binance emulator in a child process)\n`,
  );

  {
    // Warm up both code paths (JIT, ccxt import) on a throwaway emulator.
    const emu = await spawnEmulator(0);
    await sequentialLoop(emu.url, TO - 7 * 86_400_000);
    await providerRun(emu.url, TO - 7 * 86_400_000, 8);
    await emu.stop();
  }
  console.log("## 50 ms latency, weight limit 6000/min\n");
  console.log("| run | candles | time | requests | 429s | speed-up |");
  console.log("|---|---:|---:|---:|---:|---:|");
  let base = 0;
  const row = async (
    name: string,
    fn: (
      url: string,
    ) => Promise<{ candles: number; ms: number; requests?: number }>,
  ) => {
    const emu = await spawnEmulator(50);
    const r = await fn(emu.url);
    const s = await emu.stop();
    if (base === 0) base = r.ms;
    console.log(
      `| ${name} | ${r.candles} | ${fmt(r.ms)} | ${s.requests} | ${
        s.status429 + s.status418
      } | ${(base / r.ms).toFixed(1)}x |`,
    );
    return r;
  };
  await row(
    "sequential page loop (ccxt, PyneCore style)",
    (u) => sequentialLoop(u, from),
  );
  await row(
    "ccxt leaky bucket, 8 concurrent windows",
    (u) => leakyConcurrent(u, from, 8),
  );
  for (const c of [1, 2, 4, 8, 16]) {
    await row(`CCXTProvider concurrency ${c}`, (u) => providerRun(u, from, c));
  }

  console.log("\n## zero latency\n");
  {
    // A fresh venue per run: every run spends ~1050 of the 6000 weight/min.
    let rejected = 0;
    const best = async <T extends { ms: number }>(
      fn: (url: string) => Promise<T>,
    ) => {
      let b: T | undefined;
      for (let i = 0; i < 3; i++) {
        const emu = await spawnEmulator(0);
        const r = await fn(emu.url);
        const st = await emu.stop();
        rejected += st.status429 + st.status418;
        if (!b || r.ms < b.ms) b = r;
      }
      return b!;
    };
    const r = await best((u) => providerRun(u, from, 1));
    const c8 = await best((u) => providerRun(u, from, 8));
    const d = await best((u) => downloadRun(u, from, 8));
    const s = { status429: rejected, status418: 0 };
    const overhead = (r.ms - r.ccxtMs) / r.ms;
    console.log(
      `- provider, concurrency 1: ${r.candles} candles in ${fmt(r.ms)} = ${
        Math.round(r.candles / (r.ms / 1000))
      } candles/s; time inside ccxt fetchOHLCV ${fmt(r.ccxtMs)}; our overhead ${
        (overhead * 100).toFixed(1)
      }%`,
    );
    console.log(
      `- provider, concurrency 8: ${
        Math.round(c8.candles / (c8.ms / 1000))
      } candles/s`,
    );
    console.log(
      `- download() into .ohlcv, concurrency 8: ${d.candles} candles in ${
        fmt(d.ms)
      } = ${Math.round(d.candles / (d.ms / 1000))} candles/s`,
    );
    console.log(`- 429/418 answers: ${s.status429 + s.status418}`);
  }
}

if (import.meta.main && Deno.args[0] === "--serve") {
  await emulatorServe(Number(Deno.args[1] ?? 0));
} else if (import.meta.main) {
  // `deno run`: the full report (under `deno bench`, import.meta.main is false).
  await report(Deno.args.includes("--quick"));
}

Deno.bench({
  name: "CCXTProvider one day of 1m candles, zero latency, concurrency 8",
  n: 3,
  warmup: 1,
  async fn() {
    await using emu = await startBinanceEmulator({ now: () => NOW });
    const dir = await Deno.makeTempDir();
    await using p = new CCXTProvider({
      configDir: dir,
      baseUrl: emu.url,
      env: {},
    });
    let n = 0;
    for await (
      const b of p.candles({
        symbol: "BINANCE:BTC/USDT",
        timeframe: parseTimeframe("1"),
        from: TO - 86_400_000,
        to: TO,
        concurrency: 8,
      })
    ) n += b.time.length;
    if (n !== 1440) throw new Error(`got ${n} candles`);
    await Deno.remove(dir, { recursive: true });
  },
});
