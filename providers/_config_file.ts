/**
 * Provider configuration files: TOML read with line-numbered errors, and a
 * commented template written on first use.
 *
 * @module
 */

import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { parse, TomlError } from "smol-toml";
import { ProviderError } from "./provider.ts";

/** A parsed TOML table. */
export type ConfigTable = Record<string, unknown>;

/** Raised for a malformed configuration file; the message names the file and line. */
export class ConfigError extends ProviderError {
  /** The file at fault. */
  readonly path: string;

  /** Creates a configuration error. */
  constructor(message: string, path: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ConfigError";
    this.path = path;
  }
}

/**
 * Reads and parses a TOML file. Returns `undefined` when the file does not
 * exist; throws a {@linkcode ConfigError} naming the file and line when it is
 * malformed.
 */
export async function readTomlConfig(
  path: string,
): Promise<ConfigTable | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT") return undefined;
    throw new ConfigError(
      `Cannot read config file ${path}: ${(e as Error).message}`,
      path,
      {
        cause: e,
      },
    );
  }
  try {
    return parse(text) as ConfigTable;
  } catch (e) {
    if (e instanceof TomlError) {
      const first = e.message.split("\n")[0]!.replace(
        /^Invalid TOML document: /,
        "",
      );
      // No `cause`: the parser's error quotes the file around the fault, and
      // that line may hold a credential.
      throw new ConfigError(
        `Malformed config file ${path} at line ${e.line}, column ${e.column}: ${first}; fix the TOML syntax there`,
        path,
      );
    }
    throw e;
  }
}

/**
 * Reads a TOML config file, first writing `template` there when the file does
 * not exist yet (creating the folder). Returns the parsed table and whether the
 * template was just created.
 */
export async function loadOrCreateConfig(
  path: string,
  template: string,
): Promise<{ config: ConfigTable; created: boolean }> {
  const existing = await readTomlConfig(path);
  if (existing) return { config: existing, created: false };
  await mkdir(dirname(path), { recursive: true });
  try {
    await writeFile(path, template, { encoding: "utf8", flag: "wx" });
  } catch (e) {
    if ((e as { code?: string }).code !== "EEXIST") throw e;
  }
  return { config: (await readTomlConfig(path)) ?? {}, created: true };
}

/** A string value of a table, or `undefined`; throws a `ConfigError` for a wrong type. */
export function configString(
  table: ConfigTable | undefined,
  key: string,
  path: string,
): string | undefined {
  const v = table?.[key];
  if (v === undefined || v === "") return undefined;
  if (typeof v !== "string") {
    throw new ConfigError(
      `In ${path}: "${key}" must be a string, got ${typeof v}`,
      path,
    );
  }
  return v;
}

/** A number value of a table, or `undefined`; throws a `ConfigError` for a wrong type. */
export function configNumber(
  table: ConfigTable | undefined,
  key: string,
  path: string,
): number | undefined {
  const v = table?.[key];
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v)) {
    throw new ConfigError(
      `In ${path}: "${key}" must be a number, got ${JSON.stringify(v)}`,
      path,
    );
  }
  return v;
}

/** A boolean value of a table, or `undefined`; throws a `ConfigError` for a wrong type. */
export function configBoolean(
  table: ConfigTable | undefined,
  key: string,
  path: string,
): boolean | undefined {
  const v = table?.[key];
  if (v === undefined) return undefined;
  if (typeof v !== "boolean") {
    throw new ConfigError(
      `In ${path}: "${key}" must be true or false, got ${JSON.stringify(v)}`,
      path,
    );
  }
  return v;
}

/** A sub-table of a table, or `undefined`; throws a `ConfigError` for a wrong type. */
export function configTable(
  table: ConfigTable | undefined,
  key: string,
  path: string,
): ConfigTable | undefined {
  const v = table?.[key];
  if (v === undefined) return undefined;
  if (typeof v !== "object" || v === null || Array.isArray(v)) {
    throw new ConfigError(`In ${path}: [${key}] must be a table`, path);
  }
  return v as ConfigTable;
}
