/**
 * The CLI tells coverage truthfully and repairs holes: a download whose venue
 * answered invalid candles for one page exits 1 with the hole in its summary
 * and the file valid; `repair` (and `update --repair`) fetches exactly that
 * hole and leaves a file byte-identical to a clean download.
 */

import assert from "node:assert/strict";
import { type CliRun, runMainAt } from "./_cli_helpers.ts";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startBinanceEmulator } from "../testing/binance_emulator.ts";
import { OhlcvReader } from "../format/ohlcv_reader.ts";

/** The fixed clock: emulator and CLI (--now) agree. */
const T = Date.UTC(2024, 2, 1, 12, 30);
const FILE = "ccxt_BINANCE_BTC_USDT_60.ohlcv";

function cli(args: string[]): Promise<CliRun> {
  return runMainAt(T, args);
}

async function setup(url: string): Promise<{ dir: string; cfg: string }> {
  const dir = await Deno.makeTempDir({ prefix: "pyne_repair_cli_" });
  const cfg = join(dir, "config");
  await mkdir(cfg, { recursive: true });
  await writeFile(join(cfg, "ccxt.toml"), `[binance]\nbase_url = "${url}"\n`);
  return { dir, cfg };
}

function download(cfg: string, data: string, extra: string[] = []): string[] {
  return [
    "download",
    "ccxt",
    "BINANCE:BTC/USDT",
    "-t",
    "60",
    "--from",
    "2024-01-01",
    "--config-dir",
    cfg,
    "--ohlcv-dir",
    data,
    ...extra,
  ];
}

async function cleanDownload(): Promise<Uint8Array> {
  await using emu = await startBinanceEmulator({ now: () => T });
  const { dir, cfg } = await setup(emu.url);
  try {
    const r = await cli(download(cfg, join(dir, "data")));
    assert.equal(r.code, 0, r.stderr);
    return await readFile(join(dir, "data", FILE));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function candleCount(path: string): Promise<number> {
  await using r = await OhlcvReader.open(path);
  return r.info.count;
}

Deno.test("cli download exits 1 with the periods it did not get, and repair fetches exactly them", async () => {
  const clean = await cleanDownload();
  // The last window's candles have high < low, twice: validation drops them.
  await using emu = await startBinanceEmulator({
    now: () => T,
    faults: [{
      kind: "invalid",
      at: (r) => Number(r.query["startTime"]) >= Date.UTC(2024, 1, 11, 16),
      times: 2,
    }],
  });
  const { dir, cfg } = await setup(emu.url);
  const data = join(dir, "data");
  try {
    const first = await cli(download(cfg, data, ["--json"]));
    assert.equal(first.code, 1, first.stderr);
    assert.match(
      first.stderr,
      /^Error: ccxt_BINANCE_BTC_USDT_60\.ohlcv: nothing from 2024-02-11 16:00 on \(452 periods, failed/m,
    );
    assert.match(first.stderr, /^Hint: .*pyne-data repair/m);
    const out = JSON.parse(first.stdout);
    assert.equal(out.ok, false);
    const file = out.files[0];
    assert.equal(file.status, "incomplete");
    assert.equal(file.coverage.complete, false);
    // Windows of 1,000 periods: the second holds the last 452 of the range.
    assert.equal(file.validation.dropped, 452, "one page of candles dropped");
    assert.equal(file.coverage.missingPeriods, 452);
    assert.deepEqual(
      file.coverage.missing.map((m: { state: string }) => m.state),
      ["failed"],
    );
    const path = join(data, FILE);
    assert.equal(await candleCount(path), 1000);
    // The table says so too (a rerun resumes after the file's last candle).
    const table = await cli(download(cfg, data));
    assert.equal(table.code, 1);
    assert.match(table.stdout, /\s452 missing\s+0\s+incomplete \(resumable\)/);
    assert.match(
      table.stdout,
      /2024-02-11 16:00 \.\. 2024-03-01 12:00 \(452 periods, failed/,
    );

    const klinesBefore = emu.requests.filter((r) => r.dataN > 0).length;
    const repaired = await cli(["repair", path, "--config-dir", cfg, "--json"]);
    assert.equal(repaired.code, 0, repaired.stderr);
    const rep = JSON.parse(repaired.stdout);
    assert.equal(rep.ok, true);
    assert.equal(rep.files[0].holes.length, 1);
    assert.equal(rep.files[0].added, 452);
    assert.equal(rep.files[0].coverage.complete, true);
    assert.deepEqual(await readFile(path), clean, "byte-identical to clean");
    const klines = emu.requests.filter((r) => r.dataN > 0).length -
      klinesBefore;
    assert.equal(klines, 1, "one page for the one 452-period hole");

    // A complete file: nothing to fetch, bytes unchanged.
    const again = await cli(["repair", path, "--config-dir", cfg]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /no holes; 1,452 in file; coverage complete/);
    assert.deepEqual(await readFile(path), clean);
    assert.deepEqual(
      (await readdir(data)).sort(),
      [FILE, FILE.replace(".ohlcv", ".toml")],
      "nothing but the data files",
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

Deno.test("cli update --repair repairs every file's holes, then tops it up", async () => {
  const clean = await cleanDownload();
  await using emu = await startBinanceEmulator({
    now: () => T,
    faults: [{ kind: "invalid", at: 1 }],
  });
  const { dir, cfg } = await setup(emu.url);
  const data = join(dir, "data");
  try {
    const first = await cli(download(cfg, data));
    assert.equal(first.code, 1, first.stderr);
    // Without --repair the hole stays (a top-up only appends) and is told.
    const plain = await cli(["update", data, "--config-dir", cfg]);
    assert.equal(plain.code, 0, plain.stderr);
    assert.notDeepEqual(await readFile(join(data, FILE)), clean);
    const fixed = await cli(["update", data, "--config-dir", cfg, "--repair"]);
    assert.equal(fixed.code, 0, fixed.stderr);
    assert.match(fixed.stderr, /1 hole, \+1,000 candles/);
    assert.deepEqual(await readFile(join(data, FILE)), clean);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

Deno.test("cli repair of a missing or foreign file is a usage error that changes nothing", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pyne_repair_cli_" });
  try {
    const missing = await cli(["repair", join(dir, "nope.ohlcv")]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^Error: File .*nope\.ohlcv does not exist/m);
    await writeFile(join(dir, "notes.txt"), "hello");
    const foreign = await cli(["repair", join(dir, "notes.txt")]);
    assert.equal(foreign.code, 2);
    assert.match(foreign.stderr, /is not a \.ohlcv file/);
    assert.deepEqual(await readdir(dir), ["notes.txt"]);
    const none = await cli(["repair"]);
    assert.equal(none.code, 2);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
