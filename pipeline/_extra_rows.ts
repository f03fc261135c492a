/**
 * Reads the `NAME.extra.csv` sidecar of an `.ohlcv` file back into per-record
 * extra fields, so a rebuild (prepend) keeps them. Private.
 *
 * @module
 */

import { readFile } from "node:fs/promises";
import { parse } from "csv-parse/sync";
import type { CandleExtra } from "../format/candle_batch.ts";

/** `NAME.extra.csv` for `NAME.ohlcv`. */
export function extraCsvPath(ohlcvPath: string): string {
  return ohlcvPath.endsWith(".ohlcv")
    ? `${ohlcvPath.slice(0, -".ohlcv".length)}.extra.csv`
    : `${ohlcvPath}.extra.csv`;
}

/**
 * The sidecar rows of the first `count` records (values kept as the text
 * stored, empty fields left out, all-empty rows undefined), or `undefined`
 * when there is no sidecar.
 */
export async function readExtraRows(
  ohlcvPath: string,
  count: number,
): Promise<(CandleExtra | undefined)[] | undefined> {
  let text: string;
  try {
    text = await readFile(extraCsvPath(ohlcvPath), "utf8");
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT") return undefined;
    throw e;
  }
  if (text.trim() === "") return undefined;
  const rows = parse(text, {
    columns: true,
    relax_column_count: true,
    skip_empty_lines: false,
  }) as Record<string, string>[];
  const out: (CandleExtra | undefined)[] = new Array(count).fill(undefined);
  for (let i = 0; i < Math.min(count, rows.length); i++) {
    const row = rows[i]!;
    let extra: Record<string, string> | undefined;
    for (const [k, v] of Object.entries(row)) {
      if (v === "" || v === undefined) continue;
      (extra ??= {})[k] = v;
    }
    out[i] = extra;
  }
  return out;
}
