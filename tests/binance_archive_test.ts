/**
 * Binance's public data archives behind the ccxt provider: a download that
 * reads closed months and days from the archive emulator and the rest over
 * REST gives the very file a REST-only download gives; every fault of a
 * file falls back to REST for exactly its span and is reported; the format's
 * drift is read; where archive and REST meet they are compared; and
 * `--no-archive` (or `archive = false`) sends no archive request.
 */

import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CCXTProvider } from "../providers/ccxt.ts";
import { download } from "../pipeline/download.ts";
import { downloadPlan } from "../pipeline/dry_run.ts";
import {
  type BinanceEmulator,
  startBinanceEmulator,
} from "../testing/binance_emulator.ts";
import {
  type ArchiveFault,
  type BinanceArchiveEmulatorOptions,
  startBinanceArchiveEmulator,
} from "../testing/binance_archive_emulator.ts";
import { parseTimeframe } from "../format/timeframe.ts";
import { planWindows } from "../providers/_ccxt_paging.ts";
import {
  archiveFileUrl,
  archiveMarket,
  fetchArchiveFile,
  planArchive,
} from "../providers/_binance_archive.ts";
import { KlineCsvParser } from "../providers/_kline_csv.ts";
import { archiveOrigin } from "../providers/_ccxt_candles.ts";
import { ZipEntryStream } from "../providers/_zip_entry.ts";
import { zipOne } from "../testing/_zip_writer.ts";
import { loadCcxtConfig } from "../providers/_ccxt_config.ts";
import { ConfigError } from "../providers/_config_file.ts";
import { runMainAt } from "./_cli_helpers.ts";

// The 12:00 candle of 2024-02-03 is forming. The range: 2023-12-31 18:00
// (REST) | January (monthly file) | Feb 1, Feb 2 (daily files) | Feb 3 (REST).
const NOW = Date.UTC(2024, 1, 3, 12, 0, 30);
const FROM = Date.UTC(2023, 11, 31, 18);
const JAN = Date.UTC(2024, 0, 1);
const FEB1 = Date.UTC(2024, 1, 1);
const FEB2 = Date.UTC(2024, 1, 2);
const FEB3 = Date.UTC(2024, 1, 3);
const M = 60_000;
const TF = parseTimeframe("1");
const FILE = "ccxt_BINANCE_BTC_USDT_1.ohlcv";

interface Run {
  ohlcv: Uint8Array;
  toml: string;
  notices: string[];
  rest: BinanceEmulator["requests"];
}

