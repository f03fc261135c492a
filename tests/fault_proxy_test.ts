/**
 * Venue faults through the fault proxy (`testing/fault_proxy.ts`) in front
 * of the Binance and OKX emulators, each at the first, a middle and the last
 * page of a `download()`: 429 / 418 / 503 with `Retry-After`, 500, timeouts,
 * a connection reset mid-body, a truncated body, malformed JSON, HTTP 200
 * with an HTML page, candles out of order, duplicated with other values,
 * high < low, null and NaN prices, candle times in seconds, a body that
 * stalls after its headers.
 *
 * Every case ends in the exact data (the file byte-identical to a clean
 * download, coverage complete), or in a clear failure the ledger records
 * (the download throws naming the page, or finishes incomplete with the
 * page's periods "failed") that a rerun or `repair()` without the fault
 * completes byte-identically. In every case the file holds only the venue's
 * candles and no period its ledger calls fetched or empty lacks one; each
 * case is bounded (a hang fails it).
 *
 * `FAULT_PROXY_MATRIX=1` prints the matrix.
 */

import assert from "node:assert/strict";
import { download, type DownloadSummary } from "../pipeline/download.ts";
import { downloadPlan } from "../pipeline/dry_run.ts";
import { fileCoverage, repair } from "../pipeline/repair.ts";
import { CCXTProvider } from "../providers/ccxt.ts";
import { OhlcvReader } from "../format/ohlcv_reader.ts";
import type { CandleBatch } from "../format/candle_batch.ts";
import { parseTimeframe, periodStart } from "../format/timeframe.ts";
import { startBinanceEmulator } from "../testing/binance_emulator.ts";
import { startOkxEmulator } from "../testing/okx_emulator.ts";
import type { ExchangeEmulator } from "../testing/_exchange_emulator.ts";
import {
  CANDLE_LAYOUTS,
  type FaultRule,
  type ProxyFaultKind,
  startFaultProxy,
} from "../testing/fault_proxy.ts";

const H = 3_600_000;
const TF = parseTimeframe("60");
/** ccxt's request timeout in these tests, ms (the `timeout` fault waits longer). */
const CLIENT_TIMEOUT_MS = 2500;
/** How long a `timeout` fault holds a request, ms. */
const FAULT_DELAY_MS = 8000;
/** A case taking longer than this is a hang, ms. */
const CASE_LIMIT_MS = 20_000;
/** Cases run at once. */
const PARALLEL = 8;
const PRINT = envFlag("FAULT_PROXY_MATRIX");

function envFlag(name: string): boolean {
  try {
    return Deno.env.get(name) === "1";
  } catch {
    return false;
  }
}

/** A venue behind the proxy: its emulator, symbol and download. */
interface Venue {
  readonly name: string;
  readonly exchange: string;
  readonly symbol: string;
  /** The emulator's instrument id. */
  readonly id: string;
  readonly file: string;
  /** Paths of candle requests. */
  readonly dataPath: RegExp;
  /** The clock of the emulator and of the download. */
  readonly now: number;
  readonly from: number;
  readonly pageSize: number;
  /** Provider settings of the exchange beyond the timeout. */
  readonly settings?: Readonly<Record<string, unknown>>;
  readonly start: () => Promise<ExchangeEmulator>;
}

const BINANCE_NOW = Date.UTC(2024, 2, 1, 12, 30);
const binance: Venue = {
  name: "Binance",
  exchange: "binance",
  symbol: "BINANCE:BTC/USDT",
  id: "BTCUSDT",
  file: "ccxt_BINANCE_BTC_USDT_60.ohlcv",
  dataPath: /^\/api\/v3\/klines$/,
  now: BINANCE_NOW,
  // 2024-02-10 .. 2024-03-01 12:00: 492 hours, pages of 100 (the last 92).
  from: Date.UTC(2024, 1, 10),
  pageSize: 100,
  start: () =>
    startBinanceEmulator({
      now: () => BINANCE_NOW,
      weightLimit: 1e9,
      // A maintenance gap inside the second page: a real "empty" run.
      gaps: [{ from: Date.UTC(2024, 1, 15, 5), to: Date.UTC(2024, 1, 15, 8) }],
    }),
};

