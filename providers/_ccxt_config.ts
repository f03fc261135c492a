/**
 * Configuration of the ccxt provider: `config/ccxt.toml` (provider-wide
 * defaults plus one table per exchange), the older per-symbol override
 * `config/ccxt_<EXCHANGE>_<SYMBOL>_<TIMEFRAME>.toml`, and secrets from the
 * environment. Private to the ccxt provider.
 *
 * @module
 */

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  ConfigError,
  type ConfigTable,
  loadOrCreateConfig,
  readTomlConfig,
} from "./_config_file.ts";
import { fileSafeSymbol } from "../format/provider_string.ts";

/** Settings of one exchange, merged from every source. */
export interface ExchangeSettings {
  /** API key (secret: never logged). */
  apiKey?: string | undefined;
  /** API secret (secret: never logged). */
  secret?: string | undefined;
  /** API password / passphrase (secret: never logged). */
  password?: string | undefined;
  /** Use the exchange's sandbox/testnet. */
  sandbox?: boolean | undefined;
  /** ccxt `rateLimit`: ms per unit of request cost. */
  rateLimit?: number | undefined;
  /** Request timeout, ms. */
  timeout?: number | undefined;
  /** Origin every REST request goes to instead of the exchange's. */
  baseUrl?: string | undefined;
  /** Candles per request. */
  pageSize?: number | undefined;
  /** Pages fetched at once. */
  concurrency?: number | undefined;
  /** Options passed to the ccxt exchange (merged over ccxt's own). */
  options?: Record<string, unknown> | undefined;
  /** False: never read Binance's public data archives. */
  archive?: boolean | undefined;
  /** Origin of Binance's public data archives. */
  archiveUrl?: string | undefined;
}

/** The parsed `ccxt.toml`. */
export interface CcxtConfigFile {
  /** Path of the file. */
  readonly path: string;
  /** Provider-wide defaults (top-level keys). */
  readonly defaults: ExchangeSettings;
  /** Per-exchange tables, by lower-case exchange id. */
  readonly exchanges: ReadonlyMap<string, ExchangeSettings>;
  /** True when the template was just written. */
  readonly created: boolean;
}

/** The commented template written to `config/ccxt.toml` on first use. */
export const CCXT_CONFIG_TEMPLATE = `# pyne-data: ccxt provider configuration
#
# Top-level keys are defaults for every exchange; a table named after a ccxt
# exchange id ([binance], [bybit], [okx] ...) overrides them for that exchange.
# Every key is optional.
#
#   api_key, api_secret, password  credentials (only needed for private data;
#                                  candles are public). Prefer the environment:
#                                  PYNE_CCXT_<EXCHANGE>_API_KEY,
#                                  PYNE_CCXT_<EXCHANGE>_API_SECRET,
#                                  PYNE_CCXT_<EXCHANGE>_PASSWORD
#   sandbox = false                use the exchange's testnet
#   ratelimit = 50                 ccxt rateLimit: ms per unit of request cost
#   timeout = 10000                request timeout in ms
#   base_url = "http://127.0.0.1:8080"
#                                  send every REST request of the exchange to
#                                  this origin (mirror, proxy, emulator); paths
#                                  are kept
#   page_size = 1000               candles per request (default: Binance and
#                                  Bybit 1000, Kraken 720, OKX 100, others 200)
#   concurrency = 8                requests in flight per download (default 8;
#                                  ccxt's rate limiter still spaces them)
#   archive = true                 Binance: read closed months and days from
#                                  its public data archives when faster
#                                  (false: REST only, like --no-archive)
#   archive_url = "https://data.binance.vision"
#                                  origin of those archives (with base_url
#                                  set, the archive is used only with an
#                                  archive_url of its own)
#   [<exchange>.options]           options passed to ccxt as exchange.options
#
# The older per-symbol files config/ccxt_<EXCHANGE>_<SYMBOL>_<TIMEFRAME>.toml
# with [ccxt] (api_key, api_secret, sandbox, ratelimit) and [ccxt.options]
# tables still override these settings for that one download.

# concurrency = 8

# [binance]
# ratelimit = 50
# [binance.options]
# fetchMarkets = { types = ["spot"] }

# [bybit]
# api_key = ""
# api_secret = ""
`;

const ALLOWED_KEYS = new Set([
  "api_key",
  "api_secret",
  "password",
  "sandbox",
  "ratelimit",
  "timeout",
  "base_url",
  "page_size",
  "concurrency",
  "options",
  "archive",
  "archive_url",
]);

