/**
 * The end-of-run summary of download jobs: a table (fitted to the terminal)
 * with the gap notes, or `--json`. Private to the CLI.
 *
 * @module
 */

import { basename } from "node:path";
import type { CliContext } from "./_context.ts";
import { isAbortError, oneLine } from "./_errors.ts";
import { coverageCell, coverageJson, coverageNotes } from "./_coverage_text.ts";
import type { JobResult } from "./_job.ts";
import { fmtInt, fmtTime } from "./_progress.ts";
import type { DownloadSummary } from "../pipeline/download.ts";

/** A few words of a failure for the progress line (the Error: line tells all). */
export function shortReason(e: unknown): string {
  const m = oneLine(errMessage(e));
  return m.length > 48 ? m.slice(0, 47) + "…" : m;
}

export function errMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export function iso(ms: number | undefined): string | null {
  return ms === undefined ? null : new Date(ms).toISOString();
}

function gapText(s: DownloadSummary): string {
  const anomalies = s.gaps.filter((g) => g.kind === "anomaly").length;
  if (s.anomalyPeriods === 0 && s.closedPeriods === 0) return "none";
  const parts: string[] = [];
  if (s.anomalyPeriods > 0) {
    parts.push(
      `${anomalies} ${anomalies === 1 ? "anomaly" : "anomalies"} (${
        fmtInt(s.anomalyPeriods)
      } missing)`,
    );
  }
  if (s.closedPeriods > 0) parts.push(`${fmtInt(s.closedPeriods)} closed`);
  return parts.join(", ");
}

function jsonResult(r: JobResult): Record<string, unknown> {
  const s = r.summary;
  const base = {
    provider: r.job.provider,
    symbol: r.job.symbol,
    timeframe: r.job.timeframe.period,
    ok: r.ok,
  };
  if (!s) {
    return {
      ...base,
      path: r.path ?? r.job.path ?? null,
      status: isAbortError(r.error) ? "interrupted" : "failed",
      error: oneLine(errMessage(r.error)),
      added: r.candles ?? 0,
      fileCount: r.fileCount ?? null,
      retries: r.retries ?? null,
      coverage: coverageJson(r.coverage, r.job.timeframe),
    };
  }
  return {
    ...base,
    ok: r.ok && s.coverage.complete,
    status: !s.coverage.complete
      ? "incomplete"
      : s.upToDate
      ? "up-to-date"
      : "ok",
    path: s.path,
    symbolInfoPath: s.symbolInfoPath,
    providerString: s.providerString,
    mode: s.mode,
    added: s.candles,
    first: iso(s.first),
    last: iso(s.last),
    fileCount: s.fileCount,
    fileFirst: iso(s.fileFirst),
    fileLast: iso(s.fileLast),
    upToDate: s.upToDate,
    requests: s.requests,
    retries: s.retries,
    gaps: {
      anomalies: s.gaps.filter((g) => g.kind === "anomaly").length,
      anomalyPeriods: s.anomalyPeriods,
      closedPeriods: s.closedPeriods,
      runs: s.gaps.map((g) => ({
        from: iso(g.from),
        to: iso(g.to),
        periods: g.periods,
        kind: g.kind,
      })),
    },
    duplicates: s.duplicates,
    conflicts: s.conflicts,
    formingDropped: s.formingDropped,
    validation: {
      checked: s.validation.checked,
      invalid: s.validation.invalid,
      dropped: s.validation.dropped,
    },
    coverage: coverageJson(s.coverage, r.job.timeframe),
    ...(s.ledgerNote ? { ledgerNote: s.ledgerNote } : {}),
    durationMs: Math.round(s.durationMs),
  };
}

