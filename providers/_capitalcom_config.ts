/**
 * Capital.com settings: `config/capitalcom.toml` (created as a commented
 * template on first use), the older per-symbol files
 * `config/capitalcom_<SYMBOL>_<TIMEFRAME>.toml`, environment variables and
 * constructor options, in rising precedence.
 *
 * @module
 */

import { join } from "node:path";
import {
  configBoolean,
  ConfigError,
  configNumber,
  configString,
  type ConfigTable,
  configTable,
  loadOrCreateConfig,
  readTomlConfig,
} from "./_config_file.ts";
import { ProviderError } from "./provider.ts";

/** Live API host. */
export const CAPITALCOM_LIVE_URL = "https://api-capital.backend-capital.com";
/** Demo API host. */
export const CAPITALCOM_DEMO_URL =
  "https://demo-api-capital.backend-capital.com";

/** Environment variables read for Capital.com settings. */
export const CAPITALCOM_ENV = {
  apiKey: "PYNE_CAPITALCOM_API_KEY",
  identifier: "PYNE_CAPITALCOM_IDENTIFIER",
  password: "PYNE_CAPITALCOM_PASSWORD",
  demo: "PYNE_CAPITALCOM_DEMO",
  baseUrl: "PYNE_CAPITALCOM_BASE_URL",
} as const;

/** The file name of the main config file inside the config folder. */
export const CAPITALCOM_CONFIG_FILE = "capitalcom.toml";

/** The commented template written on first use. */
export const CAPITALCOM_CONFIG_TEMPLATE = `# Capital.com settings for pyne-data.
#
# Fill in the three credentials below, or set the environment variables
#   PYNE_CAPITALCOM_API_KEY, PYNE_CAPITALCOM_IDENTIFIER, PYNE_CAPITALCOM_PASSWORD
# (optional: PYNE_CAPITALCOM_DEMO=true, PYNE_CAPITALCOM_BASE_URL=...), which take
# precedence over this file. Keep this file private: it holds secrets.

[capitalcom]
# The API key generated in Capital.com under Settings > API integrations.
api_key = ""
# Your Capital.com login (the account e-mail address).
identifier = ""
# The API key's own password (set when the key was generated).
password = ""
# true: use the demo host (demo-api-capital.backend-capital.com).
demo = false
# Overrides the host, for a proxy or the loopback emulator.
#base_url = "http://127.0.0.1:8080"
# true: send the password RSA-encrypted (GET /session/encryptionKey first).
encrypted_password = false

[capitalcom.options]
# Retries of a failed request (rate limit, timeout, HTTP 5xx) before giving up.
max_retries = 5
# Seconds to wait for one HTTP response.
timeout = 30
`;

/** Settings as passed to the constructor (highest precedence). */
export interface CapitalComSettingOverrides {
  /** API key. */
  readonly apiKey?: string | undefined;
  /** Login (e-mail). */
  readonly identifier?: string | undefined;
  /** API key password. */
  readonly password?: string | undefined;
  /** Use the demo host. */
  readonly demo?: boolean | undefined;
  /** Host override. */
  readonly baseUrl?: string | undefined;
  /** Send the password encrypted. */
  readonly encryptPassword?: boolean | undefined;
  /** Retries. */
  readonly maxRetries?: number | undefined;
  /** Per-request timeout, ms. */
  readonly timeoutMs?: number | undefined;
}

/** Resolved settings. */
export interface CapitalComSettings {
  /** API key, when set anywhere. */
  apiKey: string | undefined;
  /** Login, when set anywhere. */
  identifier: string | undefined;
  /** API key password, when set anywhere. */
  password: string | undefined;
  /** Origin to send requests to (no trailing slash). */
  baseUrl: string;
  /** Send the password encrypted. */
  encryptPassword: boolean;
  /** Retries after the first attempt. */
  maxRetries: number;
  /** Per-request timeout, ms. */
  timeoutMs: number;
  /** Path of the main config file. */
  configPath: string;
  /** Path of the per-symbol file that was read, if any. */
  symbolConfigPath: string | undefined;
}

/** Credentials, all present. */
export interface CapitalComCredentials {
  /** API key. */
  readonly apiKey: string;
  /** Login. */
  readonly identifier: string;
  /** API key password. */
  readonly password: string;
}

interface Layer {
  apiKey?: string | undefined;
  identifier?: string | undefined;
  password?: string | undefined;
  demo?: boolean | undefined;
  baseUrl?: string | undefined;
  encryptPassword?: boolean | undefined;
  maxRetries?: number | undefined;
  timeoutMs?: number | undefined;
}

function layerFromTable(
  root: ConfigTable | undefined,
  path: string,
  allowTopLevel: boolean,
): Layer {
  let table = configTable(root, "capitalcom", path);
  if (!table && allowTopLevel) table = root;
  const options = configTable(table, "options", path);
  const timeout = configNumber(options, "timeout", path);
  if (timeout !== undefined && !(timeout > 0)) {
    throw new ConfigError(
      `In ${path}: "timeout" must be a positive number of seconds, got ${timeout}`,
      path,
    );
  }
  const maxRetries = configNumber(options, "max_retries", path);
  if (
    maxRetries !== undefined &&
    (!Number.isInteger(maxRetries) || maxRetries < 0)
  ) {
    throw new ConfigError(
      `In ${path}: "max_retries" must be a whole number 0 or more, got ${maxRetries}`,
      path,
    );
  }
  return {
    // PyneCore's older names are accepted too.
    apiKey: configString(table, "api_key", path),
    identifier: configString(table, "identifier", path) ??
      configString(table, "user_email", path),
    password: configString(table, "password", path) ??
      configString(table, "api_password", path),
    demo: configBoolean(table, "demo", path),
    baseUrl: configString(table, "base_url", path),
    encryptPassword: configBoolean(table, "encrypted_password", path),
    maxRetries,
    timeoutMs: timeout === undefined ? undefined : timeout * 1000,
  };
}

