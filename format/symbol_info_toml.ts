/**
 * Reads and writes PyneCore's symbol-info TOML (the `NAME.toml` beside each
 * `NAME.ohlcv`), including the `[download]` section holding the provider string.
 * What this module writes loads in PyneCore; what PyneCore writes loads here.
 *
 * @example
 * ```ts
 * import { parseSymbolInfoToml, sessions247, stringifySymbolInfo } from "@pyne/data/format";
 *
 * const text = stringifySymbolInfo({
 *   prefix: "BYBIT", description: "BTC / USDT", ticker: "BTCUSDT",
 *   currency: "USDT", basecurrency: "BTC", period: "1D", type: "crypto",
 *   mintick: 0.1, pricescale: 10, minmove: 1, pointvalue: 1,
 *   timezone: "UTC", volumetype: "base", ...sessions247(),
 * }, { provider: "ccxt:BYBIT:BTC/USDT:USDT@1D" });
 * const { info, provider } = parseSymbolInfoToml(text);
 * console.log(info.ticker, provider); // BTCUSDT ccxt:BYBIT:BTC/USDT:USDT@1D
 * ```
 *
 * @module
 */

import { readFile } from "node:fs/promises";
import { writeFileAtomic } from "./_atomic_file.ts";
import { parse as parseToml, stringify as stringifyToml } from "smol-toml";
import { FormatError } from "./format_error.ts";
import type { OpeningHours, SessionTime, SymbolInfo } from "./symbol_info.ts";
import { isTimeOfDay, isWeekday } from "./sessions.ts";
import {
  FIELD_KEYS,
  OPTIONAL_KEYS,
  SCHEDULES_COMMENT,
  STANDARD_TABLES,
  tomlKey,
  tomlString,
  tomlValue,
} from "./_symbol_info_layout.ts";
import {
  checkMintick,
  checkSymbolInfo,
  describe,
  isTable,
  type Table,
} from "./_symbol_info_check.ts";

/** Result of reading a symbol-info TOML. */
export interface SymbolInfoFile {
  /** The symbol information. */
  info: SymbolInfo;
  /** The `[download] provider` string, when the file has one. */
  provider?: string;
  /**
   * Further top-level TOML tables, as parsed (PyneCore's
   * `[[session_schedules]]`, `[session_corrections]`, ...). Pass them back to
   * {@linkcode stringifySymbolInfo} to keep them when rewriting the file.
   */
  extra?: Record<string, unknown>;
}

/** Options of {@linkcode stringifySymbolInfo} and {@linkcode writeSymbolInfo}. */
export interface StringifySymbolInfoOptions {
  /**
   * Provider string written to the `[download]` section
   * (`"ccxt:BYBIT:BTC/USDT:USDT@1D"`). No section when omitted.
   */
  provider?: string | undefined;
  /**
   * Further top-level tables to write after the standard sections (for
   * example the `extra` that {@linkcode parseSymbolInfoToml} returned).
   */
  extra?: Record<string, unknown> | undefined;
}

/**
 * Parses the text of a PyneCore symbol-info TOML. Throws a
 * {@linkcode FormatError} naming the file (when `path` is given) and the key
 * for invalid TOML, missing required keys, wrong types, a non-integer
 * pricescale/minmove, a mintick that is not `minmove / pricescale`, bad
 * `"HH:MM:SS"` times or weekdays outside 0..6.
 *
 * Keys PyneCore defaults are defaulted the same way: minmove 1, timezone
 * `"UTC"`, volumetype `"base"`. Further optional keys with values are kept in
 * `info.other` (snake_case names); commented-out keys are simply absent.
 */