/** Downloads the range once; `archive` undefined: REST only. */
async function run(
  archive: BinanceArchiveEmulatorOptions | undefined,
  check?: (arc: { requests: readonly { path: string }[] }) => void,
): Promise<Run> {
  await using emu = await startBinanceEmulator({ now: () => NOW });
  await using arc = await startBinanceArchiveEmulator({
    now: () => NOW,
    ...archive,
  });
  const dir = await Deno.makeTempDir({ prefix: "pyne_archive_" });
  try {
    await using p = new CCXTProvider({
      configDir: dir,
      baseUrl: emu.url,
      env: {},
      retryBaseDelayMs: 5,
      retryMaxDelayMs: 20,
      exchanges: { binance: { archiveUrl: arc.url } },
    });
    const notices: string[] = [];
    const s = await download(p, "BINANCE:BTC/USDT", {
      timeframe: "1",
      from: new Date(FROM),
      to: new Date(NOW),
      dataDir: dir,
      now: () => NOW,
      archive: archive !== undefined,
      log: (line) => notices.push(line),
    });
    assert.ok(s.coverage.complete, "the download is complete");
    if (archive === undefined) assert.equal(arc.requests.length, 0);
    check?.(arc);
    return {
      ohlcv: await readFile(join(dir, FILE)),
      toml: await readFile(join(dir, FILE.replace(".ohlcv", ".toml")), "utf8"),
      notices,
      rest: emu.requests,
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

let restOnly: Promise<Run> | undefined;
const reference = () => (restOnly ??= run(undefined));

async function assertSameFile(r: Run): Promise<void> {
  const ref = await reference();
  assert.equal(r.ohlcv.length, ref.ohlcv.length, "file size");
  assert.ok(
    r.ohlcv.every((b, i) => b === ref.ohlcv[i]),
    "the .ohlcv file is byte-identical to the REST-only download",
  );
  assert.equal(r.toml, ref.toml, "the .toml too");
}

/** Open times of the REST candle requests starting inside `[from, to)`. */
function restStarts(r: Run, from: number, to: number): number[] {
  return r.rest.filter((q) => q.path === "/api/v3/klines")
    .map((q) => Number(q.query["startTime"]))
    .filter((t) => t >= from && t < to)
    .sort((a, b) => a - b);
}

const windows = (from: number, to: number) =>
  planWindows(TF, from, to, 1000).map(([a]) => a);

Deno.test("archive download: the file is byte-identical to a REST-only download, with REST only at the ends", async () => {
  const paths: string[] = [];
  const r = await run(
    {},
    (arc) => paths.push(...arc.requests.map((q) => q.path)),
  );
  await assertSameFile(r);
  assert.deepEqual(r.notices, []);
  assert.deepEqual(paths.sort(), [
    "/data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-02-01.zip",
    "/data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-02-01.zip.CHECKSUM",
    "/data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-02-02.zip",
    "/data/spot/daily/klines/BTCUSDT/1m/BTCUSDT-1m-2024-02-02.zip.CHECKSUM",
    "/data/spot/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01.zip",
    "/data/spot/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01.zip.CHECKSUM",
  ]);
  // REST: the evening of Dec 31, the cross-checks at Jan 1 and Feb 2, Feb 3.
  assert.deepEqual(restStarts(r, FROM, NOW), [
    FROM,
    JAN,
    FEB3 - 1000 * M,
    FEB3,
  ]);
  const ref = await reference();
  assert.equal(restStarts(ref, FROM, NOW).length, windows(FROM, NOW).length);
});

for (
  const [what, fault, span, report] of [
    [
      "a bad checksum",
      { kind: "checksum", file: "2024-01" },
      [JAN, FEB1],
      /Archive file 2024-01 failed its SHA-256 check: fetched over REST instead \(.*has SHA-256 [0-9a-f]{64}; its \.CHECKSUM says [0-9a-f]{64}\)/,
    ],
    [
      "a missing month",
      { kind: "missing", file: "2024-01" },
      [JAN, FEB1],
      /Archive file 2024-01 not in the archive: fetched over REST instead \(.*BTCUSDT-1m-2024-01\.zip\.CHECKSUM is not in the archive \(HTTP 404\)\)/,
    ],
    [
      "a truncated zip",
      { kind: "truncated", file: "2024-02-01" },
      [FEB1, FEB2],
      /Archive file 2024-02-01 failed its SHA-256 check/,
    ],
    [
      "an archive answering HTTP 500",
      { kind: "500", file: "2024-02-02" },
      [FEB2, FEB3],
      /Archive file 2024-02-02 not fetched \(archive unavailable\).*HTTP 500/,
    ],
  ] as Array<[string, ArchiveFault, [number, number], RegExp]>
) {
  Deno.test(`archive download: ${what} falls back to REST for exactly that file's span, reported`, async () => {
    const r = await run({ faults: [fault] });
    await assertSameFile(r);
    assert.equal(r.notices.length, 1, r.notices.join("\n"));
    assert.match(r.notices[0]!, /^BINANCE:BTC\/USDT: /);
    assert.match(r.notices[0]!, report);
    // The span's REST windows, each once; nothing else starts inside it.
    assert.deepEqual(
      restStarts(r, span[0], span[1]),
      windows(span[0], span[1]),
    );
  });
}

Deno.test("archive download: a transient HTTP 500 is retried without a fallback", async () => {
  const r = await run({ faults: [{ kind: "500", file: "2024-01", times: 1 }] });
  await assertSameFile(r);
  assert.deepEqual(r.notices, []);
  assert.deepEqual(restStarts(r, JAN + M, FEB1 - 1000 * M), []);
});

Deno.test("archive download: adjacent failed files are one REST span and one report per kind", async () => {
  const r = await run({
    faults: [
      { kind: "missing", file: "2024-01" },
      { kind: "missing", file: "2024-02-01" },
      { kind: "checksum", file: "2024-02-02" },
    ],
  });
  await assertSameFile(r);
  assert.equal(r.notices.length, 2, r.notices.join("\n"));
  assert.match(
    r.notices[0]!,
    /2 archive files 2024-01 to 2024-02-01 not in the archive/,
  );
  assert.match(
    r.notices[1]!,
    /Archive file 2024-02-02 failed its SHA-256 check/,
  );
  assert.deepEqual(restStarts(r, JAN, FEB3), windows(JAN, FEB3));
});

Deno.test("archive download: microsecond times, header rows and data descriptors read the same candles", async () => {
  const r = await run({
    microseconds: (f) => f.kind === "daily",
    header: (f) => f.label !== "2024-02-02",
    dataDescriptor: (f) => f.label === "2024-01",
  });
  await assertSameFile(r);
  assert.deepEqual(r.notices, []);
});

Deno.test("archive download: archive and REST differing where they meet is reported and REST wins", async () => {
  // The last candle of Feb 2 (inside the cross-check window before Feb 3's REST).
  const at = FEB3 - M;
  const r = await run({
    faults: [{ kind: "altered", file: "2024-02-02", at }],
  });
  await assertSameFile(r);
  assert.equal(r.notices.length, 1, r.notices.join("\n"));
  assert.match(
    r.notices[0]!,
    /The archive file 2024-02-02 and REST differ at 1 of 1000 candles where they meet \(2024-02-02T07:20:00Z to 2024-02-03T00:00:00Z\); first 2024-02-02T23:59:00Z: archive \[.*\], REST \[.*\]; the REST candles are used/,
  );
});

Deno.test("cli download --no-archive and archive = false send no archive request", async () => {
  await using emu = await startBinanceEmulator({ now: () => NOW });
  await using arc = await startBinanceArchiveEmulator({ now: () => NOW });
  const dir = await Deno.makeTempDir({ prefix: "pyne_archive_cli_" });
  try {
    const cfg = join(dir, "config");
    await mkdir(cfg);
    const config = (extra: string) =>
      writeFile(
        join(cfg, "ccxt.toml"),
        `[binance]\nbase_url = "${emu.url}"\narchive_url = "${arc.url}"\n${extra}`,
      );
    const dl = (data: string, ...extra: string[]) =>
      runMainAt(NOW, [
        "download",
        "ccxt",
        "BINANCE:BTC/USDT",
        "-t",
        "1",
        "--from",
        new Date(FROM).toISOString(),
        "--config-dir",
        cfg,
        "--ohlcv-dir",
        join(dir, data),
        ...extra,
      ]);
    await config("");
    let r = await dl("a", "--no-archive");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(arc.requests.length, 0, "--no-archive: no archive request");
    await config("archive = false\n");
    r = await dl("b");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(arc.requests.length, 0, "archive = false: no archive request");
    // update --no-archive tops up without the archive as well.
    await config("");
    r = await runMainAt(NOW + 3 * 86_400_000, [
      "update",
      join(dir, "a"),
      "--config-dir",
      cfg,
      "--no-archive",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(arc.requests.length, 0, "update --no-archive");
    r = await dl("c");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(arc.requests.length, 6, "by default the archive is read");
    const a = await readFile(join(dir, "b", FILE));
    const c = await readFile(join(dir, "c", FILE));
    assert.ok(a.length === c.length && a.every((x, i) => x === c[i]));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("archive config: archive and archive_url are checked", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const load = async (text: string) => {
      await writeFile(join(dir, "ccxt.toml"), text);
      return await loadCcxtConfig(dir, ["binance"], false);
    };
    const cfg = await load(
      `[binance]\narchive = false\narchive_url = "http://127.0.0.1:9/"\n`,
    );
    assert.deepEqual(cfg.exchanges.get("binance"), {
      archive: false,
      archiveUrl: "http://127.0.0.1:9",
    });
    for (
      const bad of [
        `archive = "no"`,
        `archive_url = "https://data.binance.vision/data"`,
        `archive_url = 5`,
      ]
    ) {
      await assert.rejects(load(`[binance]\n${bad}\n`), ConfigError, bad);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("planArchive uses monthly files for whole months, daily files for other days, and only when faster", () => {
  const plan = (period: string, from: number, to: number, pageSize = 1000) =>
    planArchive({
      timeframe: parseTimeframe(period),
      interval: "1m",
      from,
      to,
      now: NOW,
      pageSize,
    });
  const p = plan("1", FROM, NOW)!;
  assert.deepEqual(
    p.map((x) => x.kind === "file" ? x.file.label : `rest ${x.from}-${x.to}`),
    [
      `rest ${FROM}-${JAN}`,
      "2024-01",
      "2024-02-01",
      "2024-02-02",
      `rest ${FEB3}-${NOW}`,
    ],
  );
  // One day costs as many requests as REST; hours and up are never faster.
  assert.equal(plan("1", FEB1, FEB2 + 3_600_000), undefined);
  assert.equal(plan("60", Date.UTC(2020, 0, 1), NOW), undefined);
  // 15 minutes: monthly files only (a day is 96 candles, one page).
  const q = plan("15", Date.UTC(2023, 9, 15), NOW)!;
  assert.deepEqual(
    q.filter((x) => x.kind === "file").map((x) =>
      x.kind === "file" && x.file.label
    ),
    ["2023-11", "2023-12", "2024-01"],
  );
});

Deno.test("archive layout: spot, USDⓈ-M and COIN-M URLs; COIN-M volume from column 7", async () => {
  const f = { kind: "monthly" as const, from: JAN, to: FEB1, label: "2024-01" };
  assert.equal(archiveMarket({ spot: true }), "spot");
  assert.equal(archiveMarket({ linear: true }), "futures/um");
  assert.equal(archiveMarket({ inverse: true }), "futures/cm");
  assert.equal(archiveMarket({ option: true, linear: true }), undefined);
  assert.equal(
    archiveFileUrl(
      "https://data.binance.vision/",
      "futures/um",
      "BTCUSDT",
      "1m",
      f,
    ),
    "https://data.binance.vision/data/futures/um/monthly/klines/BTCUSDT/1m/BTCUSDT-1m-2024-01.zip",
  );
  await using arc = await startBinanceArchiveEmulator({ now: () => NOW });
  const day = {
    kind: "daily" as const,
    from: FEB2,
    to: FEB3,
    label: "2024-02-02",
  };
  const fetchOne = (market: "spot" | "futures/cm", volumeColumn: 5 | 7) =>
    fetchArchiveFile({
      url: archiveFileUrl(arc.url, market, "BTCUSDT", "1m", day),
      file: day,
      timeframe: TF,
      volumeColumn,
      signal: new AbortController().signal,
      deadlineMs: 10_000,
      retries: 0,
      baseDelayMs: 1,
      maxDelayMs: 1,
      onRequest: () => {},
    });
  const spot = await fetchOne("spot", 5);
  const cm = await fetchOne("futures/cm", 7);
  assert.ok(spot.ok && cm.ok);
  assert.equal(spot.header, false);
  assert.equal(cm.header, true, "futures files from 2022-05 have a header row");
  assert.equal(cm.batch.time.length, 1440);
  assert.deepEqual(cm.batch.close, spot.batch.close);
  // Column 7 is the quote volume in the emulator's rows: not column 5.
  assert.notDeepEqual(cm.batch.volume, spot.batch.volume);
  const missing = await fetchArchiveFile({
    url: archiveFileUrl(arc.url, "spot", "NOSUCH", "1m", day),
    file: day,
    timeframe: TF,
    signal: new AbortController().signal,
    deadlineMs: 10_000,
    retries: 0,
    baseDelayMs: 1,
    maxDelayMs: 1,
    onRequest: () => {},
  });
  assert.equal(!missing.ok && missing.kind, "missing");
});

Deno.test("KlineCsvParser reads every decimal as Number() does, across chunk boundaries and CRLF", () => {
  let seed = 7;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const rows: string[] = [
    "open_time,open,high,low,close,volume,close_time\r\n",
  ];
  const want: number[][] = [];
  for (let i = 0; i < 3000; i++) {
    const dec = () => {
      const digits = 1 + Math.floor(rnd() * 18);
      const dot = Math.floor(rnd() * (digits + 1));
      let s = "";
      for (let k = 0; k < digits; k++) {
        if (k === dot && k > 0) s += ".";
        s += String(Math.floor(rnd() * 10));
      }
      return rnd() < 0.1 ? s + "e-3" : s;
    };
    const v = [dec(), dec(), dec(), dec(), dec()];
    const t = i % 2 ? JAN + i * M : (JAN + i * M) * 1000;
    rows.push(`${t},${v.join(",")},${t + 59_999},1,2,3,4,0\r\n`);
    want.push([JAN + i * M, ...v.map(Number)]);
  }
  const bytes = new TextEncoder().encode(rows.join(""));
  const p = new KlineCsvParser({ capacity: 16 });
  for (let o = 0; o < bytes.length; o += 997) {
    p.push(bytes.subarray(o, o + 997));
  }
  const b = p.finish();
  assert.equal(p.header, true);
  assert.equal(p.microseconds, true);
  assert.equal(b.time.length, want.length);
  want.forEach((w, i) => {
    const got = [
      b.time[i],
      b.open[i],
      b.high[i],
      b.low[i],
      b.close[i],
      b.volume[i],
    ];
    assert.deepEqual(got, w, `row ${i}`);
  });
});

Deno.test("ZipEntryStream inflates in chunks, with sizes in the header or a data descriptor, and refuses a cut archive", async () => {
  const text = new TextEncoder().encode(
    "1704067200000,1,2,0.5,1.5,10\n".repeat(20_000),
  );
  const inflate = async (zip: Uint8Array) => {
    const z = new ZipEntryStream();
    const source = new ReadableStream<Uint8Array>({
      start(c) {
        for (let o = 0; o < zip.length; o += 4096) {
          c.enqueue(zip.slice(o, o + 4096));
        }
        c.close();
      },
    });
    const parts = await Array.fromAsync(source.pipeThrough(z));
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) (out.set(p, o), o += p.length);
    return { out, entry: z.entry };
  };
  for (const dataDescriptor of [false, true]) {
    const zip = await zipOne("x.csv", text, { dataDescriptor });
    const { out, entry } = await inflate(zip);
    assert.deepEqual(out, text);
    assert.equal(entry?.name, "x.csv");
    await assert.rejects(inflate(zip.subarray(0, zip.length - 30)));
    await assert.rejects(inflate(zip.subarray(0, zip.length >> 1)));
  }
});

Deno.test("downloadPlan counts the archive files and only the REST windows left beside them", async () => {
  await using emu = await startBinanceEmulator({ now: () => NOW });
  await using arc = await startBinanceArchiveEmulator({ now: () => NOW });
  const dir = await Deno.makeTempDir({ prefix: "pyne_archive_plan_" });
  try {
    await using p = new CCXTProvider({
      configDir: dir,
      baseUrl: emu.url,
      env: {},
      exchanges: { binance: { archiveUrl: arc.url } },
    });
    const plan = (archive: boolean) =>
      downloadPlan(p, "BINANCE:BTC/USDT", {
        timeframe: "1",
        from: new Date(FROM),
        to: new Date(NOW),
        dataDir: dir,
        now: () => NOW,
        archive,
      });
    const withArchive = (await plan(true)).segments[0]!.plan!;
    const restOnly = (await plan(false)).segments[0]!.plan!;
    assert.equal(restOnly.windows, windows(FROM, NOW).length);
    // Dec 31 evening, Feb 3 morning, and the cross-checks at Jan 1 and Feb 2.
    assert.equal(withArchive.windows, 4);
    assert.equal(withArchive.periods, restOnly.periods);
    assert.ok(
      withArchive.notes.some((n) =>
        /^3 archive files \(1 monthly, 2 daily\) from http:\/\/127\.0\.0\.1:\d+ replace \d+ windows: 6 requests without request weight/
          .test(n)
      ),
      withArchive.notes.join("\n"),
    );
    assert.equal(arc.requests.length, 0, "a plan requests no file");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("archiveOrigin: Binance venues only, off with archive = false, the sandbox, or a base_url without archive_url", () => {
  const venue = (settings: Record<string, unknown>) =>
    ({ settings }) as unknown as Parameters<typeof archiveOrigin>[1];
  const real = "https://data.binance.vision";
  assert.equal(archiveOrigin("binance", venue({}), true), real);
  assert.equal(archiveOrigin("binanceusdm", venue({}), true), real);
  assert.equal(archiveOrigin("binancecoinm", venue({}), true), real);
  assert.equal(archiveOrigin("binance", venue({}), false), undefined);
  assert.equal(archiveOrigin("binanceus", venue({}), true), undefined);
  assert.equal(archiveOrigin("bybit", venue({}), true), undefined);
  assert.equal(
    archiveOrigin("binance", venue({ archive: false }), true),
    undefined,
  );
  assert.equal(
    archiveOrigin("binance", venue({ sandbox: true }), true),
    undefined,
  );
  assert.equal(
    archiveOrigin("binance", venue({ baseUrl: "http://127.0.0.1:1" }), true),
    undefined,
  );
  assert.equal(
    archiveOrigin(
      "binance",
      venue({
        baseUrl: "http://127.0.0.1:1",
        archiveUrl: "http://127.0.0.1:2",
      }),
      true,
    ),
    "http://127.0.0.1:2",
  );
});