/**
 * ccxt's okx picks its endpoint by its own clock, so the OKX emulator runs
 * at the real time (whole seconds, frozen for the test).
 */
function okxVenue(): Venue {
  const now = Math.floor(Date.now() / 1000) * 1000;
  return {
    name: "OKX",
    exchange: "okx",
    symbol: "OKX:BTC/USDT",
    id: "BTC-USDT",
    file: "ccxt_OKX_BTC_USDT_60.ohlcv",
    dataPath: /^\/api\/v5\/market\/(history-)?candles$/,
    now,
    // 450 closed hours: pages of 100 (OKX's maximum), the last 50.
    from: periodStart(TF, now) - 450 * H,
    pageSize: 100,
    settings: { rateLimit: 1 },
    start: () => startOkxEmulator({ now: () => now, weightLimit: 1e9 }),
  };
}

type Position = "first" | "middle" | "last";
type Outcome = "exact" | "incomplete" | "failed";

/** One fault at one page. */
interface Case {
  readonly fault: ProxyFaultKind;
  readonly page: Position;
  /** Every request for the page gets the fault (else only the first). */
  readonly permanent?: boolean;
  /** The outcomes allowed. */
  readonly expect: readonly Outcome[];
  /** More of the rule. */
  readonly rule?: Partial<FaultRule>;
  /** A label for the matrix (default: the fault). */
  readonly label?: string;
}

/** What a case did. */
interface Result {
  readonly label: string;
  readonly page: Position;
  readonly permanent: boolean;
  readonly outcome: Outcome;
  readonly ms: number;
  readonly note: string;
}

/** A venue's emulator with its clean download to compare with. */
interface Lab {
  readonly venue: Venue;
  readonly emu: ExchangeEmulator;
  readonly clean: Uint8Array;
  /** The candle request of each page, in time order, and its window. */
  readonly pages: readonly {
    readonly url: string;
    readonly from: number;
    readonly to: number;
  }[];
  /** The closed candles of the whole range. */
  readonly truth: CandleBatch;
  readonly end: number;
}

async function tempDirs(): Promise<
  { root: string; data: string; cfg: string }
> {
  const root = await Deno.makeTempDir({ prefix: "pyne_fault_proxy_" });
  return { root, data: `${root}/data`, cfg: `${root}/config` };
}

function provider(v: Venue, url: string, cfg: string): CCXTProvider {
  return new CCXTProvider({
    configDir: cfg,
    baseUrl: url,
    env: {},
    maxRetries: 2,
    retryBaseDelayMs: 5,
    retryMaxDelayMs: 40,
    exchanges: {
      [v.exchange]: { timeout: CLIENT_TIMEOUT_MS, ...v.settings },
    },
  });
}

function options(v: Venue, data: string, extra: { concurrency?: number } = {}) {
  return {
    timeframe: "60",
    dataDir: data,
    from: new Date(v.from),
    now: () => v.now,
    pageSize: v.pageSize,
    ...extra,
  };
}

