/**
 * Benchmark of Binance's public data archives behind the ccxt provider:
 * years of BINANCE:BTC/USDT 1-minute candles through `download()` into an
 * `.ohlcv` file, side by side in one run —
 *
 * 1. archive + REST: monthly and daily archive files from the archive
 *    emulator for the closed months and days, REST for the rest;
 * 2. REST alone (`archive: false`), the provider's default concurrency.
 *
 * Both emulators (Binance REST and its archive) run in a child process, so
 * their work does not count as ours, with 50 ms latency per request and
 * Binance's real weight limit (6,000 per minute, klines weight 2). The
 * archive emulator builds its zips before the clock starts (building them is
 * Binance's work, not the client's). The two files must be byte-identical.
 * Also reported: requests, 429s and the client's peak RSS during each run.
 *
 * Run: `deno run -A bench/archive_bench.ts` (4 years; `--years 1` for a
 * shorter span, `--rounds 3` for several rounds, alternating;
 * `--archive-only` skips the REST-only runs).
 *
 * @module
 */

import { startBinanceEmulator } from "../testing/binance_emulator.ts";
import { startServingChild } from "./_serving_child.ts";
import { startBinanceArchiveEmulator } from "../testing/binance_archive_emulator.ts";
import { CCXTProvider } from "../providers/ccxt.ts";
import { download } from "../pipeline/download.ts";
import { parseTimeframe } from "../format/timeframe.ts";
import { planArchive } from "../providers/_binance_archive.ts";

const NOW = Date.UTC(2024, 0, 15, 12, 0, 30);
const LATENCY_MS = 50;
const FILE = "ccxt_BINANCE_BTC_USDT_1.ohlcv";

function arg(name: string, fallback: number): number {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}

const fromOf = (years: number) => NOW - 30_000 - years * 365.25 * 86_400_000;

// ---------------------------------------------------------------------------
// Emulator child process.

async function serve(years: number): Promise<void> {
  const rest = await startBinanceEmulator({
    now: () => NOW,
    latencyMs: LATENCY_MS,
    weightLimit: 6000,
    weightWindowMs: 60_000,
  });
  const archive = await startBinanceArchiveEmulator({
    now: () => NOW,
    latencyMs: LATENCY_MS,
    cacheFiles: 1000,
  });
  // Build every zip of the range before the clock starts.
  const pieces = planArchive({
    timeframe: parseTimeframe("1"),
    interval: "1m",
    from: fromOf(years),
    to: NOW,
    now: NOW,
    pageSize: 1000,
  }) ?? [];
  const urls = pieces.flatMap((p) =>
    p.kind === "file"
      ? [
        `${archive.url}/data/spot/${p.file.kind}/klines/BTCUSDT/1m/BTCUSDT-1m-${p.file.label}.zip`,
      ]
      : []
  );
  for (let i = 0; i < urls.length; i += 2) {
    await Promise.all(
      urls.slice(i, i + 2).map((u) => fetch(u).then((r) => r.arrayBuffer())),
    );
  }
  const before = archive.requests.length;
  console.log(JSON.stringify({ rest: rest.url, archive: archive.url }));
  for await (const _ of Deno.stdin.readable) { /* wait */ }
  console.log(JSON.stringify({
    restRequests: rest.requests.length,
    status429: rest.countStatus(429),
    archiveRequests: archive.requests.length - before,
  }));
  await rest.close();
  await archive.close();
}

interface Child {
  urls: { rest: string; archive: string };
  stats(): Promise<
    { restRequests: number; status429: number; archiveRequests: number }
  >;
}

async function spawn(years: number): Promise<Child> {
  const child = await startServingChild([
    "run",
    "--allow-net=127.0.0.1",
    "--allow-read",
    "--allow-env",
    new URL(import.meta.url).pathname,
    "--serve",
    String(years),
  ]);
  return {
    urls: JSON.parse(child.ready),
    stats: async () => JSON.parse(await child.stop()),
  };
}

// ---------------------------------------------------------------------------
// Measured runs, each in a fresh process (clean memory figures, nothing
// left over from the other side): ccxt is loaded and the paths run once on
// three days first, then the range is timed.

interface Result {
  ms: number;
  candles: number;
  requests: number;
  /** Peak RSS during the timed run. */
  peakRss: number;
  /** RSS when it started (ccxt loaded). */
  startRss: number;
  notes: string[];
}

async function download1(
  urls: Child["urls"],
  archive: boolean,
  from: number,
  dir: string,
): Promise<Omit<Result, "peakRss" | "startRss">> {
  await using p = new CCXTProvider({
    configDir: dir,
    baseUrl: urls.rest,
    env: {},
    exchanges: { binance: { archiveUrl: urls.archive } },
  });
  const notes: string[] = [];
  const t0 = performance.now();
  const s = await download(p, "BINANCE:BTC/USDT", {
    timeframe: "1",
    from: new Date(from),
    to: new Date(NOW),
    dataDir: dir,
    now: () => NOW,
    archive,
    log: (l) => notes.push(l),
  });
  const ms = performance.now() - t0;
  if (!s.coverage.complete) throw new Error("incomplete download");
  return { ms, candles: s.candles, requests: s.requests, notes };
}

/** `--run`: one timed download in this process; prints a Result. */
async function runChild(
  urls: Child["urls"],
  archive: boolean,
  from: number,
  dir: string,
): Promise<void> {
  await download1(urls, archive, NOW - 3 * 86_400_000, `${dir}/warm`);
  const startRss = Deno.memoryUsage().rss;
  let peakRss = startRss;
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, Deno.memoryUsage().rss);
  }, 10);
  const r = await download1(urls, archive, from, dir);
  clearInterval(sampler);
  peakRss = Math.max(peakRss, Deno.memoryUsage().rss);
  console.log(JSON.stringify({ ...r, peakRss, startRss }));
}

