/**
 * The effective settings of one exchange, layered from every source: the
 * defaults and the exchange's table of `ccxt.toml` (loaded once), the older
 * per-symbol override file, the provider's `baseUrl`, its programmatic
 * `exchanges` settings, and secrets from the environment. Private to the
 * ccxt provider.
 *
 * @module
 */

import {
  type CcxtConfigFile,
  type ExchangeSettings,
  legacyConfigPath,
  loadCcxtConfig,
  loadLegacyOverride,
  mergeSettings,
  secretEnvNames,
} from "./_ccxt_config.ts";
import { envReadable, processEnv } from "./_ccxt_env.ts";

/** Options of {@linkcode CcxtSettingsSource}. */
export interface CcxtSettingsSourceOptions {
  /** Folder of `ccxt.toml` and the per-symbol files. */
  readonly configDir: string;
  /** Write `ccxt.toml` as a commented template when it is missing. */
  readonly createConfig: boolean;
  /** Origin of every exchange (the provider's `baseUrl`). */
  readonly baseUrl?: string | undefined;
  /** Settings per exchange id, applied over the config files. */
  readonly exchanges?: Readonly<Record<string, object>> | undefined;
  /**
   * Environment to take secrets from. Unset: the process environment, read
   * only where that cannot prompt for a permission.
   */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined;
  /** Every ccxt exchange id (for the config file's table names). */
  readonly exchangeIds: () => Promise<string[]>;
  /** Progress lines. */
  readonly log: (line: string) => void;
}

/** Loads the config once and resolves the settings of each exchange. */
export class CcxtSettingsSource {
  readonly #options: CcxtSettingsSourceOptions;
  readonly #env: Readonly<Record<string, string | undefined>>;
  #config: Promise<CcxtConfigFile> | undefined;

  /** Reads nothing yet. */
  constructor(options: CcxtSettingsSourceOptions) {
    this.#options = options;
    this.#env = options.env ?? processEnv();
  }

  /** The parsed `ccxt.toml` (written as a template first when asked). */
  async config(): Promise<CcxtConfigFile> {
    this.#config ??= (async () => {
      const ids = await this.#options.exchangeIds();
      const cfg = await loadCcxtConfig(
        this.#options.configDir,
        ids,
        this.#options.createConfig,
      );
      if (cfg.created) {
        this.#options.log(`Created the ccxt config template ${cfg.path}`);
      }
      return cfg;
    })();
    try {
      return await this.#config;
    } catch (e) {
      this.#config = undefined;
      throw e;
    }
  }

  /** Effective settings of an exchange (plus a per-symbol override). */
  async settings(
    exchange: string,
    symbol?: { market: string; period: string },
  ): Promise<ExchangeSettings> {
    const o = this.#options;
    const cfg = await this.config();
    let legacy: ExchangeSettings | undefined;
    if (symbol) {
      const path = legacyConfigPath(
        o.configDir,
        exchange,
        symbol.market,
        symbol.period,
      );
      legacy = await loadLegacyOverride(path);
      if (legacy) o.log(`Using the per-symbol ccxt config ${path}`);
    }
    const programmatic = o.exchanges?.[exchange] ??
      Object.entries(o.exchanges ?? {}).find(([k]) =>
        k.toLowerCase() === exchange
      )?.[1];
    const layers: Array<ExchangeSettings | undefined> = [
      cfg.defaults,
      cfg.exchanges.get(exchange),
      legacy,
      o.baseUrl !== undefined ? { baseUrl: o.baseUrl } : undefined,
      programmatic as ExchangeSettings | undefined,
    ];
    const env: Record<string, string | undefined> = {};
    for (const name of Object.values(secretEnvNames(exchange))) {
      // The process environment is read only where that cannot prompt.
      if (o.env === undefined && !envReadable(name)) continue;
      try {
        env[name] = this.#env[name];
      } catch {
        // no permission to read the environment: no secrets from it
      }
    }
    const merged = mergeSettings(exchange, layers, env);
    if (merged.baseUrl !== undefined) {
      merged.baseUrl = merged.baseUrl.replace(/\/+$/, "");
    }
    return merged;
  }
}
