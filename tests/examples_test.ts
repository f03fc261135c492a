/**
 * Runs every `examples/*.ts` (but `demo.ts`, tested in `cli_test.ts`) as a
 * subprocess with loopback-only network access, checks its exit code and
 * output, and verifies the files it keeps independently (the resampled file
 * against an aggregation of the 1-minute file). Also runs `tools/emulator.ts`
 * (`deno task emulator`): the snippet it prints, a request to the printed
 * URL, a clean stop on SIGINT, and its usage errors.
 *
 * @module
 */

import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CliRun, CONFIG, PERMS, ROOT, runDeno } from "./_cli_helpers.ts";
import { OhlcvReader } from "../format/ohlcv_reader.ts";
import { readSymbolInfo } from "../format/symbol_info_toml.ts";
import type { CandleBatch } from "../format/candle_batch.ts";

const EXAMPLES = join(ROOT, "examples");

/** Runs `deno run <perms> examples/<name> ...args` in `cwd` with `TMPDIR` = `tmp`. */
function runExample(
  name: string,
  args: string[],
  cwd: string,
  tmp: string,
): Promise<CliRun> {
  return runDeno(
    [
      "run",
      "--quiet",
      "--no-prompt",
      "--config",
      CONFIG,
      ...PERMS,
      join(EXAMPLES, name),
      ...args,
    ],
    { cwd, env: { TMPDIR: tmp, TMP: tmp, TEMP: tmp } },
  );
}

