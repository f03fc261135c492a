/**
 * The symbol-info TOML check of the fuzz bench: what `parseSymbolInfoToml`
 * documents about its result, the `[coverage]` table through
 * `coverageFromToml`, and notes on whether the info can be written back
 * and re-read unchanged.
 *
 * @module
 */

import {
  parseSymbolInfoToml,
  stringifySymbolInfo,
  type SymbolInfoFile,
} from "../../format/symbol_info_toml.ts";
import { coverageFromToml } from "../../format/coverage.ts";
import {
  attempt,
  formatErrorNaming,
  must,
  note,
  type Notes,
  type TrialOutcome,
} from "./_invariants.ts";

function isTime(v: unknown): boolean {
  return typeof v === "string" && /^([01]\d|2[0-3]):[0-5]\d:[0-5]\d$/.test(v);
}

/** What `parseSymbolInfoToml` documents about its result. */
export function checkSymbolInfo(res: SymbolInfoFile, notes: Notes): void {
  const i = res.info;
  for (
    const k of [
      "prefix",
      "description",
      "ticker",
      "currency",
      "period",
      "type",
      "timezone",
      "volumetype",
    ] as const
  ) {
    must(typeof i[k] === "string", `info.${k} is ${typeof i[k]}`);
  }
  must(i.period !== "", "empty period");
  must(
    typeof i.mintick === "number" && Number.isFinite(i.mintick) &&
      i.mintick >= 0,
    `mintick ${i.mintick}`,
  );
  for (const k of ["pricescale", "minmove"] as const) {
    const v = i[k];
    must(
      typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= 0xffffffff,
      `${k} ${v}`,
    );
  }
  const expected = i.minmove! / i.pricescale;
  must(
    Math.abs(i.mintick - expected) <= 5e-9 + expected * 1e-9,
    `mintick ${i.mintick} is not minmove / pricescale`,
  );
  must(typeof i.pointvalue === "number", "pointvalue");
  for (
    const [name, list, keys] of [
      ["openingHours", i.openingHours, ["start", "end"]],
      ["sessionStarts", i.sessionStarts, ["time"]],
      ["sessionEnds", i.sessionEnds, ["time"]],
    ] as const
  ) {
    must(Array.isArray(list), `${name} is not an array`);
    for (const e of list as unknown as Record<string, unknown>[]) {
      must(
        Number.isInteger(e.day) && (e.day as number) >= 0 &&
          (e.day as number) <= 6,
        `${name} day ${e.day}`,
      );
      for (const k of keys) must(isTime(e[k]), `${name} ${k} ${String(e[k])}`);
    }
  }
  if (res.provider !== undefined) {
    must(typeof res.provider === "string", "provider");
  }
  for (const v of Object.values(i.other ?? {})) {
    must(
      v === null || ["string", "number", "boolean"].includes(typeof v),
      `other value ${typeof v}`,
    );
  }
  for (
    const k of [
      "pointvalue",
      "mincontract",
      "avgSpread",
      "takerFee",
      "makerFee",
    ] as const
  ) {
    const v = i[k];
    if (typeof v === "number" && !Number.isFinite(v)) {
      note(notes, `parsed with a non-finite ${k}`);
    }
  }
}

/**
 * Parses a TOML text (with a path in half the trials, which the error must
 * name), checks the result, its `[coverage]` table through
 * `coverageFromToml` (a `FormatError` or a ledger), and notes whether the
 * parsed info can be written back (`stringifySymbolInfo`) and re-read to the
 * same info.
 */
export function checkToml(
  text: string,
  path: string | undefined,
  notes: Notes,
): TrialOutcome {
  const a = attempt(() => parseSymbolInfoToml(text, path));
  if (!a.ok) return formatErrorNaming(a.error, path);
  checkSymbolInfo(a.value, notes);
  const cov = a.value.extra?.coverage;
  if (cov !== undefined) {
    const c = attempt(() => coverageFromToml(cov, path));
    if (!c.ok) formatErrorNaming(c.error, path);
    note(
      notes,
      c.ok ? "coverage table read" : "coverage table refused (FormatError)",
    );
  }
  const opts: { provider?: string; extra?: Record<string, unknown> } = {};
  if (a.value.provider !== undefined) opts.provider = a.value.provider;
  if (a.value.extra !== undefined) opts.extra = a.value.extra;
  const w = attempt(() => stringifySymbolInfo(a.value.info, opts));
  if (!w.ok) {
    const e = w.error as Error;
    const why = /finite number/.test(e.message)
      ? "a NaN or ±Infinity value"
      : /Invalid (period|timeframe)/.test(e.message)
      ? "a period the writer does not take"
      : e.message.slice(0, 80);
    note(notes, `parsed but not writable (${e.name}: ${why})`);
  } else {
    const back = attempt(() => parseSymbolInfoToml(w.value));
    if (!back.ok) {
      note(
        notes,
        `written back but not re-readable: ${
          (back.error as Error).message.slice(0, 90)
        }`,
      );
    } else if (
      JSON.stringify(back.value.info) !== JSON.stringify(a.value.info)
    ) {
      note(notes, "written back and re-read with a different info");
    }
  }
  return "ok";
}