async function readCandles(path: string): Promise<CandleBatch> {
  await using r = await OhlcvReader.open(path);
  return await r.read();
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

const iso = (t: number) => new Date(t).toISOString();

/**
 * Starts the venue's emulator and downloads the range cleanly through a
 * proxy without rules, one page at a time: the pages' URLs in time order
 * (as many as `downloadPlan()` plans) and the bytes every case must reach.
 */
async function openLab(v: Venue): Promise<Lab & AsyncDisposable> {
  const emu = await v.start();
  const dirs = await tempDirs();
  try {
    await using proxy = await startFaultProxy({ target: emu.url });
    await using p = provider(v, proxy.url, dirs.cfg);
    const opts = options(v, dirs.data, { concurrency: 1 });
    const plan = await downloadPlan(p, v.symbol, opts);
    const before = proxy.requests.length;
    const s = await download(p, v.symbol, opts);
    assert.equal(s.coverage.complete, true);
    const end = periodStart(TF, v.now);
    const truth = emu.expectedCandles(v.id, TF, v.from, end);
    assertSameCandles(await readCandles(s.path), truth, "clean download");
    const urls = proxy.requests.slice(before)
      .filter((r) => v.dataPath.test(r.path)).map((r) => r.url);
    assert.equal(urls.length, plan.requests.candles, "one request a page");
    assert.ok(urls.length >= 5, `${urls.length} pages`);
    const pages = urls.map((url, i) => ({
      url,
      from: v.from + i * v.pageSize * H,
      to: Math.min(end, v.from + (i + 1) * v.pageSize * H),
    }));
    const clean = await Deno.readFile(s.path);
    return {
      venue: v,
      emu,
      clean,
      pages,
      truth,
      end,
      async [Symbol.asyncDispose]() {
        await emu.close();
      },
    };
  } catch (e) {
    await emu.close();
    throw e;
  } finally {
    await Deno.remove(dirs.root, { recursive: true });
  }
}

function assertSameCandles(
  actual: CandleBatch,
  expected: CandleBatch,
  what: string,
): void {
  assert.equal(actual.time.length, expected.time.length, `${what}: count`);
  for (
    const col of ["time", "open", "high", "low", "close", "volume"] as const
  ) {
    for (let i = 0; i < expected.time.length; i++) {
      if (actual[col][i] !== expected[col][i]) {
        assert.fail(
          `${what}: ${col} of ${iso(expected.time[i]!)}: ${
            actual[col][i]
          }, the venue's ${expected[col][i]}`,
        );
      }
    }
  }
}

/**
 * The file holds only the venue's candles, and every period its ledger
 * calls fetched, empty, closed or not served holds exactly the venue's
 * candles there: nothing is claimed that the file lacks.
 */
async function assertTruthful(lab: Lab, path: string): Promise<void> {
  if (!(await exists(path))) return; // nothing written, nothing claimed
  const file = await readCandles(path);
  const truth = lab.truth;
  const at = new Map<number, number>();
  truth.time.forEach((t, i) => at.set(t, i));
  for (let i = 0; i < file.time.length; i++) {
    const j = at.get(file.time[i]!);
    assert.ok(
      j !== undefined,
      `the file's ${iso(file.time[i]!)} is no candle of the venue`,
    );
    for (const col of ["open", "high", "low", "close", "volume"] as const) {
      assert.equal(
        file[col][i],
        truth[col][j],
        `${col} of ${iso(file.time[i]!)} differs from the venue's`,
      );
    }
  }
  const { report } = await fileCoverage(path, { now: () => lab.venue.now });
  const count = (b: CandleBatch, a: number, z: number) =>
    b.time.filter((t) => t >= a && t < z).length;
  for (const s of report.segments) {
    if (s.state === "failed" || s.state === "never-requested") continue;
    assert.equal(
      count(file, s.from, s.to),
      count(truth, s.from, s.to),
      `the ledger calls ${iso(s.from)} .. ${
        iso(s.to)
      } ${s.state}, but the file lacks candles there`,
    );
  }
}

/** Runs `fn` with a signal that aborts after `CASE_LIMIT_MS`: a hang fails the case. */
async function bounded<T>(
  what: string,
  fn: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const ctl = new AbortController();
  const timer = setTimeout(
    () =>
      ctl.abort(
        new Error(`${what}: no result after ${CASE_LIMIT_MS} ms (a hang)`),
      ),
    CASE_LIMIT_MS,
  );
  try {
    return await fn(ctl.signal);
  } finally {
    clearTimeout(timer);
  }
}

const CANDLE_FAULTS = new Set<ProxyFaultKind>([
  "reverse",
  "duplicate",
  "high-low",
  "null-price",
  "nan-price",
  "seconds",
]);

/** Runs one case and checks everything it promises; returns what happened. */
async function runCase(lab: Lab, c: Case): Promise<Result> {
  const v = lab.venue;
  const index = {
    first: 0,
    middle: lab.pages.length >> 1,
    last: lab.pages.length - 1,
  }[c.page];
  const page = lab.pages[index]!;
  const label = c.label ?? c.fault;
  const what = `${v.name} ${label} ${
    c.permanent ? "always" : "once"
  } at the ${c.page} page`;
  const dirs = await tempDirs();
  const retryAfter = c.rule?.retryAfter ?? 1;
  await using proxy = await startFaultProxy({
    target: lab.emu.url,
    rules: [{
      fault: c.fault,
      path: v.dataPath,
      at: (r) => r.url === page.url,
      times: c.permanent ? Infinity : 1,
      retryAfter,
      delayMs: FAULT_DELAY_MS,
      ...c.rule,
    }],
  });
  await using p = provider(v, proxy.url, dirs.cfg);
  const started = performance.now();
  const path = `${dirs.data}/${v.file}`;
  let note = "";
  try {
    let summary: DownloadSummary | undefined;
    let error: Error | undefined;
    await bounded(what, async (signal) => {
      try {
        summary = await download(p, v.symbol, {
          ...options(v, dirs.data),
          signal,
        });
      } catch (e) {
        if (signal.aborted) throw signal.reason;
        error = e as Error;
      }
    });
    const hits = proxy.faulted();
    assert.ok(hits.length >= 1, `${what}: the fault was applied`);
    assert.ok(hits.every((r) => r.url === page.url), `${what}: only its page`);
    if (CANDLE_FAULTS.has(c.fault)) {
      assert.ok(
        hits.every((r) => r.changed),
        `${what}: the body had candles to break`,
      );
    }
    const outcome: Outcome = error
      ? "failed"
      : summary!.coverage.complete
      ? "exact"
      : "incomplete";
    assert.ok(
      c.expect.includes(outcome),
      `${what}: ${outcome}, expected ${c.expect.join(" or ")}${
        error ? `: ${error.message}` : ""
      }`,
    );
    await assertTruthful(lab, path);

    // A transient fault with Retry-After: the retry waited for it; a
    // timeout: the client gave up after its own timeout, not the fault's.
    const retry = proxy.requests.find((r) =>
      r.url === page.url && r.n > hits[0]!.n
    );
    if (
      !c.permanent && ["429", "418", "503"].includes(c.fault) &&
      outcome === "exact"
    ) {
      const waited = retry!.at - hits[0]!.at;
      assert.ok(
        waited >= retryAfter * 1000 - 50,
        `${what}: retried after ${waited} ms`,
      );
      note = `retried after ${waited} ms`;
    }
    if (c.fault === "timeout") {
      const waited = retry!.at - hits[0]!.at;
      assert.ok(
        waited >= CLIENT_TIMEOUT_MS - 50 && waited < FAULT_DELAY_MS,
        `${what}: retried after ${waited} ms`,
      );
      note = `timed out, retried after ${waited} ms`;
    }

    if (outcome === "exact") {
      assert.deepEqual(
        await Deno.readFile(path),
        lab.clean,
        `${what}: byte-identical`,
      );
    } else if (outcome === "incomplete") {
      // The broken candles' periods, and only inside the page, are failed.
      const missing = summary!.coverage.missing;
      assert.ok(missing.length > 0);
      for (const m of missing) {
        assert.equal(m.state, "failed", `${what}: ${m.state}`);
        assert.ok(
          m.from >= page.from && m.to <= page.to,
          `${what}: the hole is in the page`,
        );
      }
      assert.ok(
        summary!.validation.dropped > 0,
        `${what}: dropped and said so`,
      );
      const { report } = await fileCoverage(path, { now: () => v.now });
      assert.deepEqual(
        report.missing,
        missing,
        `${what}: the ledger keeps the holes`,
      );
      proxy.clearRules();
      const fixed = await bounded(
        `${what}: repair`,
        (signal) => repair(p, path, { now: () => v.now, signal }),
      );
      assert.equal(fixed.coverage.complete, true, `${what}: repaired`);
      note = `${missing.length} hole(s), ${
        missing.reduce((a, m) => a + (m.to - m.from) / H, 0)
      } h; repair()`;
    } else {
      // A clear error naming the page; the ledger says what is missing.
      assert.match(
        error!.message,
        new RegExp(
          `Cannot fetch ${v.symbol.replace("/", "\\/")} 60 candles from ${
            iso(page.from).replace(/\./g, "\\.")
          }`,
        ),
        what,
      );
      if (await exists(path)) {
        const { report } = await fileCoverage(path, { now: () => v.now });
        assert.ok(
          report.missing.some((m) =>
            m.state === "failed" && m.from <= page.from && m.to >= page.to
          ),
          `${what}: the page is failed in the ledger`,
        );
        note = `file kept ${
          (await readCandles(path)).time.length
        } candles; rerun`;
      } else note = "nothing written; rerun";
      proxy.clearRules();
      const again = await bounded(
        `${what}: rerun`,
        (signal) => download(p, v.symbol, { ...options(v, dirs.data), signal }),
      );
      assert.equal(
        again.coverage.complete,
        true,
        `${what}: the rerun completes`,
      );
    }
    if (outcome !== "exact") {
      await assertTruthful(lab, path);
      assert.deepEqual(
        await Deno.readFile(path),
        lab.clean,
        `${what}: byte-identical after the ${
          outcome === "failed" ? "rerun" : "repair"
        }`,
      );
    }
    return {
      label,
      page: c.page,
      permanent: c.permanent ?? false,
      outcome,
      ms: Math.round(performance.now() - started),
      note,
    };
  } finally {
    await Deno.remove(dirs.root, { recursive: true });
  }
}

/**
 * Runs the cases, `PARALLEL` at a time, each to its end; then the first
 * failure fails the test.
 */
async function runAll(lab: Lab, cases: readonly Case[]): Promise<Result[]> {
  const settled: PromiseSettledResult<Result>[] = new Array(cases.length);
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const i = next++;
      try {
        settled[i] = {
          status: "fulfilled",
          value: await runCase(lab, cases[i]!),
        };
      } catch (reason) {
        settled[i] = { status: "rejected", reason };
      }
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  if (PRINT) {
    console.log(`\n${lab.venue.name}:`);
    settled.forEach((s, i) => {
      const c = cases[i]!;
      const head = `  ${(c.label ?? c.fault).padEnd(22)} ${
        (c.permanent ? "always" : "once").padEnd(6)
      } ${c.page.padEnd(6)}`;
      console.log(
        s.status === "fulfilled"
          ? `${head} ${s.value.outcome.padEnd(10)} ${
            String(s.value.ms).padStart(5)
          } ms  ${s.value.note}`
          : `${head} BROKEN: ${(s.reason as Error).message.split("\n")[0]}`,
      );
    });
  }
  const failed = settled.find((s) => s.status === "rejected");
  if (failed) throw failed.reason;
  return settled.map((s) => (s as PromiseFulfilledResult<Result>).value);
}

const POSITIONS: readonly Position[] = ["first", "middle", "last"];

function each(
  faults: readonly (Omit<Case, "page"> & { readonly fault: ProxyFaultKind })[],
): Case[] {
  return faults.flatMap((f) => POSITIONS.map((page) => ({ ...f, page })));
}

const EXACT: readonly Outcome[] = ["exact"];
const FAILED: readonly Outcome[] = ["failed"];
const INCOMPLETE: readonly Outcome[] = ["incomplete"];

/** Transient faults the provider retries: the exact data. */
const TRANSIENT = [
  { fault: "429", expect: EXACT },
  { fault: "418", expect: EXACT },
  { fault: "503", expect: EXACT },
  // Any 5xx is retried, whatever its body (ccxt's binance and okx made a
  // plain, permanent ExchangeError of a gateway's JSON body).
  { fault: "500", expect: EXACT },
  {
    fault: "500",
    label: "500 (HTML body)",
    expect: EXACT,
    rule: {
      body: "<html><body><h1>500 Internal Server Error</h1></body></html>",
    },
  },
  { fault: "timeout", expect: EXACT },
  { fault: "reset", expect: EXACT },
  { fault: "truncate", expect: EXACT },
  { fault: "malformed", expect: EXACT },
  { fault: "html", expect: EXACT },
] as const satisfies readonly Omit<Case, "page">[];

/** The same faults on every request for the page: a clear failure. */
const PERMANENT = [
  { fault: "429", expect: FAILED, permanent: true },
  { fault: "418", expect: FAILED, permanent: true },
  { fault: "503", expect: FAILED, permanent: true },
  { fault: "500", expect: FAILED, permanent: true },
  { fault: "timeout", expect: FAILED, permanent: true },
  { fault: "reset", expect: FAILED, permanent: true },
  { fault: "truncate", expect: FAILED, permanent: true },
  { fault: "malformed", expect: FAILED, permanent: true },
  { fault: "html", expect: FAILED, permanent: true },
] as const satisfies readonly Omit<Case, "page">[];

/** Bad candles in an HTTP 200 answer. */
const CANDLES = [
  { fault: "reverse", expect: EXACT },
  // The copy with other values after the original: the first copy is kept.
  { fault: "duplicate", expect: EXACT },
  { fault: "high-low", expect: INCOMPLETE },
  { fault: "null-price", expect: INCOMPLETE },
  { fault: "nan-price", expect: INCOMPLETE },
] as const satisfies readonly Omit<Case, "page">[];

Deno.test("fault proxy forwards untouched, counts matching requests, sticks to the page it broke and refuses non-loopback targets", async () => {
  await using emu = await startBinanceEmulator({ now: () => BINANCE_NOW });
  const A = Date.UTC(2024, 1, 1);
  const B = Date.UTC(2024, 1, 2);
  const k = (t: number) =>
    `/api/v3/klines?symbol=BTCUSDT&interval=1h&limit=3&startTime=${t}`;
  const direct = async (t: number) =>
    await (await fetch(`${emu.url}${k(t)}`)).text();
  await using proxy = await startFaultProxy({
    target: emu.url,
    rules: [
      { path: "/api/v3/klines", at: 2, fault: "503", times: 2, retryAfter: 7 },
      { path: /klines/, at: 5, fault: "reverse" },
    ],
  });
  const get = async (t: number) => {
    const r = await fetch(`${proxy.url}${k(t)}`);
    return {
      status: r.status,
      text: await r.text(),
      retryAfter: r.headers.get("retry-after"),
    };
  };
  const times = (text: string) =>
    (JSON.parse(text) as unknown[][]).map((r) => r[0]);
  // 1: forwarded byte for byte.
  assert.deepEqual(await get(A), {
    status: 200,
    text: await direct(A),
    retryAfter: null,
  });
  // 2: the 503 rule's second matching request.
  const b = await get(B);
  assert.deepEqual([b.status, b.retryAfter], [503, "7"]);
  // 3: another page is untouched; 4: the broken page is broken again.
  assert.equal((await get(A + 86_400_000 * 2)).status, 200);
  assert.equal((await get(B)).status, 503);
  // 5: the 503 rule is used up (times: 2); the reverse rule's fifth.
  const e = await get(B);
  assert.equal(e.status, 200);
  assert.deepEqual(times(e.text), times(await direct(B)).reverse());
  // 6: nothing left.
  assert.equal((await get(B)).text, await direct(B));
  assert.deepEqual(
    proxy.faulted().map((r) => [r.n, r.fault, r.status]),
    [[2, "503", 503], [4, "503", 503], [5, "reverse", 200]],
  );
  assert.equal(proxy.requests.length, 6);
  // A rule added at run time; clearRules() removes them all.
  proxy.addRule({ fault: "html" });
  const html = await fetch(`${proxy.url}${k(A)}`);
  assert.match(html.headers.get("content-type")!, /text\/html/);
  assert.match(await html.text(), /<html>/);
  proxy.addRule({ fault: "500", times: Infinity });
  proxy.clearRules();
  assert.equal((await get(A)).status, 200);
  // The proxy sends nothing off the machine.
  await assert.rejects(
    startFaultProxy({ target: "http://192.0.2.1:8080" }),
    /loopback/,
  );
});

Deno.test("fault proxy transport faults: reset, truncate, malformed, timeout", async () => {
  await using emu = await startBinanceEmulator({ now: () => BINANCE_NOW });
  const url = `/api/v3/klines?symbol=BTCUSDT&interval=1h&limit=50`;
  const full = await (await fetch(`${emu.url}${url}`)).text();
  await using proxy = await startFaultProxy({
    target: emu.url,
    rules: [
      { at: 1, fault: "reset" },
      { at: 2, fault: "truncate" },
      { at: 3, fault: "malformed" },
      { at: 4, fault: "timeout", delayMs: 60_000 },
    ],
  });
  await assert.rejects(
    (await fetch(`${proxy.url}${url}`)).text(),
    "the body dies half-way",
  );
  const t = await (await fetch(`${proxy.url}${url}`)).text();
  assert.equal(t, full.slice(0, new TextEncoder().encode(full).length >> 1));
  const m = await (await fetch(`${proxy.url}${url}`)).text();
  assert.throws(() => JSON.parse(m));
  assert.equal(m.length, full.length);
  // The client gives up; the proxy lets go of the request.
  const started = performance.now();
  await assert.rejects(
    fetch(`${proxy.url}${url}`, { signal: AbortSignal.timeout(200) }),
  );
  assert.ok(performance.now() - started < 2000);
  assert.deepEqual(
    proxy.requests.map((r) => [r.fault, r.status]),
    [["reset", 0], ["truncate", 200], ["malformed", 200], ["timeout", 0]],
  );
});

Deno.test("fault proxy candle faults find the rows of Binance, OKX and Coinbase answers", async () => {
  const T0 = Date.UTC(2024, 0, 1);
  const rows = [
    [T0, "10", "12", "9", "11", "5"],
    [T0 + H, "11", "13", "10", "12", "6"],
    [T0 + 2 * H, "12", "14", "11", "13", "7"],
  ];
  const bodies: Record<string, unknown> = {
    "/binance": rows,
    "/okx": { code: "0", msg: "", data: rows },
    "/coinbase": {
      candles: rows.map((r) => ({
        start: String(Number(r[0]) / 1000),
        low: r[3],
        high: r[2],
        open: r[1],
        close: r[4],
        volume: r[5],
      })),
    },
  };
  // A stand-in origin answering the bodies above.
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req) => Response.json(bodies[new URL(req.url).pathname] ?? {}),
  );
  try {
    const origin = `http://127.0.0.1:${server.addr.port}`;
    const through = async (
      path: string,
      rule: Omit<FaultRule, "at">,
    ): Promise<unknown> => {
      await using proxy = await startFaultProxy({
        target: origin,
        rules: [rule],
      });
      return await (await fetch(`${proxy.url}${path}`)).json();
    };
    const ohlc = (r: unknown[]) => r.slice(0, 5);
    const timesOf = (b: unknown) => (b as unknown[][]).map((r) => r[0]);
    assert.deepEqual(
      timesOf(await through("/binance", { fault: "reverse" })),
      [T0 + 2 * H, T0 + H, T0],
    );
    const dup = await through("/binance", {
      fault: "duplicate",
    }) as unknown[][];
    assert.deepEqual(timesOf(dup), [T0, T0 + H, T0 + H, T0 + 2 * H]);
    assert.deepEqual(dup[1], rows[1], "the original first");
    assert.notEqual(dup[2]![4], rows[1]![4], "the copy's close differs");
    assert.ok(
      Number(dup[2]![2]) >= Number(dup[2]![4]),
      "the copy is a valid candle",
    );
    const first = await through("/binance", {
      fault: "duplicate",
      copyFirst: true,
    }) as unknown[][];
    assert.deepEqual(first[2], rows[1], "the copy first");
    const okx = await through("/okx", { fault: "high-low" }) as {
      data: unknown[][];
    };
    assert.deepEqual(ohlc(okx.data[1]!), [T0 + H, "11", "10", "13", "12"]);
    const nul = await through("/okx", { fault: "null-price" }) as {
      data: unknown[][];
    };
    assert.equal(nul.data[1]![4], null);
    const nan = await through("/binance", {
      fault: "nan-price",
    }) as unknown[][];
    assert.equal(nan[1]![4], "NaN");
    const sec = await through("/binance", { fault: "seconds" }) as unknown[][];
    assert.deepEqual(
      sec.map((r) => r[0]),
      rows.map((r) => Number(r[0]) / 1000),
    );
    // Coinbase: object rows in seconds (the wrong unit is ms there).
    const cb = await through("/coinbase", {
      fault: "high-low",
      layout: CANDLE_LAYOUTS.coinbase,
    }) as { candles: Record<string, string>[] };
    assert.deepEqual([cb.candles[1]!.high, cb.candles[1]!.low], ["10", "13"]);
    const cbs = await through("/coinbase", {
      fault: "seconds",
      layout: CANDLE_LAYOUTS.coinbase,
    }) as { candles: Record<string, string>[] };
    assert.equal(cbs.candles[0]!.start, String(T0));
    // No candle rows: forwarded unchanged, and the log says so.
    await using proxy = await startFaultProxy({
      target: origin,
      rules: [{ fault: "reverse", times: Infinity }],
    });
    assert.deepEqual(await (await fetch(`${proxy.url}/other`)).json(), {});
    assert.equal(proxy.requests[0]!.changed, false);
  } finally {
    await server.shutdown();
  }
});

