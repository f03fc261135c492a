/**
 * Benchmark of the Capital.com provider against the loopback emulator (in
 * the same process, so the emulator's own bar generation counts against us):
 *
 * 1. Real limits: Capital.com's 10 requests/s and 1 login/s, 120 ms latency
 *    per request, `download()` of EURUSD 1-minute candles into a `.ohlcv`
 *    file at concurrency 1, 3 (the default) and 6. Shows how close the
 *    client-side limiter runs to the venue's limit without being refused.
 * 2. No limits, no latency: candles/s end to end through `download()`
 *    (provider parsing + pipeline + writer), without and with the
 *    `.extra.csv` sidecar (`extraData`).
 * 3. Request counts of a few downloads (`/prices` requests, answered
 *    not-found among them), and of one from a venue capping its answers at
 *    150 bars (`pageCap`): what paging without trusting page lengths costs.
 *
 * Run: `deno run -A bench/capitalcom_bench.ts` (a month for 1., a year for
 * 2.; `--quick`: a week and a month). `deno bench` runs a small smoke case.
 *
 * @module
 */

import { join } from "node:path";
import { download } from "../pipeline/download.ts";
import { CapitalComProvider } from "../providers/capitalcom.ts";
import {
  type CapitalComEmulatorOptions,
  startCapitalComEmulator,
} from "../testing/capitalcom_emulator.ts";

const NOW = Date.UTC(2025, 1, 1, 12);
const DAY = 86_400_000;

interface Run {
  candles: number;
  requests: number;
  refused: number;
  ms: number;
  /** `/prices` requests, and those answered `error.prices.not-found`. */
  prices: number;
  notFound: number;
  complete: boolean;
}

async function run(
  emuOptions: CapitalComEmulatorOptions,
  relaxed: boolean,
  from: number,
  to: number,
  concurrency: number,
  extraData: boolean,
  timeframe = "1",
): Promise<Run> {
  await using emu = await startCapitalComEmulator({
    now: () => NOW,
    rsaBits: 1024,
    ...emuOptions,
  });
  const dir = await Deno.makeTempDir({ prefix: "capitalcom_bench_" });
  try {
    await using provider = new CapitalComProvider({
      configDir: join(dir, "config"),
      env: {},
      baseUrl: emu.url,
      ...emu.credentials,
      now: () => NOW,
      ...(relaxed ? { rateLimit: 1e9, loginIntervalMs: 0 } : {}),
    });
    const started = performance.now();
    const summary = await download(provider, "EURUSD", {
      timeframe,
      dataDir: join(dir, "data"),
      from: new Date(from),
      to: new Date(to),
      now: () => NOW,
      concurrency,
      extraData,
    });
    const ms = performance.now() - started;
    const prices = emu.requests.filter((r) =>
      r.path.startsWith("/api/v1/prices/")
    );
    return {
      candles: summary.candles,
      requests: emu.requests.length,
      refused: emu.requests.filter((r) => r.status === 429).length,
      ms,
      prices: prices.length,
      notFound: prices.filter((r) => r.errorCode === "error.prices.not-found")
        .length,
      complete: summary.coverage.complete,
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function line(label: string, r: Run): string {
  const perSecond = r.requests / (r.ms / 1000);
  return `${label.padEnd(34)} ${String(r.candles).padStart(8)} candles  ${
    String(r.requests).padStart(4)
  } requests (${perSecond.toFixed(1)}/s, ${r.refused} refused)  ${
    (r.ms / 1000).toFixed(2).padStart(6)
  } s  ${
    Math.round(r.candles / (r.ms / 1000)).toLocaleString("en-US")
      .padStart(9)
  } candles/s`;
}

async function report(quick: boolean): Promise<void> {
  const limitedFrom = NOW - (quick ? 7 : 31) * DAY;
  console.log(
    `1. Real limits (10 req/s, 1 login/s), 120 ms latency, EURUSD 1m, ${
      quick ? "a week" : "a month"
    }:`,
  );
  for (const concurrency of [1, 3, 6]) {
    const r = await run(
      { latencyMs: 120 },
      false,
      limitedFrom,
      NOW,
      concurrency,
      false,
    );
    console.log(line(`   concurrency ${concurrency}`, r));
  }
  const rawFrom = NOW - (quick ? 31 : 365) * DAY;
  console.log(
    `2. No limits, no latency, EURUSD 1m, ${
      quick ? "a month" : "a year"
    }, concurrency 3:`,
  );
  const relaxed = {
    requestsPerSecond: Infinity,
    loginsPerSecond: Infinity,
  };
  // Untimed warm-up (JIT, first file system use).
  await run(relaxed, true, NOW - 3 * DAY, NOW, 3, true);
  for (const extraData of [false, true]) {
    const r = await run(relaxed, true, rawFrom, NOW, 3, extraData);
    console.log(line(`   ${extraData ? "with" : "without"} .extra.csv`, r));
  }
  console.log("3. Requests (no limits, no latency), EURUSD:");
  const cases: [string, CapitalComEmulatorOptions, number, string][] = [
    ["1m, a month", {}, 31, "1"],
    ["1m, a year", {}, 365, "1"],
    ["1h, a year", {}, 365, "60"],
    ["15m, 4 days", {}, 4, "15"],
    ["15m, 4 days, pages capped at 150", { pageCap: 150 }, 4, "15"],
    ["1m, a month, pages capped at 150", { pageCap: 150 }, 31, "1"],
  ];
  for (const [label, extra, days, timeframe] of cases) {
    const r = await run(
      { ...relaxed, ...extra },
      true,
      NOW - days * DAY,
      NOW,
      3,
      false,
      timeframe,
    );
    console.log(
      `   ${label.padEnd(34)} ${String(r.candles).padStart(8)} candles  ${
        String(r.prices).padStart(4)
      } /prices requests (${r.notFound} not-found)  coverage ${
        r.complete ? "complete" : "INCOMPLETE"
      }`,
    );
  }
}

if (import.meta.main) {
  // `deno run`: the full report (under `deno bench`, import.meta.main is false).
  await report(Deno.args.includes("--quick"));
}

Deno.bench({
  name: "CapitalComProvider download of 3 days of 1m candles, no limits",
  n: 3,
  warmup: 1,
  async fn() {
    const r = await run(
      { requestsPerSecond: Infinity, loginsPerSecond: Infinity },
      true,
      NOW - 3 * DAY,
      NOW,
      3,
      false,
    );
    if (r.candles < 3000) throw new Error(`only ${r.candles} candles`);
  },
});
