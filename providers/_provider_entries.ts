/**
 * The registry's table of providers, shared by `registry.ts` (the public
 * functions and the built-ins it loads lazily) and the test kit, which adds
 * the in-memory provider when it is loaded. Private.
 *
 * @module
 */

import type { Provider, ProviderOptions } from "./provider.ts";

/** A provider the registry can open (re-exported by `registry.ts`). */
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

/** A registered entry. */
export interface Registered {
  entry: ProviderEntry;
  builtin: boolean;
}

const entries = new Map<string, Registered>(); // by lower-case name
const names = new Map<string, string>(); // lower-case name or alias → lower-case name

const NAME_RE = /^[A-Za-z][A-Za-z0-9_.-]*$/;

/** Adds an entry; `builtin` marks the providers that ship with the library. */
export function addProviderEntry(
  entry: ProviderEntry,
  builtin: boolean,
  replace: boolean,
): void {
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
  for (const owner of clashes) removeProviderEntry(owner);
  entries.set(key, { entry, builtin });
  for (const n of all) names.set(n.toLowerCase(), key);
}

/** Removes the entry with this lower-case name and its aliases. */
export function removeProviderEntry(key: string): void {
  entries.delete(key);
  for (const [n, owner] of [...names]) if (owner === key) names.delete(n);
}

/** The entry a name or alias (case-insensitive) finds, if any. */
export function lookupProviderEntry(name: string): Registered | undefined {
  const key = names.get(String(name).toLowerCase());
  return key === undefined ? undefined : entries.get(key);
}

/** Every registered entry, in registration order. */
export function registeredProviderEntries(): Registered[] {
  return [...entries.values()];
}
