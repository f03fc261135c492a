/**
 * `inspect` and `convert`: commands that work on local files only (no
 * provider, no network). Private to `cli.ts`.
 *
 * @module
 */

import { readFile, stat } from "node:fs/promises";
import { extname } from "node:path";
import type { CliContext } from "./_context.ts";
import { UsageError } from "./_errors.ts";
import { coverageCell, coverageJson, coverageNotes } from "./_coverage_text.ts";
import { fmtInt } from "./_progress.ts";
import { OhlcvReader } from "../format/ohlcv_reader.ts";
import {
  parseTimeframe,
  type Timeframe,
  TIMEFRAME_FORMS,
} from "../format/timeframe.ts";
import type { CoverageReport } from "../pipeline/coverage_report.ts";
import type { SymbolInfo } from "../format/symbol_info.ts";
import type { Gap } from "../pipeline/gap_stream.ts";

/** Gap summary of a file, classified against the symbol's opening hours. */
export interface GapScan {
  /** Runs of missing periods (both kinds). */
  runs: number;
  /** Missing periods while the market was closed (weekends, nights). */
  closedPeriods: number;
  /** Missing periods while the market was open (maintenance, outages). */
  anomalyPeriods: number;
  /** Runs of anomalous missing periods. */
  anomalies: number;
  /** Whether opening hours from the `.toml` were used (else 24/7 is assumed). */
  hoursFromToml: boolean;
  /** The largest anomalous runs, largest first (at most 5). */
  largest: Gap[];
}

/**
 * Scans a file's timestamps for missing periods with `GapStream`, using the
 * opening hours of the `.toml` beside the file when there is one.
 */
export async function scanGaps(
  reader: OhlcvReader,
  period: string,
  signal?: AbortSignal,
): Promise<GapScan> {
  const { GapStream } = await import("../pipeline/gap_stream.ts");
  let symbolInfo: SymbolInfo | undefined;
  try {
    const { readSymbolInfo, symbolInfoPath } = await import(
      "../format/symbol_info_toml.ts"
    );
    symbolInfo = (await readSymbolInfo(symbolInfoPath(reader.path))).info;
  } catch {
    // no (valid) .toml: treat the market as always open
  }
  const hours = symbolInfo && symbolInfo.openingHours.length > 0
    ? symbolInfo
    : undefined;
  const gaps = new GapStream({
    timeframe: period,
    ...(hours ? { symbolInfo: hours } : {}),
  });
  await reader.readable().pipeThrough(gaps).pipeTo(
    new WritableStream(),
    signal ? { signal } : {},
  );
  const anomalies = gaps.gaps.filter((g) => g.kind === "anomaly");
  anomalies.sort((a, b) => b.periods - a.periods);
  return {
    runs: gaps.gaps.length + gaps.omitted,
    closedPeriods: gaps.closedPeriods,
    anomalyPeriods: gaps.anomalyPeriods,
    anomalies: gaps.anomalies,
    hoursFromToml: hours !== undefined,
    largest: anomalies.slice(0, 5),
  };
}

function iso(ms: number | undefined): string | null {
  return ms === undefined ? null : new Date(ms).toISOString();
}

async function requireFile(path: string, what: string): Promise<void> {
  let s;
  try {
    s = await stat(path);
  } catch {
    throw new UsageError(
      `${what} ${path} does not exist`,
      "Check the path (relative paths start from the current folder).",
    );
  }
  if (!s.isFile()) {
    throw new UsageError(
      `${what} ${path} is not a file`,
      "Give the path of a file.",
    );
  }
}

