/**
 * Private: validation of symbol info, shared by the reader (the mintick rule,
 * how values are named in messages) and the writer (the whole
 * {@linkcode SymbolInfo} checked before it is serialised).
 *
 * @module
 */

import type { SymbolInfo } from "./symbol_info.ts";
import { isTimeOfDay, isWeekday } from "./sessions.ts";
import { parsePeriod } from "./timeframe.ts";
import { REQUIRED_STRING_KEYS } from "./_symbol_info_layout.ts";

/** A parsed TOML table. */
export type Table = Record<string, unknown>;

/** True for a TOML table (a plain object, not an array or a date). */
export function isTable(v: unknown): v is Table {
  return typeof v === "object" && v !== null && !Array.isArray(v) &&
    !(v instanceof Date);
}

/** A value as an error message names it. */
export function describe(v: unknown): string {
  if (v === undefined) return "nothing";
  if (typeof v === "string") return JSON.stringify(v);
  if (v instanceof Date) return `a date (${v.toISOString()})`;
  if (Array.isArray(v)) return "an array";
  if (isTable(v)) return "a table";
  return String(v);
}

/**
 * Checks that `mintick` is `minmove / pricescale` (to the eight decimals
 * PyneCore writes); calls `fail` with the message when it is not.
 */
export function checkMintick(
  mintick: number,
  minmove: number,
  pricescale: number,
  fail: (msg: string) => void,
): void {
  const expected = minmove / pricescale;
  // PyneCore writes mintick with eight decimals: allow that rounding.
  if (Math.abs(mintick - expected) > 5e-9 + expected * 1e-9) {
    fail(
      `symbol.mintick ${mintick} does not equal minmove / pricescale = ${minmove} / ${pricescale} = ${expected}`,
    );
  }
}

/**
 * Checks symbol info before it is written, so every file written loads in
 * PyneCore: a `TypeError` for wrong shapes, a `RangeError` for out-of-range
 * values (non-integer grid, mintick not `minmove / pricescale`, bad times or
 * weekdays, an invalid period).
 */
export function checkSymbolInfo(info: SymbolInfo): void {
  if (typeof info !== "object" || info === null) {
    throw new TypeError(
      `Symbol info must be an object, got ${
        info === null ? "null" : typeof info
      }`,
    );
  }
  for (const key of REQUIRED_STRING_KEYS) {
    if (typeof info[key] !== "string") {
      throw new TypeError(
        `Symbol info field "${key}" must be a string, got ${
          describe(info[key])
        }`,
      );
    }
  }
  for (const key of ["timezone", "volumetype"] as const) {
    if (info[key] !== undefined && typeof info[key] !== "string") {
      throw new TypeError(
        `Symbol info field "${key}" must be a string, got ${
          describe(info[key])
        }`,
      );
    }
  }
  if (
    info.basecurrency !== undefined && typeof info.basecurrency !== "string"
  ) {
    throw new TypeError(
      `Symbol info field "basecurrency" must be a string, got ${
        describe(info.basecurrency)
      }`,
    );
  }
  parsePeriod(info.period);
  for (const key of ["pricescale", "minmove"] as const) {
    const v = info[key] ?? (key === "minmove" ? 1 : undefined);
    if (
      typeof v !== "number" || !Number.isInteger(v) || v < 1 || v > 0xffffffff
    ) {
      throw new RangeError(
        `Symbol info field "${key}" must be a whole number from 1 to 4294967295, got ${
          describe(v)
        }`,
      );
    }
  }
  const numberFields = [
    ["mintick", info.mintick, true],
    ["pointvalue", info.pointvalue, true],
    ["mincontract", info.mincontract, false],
    ["avgSpread", info.avgSpread, false],
    ["takerFee", info.takerFee, false],
    ["makerFee", info.makerFee, false],
  ] as const;
  for (const [name, v, required] of numberFields) {
    if (v === undefined && !required) continue;
    if (typeof v !== "number" || !Number.isFinite(v)) {
      throw new TypeError(
        `Symbol info field "${name}" must be a finite number, got ${
          describe(v)
        }`,
      );
    }
  }
  checkMintick(info.mintick, info.minmove ?? 1, info.pricescale, (m) => {
    throw new RangeError(`Symbol info: ${m.replace(/^symbol\./, "")}`);
  });
  const checkList = (
    name: string,
    list: unknown,
    keys: readonly string[],
  ): void => {
    if (!Array.isArray(list)) {
      throw new TypeError(
        `Symbol info field "${name}" must be an array, got ${describe(list)}`,
      );
    }
    list.forEach((e: unknown, i) => {
      if (!isTable(e)) {
        throw new TypeError(
          `Symbol info ${name}[${i}] must be an object, got ${describe(e)}`,
        );
      }
      if (!isWeekday(e.day)) {
        throw new RangeError(
          `Symbol info ${name}[${i}].day must be a weekday from 0 (Monday) to 6 (Sunday), got ${
            describe(e.day)
          }`,
        );
      }
      for (const k of keys) {
        if (!isTimeOfDay(e[k])) {
          throw new RangeError(
            `Symbol info ${name}[${i}].${k} must be a time "HH:MM:SS" (00:00:00 to 23:59:59), got ${
              describe(e[k])
            }`,
          );
        }
      }
    });
  };
  checkList("openingHours", info.openingHours, ["start", "end"]);
  checkList("sessionStarts", info.sessionStarts, ["time"]);
  checkList("sessionEnds", info.sessionEnds, ["time"]);
  if (info.other !== undefined) {
    if (!isTable(info.other)) {
      throw new TypeError(`Symbol info field "other" must be an object`);
    }
    for (const [k, v] of Object.entries(info.other)) {
      if (
        v !== null && typeof v !== "string" && typeof v !== "boolean" &&
        !(typeof v === "number" && Number.isFinite(v))
      ) {
        throw new TypeError(
          `Symbol info other.${k} must be a string, finite number, boolean or null, got ${
            describe(v)
          }`,
        );
      }
    }
  }
}
