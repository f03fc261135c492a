/**
 * The provider registry: find providers by name (case-insensitive, with
 * aliases), list them, register your own. Built-in providers are loaded
 * lazily with a dynamic `import()`, so importing this module (or `mod.ts`)
 * never loads ccxt.
 *
 * Built-ins: `ccxt` (alias `CCXTProvider`) and `capitalcom` (alias
 * `CapitalComProvider`). Loading the test kit (`@pyne/data/testing`) adds
 * `memory` (alias `MemoryProvider`), its deterministic in-memory provider.
 *
 * @example
 * ```ts
 * import { listProviders, openProvider } from "@pyne/data";
 * import "@pyne/data/testing"; // registers the in-memory provider
 *
 * console.log(listProviders().map((p) => p.name)); // ["capitalcom", "ccxt", "memory"]
 * await using memory = await openProvider("MemoryProvider");
 * console.log(memory.name); // "memory"
 * ```
 *
 * @module
 */

import type { Provider, ProviderOptions } from "./provider.ts";
import {
  addProviderEntry,
  lookupProviderEntry,
  type ProviderEntry,
  registeredProviderEntries,
  removeProviderEntry,
} from "./_provider_entries.ts";

export type { ProviderEntry } from "./_provider_entries.ts";

/** What {@linkcode listProviders} returns for one provider. */
export interface ProviderListing {
  /** Registry name. */
  readonly name: string;
  /** Other accepted names. */
  readonly aliases: readonly string[];
  /** One line description. */
  readonly description: string;
  /** True for the providers that ship with the library. */
  readonly builtin: boolean;
}

/** Options for {@linkcode registerProvider}. */
export interface RegisterProviderOptions {
  /** Replace an entry that already has this name or alias. @default {false} */
  readonly replace?: boolean | undefined;
}

/**
 * Registers a provider under its name and aliases. Throws a `RangeError` when
 * a name is taken (unless `replace`) or invalid, a `TypeError` for a bad entry.
 */
export function registerProvider(
  entry: ProviderEntry,
  options: RegisterProviderOptions = {},
): void {
  addProviderEntry(entry, false, options.replace ?? false);
}

/** Removes a registered provider by name or alias; returns whether it existed. */
export function unregisterProvider(name: string): boolean {
  const found = lookupProviderEntry(name);
  if (found === undefined) return false;
  removeProviderEntry(found.entry.name.toLowerCase());
  return true;
}

/** The registered providers, sorted by name. */
export function listProviders(): ProviderListing[] {
  return registeredProviderEntries()
    .map(({ entry, builtin }) => ({
      name: entry.name,
      aliases: [...(entry.aliases ?? [])],
      description: entry.description ?? "",
      builtin,
    }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** The registry entry for a name or alias (case-insensitive), if any. */
export function findProvider(name: string): ProviderEntry | undefined {
  return lookupProviderEntry(name)?.entry;
}

/**
 * Opens a provider by name or alias (case-insensitive). Throws a
 * `RangeError` listing the known names when there is no such provider.
 */
export async function openProvider(
  name: string,
  options: ProviderOptions = {},
): Promise<Provider> {
  if (typeof name !== "string") {
    throw new TypeError(
      `openProvider: the name must be a string, got ${typeof name}`,
    );
  }
  const entry = findProvider(name);
  if (entry === undefined) {
    const known = listProviders().map((p) => p.name).join(", ");
    throw new RangeError(
      `Unknown provider "${name}": available providers are ${known}`,
    );
  }
  return await entry.open(options);
}

addProviderEntry(
  {
    name: "ccxt",
    aliases: ["CCXTProvider"],
    description:
      "Crypto exchanges through ccxt (BINANCE:BTC/USDT, BYBIT:BTC/USDT:USDT, ...)",
    open: async (options) =>
      new (await import("./ccxt.ts")).CCXTProvider(options),
  },
  true,
  false,
);
addProviderEntry(
  {
    name: "capitalcom",
    aliases: ["CapitalComProvider"],
    description: "Capital.com: stocks, forex, indices and commodities",
    open: async (options) =>
      new (await import("./capitalcom.ts")).CapitalComProvider(options),
  },
  true,
  false,
);
