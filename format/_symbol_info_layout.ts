/**
 * Private: PyneCore's symbol-info TOML layout — the keys of `[symbol]` and
 * their order, which of them are floats, the standard top-level tables, the
 * `[[session_schedules]]` guide, and how keys and values are written.
 *
 * @module
 */

import { stringify as stringifyToml } from "smol-toml";

/** Top-level keys the standard layout writes itself. */
export const STANDARD_TABLES = new Set([
  "symbol",
  "opening_hours",
  "session_starts",
  "session_ends",
  "download",
]);

/** Required keys of `[symbol]`, as PyneCore's loader needs them. */
export const REQUIRED_STRING_KEYS = [
  "prefix",
  "description",
  "ticker",
  "currency",
  "period",
  "type",
] as const;

/**
 * Optional keys PyneCore knows, in the order PyneCore writes them after
 * `volumetype`. Unknown ones are written commented out (`#key =`).
 * The first three map to {@linkcode SymbolInfo} fields; the rest live in `other`.
 */
export const OPTIONAL_KEYS = [
  "avg_spread",
  "taker_fee",
  "maker_fee",
  "country",
  "sector",
  "industry",
  "isin",
  "expiration_date",
  "current_contract",
  "employees",
  "shareholders",
  "shares_outstanding_total",
  "shares_outstanding_float",
  "recommendations_buy",
  "recommendations_buy_strong",
  "recommendations_date",
  "recommendations_hold",
  "recommendations_sell",
  "recommendations_sell_strong",
  "recommendations_total",
  "target_price_average",
  "target_price_high",
  "target_price_low",
  "target_price_median",
  "target_price_date",
  "target_price_estimates",
] as const;

/** Keys PyneCore types as float: written with a decimal point. */
export const FLOAT_KEYS = new Set<string>([
  "mintick",
  "pointvalue",
  "mincontract",
  "avg_spread",
  "taker_fee",
  "maker_fee",
  "target_price_average",
  "target_price_high",
  "target_price_low",
  "target_price_median",
]);

/** `[symbol]` keys that map to dedicated {@linkcode SymbolInfo} fields. */
export const FIELD_KEYS = new Set<string>([
  ...REQUIRED_STRING_KEYS,
  "basecurrency",
  "mintick",
  "pricescale",
  "minmove",
  "pointvalue",
  "mincontract",
  "timezone",
  "volumetype",
  "avg_spread",
  "taker_fee",
  "maker_fee",
]);

/** PyneCore's commented `[[session_schedules]]` guide, written at the end. */
export const SCHEDULES_COMMENT = `# Effective-dated session history (optional).
#
# Markets occasionally change their trading hours. A single static schedule then
# mis-confirms the part of a backtest that falls on the other side of the change.
# Add [[session_schedules]] blocks below -- oldest first, each self-contained --
# to describe that history. \`effective_from\` MUST be the first line of its block
# (an exchange-local trading-day date). A bar whose trading day is on or after a
# block's date uses that block; a date before the earliest block uses the
# earliest block. The flat opening_hours / session_starts / session_ends above
# are regenerated from the NEWEST variant on save, so edit the variants here, not
# the flat blocks.
#
# Example -- a market whose night session END moved 23:30 -> 23:00 on 2026-01-12:
#
# [[session_schedules]]
# effective_from = 2025-06-01
# [[session_schedules.opening_hours]]
# day = 0
# start = "10:00:00"
# end = "18:00:00"
# [[session_schedules.opening_hours]]
# day = 0
# start = "21:00:00"
# end = "23:30:00"
# [[session_schedules.session_starts]]
# day = 0
# time = "10:00:00"
# [[session_schedules.session_ends]]
# day = 0
# time = "23:30:00"
#
# [[session_schedules]]
# effective_from = 2026-01-12
# [[session_schedules.opening_hours]]
# day = 0
# start = "10:00:00"
# end = "18:00:00"
# [[session_schedules.opening_hours]]
# day = 0
# start = "21:00:00"
# end = "23:00:00"
# [[session_schedules.session_starts]]
# day = 0
# time = "10:00:00"
# [[session_schedules.session_ends]]
# day = 0
# time = "23:00:00"
`;

/**
 * A float for TOML: PyneCore's eight decimals when that reads back as the same
 * number, otherwise the shortest exact form (always with a `.` or exponent, so
 * TOML reads it as a float).
 */
export function tomlFloat(x: number): string {
  if (Number.isNaN(x)) return "nan";
  if (x === Infinity) return "inf";
  if (x === -Infinity) return "-inf";
  if (Math.abs(x) < 1e21) {
    const fixed = x.toFixed(8);
    if (Number(fixed) === x) return fixed;
  }
  const s = String(x);
  if (/[.eE]/.test(s)) return s.replace(/e([+-]?)(\d)$/, "e$10$2");
  return `${s}.0`;
}

/** A TOML basic string (quoted and escaped). */
export function tomlString(s: string): string {
  // smol-toml quotes and escapes; take the value part of `v = "..."`.
  return stringifyToml({ v: s }).trim().slice(4);
}

/** A `[symbol]` value: floats for the keys PyneCore types as float. */
export function tomlValue(key: string, v: string | number | boolean): string {
  if (typeof v === "string") return tomlString(v);
  if (typeof v === "boolean") return v ? "true" : "false";
  if (FLOAT_KEYS.has(key) || !Number.isSafeInteger(v)) return tomlFloat(v);
  return String(v);
}

/** A bare TOML key, or a quoted one when it needs quoting. */
export function tomlKey(key: string): string {
  if (/^[A-Za-z0-9_-]+$/.test(key)) return key;
  return tomlString(key);
}
