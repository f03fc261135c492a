import assert from "node:assert/strict";
import { join } from "node:path";
import { parse } from "smol-toml";
import { CCXTProvider, DEFAULT_CONCURRENCY } from "../providers/ccxt.ts";
import { ConfigError } from "../providers/_config_file.ts";
import {
  CCXT_CONFIG_TEMPLATE,
  legacyConfigPath,
  loadCcxtConfig,
  loadLegacyOverride,
  mergeSettings,
  secretEnvNames,
} from "../providers/_ccxt_config.ts";
import { startBinanceEmulator } from "../testing/binance_emulator.ts";
import { startBybitEmulator } from "../testing/bybit_emulator.ts";
import { parseTimeframe } from "../format/timeframe.ts";

const NOW = Date.UTC(2024, 2, 1, 12, 0, 30);
const DAY0 = Date.UTC(2024, 2, 1);
const M = 60_000;
const IDS = ["binance", "bybit", "okx"];

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("CCXTProvider writes the commented config template on first use and keeps an existing file", async () => {
  await using emu = await startBinanceEmulator({ now: () => NOW });
  await withDir(async (dir) => {
    const lines: string[] = [];
    const cfgDir = join(dir, "config");
    {
      await using p = new CCXTProvider({
        configDir: cfgDir,
        baseUrl: emu.url,
        env: {},
        log: (l) => lines.push(l),
      });
      await p.listSymbols({ search: "binance" });
    }
    const path = join(cfgDir, "ccxt.toml");
    const text = await Deno.readTextFile(path);
    assert.equal(text, CCXT_CONFIG_TEMPLATE);
    assert.deepEqual(
      Object.keys(parse(text)),
      [],
      "everything in the template is commented out",
    );
    assert.match(text, /# \[binance\]/);
    assert.match(text, /PYNE_CCXT_<EXCHANGE>_API_KEY/);
    // The commented examples are valid settings once uncommented.
    const examples = text.split("\n").slice(
      text.split("\n").findIndex((l) => l.startsWith("# The older")) + 4,
    ).map((l) => l.replace(/^# /, "")).join("\n");
    assert.match(examples, /^\[binance\]$/m);
    await Deno.writeTextFile(join(dir, "ccxt.toml"), examples);
    const loaded = await loadCcxtConfig(dir, ["binance", "bybit"], false);
    assert.equal(loaded.defaults.concurrency, DEFAULT_CONCURRENCY);
    assert.equal(loaded.exchanges.get("binance")?.rateLimit, 50);
    assert.ok(
      lines.some((l) => l.includes(`Created the ccxt config template ${path}`)),
    );
    // A user's file is never overwritten.
    await Deno.writeTextFile(path, "[binance]\nratelimit = 50\n");
    {
      await using p = new CCXTProvider({
        configDir: cfgDir,
        baseUrl: emu.url,
        env: {},
      });
      await p.listSymbols({ search: "binance" });
    }
    assert.equal(await Deno.readTextFile(path), "[binance]\nratelimit = 50\n");
    // createConfig: false writes nothing.
    const other = join(dir, "other");
    {
      await using p = new CCXTProvider({
        configDir: other,
        baseUrl: emu.url,
        env: {},
        createConfig: false,
      });
      await p.listSymbols({ search: "binance" });
    }
    await assert.rejects(
      Deno.stat(join(other, "ccxt.toml")),
      Deno.errors.NotFound,
    );
  });
});

Deno.test("CCXTProvider takes base_url, page_size and options from the exchange table and defaults from the top level", async () => {
  await using bin = await startBinanceEmulator({ now: () => NOW });
  await using byb = await startBybitEmulator({ now: () => NOW });
  await withDir(async (dir) => {
    await Deno.writeTextFile(
      join(dir, "ccxt.toml"),
      [
        "page_size = 40",
        "concurrency = 2",
        "[binance]",
        `base_url = "${bin.url}/"`,
        "page_size = 25",
        "[binance.options]",
        'fetchMarkets = { types = ["spot"] }',
        "[bybit]",
        `base_url = "${byb.url}"`,
        "ratelimit = 2",
        "",
      ].join("\n"),
    );
    await using p = new CCXTProvider({ configDir: dir, env: {} });
    const tf = parseTimeframe("1");
    const a = await Array.fromAsync(p.candles({
      symbol: "BINANCE:BTC/USDT",
      timeframe: tf,
      from: DAY0,
      to: DAY0 + 100 * M,
    }));
    assert.equal(a.length, 4, "100 candles in pages of 25");
    const limits = bin.requests.filter((r) => r.path === "/api/v3/klines")
      .map((r) => r.query["limit"]);
    assert.deepEqual(limits, ["25", "25", "25", "25"]);
    const b = await Array.fromAsync(p.candles({
      symbol: "BYBIT:BTC/USDT:USDT",
      timeframe: tf,
      from: DAY0,
      to: DAY0 + 80 * M,
    }));
    assert.equal(b.length, 2, "the top-level page_size applies to bybit");
    assert.ok(byb.requests.some((r) => r.path === "/v5/market/kline"));
  });
});

Deno.test("CCXTProvider honours the older per-symbol config file as an override", async () => {
  await using byb = await startBybitEmulator({ now: () => NOW });
  await withDir(async (dir) => {
    await Deno.writeTextFile(
      join(dir, "ccxt.toml"),
      `[bybit]\nbase_url = "${byb.url}"\nratelimit = 1\n`,
    );
    const legacy = legacyConfigPath(dir, "bybit", "BTC/USDT:USDT", "1");
    assert.equal(legacy, join(dir, "ccxt_BYBIT_BTC_USDT_USDT_1.toml"));
    await Deno.writeTextFile(
      legacy,
      [
        "[ccxt]",
        'exchange = "bybit"',
        'symbol = "BTC/USDT:USDT"',
        'timeframe = "1"',
        "ratelimit = 60",
        "[ccxt.options]",
        'fetchMarkets = { types = ["linear"] }',
        "",
      ].join("\n"),
    );
    const lines: string[] = [];
    await using p = new CCXTProvider({
      configDir: dir,
      env: {},
      log: (l) => lines.push(l),
    });
    const run = async (symbol: string) => {
      const t0 = performance.now();
      await Array.fromAsync(p.candles({
        symbol,
        timeframe: parseTimeframe("1"),
        from: DAY0,
        to: DAY0 + 30 * M,
        pageSize: 10,
        concurrency: 3,
      }));
      return performance.now() - t0;
    };
    const fast = await run("BYBIT:ETH/USDT:USDT");
    const slow = await run("BYBIT:BTC/USDT:USDT"); // kline cost 5 x 60 ms = 300 ms apart
    assert.ok(slow >= 600, `override rate limit spaced the pages (${slow} ms)`);
    assert.ok(fast < slow / 2, `${fast} ms without the override`);
    assert.ok(
      lines.some((l) =>
        l.includes(`Using the per-symbol ccxt config ${legacy}`)
      ),
    );
    // Its options reached ccxt: only linear markets were loaded for that instance.
    const loads = byb.requests.filter((r) =>
      r.path === "/v5/market/instruments-info"
    );
    assert.ok(!loads.slice(3).some((r) => r.query["category"] === "spot"));
  });
});

Deno.test("CCXTProvider takes secrets from PYNE_CCXT_<EXCHANGE>_* variables and never prints them", async () => {
  await using byb = await startBybitEmulator({ now: () => NOW });
  await withDir(async (dir) => {
    const names = secretEnvNames("bybit");
    assert.deepEqual(names, {
      apiKey: "PYNE_CCXT_BYBIT_API_KEY",
      secret: "PYNE_CCXT_BYBIT_API_SECRET",
      password: "PYNE_CCXT_BYBIT_PASSWORD",
    });
    const key = "KEY-4f9a1c0e77";
    const secret = "SECRET-b3d2e1f0aa";
    const lines: string[] = [];
    await using p = new CCXTProvider({
      configDir: dir,
      baseUrl: byb.url,
      env: { [names.apiKey]: key, [names.secret]: secret },
      maxRetries: 0,
      log: (l) => lines.push(l),
    });
    // With credentials ccxt loads Bybit's currencies from a private endpoint,
    // signed with the key; the emulator does not serve it.
    const error = await p.listSymbols({ search: "bybit" }).then(
      () => undefined,
      (e: Error) => e,
    );
    assert.ok(error instanceof Error);
    const priv = byb.requests.find((r) =>
      r.path === "/v5/asset/coin/query-info"
    );
    assert.ok(priv, "a signed request was sent");
    assert.equal(priv.headers["x-bapi-api-key"], key);
    const printed = [...chain(error), ...lines].join("\n");
    assert.ok(!printed.includes(key) && !printed.includes(secret));
  });
});

/** Messages and stacks of an error and its causes (what --verbose prints). */
function chain(e: unknown): string[] {
  const out: string[] = [];
  for (
    let cur = e, i = 0;
    cur instanceof Error && i < 5;
    cur = cur.cause, i++
  ) {
    out.push(cur.message, String(cur.stack));
  }
  return out;
}

Deno.test("CCXTProvider takes a credential out of the whole error chain, also where ccxt quotes it", async () => {
  await using byb = await startBybitEmulator({ now: () => NOW });
  await withDir(async (dir) => {
    // A key that ccxt's own message quotes (in the URL of the failed request).
    const key = "coin/query-info";
    await using p = new CCXTProvider({
      configDir: dir,
      baseUrl: byb.url,
      env: {
        PYNE_CCXT_BYBIT_API_KEY: key,
        PYNE_CCXT_BYBIT_API_SECRET: "s3cr3t-x",
      },
      maxRetries: 0,
    });
    const error = await p.listSymbols({ search: "bybit" }).then(
      () => undefined,
      (e: Error) => e,
    );
    assert.ok(error instanceof Error && error.cause instanceof Error);
    const printed = chain(error).join("\n");
    assert.ok(printed.includes("/v5/asset/***"), printed);
    assert.ok(!printed.includes(key), printed);
  });
});

Deno.test("loadCcxtConfig reports malformed files with file and line", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "ccxt.toml");
    const cases: Array<[string, RegExp]> = [
      ["[binance]\nratelimit = = 5\n", /line 2/],
      [
        'sandbox = false\n[binance]\nratelimit = "fast"\n',
        /line 3: "ratelimit" in \[binance\] must be a non-negative number/,
      ],
      [
        '[bybit]\n\nsecret_key = "x"\n',
        /line 3: unknown key "secret_key" in \[bybit\]; known keys are/,
      ],
      [
        "[okx]\nsandbox = true\n[binanse]\nratelimit = 5\n",
        /line 3: \[binanse\] is not a ccxt exchange id; list the valid ones/,
      ],
      [
        '[binance]\nbase_url = "http://127.0.0.1:9"\n\n[Binance]\nratelimit = 5\n',
        /line 4: \[Binance\] and \[binance\] are the same exchange/,
      ],
      [
        '[binance]\nbase_url = "http://127.0.0.1:9/api"\n',
        /line 2: "base_url" in \[binance\] must be an origin/,
      ],
      [
        '[binance]\nbase_url = "http://me:pa55word@127.0.0.1:9"\n',
        /line 2: .*no user:password@\), got "http:\/\/\*\*\*@127\.0\.0\.1:9"$/,
      ],
      [
        "page_size = 0\n",
        /line 1: "page_size" in top level must be a whole number of at least 1/,
      ],
      [
        "[binance]\napi_key = 12345678\n",
        /line 2: "api_key" in \[binance\] must be a string$/,
      ],
    ];
    for (const [text, re] of cases) {
      await Deno.writeTextFile(path, text);
      await assert.rejects(
        loadCcxtConfig(dir, IDS, false),
        (e: Error) => {
          assert.ok(e instanceof ConfigError, `${text}: ${e}`);
          assert.ok(e.message.includes(path), e.message);
          assert.match(e.message, re);
          assert.ok(!e.message.includes("12345678"));
          assert.ok(!e.message.includes("pa55word"));
          return true;
        },
      );
    }
    // The same checks for base URLs given in code, at construction.
    for (const baseUrl of ["http://127.0.0.1:1/api", "http://u:s3cret@h:1"]) {
      assert.throws(
        () => new CCXTProvider({ baseUrl }),
        (e: Error) =>
          e instanceof TypeError &&
          /baseUrl must be an origin/.test(e.message) &&
          !e.message.includes("s3cret"),
      );
    }
    assert.throws(
      () => new CCXTProvider({ exchanges: { bybit: { baseUrl: "ftp://x" } } }),
      /exchanges\.bybit\.baseUrl must be an origin/,
    );
    // The provider surfaces the same error.
    await Deno.writeTextFile(path, "[binance]\nratelimit = = 5\n");
    await using p = new CCXTProvider({ configDir: dir, env: {} });
    await assert.rejects(
      p.symbolInfo("BINANCE:BTC/USDT", parseTimeframe("1D")),
      (e: Error) =>
        e instanceof ConfigError && /ccxt\.toml at line 2/.test(e.message),
    );
  });
});

