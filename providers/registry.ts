/**
 * The provider registry: find providers by name (case-insensitive, with
 * aliases), list them, register your own. Built-in providers are loaded
 * lazily with a dynamic `import()`, so importing this module (or `mod.ts`)
 * never loads ccxt.
 *
 * Built-ins: `ccxt` (alias `CCXTProvider`), `capitalcom` (alias
 * `CapitalComProvider`) and `memory` (alias `MemoryProvider`, the
 * deterministic in-memory provider of `testing/`).
 *
 * @example
 * ```ts
 * import { listProviders, openProvider, registerProvider } from "@pyne/data";
 *
 * console.log(listProviders().map((p) => p.name)); // ["capitalcom", "ccxt", "memory"]
 * await using memory = await openProvider("MemoryProvider");
 * console.log(memory.name); // "memory"
 * ```
 *
 * @module
 */

import type { Provider, ProviderOptions } from "./provider.ts";

/** A provider the registry can open. */
export interface ProviderEntry {
  /** Registry name, for example `"ccxt"` (matched case-insensitively). */
  readonly name: string;
  /** Other names that find it, for example `["CCXTProvider"]`. @default {[]} */
  readonly aliases?: readonly string[] | undefined;
  /** One line for listings. @default {""} */
  readonly description?: string | undefined;
  /**
   * Creates the provider. Load heavy code here with a dynamic `import()` so
   * registering stays cheap.
   */
  readonly open: (options: ProviderOptions) => Provider | Promise<Provider>;
}

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

interface Registered {
  entry: ProviderEntry;
  builtin: boolean;
}

const entries = new Map<string, Registered>(); // by lower-case name
const names = new Map<string, string>(); // lower-case name or alias → lower-case name

const NAME_RE = /^[A-Za-z][A-Za-z0-9_.-]*$/;

function add(entry: ProviderEntry, builtin: boolean, replace: boolean): void {
  if (typeof entry !== "object" || entry === null) {
    throw new TypeError(`registerProvider: expected an entry object`);
  }
  if (typeof entry.open !== "function") {
    throw new TypeError(
      `registerProvider: entry "${entry.name}" needs an "open" function`,
    );
  }
  const all = [entry.name, ...(entry.aliases ?? [])];
  for (const n of all) {
    if (typeof n !== "string" || !NAME_RE.test(n)) {
      throw new RangeError(
        `registerProvider: invalid provider name ${
          JSON.stringify(n)
        }; use letters, digits, "_", "." or "-", starting with a letter`,
      );
    }
  }
  const key = entry.name.toLowerCase();
  const clashes = new Set<string>();
  for (const n of all) {
    const owner = names.get(n.toLowerCase());
    if (owner !== undefined) clashes.add(owner);
  }
  if (clashes.size > 0 && !replace) {
    throw new RangeError(
      `registerProvider: the name "${entry.name}" (or an alias) is already registered by "${
        [...clashes][0]
      }"; pass { replace: true } to replace it`,
    );
  }
  for (const owner of clashes) remove(owner);
  entries.set(key, { entry, builtin });
  for (const n of all) names.set(n.toLowerCase(), key);
}

function remove(key: string): void {
  entries.delete(key);
  for (const [n, owner] of [...names]) if (owner === key) names.delete(n);
}

/**
 * Registers a provider under its name and aliases. Throws a `RangeError` when
 * a name is taken (unless `replace`) or invalid, a `TypeError` for a bad entry.
 */
export function registerProvider(
  entry: ProviderEntry,
  options: RegisterProviderOptions = {},
): void {
  add(entry, false, options.replace ?? false);
}

/** Removes a registered provider by name or alias; returns whether it existed. */
export function unregisterProvider(name: string): boolean {
  const key = names.get(String(name).toLowerCase());
  if (key === undefined) return false;
  remove(key);
  return true;
}

/** The registered providers, sorted by name. */
export function listProviders(): ProviderListing[] {
  return [...entries.values()]
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
  const key = names.get(String(name).toLowerCase());
  return key === undefined ? undefined : entries.get(key)?.entry;
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

add(
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
add(
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
add(
  {
    name: "memory",
    aliases: ["MemoryProvider"],
    description: "Deterministic in-memory candles, for tests and offline demos",
    open: async (options) =>
      new (await import("../testing/memory_provider.ts")).MemoryProvider(
        options,
      ),
  },
  true,
  false,
);
