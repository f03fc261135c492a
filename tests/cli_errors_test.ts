/**
 * The CLI's bad-invocation table: every entry exits 2 (usage) or 1 (the venue
 * or the file refuses), prints one `Error:` line (plus a hint), no stack
 * trace, and creates or changes no file.
 */

import assert from "node:assert/strict";
import { copyFile, mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  assertErrorOutput,
  FIXTURES,
  lines,
  runCli,
  snapshotTree,
} from "./_cli_helpers.ts";

interface BadCase {
  args: string[];
  code: 1 | 2;
  /** Part of the error line. */
  message: RegExp;
  /** Part of the hint line, when the case checks it; `null`: no hint line. */
  hint?: RegExp | null;
}

/** The hint for a broken .ohlcv; wrong for any other kind of file. */
const OHLCV_HINT = /not a valid PyneCore \.ohlcv file/;

const DL = ["download", "ccxt", "BINANCE:BTC/USDT"];

/** Bad invocations that need no provider or network. */
const CASES: BadCase[] = [
  { args: ["bogus"], code: 2, message: /unknown command 'bogus'/i },
  {
    args: ["download", "--frm", "30"],
    code: 2,
    message: /unknown option '--frm'.*--from/i,
  },
  { args: ["download"], code: 2, message: /nothing to download/i },
  { args: ["download", "ccxt"], code: 2, message: /no symbol given/i },
  {
    args: ["download", "binance", "BTC/USDT", "-t", "1D"],
    code: 2,
    message: /unknown provider "binance"/i,
    hint: /Did you mean ccxt BINANCE:BTC\/USDT\?/,
  },
  { args: [...DL], code: 2, message: /missing --timeframe/i },
  {
    args: [...DL, "-t", "7X"],
    code: 2,
    message: /timeframe.*"7X"/i,
    hint: /^Hint: For example -t 1D/,
  },
  { args: [...DL, "-t", "0"], code: 2, message: /timeframe/i },
  {
    args: [...DL, "-t", "1D", "--from", "yesterday"],
    code: 2,
    message: /--from.*yesterday/i,
  },
  {
    args: [...DL, "-t", "1D", "--from", "2024-02-30"],
    code: 2,
    message: /--from/i,
  },
  {
    args: [...DL, "-t", "1D", "--to", "continue"],
    code: 2,
    message: /--to cannot be "continue"/,
  },
  {
    args: [...DL, "-t", "1D", "--from", "2024-06-01", "--to", "2024-01-01"],
    code: 2,
    message: /is not before --to/,
  },
  {
    args: [...DL, "-t", "1D", "--from", "2999-01-01"],
    code: 2,
    message: /in the future/,
  },
  { args: [...DL, "-t", "1D", "--to", "13:00"], code: 2, message: /--to/ },
  {
    args: [...DL, "-t", "1D", "--concurrency", "0"],
    code: 2,
    message: /--concurrency must be a whole number/,
  },
  {
    args: [...DL, "-t", "1D", "--concurrency", "abc"],
    code: 2,
    message: /--concurrency/,
  },
  {
    args: [...DL, "-t", "1D", "--limit", "0"],
    code: 2,
    message: /--limit must be a whole number/,
  },
  { args: [...DL, "-t", "1D", "--limit", "1.5"], code: 2, message: /--limit/ },
  { args: [...DL, "-t", "1D", "--limit", "-5"], code: 2, message: /-5/ },
  {
    args: [...DL, "-t", "1D", "--from"],
    code: 2,
    message: /--from.*argument missing/i,
  },
  {
    args: ["download", "nosuchprovider", "SYM", "-t", "1D"],
    code: 2,
    message: /unknown provider "nosuchprovider"/i,
  },
  {
    args: ["download", "binance:BTC/USDT", "-t", "1D"],
    code: 2,
    message: /unknown provider "binance"/i,
  },
  {
    args: ["download", "ccxt:BINANCE:BTC/USDT@"],
    code: 2,
    message: /nothing after "@"/,
  },
  {
    args: ["download", "ccxt:BINANCE:BTC/USDT@7X"],
    code: 2,
    message: /invalid provider string/i,
  },
  {
    args: ["download", "ccxt:BINANCE:BTC/USDT"],
    code: 2,
    message: /no timeframe/i,
  },
  {
    args: ["download", "ccxt:BINANCE:BTC/USDT@1D", "-t", "60"],
    code: 2,
    message: /differs/,
  },
  {
    args: ["download", "ccxt", "ccxt:BINANCE:BTC/USDT@1D", "-t", "1D"],
    code: 2,
    message: /invalid symbol/i,
  },
  { args: ["download", "missing.ohlcv"], code: 2, message: /does not exist/ },
  { args: ["download", "data/notoml.ohlcv"], code: 2, message: /is missing/ },
  {
    args: ["download", "data/full.ohlcv", "-t", "60"],
    code: 2,
    message: /differs from/,
  },
  {
    args: ["download", "data/nodl.toml"],
    code: 2,
    message: /no \[download\] provider string/,
  },
  {
    args: ["download", "ccxt", "--search", "BTC"],
    code: 2,
    message: /--search only works with --list-symbols/,
  },
  {
    args: [...DL, "-t", "1D", "--truncate", "--from", "continue"],
    code: 2,
    message: /--truncate needs --from/,
  },
  {
    args: [...DL, "-t", "1D", "--truncate"],
    code: 2,
    message: /--truncate needs --from/,
  },
  {
    args: ["download", "nosuch", "--list-symbols"],
    code: 2,
    message: /unknown provider/i,
  },
  {
    args: ["data", "download", "CCXTProvider"],
    code: 2,
    message: /no symbol given/i,
  },
  {
    args: ["data", "download", "CCXTProvider", "binance:BTC/USDT", "-tf", "XX"],
    code: 2,
    message: /timeframe/,
  },
  { args: ["data", "bogus"], code: 2, message: /unknown command/i },
  { args: ["inspect"], code: 2, message: /missing required argument 'file'/i },
  { args: ["inspect", "a", "b"], code: 2, message: /too many arguments/i },
  { args: ["inspect", "nofile.ohlcv"], code: 2, message: /does not exist/ },
  { args: ["inspect", "data"], code: 2, message: /not a file/ },
  {
    args: ["inspect", "corrupt.ohlcv"],
    code: 1,
    message: /corrupt\.ohlcv/,
    hint: OHLCV_HINT,
  },
  {
    args: ["inspect", "text.ohlcv"],
    code: 1,
    message: /text\.ohlcv: this is a text file.*rename it to \.csv or \.json/,
    // The error line already says what to do; a "download it again" hint
    // would contradict it.
    hint: null,
  },
  {
    args: ["convert", "bad.csv", "out.ohlcv"],
    code: 1,
    message: /bad\.csv: row 3/,
    hint: /^Hint: Fix the input file/,
  },
  {
    args: ["convert", "bad.csv", "data/full.ohlcv", "--force"],
    code: 1,
    message: /bad\.csv: row 3/,
    hint: /^Hint: Fix the input file/,
  },
  {
    args: ["convert", "bad.json", "out.ohlcv"],
    code: 1,
    message: /bad\.json/,
    hint: /^Hint: Fix the input file/,
  },
  {
    args: [...DL, "-t", "1D", "--from", "5", "--config-dir", "badcfg"],
    code: 1,
    message: /Malformed config file badcfg.ccxt\.toml at line 1/,
    hint: /Fix or delete the configuration file/,
  },
  {
    args: [
      "download",
      "capitalcom",
      "EURUSD",
      "-t",
      "60",
      "--from",
      "5",
      "--config-dir",
      "nocreds",
    ],
    code: 1,
    message: /credentials missing/,
    hint: /config file .* or the environment variables/,
  },
  { args: ["inspect", "in.csv"], code: 1, message: /in\.csv/ },
  {
    args: ["inspect", "--jsn", "data/full.ohlcv"],
    code: 2,
    message: /unknown option/i,
  },
  {
    args: ["convert", "in.csv"],
    code: 2,
    message: /missing required argument 'out'/i,
  },
  {
    args: ["convert", "in.txt", "out.ohlcv"],
    code: 2,
    message: /unsupported extension/,
  },
  {
    args: ["convert", "in.csv", "out.csv"],
    code: 2,
    message: /both are \.csv files/,
  },
  {
    args: ["convert", "data/full.ohlcv", "out.csv", "--time-format", "unix"],
    code: 2,
    message: /--time-format/,
  },
  {
    args: ["convert", "in.txt", "out.ohlcv", "--timeframe", "1D"],
    code: 2,
    message: /unsupported extension ".txt"/,
  },
  {
    args: ["convert", "in.csv", "out.ohlcv", "--minmove", "1"],
    code: 2,
    message: /go together/,
  },
  {
    args: [
      "convert",
      "in.csv",
      "out.ohlcv",
      "--minmove",
      "1",
      "--pricescale",
      "0",
    ],
    code: 2,
    message: /--pricescale must be/,
  },
  {
    args: ["convert", "in.csv", "out.ohlcv", "-t", "7X"],
    code: 2,
    message: /7X/,
  },
  {
    args: ["convert", "missing.csv", "out.ohlcv"],
    code: 2,
    message: /does not exist/,
  },
  {
    args: ["convert", "data/full.ohlcv", "exists.csv"],
    code: 2,
    message: /already exists/,
  },
  {
    args: ["convert", "data/full.ohlcv", "out.csv", "-t", "1D"],
    code: 2,
    message: /apply only when writing/,
  },
  { args: ["update", "nodir"], code: 2, message: /does not exist/ },
  { args: ["update", "data/full.ohlcv"], code: 2, message: /not a folder/ },
  { args: ["update", "--to", "whenever"], code: 2, message: /--to/ },
  {
    args: ["symbols"],
    code: 2,
    message: /missing required argument 'provider'/i,
  },
  {
    args: ["symbols", "nosuch"],
    code: 2,
    message: /unknown provider "nosuch"/i,
  },
  { args: ["info", "nosuch", "SYM"], code: 2, message: /unknown provider/i },
  {
    args: ["info", "ccxt", "BINANCE:BTC/USDT", "-t", "7X"],
    code: 2,
    message: /timeframe/,
  },
  {
    args: ["download", "capitalcom", "EURUSD", "--timeframe", "1M"],
    code: 2,
    message: /Capital\.com has no 1M timeframe; supported: 1, 5/,
    hint: /Pick one of the timeframes/,
  },
  {
    args: ["info", "capitalcom", "EURUSD", "-t", "1M"],
    code: 2,
    message: /no 1M timeframe/,
  },
  {
    args: ["download", "capitalcom", "EURUSD", "-t", "1M", "--dry-run"],
    code: 2,
    message: /no 1M timeframe/,
  },
  {
    args: ["download", "capitalcom", "../EURUSD", "-t", "60"],
    code: 2,
    message: /Invalid Capital\.com symbol "\.\.\/EURUSD"/,
  },
  {
    args: ["download", "ccxt", "BINANCE:../../etc", "-t", "1D", "--dry-run"],
    code: 2,
    message: /Invalid ccxt symbol/,
  },
  {
    args: [...DL, "-t", "1D", "--from", "2024-01-01", "--to", "2023-01-01"],
    code: 2,
    message: /is not before --to/,
  },
  {
    args: [
      ...DL,
      "-t",
      "1D",
      "--from",
      "2024-01-01",
      "--to",
      "2023-01-01",
      "--dry-run",
    ],
    code: 2,
    message: /is not before --to/,
  },
  {
    args: [...DL, "-t", "1D", "--from", "0001-01-01"],
    code: 2,
    message: /--from.*0001-01-01/,
  },
  {
    args: [...DL, "-t", "1D", "--from", "99999-01-01"],
    code: 2,
    message: /--from.*99999-01-01/,
  },
  {
    args: [...DL, "-t", "1D", "--concurrency", "0"],
    code: 2,
    message: /--concurrency/,
  },
  { args: [...DL, "-t", "1D", "--limit", "-5"], code: 2, message: /--limit/ },
  {
    args: [...DL, "-t", "1D", "--dry-run", "--list-symbols"],
    code: 2,
    message: /--dry-run .* does not go with --list-symbols/,
  },
  {
    args: [...DL, "-t", "1D", "--dry-run", "--show-info"],
    code: 2,
    message: /does not go with --show-info/,
  },
  {
    args: [...DL, "-t", "1D", "-o", "data/full.ohlcv"],
    code: 2,
    message: /--ohlcv-dir data\/full\.ohlcv is not a folder/,
  },
  { args: ["repair"], code: 2, message: /missing required argument/i },
  { args: ["repair", "nofile.ohlcv"], code: 2, message: /does not exist/ },
  {
    args: ["download", "ccxt", "BINANCE:BTC/USDT@1D", "-t", "60"],
    code: 2,
    message: /Invalid symbol "BINANCE:BTC\/USDT@1D"/,
  },
  { args: ["providers", "extra"], code: 2, message: /too many arguments/i },
];