export function parseSymbolInfoToml(
  text: string,
  path?: string,
): SymbolInfoFile {
  const where = path === undefined ? "symbol info TOML" : path;
  const fail = (msg: string, cause?: unknown): never => {
    throw new FormatError(
      `Cannot read ${where}: ${msg}`,
      cause === undefined
        ? (path === undefined ? {} : { path })
        : (path === undefined ? { cause } : { path, cause }),
    );
  };
  if (typeof text !== "string") {
    throw new TypeError(
      `Symbol info TOML must be a string, got ${typeof text}`,
    );
  }
  let doc: Table;
  try {
    doc = parseToml(text) as Table;
  } catch (e) {
    const { line, column } = e as { line?: unknown; column?: unknown };
    const at = typeof line === "number" && typeof column === "number"
      ? ` (line ${line}, column ${column})`
      : "";
    return fail(
      `invalid TOML${at}: ${
        (e as Error).message.split("\n")[0]!.replace(
          /^Invalid TOML document: /,
          "",
        )
      }`,
      e,
    );
  }
  const sym = doc.symbol;
  if (!isTable(sym)) {
    return fail(
      sym === undefined
        ? "missing [symbol] section"
        : `"symbol" must be a [symbol] table, got ${describe(sym)}`,
    );
  }
  const str = (key: string, required: boolean): string | undefined => {
    const v = sym[key];
    if (v === undefined) {
      if (required) fail(`missing required key symbol.${key}`);
      return undefined;
    }
    if (typeof v !== "string") {
      fail(`symbol.${key} must be a string, got ${describe(v)}`);
    }
    return v as string;
  };
  const num = (key: string, required: boolean): number | undefined => {
    const v = sym[key];
    if (v === undefined) {
      if (required) fail(`missing required key symbol.${key}`);
      return undefined;
    }
    if (typeof v === "bigint") return Number(v);
    if (typeof v !== "number") {
      fail(`symbol.${key} must be a number, got ${describe(v)}`);
    }
    return v as number;
  };
  const int = (key: string, required: boolean): number | undefined => {
    const v = num(key, required);
    if (v === undefined) return undefined;
    if (!Number.isInteger(v) || v < 1 || v > 0xffffffff) {
      fail(
        `symbol.${key} must be a whole number from 1 to 4294967295, got ${v}`,
      );
    }
    return v;
  };

  const prefix = str("prefix", true)!;
  const description = str("description", true)!;
  const ticker = str("ticker", true)!;
  const currency = str("currency", true)!;
  const basecurrency = str("basecurrency", false);
  const period = str("period", true)!;
  if (period === "") fail(`symbol.period must not be empty`);
  const type = str("type", true)!;
  const mintick = num("mintick", true)!;
  // 0 is allowed here only as PyneCore's eight-decimal rounding of a tick
  // below 5e-9 (checkMintick decides).
  if (!(mintick >= 0) || !Number.isFinite(mintick)) {
    fail(`symbol.mintick must be a positive number, got ${mintick}`);
  }
  const pricescale = int("pricescale", true)!;
  const minmove = int("minmove", false) ?? 1;
  checkMintick(mintick, minmove, pricescale, (m) => fail(m));

  const pointvalue = num("pointvalue", true)!;
  const mincontract = num("mincontract", false);
  const timezone = str("timezone", false) ?? "UTC";
  const volumetype = str("volumetype", false) ?? "base";
  const avgSpread = num("avg_spread", false);
  const takerFee = num("taker_fee", false);
  const makerFee = num("maker_fee", false);

  const other: Record<string, string | number | boolean | null> = {};
  for (const [key, v] of Object.entries(sym)) {
    if (FIELD_KEYS.has(key)) continue;
    if (
      typeof v === "string" || typeof v === "number" || typeof v === "boolean"
    ) {
      other[key] = v;
    } else if (typeof v === "bigint") {
      other[key] = Number(v);
    } else if (v instanceof Date) {
      other[key] = v.toISOString();
    } else {
      fail(
        `symbol.${key} must be a string, number or boolean, got ${describe(v)}`,
      );
    }
  }

  const entries = (name: string): Table[] => {
    const arr = doc[name];
    if (arr === undefined) return [];
    if (!Array.isArray(arr)) {
      return fail(
        `"${name}" must be an array of tables ([[${name}]]), got ${
          describe(arr)
        }`,
      );
    }
    return arr.map((e, i) =>
      isTable(e) ? e : fail(`${name}[${i}] must be a table, got ${describe(e)}`)
    );
  };
  const day = (e: Table, name: string, i: number): number => {
    const d = typeof e.day === "bigint" ? Number(e.day) : e.day;
    if (!isWeekday(d)) {
      fail(
        `${name}[${i}].day must be a weekday from 0 (Monday) to 6 (Sunday), got ${
          describe(e.day)
        }`,
      );
    }
    return d as number;
  };
  const time = (e: Table, key: string, name: string, i: number): string => {
    const t = e[key];
    if (!isTimeOfDay(t)) {
      fail(
        `${name}[${i}].${key} must be a time "HH:MM:SS" (00:00:00 to 23:59:59), got ${
          describe(t)
        }`,
      );
    }
    return t as string;
  };
  const openingHours: OpeningHours[] = entries("opening_hours").map((e, i) => ({
    day: day(e, "opening_hours", i),
    start: time(e, "start", "opening_hours", i),
    end: time(e, "end", "opening_hours", i),
  }));
  const sessionsOf = (name: string): SessionTime[] =>
    entries(name).map((e, i) => ({
      day: day(e, name, i),
      time: time(e, "time", name, i),
    }));
  const sessionStarts = sessionsOf("session_starts");
  const sessionEnds = sessionsOf("session_ends");

  let provider: string | undefined;
  if (doc.download !== undefined) {
    if (!isTable(doc.download)) {
      fail(
        `"download" must be a [download] table, got ${describe(doc.download)}`,
      );
    }
    const p = (doc.download as Table).provider;
    if (p !== undefined) {
      if (typeof p !== "string") {
        fail(`download.provider must be a string, got ${describe(p)}`);
      }
      provider = p as string;
    }
  }

  const extra: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(doc)) {
    if (!STANDARD_TABLES.has(key)) extra[key] = v;
  }

  const info: SymbolInfo = {
    prefix,
    description,
    ticker,
    currency,
    period,
    type,
    mintick,
    pricescale,
    minmove,
    pointvalue,
    timezone,
    volumetype,
    openingHours,
    sessionStarts,
    sessionEnds,
  };
  if (basecurrency !== undefined) info.basecurrency = basecurrency;
  if (mincontract !== undefined) info.mincontract = mincontract;
  if (avgSpread !== undefined) info.avgSpread = avgSpread;
  if (takerFee !== undefined) info.takerFee = takerFee;
  if (makerFee !== undefined) info.makerFee = makerFee;
  if (Object.keys(other).length > 0) info.other = other;
  const result: SymbolInfoFile = { info };
  if (provider !== undefined) result.provider = provider;
  if (Object.keys(extra).length > 0) result.extra = extra;
  return result;
}