/** `inspect <file> [--json] [--no-gaps]` */
export async function inspectCommand(
  ctx: CliContext,
  file: string,
  opts: Record<string, unknown>,
): Promise<void> {
  await requireFile(file, "File");
  await using reader = await OhlcvReader.open(file);
  const info = reader.info;
  const wantGaps = opts["gaps"] !== false;
  const gaps = wantGaps && info.period && info.count > 1
    ? await scanGaps(reader, info.period, ctx.signal)
    : undefined;
  const coverage = wantGaps ? await ledgerCoverage(file) : undefined;
  if (ctx.json) {
    const out = {
      file,
      format: info.format,
      period: info.period,
      count: info.count,
      first: info.first ?? null,
      last: info.last ?? null,
      firstTime: iso(info.first),
      lastTime: iso(info.last),
      dense: info.dense,
      minmove: info.minmove,
      pricescale: info.pricescale,
      recordSize: info.recordSize,
      ...(gaps
        ? {
          gaps: {
            runs: gaps.runs,
            anomalies: gaps.anomalies,
            anomalyPeriods: gaps.anomalyPeriods,
            closedPeriods: gaps.closedPeriods,
            openingHours: gaps.hoursFromToml ? "toml" : "24/7",
            largest: gaps.largest.map((g) => ({
              from: iso(g.from),
              to: iso(g.to),
              periods: g.periods,
            })),
          },
        }
        : {}),
      ...(coverage
        ? {
          coverage: coverageJson(coverage.report, coverage.tf),
          ...(coverage.ledgerNote ? { ledgerNote: coverage.ledgerNote } : {}),
        }
        : {}),
    };
    ctx.out(JSON.stringify(out, null, 2) + "\n");
    return;
  }
  const rows: [string, string][] = [
    ["file", file],
    [
      "format",
      info.format === "v2"
        ? `PyneCore v2${
          info.versionMinor !== null ? ` (minor ${info.versionMinor})` : ""
        }`
        : info.count === 0
        ? "empty file (no header yet; a download writes a v2 header)"
        : "PyneCore v1 (legacy)",
    ],
    [
      "period",
      info.period ??
        (info.count === 0 ? "unknown (empty file)" : "unknown (v1 file)"),
    ],
    ["candles", fmtInt(info.count)],
    ["first", iso(info.first) ?? "-"],
    ["last", iso(info.last) ?? "-"],
    ["dense", info.dense ? "yes (no gaps)" : "no"],
    [
      "tick grid",
      info.pricescale > 0
        ? `minmove ${info.minmove} / pricescale ${info.pricescale} (tick ${
          info.minmove / info.pricescale
        })`
        : "none",
    ],
    ["record size", `${info.recordSize} bytes`],
  ];
  if (gaps) {
    rows.push([
      "gaps",
      gaps.runs === 0
        ? "none"
        : `${fmtInt(gaps.anomalies)} ${
          gaps.anomalies === 1 ? "anomaly" : "anomalies"
        } (${fmtInt(gaps.anomalyPeriods)} missing periods while open), ${
          fmtInt(gaps.closedPeriods)
        } periods closed (${
          gaps.hoursFromToml ? "opening hours from the .toml" : "assumed 24/7"
        })`,
    ]);
    for (const g of gaps.largest) {
      rows.push([
        "",
        `${iso(g.from)} .. ${iso(g.to)}  ${fmtInt(g.periods)} missing`,
      ]);
    }
  }
  if (coverage) {
    const { report, tf } = coverage;
    rows.push([
      "coverage",
      report.range.to > report.range.from
        ? `${coverageCell(report, tf)} (${iso(report.range.from)} .. ${
          iso(report.range.to)
        }, from the .toml's [coverage] ledger)`
        : "nothing requested yet",
    ]);
    for (const n of coverageNotes(report, tf)) rows.push(["", n]);
    if (coverage.ledgerNote) rows.push(["", coverage.ledgerNote]);
  }
  const w = Math.max(...rows.map((r) => r[0].length));
  ctx.out(rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`).join("\n") + "\n");
}

/**
 * The coverage of a downloaded file, from the `[coverage]` ledger of the
 * `.toml` beside it; `undefined` for files without one (converted, written by
 * other tools, or downloaded before the ledger existed).
 */
async function ledgerCoverage(file: string): Promise<
  | {
    report: CoverageReport;
    tf: Timeframe;
    ledgerNote: string | undefined;
  }
  | undefined
> {
  const toml = file.replace(/\.ohlcv$/i, "") + ".toml";
  if (toml === file + ".toml" && !/\.ohlcv$/i.test(file)) return undefined;
  let text: string;
  try {
    text = await readFile(toml, "utf8");
  } catch {
    return undefined;
  }
  if (!/^\[coverage\]/m.test(text)) return undefined;
  try {
    const { fileCoverage } = await import("../pipeline/repair.ts");
    return await fileCoverage(file);
  } catch {
    return undefined; // an unreadable .toml: `download` says why
  }
}

function positiveInt(v: unknown, flag: string): number | undefined {
  if (v === undefined) return undefined;
  const s = String(v);
  if (!/^\d+$/.test(s) || Number(s) < 1 || !Number.isSafeInteger(Number(s))) {
    throw new UsageError(
      `${flag} must be a whole number of at least 1, got "${s}"`,
      "The tick size is minmove / pricescale, e.g. --minmove 1 --pricescale 100 for 0.01.",
    );
  }
  return Number(s);
}

const CONVERTIBLE = new Set([".csv", ".json", ".ohlcv"]);

/** `convert <in> <out> [--timeframe P] [--minmove N --pricescale N]` */
export async function convertCommand(
  ctx: CliContext,
  input: string,
  output: string,
  opts: Record<string, unknown>,
): Promise<void> {
  const inExt = extname(input).toLowerCase();
  const outExt = extname(output).toLowerCase();
  if (!CONVERTIBLE.has(inExt) || !CONVERTIBLE.has(outExt)) {
    throw new UsageError(
      `Cannot convert ${input} to ${output}: unsupported extension "${
        CONVERTIBLE.has(inExt) ? outExt : inExt
      }"`,
      "Convert .csv or .json to .ohlcv, or .ohlcv to .csv or .json.",
    );
  }
  if (inExt === outExt) {
    throw new UsageError(
      `Cannot convert ${input} to ${output}: both are ${inExt} files`,
      "Convert .csv or .json to .ohlcv, .ohlcv to .csv or .json, or .csv to .json and back.",
    );
  }
  const timeFormat = opts["timeFormat"];
  if (timeFormat !== undefined && timeFormat !== "ms" && timeFormat !== "iso") {
    throw new UsageError(
      `--time-format must be "ms" or "iso", got "${timeFormat}"`,
      "ms writes a `timestamp` column of Unix milliseconds (PyneCore's shape); iso writes ISO 8601 times.",
    );
  }
  if (timeFormat !== undefined && outExt === ".ohlcv") {
    throw new UsageError(
      "--time-format applies only when writing .csv or .json",
      "Drop it when writing .ohlcv.",
    );
  }
  let timeframe: string | undefined;
  if (opts["timeframe"] !== undefined) {
    try {
      timeframe = parseTimeframe(String(opts["timeframe"])).period;
    } catch (e) {
      const message = (e as Error).message;
      throw new UsageError(
        `--timeframe: ${message}`,
        /accepted/i.test(message)
          ? "For example -t 1D (daily), -t 60 (hourly) or -t 5m (five minutes)."
          : `Accepted: ${TIMEFRAME_FORMS}.`,
      );
    }
  }
  const minmove = positiveInt(opts["minmove"], "--minmove");
  const pricescale = positiveInt(opts["pricescale"], "--pricescale");
  if ((minmove === undefined) !== (pricescale === undefined)) {
    throw new UsageError(
      "--minmove and --pricescale go together: give both or neither",
      "For a tick of 0.01 use --minmove 1 --pricescale 100.",
    );
  }
  if (outExt !== ".ohlcv" && (timeframe || minmove !== undefined)) {
    throw new UsageError(
      "--timeframe, --minmove and --pricescale apply only when writing .ohlcv",
      "Drop them when exporting to .csv or .json.",
    );
  }
  await requireFile(input, "Input file");
  if (opts["force"] !== true) {
    let exists = false;
    try {
      await stat(output);
      exists = true;
    } catch {
      // fine: does not exist
    }
    if (exists) {
      throw new UsageError(
        `Output file ${output} already exists`,
        "Pass --force to overwrite it, or choose another name.",
      );
    }
  }
  const { convertFile } = await import("../format/convert.ts");
  const result = await convertFile(input, output, {
    ...(timeframe !== undefined ? { timeframe } : {}),
    ...(minmove !== undefined ? { minmove, pricescale: pricescale! } : {}),
    ...(timeFormat !== undefined
      ? { timeFormat: timeFormat as "ms" | "iso" }
      : {}),
    replace: opts["force"] === true,
  });
  const count = result.count;
  if (ctx.json) {
    ctx.out(
      JSON.stringify({
        input,
        output,
        count,
        period: result.period,
        first: iso(result.first),
        last: iso(result.last),
      }) + "\n",
    );
  } else {
    ctx.info(
      `Converted ${input} -> ${output} (${fmtInt(count)} candles${
        result.period ? `, period ${result.period}` : ""
      })\n`,
    );
  }
}