/** Whatever the caller's environment holds, the CLI sees no Capital.com login. */
const NO_CREDENTIALS: Record<string, string> = {
  PYNE_CAPITALCOM_API_KEY: "",
  PYNE_CAPITALCOM_IDENTIFIER: "",
  PYNE_CAPITALCOM_PASSWORD: "",
};

async function setup(dir: string): Promise<void> {
  await mkdir(join(dir, "data"));
  await copyFile(
    join(FIXTURES, "btc_1D_gap.ohlcv"),
    join(dir, "data", "notoml.ohlcv"),
  );
  await copyFile(
    join(FIXTURES, "btc_1D_gap.ohlcv"),
    join(dir, "data", "full.ohlcv"),
  );
  const toml = await Deno.readTextFile(join(FIXTURES, "syminfo_crypto.toml"));
  await writeFile(
    join(dir, "data", "full.toml"),
    `${toml}\n[download]\nprovider = "ccxt:BINANCE:BTC/USDT@1D"\n`,
  );
  await copyFile(
    join(FIXTURES, "btc_1D_gap.ohlcv"),
    join(dir, "data", "nodl.ohlcv"),
  );
  await writeFile(join(dir, "data", "nodl.toml"), toml);
  await copyFile(
    join(FIXTURES, "corrupt_bad_unit.ohlcv"),
    join(dir, "corrupt.ohlcv"),
  );
  await copyFile(join(FIXTURES, "btc_1D_gap.export.csv"), join(dir, "in.csv"));
  await writeFile(join(dir, "in.txt"), "hello\n");
  await writeFile(join(dir, "text.ohlcv"), "timestamp,open\n1,2\n");
  await writeFile(
    join(dir, "bad.csv"),
    "timestamp,open,high,low,close,volume\n1700000000000,1,2,0.5,1.5,10\nxx,1,2\n",
  );
  await writeFile(join(dir, "bad.json"), '[{"timestamp": 1, "open":');
  await mkdir(join(dir, "badcfg"));
  await writeFile(join(dir, "badcfg", "ccxt.toml"), "[binance\nbase_url = 1\n");
  // A filled-in config without credentials (none in the environment).
  await mkdir(join(dir, "nocreds"));
  await writeFile(join(dir, "nocreds", "capitalcom.toml"), "[capitalcom]\n");
  await writeFile(join(dir, "exists.csv"), "keep me\n");
}