Deno.test("mergeSettings layers defaults, exchange table, per-symbol override and environment", async () => {
  await withDir(async (dir) => {
    await Deno.writeTextFile(
      join(dir, "ccxt.toml"),
      [
        "ratelimit = 100",
        "timeout = 5000",
        "[options]",
        "a = 1",
        "[binance]",
        "ratelimit = 50",
        'api_key = "file-key"',
        "[binance.options]",
        "b = 2",
      ].join("\n"),
    );
    const cfg = await loadCcxtConfig(dir, IDS, false);
    const legacyPath = join(dir, "legacy.toml");
    await Deno.writeTextFile(
      legacyPath,
      '[ccxt]\nexchange = "binance"\nsandbox = true\napi_secret = "legacy-secret"\n[ccxt.options]\nb = 3\nc = 4\n',
    );
    const legacy = await loadLegacyOverride(legacyPath);
    const merged = mergeSettings(
      "binance",
      [cfg.defaults, cfg.exchanges.get("binance"), legacy],
      {
        PYNE_CCXT_BINANCE_API_KEY: "env-key",
        PYNE_CCXT_BYBIT_API_KEY: "other",
      },
    );
    assert.deepEqual(merged, {
      rateLimit: 50,
      timeout: 5000,
      apiKey: "env-key",
      secret: "legacy-secret",
      sandbox: true,
      options: { a: 1, b: 3, c: 4 },
    });
    assert.equal(
      await loadLegacyOverride(join(dir, "missing.toml")),
      undefined,
    );
  });
});