export function renderSummary(ctx: CliContext, results: JobResult[]): void {
  if (ctx.json) {
    ctx.out(
      JSON.stringify(
        {
          ok: results.every((r) => r.ok && r.summary?.coverage.complete),
          files: results.map(jsonResult),
        },
        null,
        2,
      ) + "\n",
    );
    return;
  }
  if (ctx.quiet) return;
  const head = [
    "file",
    "added",
    "from",
    "to",
    "in file",
    "gaps",
    "coverage",
    "retries",
    "status",
  ];
  const rows = results.map((r) => {
    const s = r.summary;
    const path = s?.path ?? r.path ?? r.job.path;
    const name = path ? basename(path) : r.job.label;
    if (!s) {
      return [
        name,
        r.candles ? fmtInt(r.candles) : "-",
        "-",
        "-",
        r.fileCount ? fmtInt(r.fileCount) : "-",
        "-",
        coverageCell(r.coverage, r.job.timeframe),
        r.retries !== undefined ? fmtInt(r.retries) : "-",
        isAbortError(r.error)
          ? "interrupted (resumable)"
          : `failed: ${shortReason(r.error)}`,
      ];
    }
    return [
      name,
      fmtInt(s.candles),
      s.candles ? fmtTime(s.first) : "-",
      s.candles ? fmtTime(s.last) : "-",
      fmtInt(s.fileCount),
      gapText(s),
      coverageCell(s.coverage, r.job.timeframe),
      fmtInt(s.retries),
      !s.coverage.complete
        ? "incomplete (resumable)"
        : s.upToDate
        ? "up to date"
        : s.mode === "new"
        ? "new"
        : s.mode,
    ];
  });
  const right = new Set([1, 4, 7]);
  const widths = head.map((h, c) =>
    Math.max(h.length, ...rows.map((r) => r[c]!.length))
  );
  // On a terminal, fit its width: drop the retries column when every row
  // has none, then "in file", then "from", then "to" (--json has everything).
  const keep = head.map(() => true);
  if (ctx.io.stdoutIsTerminal) {
    const width = () =>
      widths.reduce((sum, w, c) => sum + (keep[c] ? w + 2 : 0), -2);
    const noRetries = rows.every((r) => r[7] === "0" || r[7] === "-");
    for (const c of [7, 4, 2, 3]) {
      if (width() <= ctx.io.columns - 1) break;
      if (c === 7 && !noRetries) continue;
      keep[c] = false;
    }
  }
  const line = (cells: string[]) =>
    cells.flatMap((x, c) =>
      !keep[c] ? [] : [
        right.has(c) ? x.padStart(widths[c]!) : x.padEnd(widths[c]!),
      ]
    ).join("  ").trimEnd();
  const out = [
    line(head),
    line(widths.map((w) => "-".repeat(w))),
    ...rows.map(line),
  ];
  // Gap report: the anomalies (market open, no candle) of each file.
  const notes: string[] = [];
  for (const r of results) {
    const s = r.summary;
    const file = s?.path ?? r.path ?? r.job.path;
    for (const n of coverageNotes(s?.coverage ?? r.coverage, r.job.timeframe)) {
      notes.push(`  ${file ? basename(file) : r.job.label}: ${n}`);
    }
    if (s?.ledgerNote) notes.push(`  ${basename(s.path)}: ${s.ledgerNote}`);
    if (!s) continue;
    const anomalies = s.gaps.filter((g) => g.kind === "anomaly");
    for (const g of anomalies.slice(0, 5)) {
      const to = fmtTime(g.to);
      const sameDay = to.slice(0, 10) === fmtTime(g.from).slice(0, 10);
      notes.push(
        `  ${basename(s.path)}: ${fmtTime(g.from)} .. ${
          sameDay ? to.slice(11) : to
        }  ${fmtInt(g.periods)} missing`,
      );
    }
    if (anomalies.length > 5) {
      notes.push(`  ${basename(s.path)}: ... and ${anomalies.length - 5} more`);
    }
    const extra: string[] = [];
    if (s.formingDropped) {
      extra.push(`${s.formingDropped} forming candle dropped`);
    }
    if (s.duplicates) extra.push(`${fmtInt(s.duplicates)} duplicates dropped`);
    if (s.conflicts) {
      extra.push(`${fmtInt(s.conflicts)} conflicting duplicates (first kept)`);
    }
    if (s.validation.invalid) {
      extra.push(
        `${fmtInt(s.validation.invalid)} invalid candles (${
          fmtInt(s.validation.dropped)
        } dropped)`,
      );
    }
    if (extra.length) notes.push(`  ${basename(s.path)}: ${extra.join(", ")}`);
  }
  if (notes.length) {
    out.push(
      "",
      "Coverage, gaps (candles missing while the market was open) and notes:",
      ...notes,
    );
  }
  ctx.out(out.join("\n") + "\n");
}