Deno.test("cli exits 2 (or 1) with one Error: line and touches no file for each bad invocation", async (t) => {
  assert.ok(CASES.length >= 80, `table has ${CASES.length} entries`);
  const dir = await Deno.makeTempDir({ prefix: "pyne_cli_err_" });
  try {
    await setup(dir);
    const before = await snapshotTree(dir);
    for (const c of CASES) {
      const label = c.args.join(" ");
      await t.step(label, async () => {
        const r = await runCli(c.args, { cwd: dir, env: NO_CREDENTIALS });
        assert.equal(
          r.code,
          c.code,
          `${label}: exit code\nstdout: ${r.stdout}\nstderr: ${r.stderr}`,
        );
        assertErrorOutput(r.stderr, c.message, label);
        const hint = lines(r.stderr).find((l) => l.startsWith("Hint:"));
        if (c.hint === null) {
          assert.equal(hint, undefined, `${label}: no hint in\n${r.stderr}`);
        } else if (c.hint) {
          assert.match(hint ?? "", c.hint, `${label}: hint in\n${r.stderr}`);
        }
        assert.equal(r.stdout, "", `${label}: nothing on stdout`);
        assert.deepEqual(await snapshotTree(dir), before, `${label}: files`);
      });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

Deno.test("reportError hints name the real problem: unreachable venue, unknown symbol, bad CSV", async () => {
  const { reportError, setErrorContext } = await import("../cli/_errors.ts");
  const { ProviderError, TransientProviderError } = await import(
    "../providers/provider.ts"
  );
  const { FormatError } = await import("../format/format_error.ts");
  const network = Object.assign(
    new Error(
      "binance GET http://127.0.0.1:1/api/v3/exchangeInfo fetch failed",
    ),
    { name: "NetworkError" },
  );
  const down = new TransientProviderError(
    "Cannot load the markets of binance: the venue did not answer",
    { cause: network },
  );
  let r = reportError(down);
  assert.equal(r.code, 1);
  assert.match(r.hint ?? "", /could not be reached.*base_url/);
  const unknown = new ProviderError('Unknown symbol "BINANCE:NOPE/USDT"');
  assert.match(
    reportError(unknown).hint ?? "",
    /`pyne-data symbols <provider> \[exchange\] --search <text>`/,
  );
  setErrorContext(unknown, { provider: "ccxt", symbol: "BINANCE:NOPE/USDT" });
  assert.match(
    reportError(unknown).hint ?? "",
    /`pyne-data symbols ccxt binance --search NOPE`/,
  );
  r = reportError(
    new FormatError("Cannot import in.csv: row 3: 4 columns, expected 6", {
      path: "in.csv",
    }),
  );
  assert.equal(r.code, 1);
  assert.match(r.hint ?? "", /^Fix the input file/);
  assert.doesNotMatch(r.hint ?? "", OHLCV_HINT);
  r = reportError(
    new FormatError("Cannot open x.ohlcv: bad magic", { path: "x.ohlcv" }),
  );
  assert.match(r.hint ?? "", OHLCV_HINT);
});