/** A scratch folder with `cwd/`, `tmp/` and `keep/` inside, removed afterwards. */
async function withScratch(
  fn: (dirs: { cwd: string; tmp: string; keep: string }) => Promise<void>,
): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), "examples_test_"));
  const dirs = {
    cwd: join(root, "cwd"),
    tmp: join(root, "tmp"),
    keep: join(root, "keep"),
  };
  for (const d of Object.values(dirs)) await mkdir(d);
  try {
    await fn(dirs);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

async function readAll(path: string): Promise<CandleBatch> {
  await using r = await OhlcvReader.open(path);
  return await r.read();
}

/** Lines of a CSV file without the trailing empty one. */
async function csvLines(path: string): Promise<string[]> {
  return (await readFile(path, "utf8")).trimEnd().split(/\r?\n/);
}

const H = 3_600_000;

/**
 * Per example: the arguments (a kept folder, `keep`, or none) and the checks
 * of its output and files. An example without an entry is still run and must
 * exit 0.
 */
const CHECKS: Record<
  string,
  {
    keep: boolean;
    check: (run: CliRun, keep: string) => Promise<void> | void;
  }
> = {
  "download.ts": {
    keep: true,
    async check({ stdout }, keep) {
      assert.match(
        stdout,
        /^Downloaded 696 candles of ccxt:BINANCE:BTC\/USDT@60 in \d+ requests$/m,
      );
      assert.match(stdout, /coverage complete: true/);
      assert.match(
        stdout,
        /^Read back: 696 candles, period 60, .* dense true$/m,
      );
      const path = join(keep, "ccxt_BINANCE_BTC_USDT_60.ohlcv");
      const b = await readAll(path);
      assert.equal(b.time.length, 29 * 24); // February 2024, hourly
      assert.equal(b.time[0], Date.UTC(2024, 1, 1));
      assert.equal(b.time.at(-1), Date.UTC(2024, 1, 29, 23));
      const { info } = await readSymbolInfo(
        join(keep, "ccxt_BINANCE_BTC_USDT_60.toml"),
      );
      assert.equal(info.ticker, "BTCUSDT");
      // Its read-back lines print the file's first candle.
      const first = `O ${b.open[0]}  H ${b.high[0]}  L ${b.low[0]}  C ${
        b.close[0]
      }  V ${b.volume[0]}`;
      assert.ok(stdout.includes(first), `${first} in\n${stdout}`);
    },
  },
  "bybit_perpetual.ts": {
    keep: true,
    async check({ stdout }, keep) {
      assert.match(
        stdout,
        /BYBIT:BTC\/USDT:USDT: BTC \/ USDT Linear Perpetual/,
      );
      assert.match(
        stdout,
        /^Run 1 \(new\): 45 daily candles 2024-01-01 \.\. 2024-02-14/m,
      );
      assert.match(
        stdout,
        /^Run 2 \(append\): 15 new candles 2024-02-15 \.\. 2024-02-29; the file now holds 60$/m,
      );
      const b = await readAll(join(keep, "ccxt_BYBIT_BTC_USDT_USDT_1D.ohlcv"));
      assert.equal(b.time.length, 31 + 29);
      assert.equal(b.time[0], Date.UTC(2024, 0, 1));
      assert.equal(b.time.at(-1), Date.UTC(2024, 1, 29));
    },
  },
  "resample_pipeline.ts": {
    keep: true,
    async check({ stdout }, keep) {
      const m1 = await readAll(join(keep, "BTCUSDT_1.ohlcv"));
      const m15 = await readAll(join(keep, "BTCUSDT_15.ohlcv"));
      const n1 = m1.time.length;
      // 2024-02-27 00:07 .. 2024-02-29 00:00, every minute.
      assert.equal(n1, 2 * 1440 - 7);
      assert.equal(m15.time.length, Math.floor(n1 / 15));
      assert.match(stdout, new RegExp(`^1-minute candles: ${n1} `, "m"));
      assert.match(
        stdout,
        new RegExp(`^15-minute candles: ${m15.time.length} `, "m"),
      );
      // The 15-minute file is the aggregation of the complete 15-minute
      // periods of the 1-minute file (summed in the same order: exact).
      const want: number[][] = [];
      for (let i = 0; i < n1;) {
        const start = m1.time[i]! - (m1.time[i]! % (15 * 60_000));
        let j = i;
        while (j < n1 && m1.time[j]! < start + 15 * 60_000) j++;
        if (j - i === 15) {
          let hi = -Infinity, lo = Infinity, v = 0;
          for (let k = i; k < j; k++) {
            hi = Math.max(hi, m1.high[k]!);
            lo = Math.min(lo, m1.low[k]!);
            v += m1.volume[k]!;
          }
          want.push([start, m1.open[i]!, hi, lo, m1.close[j - 1]!, v]);
        }
        i = j;
      }
      const got = Array.from(m15.time, (t, i) => [
        t,
        m15.open[i]!,
        m15.high[i]!,
        m15.low[i]!,
        m15.close[i]!,
        m15.volume[i]!,
      ]);
      assert.deepEqual(got, want);
      assert.equal(m15.time[0], Date.UTC(2024, 1, 27, 0, 15));
      // The CSV holds the same candles, ISO times.
      const csv = await csvLines(join(keep, "BTCUSDT_15.csv"));
      assert.equal(csv[0], "time,open,high,low,close,volume");
      assert.equal(csv.length, want.length + 1);
      const last = csv.at(-1)!.split(",");
      assert.equal(Date.parse(last[0]!), want.at(-1)![0]);
      assert.deepEqual(last.slice(1).map(Number), want.at(-1)!.slice(1));
      assert.match(stdout, new RegExp(`^CSV rows: ${want.length}$`, "m"));
    },
  },
  "list_symbols.ts": {
    keep: false,
    check({ stdout }) {
      for (const name of ["capitalcom", "ccxt", "memory"]) {
        assert.match(stdout, new RegExp(`^  ${name} `, "m"));
      }
      const exchanges = Number(/^ccxt: (\d+) exchanges/m.exec(stdout)?.[1]);
      assert.ok(exchanges > 50, stdout);
      assert.match(stdout, /^ccxt "binance": 6 markets$/m);
      assert.match(stdout, /^ {2}BYBIT:BTC\/USDT:USDT +swap /m);
      assert.match(stdout, /^ccxt BINANCE timeframes: .*\b1D\b/m);
      assert.match(stdout, /^capitalcom "USD": 3 markets$/m);
      assert.match(stdout, /^ {2}EURUSD +forex +EUR\/USD$/m);
      assert.match(stdout, /^memory: BTCUSDT \(crypto\), .*AAPL \(stock\)$/m);
    },
  },
  "capitalcom.ts": {
    keep: true,
    async check({ stdout }, keep) {
      assert.match(
        stdout,
        /EURUSD: EUR\/USD, type forex, .* timezone America\/New_York/,
      );
      const n = Number(/^Downloaded (\d+) hourly candles/m.exec(stdout)?.[1]);
      const b = await readAll(join(keep, "capitalcom_EURUSD_60.ohlcv"));
      assert.equal(b.time.length, n);
      // 2025-01-06 00:00 to the last closed hour before 10:30 on the 15th,
      // less the forex weekend.
      const weekend = 48;
      assert.equal(
        n,
        (Date.UTC(2025, 0, 15, 10) - Date.UTC(2025, 0, 6)) / H - weekend,
      );
      assert.match(stdout, /^Gaps: 48 closed periods, 0 anomalies$/m);
      assert.match(
        stdout,
        /^ {2}Fri 2025-01-10T22:00Z \.\. Sun 2025-01-12T22:00Z {2}48 periods {2}closed$/m,
      );
      assert.match(stdout, /^Coverage complete: true$/m);
      const extra = await csvLines(
        join(keep, "capitalcom_EURUSD_60.extra.csv"),
      );
      assert.equal(extra[0], "ask_open,ask_high,ask_low,ask_close,spread");
      assert.equal(extra.length, n + 1);
    },
  },
  "custom_provider.ts": {
    keep: true,
    async check({ stdout }, keep) {
      assert.match(
        stdout,
        /^Registered: klines \(aliases KlinesProvider; built-in false\)/m,
      );
      assert.match(stdout, /^Symbols: BTCUSDT, ETHUSDT/m);
      assert.match(
        stdout,
        /^Downloaded 696 candles .* → klines_BTCUSDT_60\.ohlcv$/m,
      );
      assert.match(
        stdout,
        /provider string klines:BTCUSDT@60, .* coverage complete: true$/m,
      );
      const path = join(keep, "klines_BTCUSDT_60.ohlcv");
      assert.equal((await readAll(path)).time.length, 696);
      const toml = await readFile(join(keep, "klines_BTCUSDT_60.toml"), "utf8");
      assert.match(toml, /provider = "klines:BTCUSDT@60"/);
    },
  },
};

const files = (await readdir(EXAMPLES))
  .filter((f) => f.endsWith(".ts") && f !== "demo.ts" && !f.startsWith("_"))
  .sort();

Deno.test("every example has its checks here", () => {
  assert.deepEqual(files, Object.keys(CHECKS).sort());
});

for (const file of files) {
  Deno.test(`examples/${file} runs offline, exits 0 and prints its results`, async () => {
    await withScratch(async ({ cwd, tmp, keep }) => {
      const spec = CHECKS[file];
      const run = await runExample(file, spec?.keep ? [keep] : [], cwd, tmp);
      assert.equal(
        run.code,
        0,
        `${file} exited ${run.code}\n${run.stdout}\n${run.stderr}`,
      );
      await spec?.check(run, keep);
      assert.deepEqual(
        await readdir(cwd),
        [],
        "nothing written to the working folder",
      );
      assert.deepEqual(
        await readdir(tmp),
        [],
        "its temporary folder is removed",
      );
    });
  });
}

Deno.test("examples/download.ts without a folder argument works in a temporary folder and removes it", async () => {
  await withScratch(async ({ cwd, tmp }) => {
    const run = await runExample("download.ts", [], cwd, tmp);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^Downloaded 696 candles/m);
    assert.deepEqual(await readdir(tmp), []);
    assert.deepEqual(await readdir(cwd), []);
  });
});