Deno.test("Binance: transient venue faults at the first, a middle and the last page give the exact data", async () => {
  await using lab = await openLab(binance);
  await runAll(lab, each(TRANSIENT));
});

Deno.test("Binance: permanent venue faults fail naming the page, the ledger records it failed, a rerun completes byte-identically", async () => {
  await using lab = await openLab(binance);
  await runAll(lab, each(PERMANENT));
});

Deno.test("Binance: bad candles in a page give the exact data or failed periods that repair() fetches byte-identically", async () => {
  await using lab = await openLab(binance);
  await runAll(lab, each(CANDLES));
});

Deno.test("OKX: venue faults at the first, a middle and the last page through the same proxy", async () => {
  await using lab = await openLab(okxVenue());
  await runAll(lab, [
    ...each([
      { fault: "429", expect: EXACT },
      { fault: "503", expect: EXACT },
      { fault: "timeout", expect: EXACT },
      { fault: "reset", expect: EXACT },
      { fault: "truncate", expect: EXACT },
      { fault: "html", expect: EXACT },
      { fault: "malformed", expect: EXACT },
      { fault: "503", expect: FAILED, permanent: true },
      { fault: "reset", expect: FAILED, permanent: true },
      ...CANDLES,
    ]),
  ]);
});

// Found by this matrix and fixed: candle times in seconds (ccxt's since
// filter dropped every row, and the page read as verified empty), a copy of
// a candle with other values before the original (it won silently), and a
// body that stalls after its headers (ccxt's timeout ends with the headers).

Deno.test("candle times in seconds are refused and asked again: exact once, a clear failure when every answer has them", async () => {
  const cases = each([
    { fault: "seconds", expect: EXACT },
    { fault: "seconds", expect: FAILED, permanent: true },
  ]);
  for (const venue of [binance, okxVenue()]) {
    await using lab = await openLab(venue);
    await runAll(lab, cases);
  }
});

Deno.test("two different candles for one time are never stored: the page is asked again (exact), or fails clearly", async () => {
  await using lab = await openLab(binance);
  await runAll(
    lab,
    each([
      {
        fault: "duplicate",
        label: "duplicate (copy first)",
        rule: { copyFirst: true },
        expect: EXACT,
      },
      {
        fault: "duplicate",
        label: "duplicate (copy first)",
        rule: { copyFirst: true },
        expect: FAILED,
        permanent: true,
      },
    ]),
  );
});

Deno.test("a body that stalls after its headers times out and is asked again", async () => {
  await using lab = await openLab(binance);
  await runAll(lab, [{
    fault: "stall",
    page: "middle",
    rule: { delayMs: 60_000 },
    expect: EXACT,
  }]);
});