function envBoolean(
  name: string,
  value: string | undefined,
): boolean | undefined {
  if (value === undefined || value === "") return undefined;
  const v = value.trim().toLowerCase();
  if (["1", "true", "yes", "on"].includes(v)) return true;
  if (["0", "false", "no", "off"].includes(v)) return false;
  throw new ProviderError(
    `Environment variable ${name} must be true or false, got ${
      JSON.stringify(value)
    }`,
  );
}

function merge(target: Layer, layer: Layer): void {
  for (const [k, v] of Object.entries(layer)) {
    if (v !== undefined) (target as Record<string, unknown>)[k] = v;
  }
}

/** The per-symbol config file name of the older layout. */
export function symbolConfigFileName(symbol: string, period: string): string {
  return `capitalcom_${symbol.toUpperCase()}_${period}.toml`;
}

/**
 * Reads the main config file (creating the template when missing), the
 * per-symbol file when `symbol` and `period` are given and it exists, the
 * environment and the overrides.
 */
export async function loadCapitalComSettings(
  configDir: string,
  env: Readonly<Record<string, string | undefined>>,
  overrides: CapitalComSettingOverrides,
  symbol?: string,
  period?: string,
  log?: (line: string) => void,
): Promise<CapitalComSettings> {
  const configPath = join(configDir, CAPITALCOM_CONFIG_FILE);
  let config = await readTomlConfig(configPath);
  const given = overrides.apiKey && overrides.identifier && overrides.password;
  if (config === undefined && !given) {
    // First use: leave a commented template to fill in. Credentials passed
    // in code need no file (and may run without write permission).
    try {
      config =
        (await loadOrCreateConfig(configPath, CAPITALCOM_CONFIG_TEMPLATE))
          .config;
    } catch (e) {
      if (e instanceof ConfigError) throw e;
      log?.(
        `could not write the config template ${configPath}: ${
          (e as Error).message
        }`,
      );
    }
  }
  const layer: Layer = {};
  merge(layer, layerFromTable(config, configPath, false));
  let symbolConfigPath: string | undefined;
  if (symbol !== undefined && period !== undefined) {
    const path = join(configDir, symbolConfigFileName(symbol, period));
    const table = await readTomlConfig(path);
    if (table) {
      symbolConfigPath = path;
      merge(layer, layerFromTable(table, path, true));
    }
  }
  merge(layer, {
    apiKey: env[CAPITALCOM_ENV.apiKey] || undefined,
    identifier: env[CAPITALCOM_ENV.identifier] || undefined,
    password: env[CAPITALCOM_ENV.password] || undefined,
    demo: envBoolean(CAPITALCOM_ENV.demo, env[CAPITALCOM_ENV.demo]),
    baseUrl: env[CAPITALCOM_ENV.baseUrl] || undefined,
  });
  merge(layer, { ...overrides });
  let baseUrl = layer.baseUrl ??
    (layer.demo ? CAPITALCOM_DEMO_URL : CAPITALCOM_LIVE_URL);
  let parsed: URL;
  try {
    parsed = new URL(baseUrl);
  } catch {
    throw new ProviderError(
      `Capital.com base_url is not a valid URL; set it to something like http://127.0.0.1:8080 (in ${configPath}, or ${CAPITALCOM_ENV.baseUrl})`,
    );
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new ProviderError(
      `Capital.com base_url must use http or https, got ${parsed.protocol}`,
    );
  }
  baseUrl = baseUrl.replace(/\/+$/, "").replace(/\/api\/v1$/, "");
  return {
    apiKey: layer.apiKey,
    identifier: layer.identifier,
    password: layer.password,
    baseUrl,
    encryptPassword: layer.encryptPassword ?? false,
    maxRetries: layer.maxRetries ?? 5,
    timeoutMs: layer.timeoutMs ?? 30_000,
    configPath,
    symbolConfigPath,
  };
}

const KEY_INFO = [
  ["apiKey", "api_key", CAPITALCOM_ENV.apiKey],
  ["identifier", "identifier", CAPITALCOM_ENV.identifier],
  ["password", "password", CAPITALCOM_ENV.password],
] as const;

/** `a`, `a and b`, `a, b and c`. */
function listing(items: readonly string[]): string {
  return items.length < 2
    ? items.join("")
    : `${items.slice(0, -1).join(", ")} and ${items.at(-1)}`;
}

/**
 * The credentials, or a one-line `ProviderError` naming each missing key, the
 * file to set it in and the environment variable that can carry it instead.
 */
export function requireCredentials(
  settings: CapitalComSettings,
): CapitalComCredentials {
  const missing = KEY_INFO.filter(([field]) => !settings[field]);
  if (missing.length > 0) {
    const keys = listing(missing.map(([, key]) => key));
    const vars = listing(missing.map(([, , envName]) => envName));
    const one = missing.length === 1;
    throw new ProviderError(
      `Capital.com credentials missing: set ${keys} in the [capitalcom] table of ${settings.configPath}, or the environment variable${
        one ? "" : "s"
      } ${vars}`,
      { code: "credentials.missing" },
    );
  }
  return {
    apiKey: settings.apiKey!,
    identifier: settings.identifier!,
    password: settings.password!,
  };
}