async function runOnce(
  urls: Child["urls"],
  archive: boolean,
  from: number,
  dir: string,
): Promise<Result> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-sys",
      new URL(import.meta.url).pathname,
      "--run",
      JSON.stringify({ urls, archive, from, dir }),
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (out.code !== 0) throw new Error(`run failed (exit ${out.code})`);
  const text = new TextDecoder().decode(out.stdout).trim().split("\n");
  return JSON.parse(text[text.length - 1]!);
}

/** Waits for a fresh minute of the emulator's weight window (wall clock). */
async function freshWeightWindow(): Promise<void> {
  const wait = 60_000 - (Date.now() % 60_000) + 300;
  await new Promise((r) => setTimeout(r, wait));
}

const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const mb = (b: number) => `${Math.round(b / 1e6)} MB`;

async function report(years: number, rounds: number): Promise<void> {
  const from = fromOf(years);
  console.log(
    `BINANCE:BTC/USDT 1m, ${years} year(s) from ${
      new Date(from).toISOString()
    } to ${
      new Date(NOW).toISOString()
    }; ${LATENCY_MS} ms latency, weight limit 6000/min (building the archive emulator's zips first...)`,
  );
  const t = performance.now();
  const child = await spawn(years);
  console.log(`emulators ready in ${sec(performance.now() - t)}`);
  const base = await Deno.makeTempDir({ prefix: "archive_bench_" });
  const archive: Result[] = [];
  const rest: Result[] = [];
  const files: Uint8Array[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      // Alternate the order so neither side always runs first; every REST
      // run starts in a fresh minute of the weight limit.
      const order = Deno.args.includes("--archive-only")
        ? [true]
        : r % 2 === 0
        ? [true, false]
        : [false, true];
      for (const a of order) {
        if (!a) await freshWeightWindow();
        const dir = `${base}/${r}-${a ? "archive" : "rest"}`;
        const res = await runOnce(child.urls, a, from, dir);
        files.push(await Deno.readFile(`${dir}/${FILE}`));
        (a ? archive : rest).push(res);
        console.log(
          `round ${r + 1} ${a ? "archive + REST" : "REST alone    "}: ${
            sec(res.ms)
          }, ${res.candles} candles, ${res.requests} requests, RSS ${
            mb(res.startRss)
          } -> peak ${mb(res.peakRss)}${
            res.notes.length ? `, notes: ${res.notes.join(" | ")}` : ""
          }`,
        );
      }
    }
  } finally {
    await Deno.remove(base, { recursive: true });
  }
  const stats = await child.stats();
  const median = (xs: Result[]) =>
    [...xs].sort((a, b) => a.ms - b.ms)[Math.floor(xs.length / 2)]!;
  const a = median(archive);
  if (rest.length === 0) {
    console.log(`archive + REST median ${sec(a.ms)}`);
    return;
  }
  const b = median(rest);
  const same = files.every((f) =>
    f.length === files[0]!.length && f.every((v, i) => v === files[0]![i])
  );
  console.log("");
  console.log("| run | time | requests | peak RSS (start) | speed-up |");
  console.log("| --- | ---: | ---: | ---: | ---: |");
  console.log(
    `| archive + REST | ${sec(a.ms)} | ${a.requests} | ${mb(a.peakRss)} (${
      mb(a.startRss)
    }) | **${(b.ms / a.ms).toFixed(1)}×** |`,
  );
  console.log(
    `| REST alone | ${sec(b.ms)} | ${b.requests} | ${mb(b.peakRss)} (${
      mb(b.startRss)
    }) | 1.0× |`,
  );
  console.log(
    `files byte-identical: ${same} (${files.length} files, ${
      files[0]!.length
    } bytes, ${a.candles} candles); REST 429s: ${stats.status429}; archive requests: ${stats.archiveRequests}`,
  );
}

if (import.meta.main && Deno.args[0] === "--serve") {
  await serve(Number(Deno.args[1]));
} else if (import.meta.main && Deno.args[0] === "--run") {
  const o = JSON.parse(Deno.args[1]!);
  await runChild(o.urls, o.archive, o.from, o.dir);
} else if (import.meta.main) {
  await report(arg("--years", 4), arg("--rounds", 1));
}

Deno.bench({
  name: "CCXTProvider 1m candles of February 2024 from the archive emulator",
  n: 3,
  warmup: 1,
  async fn() {
    const now = Date.UTC(2024, 2, 1, 0, 0, 30);
    await using rest = await startBinanceEmulator({ now: () => now });
    await using archive = await startBinanceArchiveEmulator({ now: () => now });
    const dir = await Deno.makeTempDir();
    await using p = new CCXTProvider({
      configDir: dir,
      baseUrl: rest.url,
      env: {},
      exchanges: { binance: { archiveUrl: archive.url } },
    });
    let n = 0;
    for await (
      const b of p.candles({
        symbol: "BINANCE:BTC/USDT",
        timeframe: parseTimeframe("1"),
        from: Date.UTC(2024, 1, 1),
        to: Date.UTC(2024, 2, 1),
      })
    ) n += b.time.length;
    if (n !== 29 * 1440) throw new Error(`got ${n} candles`);
    if (archive.requests.length !== 2) throw new Error("archive not used");
    await Deno.remove(dir, { recursive: true });
  },
});