/** Finds the 1-based line of `key = ...` inside table `[table]` (or top level). */
function lineOf(
  text: string,
  table: string | undefined,
  key: string | undefined,
): number | undefined {
  const lines = text.split(/\r?\n/);
  let inTable = table === undefined;
  const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const header = table === undefined
    ? undefined
    : new RegExp(`^\\s*\\[\\s*"?${esc(table)}"?\\s*\\]`);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (/^\s*\[/.test(line)) {
      if (header && header.test(line)) {
        if (key === undefined) return i + 1;
        inTable = true;
        continue;
      }
      if (inTable && key !== undefined) {
        if (table === undefined) return undefined;
        inTable = false;
      }
      continue;
    }
    if (
      inTable && key !== undefined &&
      new RegExp(`^\\s*"?${esc(key)}"?\\s*=`).test(line)
    ) {
      return i + 1;
    }
  }
  return undefined;
}

function configError(
  path: string,
  text: string,
  table: string | undefined,
  key: string | undefined,
  problem: string,
): ConfigError {
  const line = lineOf(text, table, key);
  const where = line !== undefined ? ` at line ${line}` : "";
  return new ConfigError(
    `Malformed config file ${path}${where}: ${problem}`,
    path,
  );
}

/** Reads the settings of one table, checking keys and types. */
function readSettings(
  t: ConfigTable,
  path: string,
  text: string,
  table: string | undefined,
  allowed: ReadonlySet<string> = ALLOWED_KEYS,
): ExchangeSettings {
  const where = table === undefined ? "top level" : `[${table}]`;
  const out: ExchangeSettings = {};
  for (const [key, value] of Object.entries(t)) {
    if (
      table === undefined && typeof value === "object" && value !== null &&
      !Array.isArray(value) && key !== "options"
    ) {
      continue; // an exchange table
    }
    if (!allowed.has(key)) {
      throw configError(
        path,
        text,
        table,
        key,
        `unknown key "${key}" in ${where}; known keys are ${
          [...allowed].join(", ")
        }`,
      );
    }
    const bad = (expected: string) =>
      configError(
        path,
        text,
        table,
        key,
        `"${key}" in ${where} must be ${expected}`,
      );
    switch (key) {
      case "api_key":
      case "api_secret":
      case "password":
      case "archive_url":
      case "base_url": {
        if (typeof value !== "string") throw bad("a string");
        if (value === "") break;
        if (key === "api_key") out.apiKey = value;
        else if (key === "api_secret") out.secret = value;
        else if (key === "password") out.password = value;
        else {
          if (!/^https?:\/\/[^/\s@]+\/?$/i.test(value)) {
            throw bad(
              `an origin like "${
                key === "base_url"
                  ? "http://127.0.0.1:8080"
                  : "https://data.binance.vision"
              }" (scheme, host, port; no path, no user:password@), got ${
                JSON.stringify(value.replace(/\/\/[^/]*@/, "//***@"))
              }`,
            );
          }
          const origin = value.replace(/\/$/, "");
          if (key === "base_url") out.baseUrl = origin;
          else out.archiveUrl = origin;
        }
        break;
      }
      case "sandbox":
      case "archive":
        if (typeof value !== "boolean") throw bad("true or false");
        if (key === "sandbox") out.sandbox = value;
        else out.archive = value;
        break;
      case "ratelimit":
      case "timeout":
      case "page_size":
      case "concurrency": {
        if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
          throw bad(`a non-negative number, got ${JSON.stringify(value)}`);
        }
        if (
          (key === "page_size" || key === "concurrency") &&
          (!Number.isInteger(value) || value < 1)
        ) {
          throw bad(`a whole number of at least 1, got ${value}`);
        }
        if (key === "ratelimit") out.rateLimit = value;
        else if (key === "timeout") out.timeout = value;
        else if (key === "page_size") out.pageSize = value;
        else out.concurrency = value;
        break;
      }
      case "options":
        if (
          typeof value !== "object" || value === null || Array.isArray(value)
        ) {
          throw bad("a table");
        }
        out.options = value as Record<string, unknown>;
        break;
    }
  }
  return out;
}

/**
 * Loads `<configDir>/ccxt.toml`, writing the commented template first when it
 * does not exist and `create` is true. `knownExchanges` are the valid table
 * names (ccxt exchange ids).
 */