// --- tools/emulator.ts --------------------------------------------------

const TOOL = join(ROOT, "tools", "emulator.ts");

/** Starts the tool with the `deno task emulator` permissions. */
function startTool(args: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--no-prompt",
      "--allow-net=127.0.0.1",
      TOOL,
      ...args,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  let stdout = "";
  let onData = () => {};
  const drained = (async () => {
    for await (
      const chunk of child.stdout.pipeThrough(new TextDecoderStream())
    ) {
      stdout += chunk;
      onData();
    }
  })();
  const stderr = new Response(child.stderr).text();
  /** Resolves with the first match of `re` in the output so far or to come. */
  const waitFor = (re: RegExp, ms = 15_000) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no ${re} within ${ms} ms in:\n${stdout}`)),
        ms,
      );
      onData = () => {
        const m = re.exec(stdout);
        if (m) {
          clearTimeout(timer);
          onData = () => {};
          resolve(m);
        }
      };
      onData();
    });
  const finish = async () => {
    const status = await child.status;
    await drained;
    return {
      code: status.code,
      signal: status.signal,
      stdout,
      stderr: await stderr,
    };
  };
  return { child, waitFor, finish };
}

/** A port free on 127.0.0.1 right now. */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

Deno.test({
  name:
    "tools/emulator.ts binance prints the ccxt.toml snippet, serves the printed URL and stops cleanly on SIGINT",
  ignore: Deno.build.os === "windows",
  async fn() {
    const tool = startTool(["binance"]);
    try {
      const [, table, url] = await tool.waitFor(
        /^(\[binance\])\nbase_url = "(http:\/\/127\.0\.0\.1:\d+)"$/m,
      );
      assert.equal(table, "[binance]");
      const res = await fetch(`${url}/api/v3/ping`);
      assert.equal(res.status, 200);
      assert.deepEqual(await res.json(), {});
      await tool.waitFor(/deno task cli download ccxt BINANCE:BTC\/USDT /);
    } finally {
      tool.child.kill("SIGINT");
    }
    const { code, stdout, stderr } = await tool.finish();
    assert.equal(code, 0, stderr);
    assert.match(
      stdout,
      /^Check: curl http:\/\/127\.0\.0\.1:\d+\/api\/v3\/ping$/m,
    );
    assert.match(stdout, /Paste into config\/ccxt\.toml/);
    assert.match(stdout, /^Emulator stopped\.$/m);
  },
});

Deno.test({
  name:
    "tools/emulator.ts capitalcom --port N listens there, prints its credentials for capitalcom.toml and accepts them",
  ignore: Deno.build.os === "windows",
  async fn() {
    const port = freePort();
    const tool = startTool(["capitalcom", "--port", String(port), "--log"]);
    try {
      const [snippet] = await tool.waitFor(
        /^\[capitalcom\]\napi_key = "(.+)"\nidentifier = "(.+)"\npassword = "(.+)"\nbase_url = "(.+)"$/m,
      );
      const [, apiKey, identifier, password, url] =
        /api_key = "(.+)"\nidentifier = "(.+)"\npassword = "(.+)"\nbase_url = "(.+)"/
          .exec(snippet)!;
      assert.equal(url, `http://127.0.0.1:${port}`);
      const res = await fetch(`${url}/api/v1/session`, {
        method: "POST",
        headers: {
          "X-CAP-API-KEY": apiKey!,
          "Content-Type": "application/json",
        },
        body: JSON.stringify({ identifier, password }),
      });
      assert.equal(res.status, 200, await res.clone().text());
      assert.ok(res.headers.get("CST"), "a session token");
      await res.body?.cancel();
      await tool.waitFor(/^ {2}POST \/api\/v1\/session -> 200$/m); // --log
    } finally {
      tool.child.kill("SIGINT");
    }
    const { code, stdout, stderr } = await tool.finish();
    assert.equal(code, 0, stderr);
    assert.match(stdout, /Paste into config\/capitalcom\.toml/);
    assert.match(stdout, /deno task cli download capitalcom EURUSD/);
    assert.match(stdout, /^Emulator stopped\.$/m);
  },
});

Deno.test("tools/emulator.ts refuses an unknown emulator, a bad port and a port in use", async () => {
  const run = async (args: string[]) => {
    const t = startTool(args);
    return await t.finish();
  };
  const unknown = await run(["nasdaq"]);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /Unknown emulator "nasdaq"/);
  assert.match(
    unknown.stderr,
    /Usage: deno task emulator <binance\|bybit\|okx\|kraken\|kucoin\|coinbase\|capitalcom>/,
  );
  const none = await run([]);
  assert.equal(none.code, 2);
  assert.match(none.stderr, /Which emulator\?/);
  const badPort = await run(["okx", "--port", "70000"]);
  assert.equal(badPort.code, 2);
  assert.match(badPort.stderr, /--port must be a whole number 0\.\.65535/);
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const inUse = await run([
      "kraken",
      "--port",
      String((l.addr as Deno.NetAddr).port),
    ]);
    assert.equal(inUse.code, 1);
    assert.match(inUse.stderr, /is in use/);
  } finally {
    l.close();
  }
  const help = await run(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /^Usage: deno task emulator/m);
});
