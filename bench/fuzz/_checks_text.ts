/**
 * The CSV and JSON checks of the fuzz bench: what candle import documents
 * about its result (whole, strictly increasing times, no infinities, high
 * and low around open and close, a real period), and the agreement of the
 * text parser with the file reader on the same bytes.
 *
 * @module
 */

import { FormatError } from "../../format/format_error.ts";
import type { ImportedCandles } from "../../format/_candle_import.ts";
import { parsePeriod } from "../../format/timeframe.ts";
import {
  attempt,
  attemptAsync,
  formatErrorNaming,
  InvariantError,
  must,
  sameBatch,
  type TrialOutcome,
} from "./_invariants.ts";

const TIME_UNITS = new Set(["s", "ms", "us", "ns", "iso"]);

/** What CSV and JSON import document about their result. */
export function checkImported(res: ImportedCandles): void {
  const b = res.batch;
  const n = res.count;
  for (
    const col of ["time", "open", "high", "low", "close", "volume"] as const
  ) {
    must(
      b[col] instanceof Float64Array && b[col].length === n,
      `${col} has ${b[col].length} values, count is ${n}`,
    );
  }
  must(TIME_UNITS.has(res.timeUnit), `timeUnit ${res.timeUnit}`);
  for (let i = 0; i < n; i++) {
    const t = b.time[i]!;
    must(
      Number.isSafeInteger(t),
      `time[${i}] = ${t} is not a safe whole number`,
    );
    must(
      i === 0 || t > b.time[i - 1]!,
      `times not strictly increasing at ${i}`,
    );
    const o = b.open[i]!, h = b.high[i]!, l = b.low[i]!, c = b.close[i]!;
    for (const v of [o, h, l, c, b.volume[i]!]) {
      must(
        typeof v === "number" && v !== Infinity && v !== -Infinity,
        `candle ${i} has ${v}`,
      );
    }
    if (o === o && c === c) {
      must(
        !(h < Math.max(o, c)),
        `candle ${i}: high ${h} below max(open, close)`,
      );
      must(
        !(l > Math.min(o, c)),
        `candle ${i}: low ${l} above min(open, close)`,
      );
    }
  }
  if (res.period !== undefined) {
    try {
      parsePeriod(res.period);
    } catch (e) {
      throw new InvariantError(
        `inferred period "${res.period}" is not a period: ${
          (e as Error).message
        }`,
      );
    }
  }
}

/**
 * The text outcome and, for a sampled trial, the same text read from a file
 * (`readCsvFile` / `readJsonFile`, whose reader feeds the CSV parser in
 * pieces): both must agree.
 */
export async function checkImport(
  text: string,
  parse: (t: string) => ImportedCandles,
  read: ((p: string) => Promise<ImportedCandles>) | undefined,
  path: string,
): Promise<TrialOutcome> {
  const a = attempt(() => parse(text));
  if (a.ok) checkImported(a.value);
  // A file holds UTF-8: compare only texts that survive it (no lone
  // surrogates) and that a decoder reads back unchanged (one leading BOM).
  if (
    read && !/[\ud800-\udfff]/.test(text) && !text.startsWith("\ufeff\ufeff")
  ) {
    await Deno.writeTextFile(path, text);
    const b = await attemptAsync(() => read(path));
    if (b.ok) checkImported(b.value);
    if (a.ok !== b.ok) {
      const err = a.ok ? (b as { error: unknown }).error : a.error;
      if (!(err instanceof FormatError)) throw err;
      throw new InvariantError(
        `${
          a.ok
            ? "the text parses but the file is refused"
            : "the text is refused but the file parses"
        }: ${(err as Error).message}`,
      );
    }
    if (a.ok && b.ok) {
      const d = sameBatch(a.value.batch, b.value.batch);
      must(d === undefined, `text and file give different candles: ${d}`);
      must(
        a.value.period === b.value.period,
        "text and file infer different periods",
      );
    }
    if (!b.ok) formatErrorNaming(b.error, path);
  }
  if (!a.ok) return formatErrorNaming(a.error, undefined);
  return "ok";
}