/**
 * Serialises symbol info in PyneCore's layout: `[symbol]` with the keys in
 * PyneCore's order (unknown optional keys commented out as `#key =`), floats
 * with eight decimals (full precision when eight would change the value),
 * `[[opening_hours]]`, `[[session_starts]]`, `[[session_ends]]`, then
 * `[download] provider = "..."` when `options.provider` is given, then
 * PyneCore's commented `[[session_schedules]]` guide.
 *
 * Throws a `TypeError` for wrong shapes and a `RangeError` for out-of-range
 * values (non-integer grid, mintick not `minmove / pricescale`, bad times or
 * weekdays, an invalid period), so every file written loads in PyneCore.
 */
export function stringifySymbolInfo(
  info: SymbolInfo,
  options: StringifySymbolInfoOptions = {},
): string {
  checkSymbolInfo(info);
  if (options.provider !== undefined && typeof options.provider !== "string") {
    throw new TypeError(
      `provider must be a string, got ${typeof options.provider}`,
    );
  }
  const lines: string[] = ["[symbol]"];
  const field = (
    key: string,
    v: string | number | boolean | null | undefined,
  ) => {
    if (v === undefined || v === null) lines.push(`#${key} =`);
    else lines.push(`${tomlKey(key)} = ${tomlValue(key, v)}`);
  };
  const other = info.other ?? {};
  field("prefix", info.prefix);
  field("description", info.description);
  field("ticker", info.ticker);
  field("currency", info.currency);
  field("basecurrency", info.basecurrency);
  field("period", info.period);
  field("type", info.type);
  field("mintick", info.mintick);
  field("pricescale", info.pricescale);
  field("minmove", info.minmove ?? 1);
  field("pointvalue", info.pointvalue);
  field("mincontract", info.mincontract);
  field("timezone", info.timezone ?? "UTC");
  field("volumetype", info.volumetype ?? "base");
  for (const key of OPTIONAL_KEYS) {
    if (key === "avg_spread") field(key, info.avgSpread);
    else if (key === "taker_fee") field(key, info.takerFee);
    else if (key === "maker_fee") field(key, info.makerFee);
    else field(key, other[key]);
  }
  const known = new Set<string>([...FIELD_KEYS, ...OPTIONAL_KEYS]);
  for (const [key, v] of Object.entries(other)) {
    if (!known.has(key)) field(key, v);
  }
  lines.push("", "# Opening hours");
  for (const oh of info.openingHours) {
    lines.push(
      "[[opening_hours]]",
      `day = ${oh.day}`,
      `start = "${oh.start}"`,
      `end = "${oh.end}"`,
      "",
    );
  }
  lines.push("# Session starts");
  for (const s of info.sessionStarts) {
    lines.push(
      "[[session_starts]]",
      `day = ${s.day}`,
      `time = "${s.time}"`,
      "",
    );
  }
  lines.push("# Session ends");
  for (const s of info.sessionEnds) {
    lines.push("[[session_ends]]", `day = ${s.day}`, `time = "${s.time}"`, "");
  }
  if (options.provider !== undefined) {
    lines.push("[download]", `provider = ${tomlString(options.provider)}`, "");
  }
  let head = "";
  let tail = "";
  if (options.extra !== undefined) {
    if (!isTable(options.extra)) {
      throw new TypeError(`extra must be an object of TOML tables`);
    }
    for (const key of Object.keys(options.extra)) {
      if (STANDARD_TABLES.has(key)) {
        throw new TypeError(
          `extra must not contain "${key}": that section is written from the symbol info`,
        );
      }
    }
    // Keys that are not tables belong before the first table: written after
    // the last one they would land inside it (and be lost on the next read).
    const keys: Record<string, unknown> = {};
    const tables: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(options.extra)) {
      const table = isTable(v) ||
        (Array.isArray(v) && v.length > 0 && v.every(isTable));
      (table ? tables : keys)[k] = v;
    }
    try {
      if (Object.keys(keys).length > 0) head = stringifyToml(keys) + "\n";
      if (Object.keys(tables).length > 0) {
        tail = "\n" + stringifyToml(tables);
      }
    } catch (e) {
      throw new TypeError(
        `extra cannot be written as TOML: ${(e as Error).message}`,
        { cause: e },
      );
    }
  }
  return head + lines.join("\n") + "\n" + SCHEDULES_COMMENT + tail;
}

/**
 * Reads and parses a symbol-info TOML file. Throws a {@linkcode FormatError}
 * naming the file and the key when the content is invalid; file-system errors
 * (for example `ENOENT`) propagate unchanged.
 */
export async function readSymbolInfo(path: string): Promise<SymbolInfoFile> {
  const text = await readFile(path, "utf8");
  return parseSymbolInfoToml(text, path);
}

/**
 * Writes a symbol-info TOML atomically: the text goes to a temporary file in
 * the same folder, is flushed to disk, and is renamed over `path`, so readers
 * see either the old file or the complete new one. Validates like
 * {@linkcode stringifySymbolInfo}; nothing is written when validation fails.
 */
export async function writeSymbolInfo(
  path: string,
  info: SymbolInfo,
  options: StringifySymbolInfoOptions = {},
): Promise<void> {
  const text = stringifySymbolInfo(info, options);
  await writeFileAtomic(path, text);
}

/** Returns the `NAME.toml` path that belongs to `NAME.ohlcv`. */
export function symbolInfoPath(ohlcvPath: string): string {
  return ohlcvPath.replace(/\.ohlcv$/i, "") + ".toml";
}
