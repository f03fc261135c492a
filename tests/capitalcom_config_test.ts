import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parse } from "smol-toml";
import { parseTimeframe } from "../format/timeframe.ts";
import { CapitalComProvider } from "../providers/capitalcom.ts";
import {
  CAPITALCOM_CONFIG_TEMPLATE,
  CAPITALCOM_DEMO_URL,
  CAPITALCOM_LIVE_URL,
  loadCapitalComSettings,
} from "../providers/_capitalcom_config.ts";
import { ConfigError } from "../providers/_config_file.ts";
import { ProviderError } from "../providers/provider.ts";
import { startCapitalComEmulator } from "../testing/capitalcom_emulator.ts";

async function tempDir(): Promise<AsyncDisposable & { path: string }> {
  const path = await Deno.makeTempDir({ prefix: "capitalcom_config_" });
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true });
    },
  };
}

Deno.test("CapitalComProvider writes a commented config template on first use and names the missing keys", async () => {
  await using dir = await tempDir();
  const configDir = join(dir.path, "config");
  await using p = new CapitalComProvider({ configDir, env: {} });
  await assert.rejects(() => p.listSymbols(), (e: unknown) => {
    assert.ok(e instanceof ProviderError);
    assert.equal(e.code, "credentials.missing");
    const file = join(configDir, "capitalcom.toml");
    assert.equal(
      e.message,
      `Capital.com credentials missing: set api_key, identifier and password in the [capitalcom] table of ${file}, or the environment variables PYNE_CAPITALCOM_API_KEY, PYNE_CAPITALCOM_IDENTIFIER and PYNE_CAPITALCOM_PASSWORD`,
    );
    return true;
  });
  const text = await readFile(join(configDir, "capitalcom.toml"), "utf8");
  assert.equal(text, CAPITALCOM_CONFIG_TEMPLATE);
  assert.match(text, /^# .*PYNE_CAPITALCOM_API_KEY/m);
  const parsed = parse(text) as {
    capitalcom: Record<string, unknown> & { options: Record<string, unknown> };
  };
  assert.equal(parsed.capitalcom.api_key, "");
  assert.equal(parsed.capitalcom.demo, false);
  assert.equal(parsed.capitalcom.options.max_retries, 5);
  assert.equal(parsed.capitalcom.options.timeout, 30);
});

Deno.test("CapitalComProvider names only the credential that is missing", async () => {
  await using dir = await tempDir();
  await mkdir(join(dir.path, "config"));
  await writeFile(
    join(dir.path, "config", "capitalcom.toml"),
    '[capitalcom]\napi_key = "k-1234"\nidentifier = "me@example.com"\n',
  );
  await using p = new CapitalComProvider({
    configDir: join(dir.path, "config"),
    env: {},
  });
  await assert.rejects(() => p.listSymbols(), (e: unknown) => {
    assert.ok(e instanceof ProviderError);
    assert.match(
      e.message,
      /set password in the \[capitalcom\] table of .*capitalcom\.toml, or the environment variable PYNE_CAPITALCOM_PASSWORD$/,
    );
    assert.ok(!e.message.includes("api_key"));
    assert.ok(!e.message.includes("k-1234"));
    return true;
  });
});

Deno.test("CapitalComProvider reports a malformed config file with its path and line", async () => {
  await using dir = await tempDir();
  const file = join(dir.path, "capitalcom.toml");
  await writeFile(file, '[capitalcom]\napi_key = "abc"\nidentifier = oops\n');
  await using p = new CapitalComProvider({ configDir: dir.path, env: {} });
  await assert.rejects(() => p.listSymbols(), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.equal(e.path, file);
    assert.ok(e.message.includes(file));
    assert.match(e.message, /line 3/);
    return true;
  });
  // The parser quotes the file around the fault; that never reaches the
  // error (its message, cause or stack), as it may be a credential's line.
  await writeFile(
    file,
    '[capitalcom]\napi_key = "KEY-9x7-secret"\npassword = "PW-9x7-secret\n',
  );
  await assert.rejects(
    () => loadCapitalComSettings(dir.path, {}, {}),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      assert.match(e.message, /line 3/);
      assert.equal(e.cause, undefined);
      const all = `${e.message} ${e.stack} ${JSON.stringify(e)}`;
      assert.ok(!/9x7/.test(all), all);
      return true;
    },
  );
  await writeFile(file, '[capitalcom]\ndemo = "yes"\n');
  await assert.rejects(
    () => loadCapitalComSettings(dir.path, {}, {}),
    (e: unknown) =>
      e instanceof ConfigError &&
      /"demo" must be true or false/.test(e.message),
  );
  await writeFile(file, "[capitalcom.options]\ntimeout = -1\n");
  await assert.rejects(
    () => loadCapitalComSettings(dir.path, {}, {}),
    (e: unknown) =>
      e instanceof ConfigError &&
      /"timeout" must be a positive number of seconds/.test(e.message),
  );
});