export async function loadCcxtConfig(
  configDir: string,
  knownExchanges: readonly string[],
  create: boolean,
): Promise<CcxtConfigFile> {
  const path = join(configDir, "ccxt.toml");
  let table: ConfigTable | undefined;
  let created = false;
  if (create) {
    const r = await loadOrCreateConfig(path, CCXT_CONFIG_TEMPLATE);
    table = r.config;
    created = r.created;
  } else {
    table = await readTomlConfig(path);
  }
  if (table === undefined) {
    return { path, defaults: {}, exchanges: new Map(), created };
  }
  const text = await readFile(path, "utf8").catch(() => "");
  const defaults = readSettings(table, path, text, undefined);
  const exchanges = new Map<string, ExchangeSettings>();
  const known = new Set(knownExchanges);
  const seen = new Map<string, string>(); // table name → exchange id
  for (const [key, value] of Object.entries(table)) {
    if (
      key === "options" || typeof value !== "object" || value === null ||
      Array.isArray(value)
    ) {
      continue;
    }
    const id = key.toLowerCase();
    if (!known.has(id)) {
      throw configError(
        path,
        text,
        key,
        undefined,
        `[${key}] is not a ccxt exchange id; list the valid ones with listSymbols() (CLI: pyne-data symbols ccxt)`,
      );
    }
    const earlier = [...seen.entries()].find(([, v]) => v === id)?.[0];
    if (earlier !== undefined) {
      throw configError(
        path,
        text,
        key,
        undefined,
        `[${key}] and [${earlier}] are the same exchange (table names are case-insensitive); merge them into one table`,
      );
    }
    seen.set(key, id);
    exchanges.set(id, readSettings(value as ConfigTable, path, text, key));
  }
  return { path, defaults, exchanges, created };
}

const LEGACY_KEYS = new Set([
  "exchange",
  "symbol",
  "timeframe",
  "api_key",
  "api_secret",
  "password",
  "sandbox",
  "ratelimit",
  "options",
]);

/**
 * Path of the older per-symbol config file:
 * `<configDir>/ccxt_<EXCHANGE>_<SYMBOL>_<TIMEFRAME>.toml`, for example
 * `ccxt_BYBIT_BTC_USDT_USDT_1D.toml`.
 */
export function legacyConfigPath(
  configDir: string,
  exchange: string,
  marketSymbol: string,
  period: string,
): string {
  return join(
    configDir,
    `ccxt_${fileSafeSymbol(`${exchange}:${marketSymbol}`)}_${period}.toml`,
  );
}

/**
 * Reads the older per-symbol override, or `undefined` when there is none. Its
 * `[ccxt]` table takes `exchange`, `symbol`, `timeframe` (informational),
 * `api_key`, `api_secret`, `password`, `sandbox`, `ratelimit`, and
 * `[ccxt.options]`.
 */
export async function loadLegacyOverride(
  path: string,
): Promise<ExchangeSettings | undefined> {
  const table = await readTomlConfig(path);
  if (table === undefined) return undefined;
  const text = await readFile(path, "utf8").catch(() => "");
  const ccxt = table["ccxt"];
  if (ccxt === undefined) return {};
  if (typeof ccxt !== "object" || ccxt === null || Array.isArray(ccxt)) {
    throw configError(path, text, undefined, "ccxt", "[ccxt] must be a table");
  }
  const t = { ...(ccxt as ConfigTable) };
  for (const k of ["exchange", "symbol", "timeframe"]) {
    if (t[k] !== undefined && typeof t[k] !== "string") {
      throw configError(
        path,
        text,
        "ccxt",
        k,
        `"${k}" in [ccxt] must be a string`,
      );
    }
    delete t[k];
  }
  return readSettings(t, path, text, "ccxt", LEGACY_KEYS);
}

/** Environment variable names of an exchange's secrets. */
export function secretEnvNames(
  exchange: string,
): { apiKey: string; secret: string; password: string } {
  const e = exchange.toUpperCase();
  return {
    apiKey: `PYNE_CCXT_${e}_API_KEY`,
    secret: `PYNE_CCXT_${e}_API_SECRET`,
    password: `PYNE_CCXT_${e}_PASSWORD`,
  };
}

/**
 * Merges settings, later layers winning (file defaults, the exchange's table,
 * the per-symbol override, programmatic settings); `options` tables are merged
 * key by key. Secrets from the environment win over every layer, so they can
 * stay out of files.
 */
export function mergeSettings(
  exchange: string,
  layers: ReadonlyArray<ExchangeSettings | undefined>,
  env: Readonly<Record<string, string | undefined>>,
): ExchangeSettings {
  const out: ExchangeSettings = {};
  let options: Record<string, unknown> = {};
  for (const layer of layers) {
    if (!layer) continue;
    for (const [k, v] of Object.entries(layer)) {
      if (v === undefined) continue;
      if (k === "options") {
        options = { ...options, ...(v as Record<string, unknown>) };
      } else {
        (out as Record<string, unknown>)[k] = v;
      }
    }
  }
  const names = secretEnvNames(exchange);
  const key = env[names.apiKey];
  const secret = env[names.secret];
  const password = env[names.password];
  if (key) out.apiKey = key;
  if (secret) out.secret = secret;
  if (password) out.password = password;
  if (Object.keys(options).length > 0) out.options = options;
  return out;
}
