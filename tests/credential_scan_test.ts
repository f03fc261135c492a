/**
 * Credentials never leak: ccxt credentials set in the config file and in the
 * environment, then every kind of CLI run with `--verbose` — a download with
 * retried faults, a failing page, a dry run, repair, update, inspect, an
 * unknown symbol (stack traces), a venue that is down — and a scan of every
 * line printed and every file written (all but the config file the user
 * wrote) for the secrets, raw and encoded.
 */

import assert from "node:assert/strict";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startBinanceEmulator } from "../testing/binance_emulator.ts";
import { type CliRun, runMainAt } from "./_cli_helpers.ts";

const T = Date.UTC(2024, 2, 1, 12, 30);
const SECRETS = {
  key: "KEY-c7Rq9-Distinct-ApiKey",
  secret: "SECRET-z8Lm2-Distinct-ApiSecret",
  password: "PASS-w4Tn6-Distinct-Phrase",
  envKey: "ENVKEY-p3Vx8-Distinct",
  envSecret: "ENVSECRET-h5Gd1-Distinct",
};

/** The forms a secret could leak in. */
function forms(s: string): string[] {
  return [
    s,
    encodeURIComponent(s),
    btoa(s),
    s.slice(4, 16), // a distinctive part
  ];
}

Deno.test("cli runs with --verbose print and write no credential, whatever fails", async () => {
  await using emu = await startBinanceEmulator({
    now: () => T,
    faults: [
      { kind: "500", at: 1 },
      { kind: "429", at: 3, retryAfter: 0 },
      { kind: "drop", at: 5 },
      { kind: "invalid", at: 8 },
    ],
  });
  const dir = await Deno.makeTempDir({ prefix: "pyne_secrets_" });
  const cfg = join(dir, "config");
  const data = join(dir, "data");
  await mkdir(cfg);
  const config =
    `api_key = "${SECRETS.key}"\napi_secret = "${SECRETS.secret}"\n` +
    `password = "${SECRETS.password}"\n[binance]\nbase_url = "${emu.url}"\n` +
    `page_size = 100\n[kraken]\nbase_url = "http://127.0.0.1:9"\ntimeout = 300\n`;
  await writeFile(join(cfg, "ccxt.toml"), config);
  const env = {
    PYNE_CCXT_BINANCE_API_KEY: SECRETS.envKey,
    PYNE_CCXT_BINANCE_API_SECRET: SECRETS.envSecret,
  };
  const saved = Object.fromEntries(
    Object.keys(env).map((k) => [k, Deno.env.get(k)]),
  );
  for (const [k, v] of Object.entries(env)) Deno.env.set(k, v);
  const runs: CliRun[] = [];
  const ok = async (args: string[], code = 0) => {
    const r = await run(args);
    assert.equal(r.code, code, `${args.join(" ")}: ${r.stderr}`);
  };
  const run = async (args: string[]) => {
    const local = args[0] === "inspect"; // takes no provider config
    const clockless = local || args[0] === "info";
    const r = await runMainAt(clockless ? undefined : T, [
      ...args,
      ...(local ? [] : ["--config-dir", cfg]),
      "--verbose",
    ]);
    runs.push(r);
    return r;
  };
  const dl = ["download", "ccxt", "BINANCE:BTC/USDT", "-t", "60"];
  try {
    // Retried faults, then a page of invalid candles: exit 1, a hole.
    const first = await run([...dl, "--from", "2024-02-01", "-o", data]);
    assert.equal(first.code, 1, first.stderr);
    assert.match(first.stderr, /\[verbose\]|retry|429|500/i, "verbose lines");
    const file = join(data, "ccxt_BINANCE_BTC_USDT_60.ohlcv");
    await ok(["repair", file, "--json"]);
    assert.equal(
      (await run([...dl, "--dry-run", "--json", "-o", data])).code,
      0,
    );
    await ok(["update", data, "--json"]);
    await ok(["inspect", file]);
    await ok(["info", "ccxt", "BINANCE:BTC/USDT"]);
    // An unknown symbol prints its stack with --verbose; a venue that is down.
    await ok(["info", "ccxt", "BINANCE:NOPE/USDT"], 2);
    const down = await run([
      "download",
      "ccxt",
      "KRAKEN:BTC/USD",
      "-t",
      "60",
      "--from",
      "2",
      "-o",
      data,
    ]);
    assert.equal(down.code, 1, down.stderr);
    assert.match(down.stderr, /^\s+at /m, "a stack trace was printed");

    const texts: Array<[string, string]> = runs.flatMap((r, i) => [
      [`run ${i} stdout`, r.stdout],
      [`run ${i} stderr`, r.stderr],
    ]);
    for (const entry of await readdir(dir, { recursive: true })) {
      const full = join(dir, entry);
      if (full === join(cfg, "ccxt.toml")) continue; // the user's own file
      if ((await Deno.stat(full)).isFile) {
        texts.push([entry, await readFile(full, "latin1")]);
      }
    }
    assert.ok(texts.length >= 18, `${texts.length} texts scanned`);
    for (const [where, text] of texts) {
      for (const s of Object.values(SECRETS)) {
        for (const f of forms(s)) {
          assert.ok(!text.includes(f), `${where} contains a credential (${f})`);
        }
      }
    }
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) Deno.env.delete(k);
      else Deno.env.set(k, v);
    }
    await rm(dir, { recursive: true, force: true });
  }
});