Deno.test("loadCapitalComSettings layers the file, the environment and the options", async () => {
  await using dir = await tempDir();
  await writeFile(
    join(dir.path, "capitalcom.toml"),
    `[capitalcom]
api_key = "file-key"
identifier = "file@example.com"
password = "file-pass"
demo = true

[capitalcom.options]
max_retries = 2
timeout = 7.5
`,
  );
  let s = await loadCapitalComSettings(dir.path, {}, {});
  assert.equal(s.apiKey, "file-key");
  assert.equal(s.baseUrl, CAPITALCOM_DEMO_URL);
  assert.equal(s.maxRetries, 2);
  assert.equal(s.timeoutMs, 7500);
  s = await loadCapitalComSettings(dir.path, {
    PYNE_CAPITALCOM_API_KEY: "env-key",
    PYNE_CAPITALCOM_PASSWORD: "env-pass",
    PYNE_CAPITALCOM_DEMO: "false",
  }, {});
  assert.equal(s.apiKey, "env-key");
  assert.equal(s.identifier, "file@example.com");
  assert.equal(s.password, "env-pass");
  assert.equal(s.baseUrl, CAPITALCOM_LIVE_URL);
  s = await loadCapitalComSettings(dir.path, {
    PYNE_CAPITALCOM_BASE_URL: "http://127.0.0.1:9/api/v1/",
  }, { apiKey: "option-key", maxRetries: 0 });
  assert.equal(s.apiKey, "option-key");
  assert.equal(s.baseUrl, "http://127.0.0.1:9");
  assert.equal(s.maxRetries, 0);
  await assert.rejects(
    () =>
      loadCapitalComSettings(dir.path, { PYNE_CAPITALCOM_DEMO: "maybe" }, {}),
    /PYNE_CAPITALCOM_DEMO must be true or false/,
  );
  await assert.rejects(
    () => loadCapitalComSettings(dir.path, {}, { baseUrl: "ftp://x" }),
    /must use http or https/,
  );
});

Deno.test("CapitalComProvider honours the older per-symbol config file", async () => {
  await using dir = await tempDir();
  await using emu = await startCapitalComEmulator({
    now: () => Date.UTC(2025, 0, 15),
    loginsPerSecond: Infinity,
  });
  // The main file has no credentials; the per-symbol file (PyneCore's key names) has them.
  await writeFile(
    join(dir.path, "capitalcom.toml"),
    `[capitalcom]\nbase_url = "${emu.url}"\n`,
  );
  await writeFile(
    join(dir.path, "capitalcom_EURUSD_60.toml"),
    `api_key = "${emu.credentials.apiKey}"
user_email = "${emu.credentials.identifier}"
api_password = "${emu.credentials.password}"
`,
  );
  await using p = new CapitalComProvider({
    configDir: dir.path,
    env: {},
    loginIntervalMs: 1,
  });
  const info = await p.symbolInfo("eurusd", parseTimeframe("H1"));
  assert.equal(info.ticker, "EURUSD");
  const batches = await Array.fromAsync(p.candles({
    symbol: "EURUSD",
    timeframe: parseTimeframe("60"),
    from: Date.UTC(2025, 0, 13),
    to: Date.UTC(2025, 0, 14),
  }));
  assert.equal(batches.reduce((n, b) => n + b.time.length, 0), 24);
  // Another timeframe has no per-symbol file: the main file's missing keys are named.
  await assert.rejects(
    () => p.symbolInfo("EURUSD", parseTimeframe("1D")),
    /credentials missing/,
  );
  await assert.rejects(() => p.listSymbols(), /credentials missing/);
});

Deno.test("CapitalComProvider writes no template when the credentials are passed in code", async () => {
  await using dir = await tempDir();
  await using emu = await startCapitalComEmulator({
    now: () => Date.UTC(2025, 0, 15),
  });
  const configDir = join(dir.path, "config");
  await using p = new CapitalComProvider({
    configDir,
    env: {},
    baseUrl: emu.url,
    ...emu.credentials,
  });
  assert.equal((await p.listSymbols({ search: "gold" })).length, 1);
  await assert.rejects(() => Deno.stat(configDir), Deno.errors.NotFound);
});
