/**
 * `download --dry-run`: the plan of each job — how its file would be used,
 * the ranges, the requests against the venue's budget, the estimated time
 * and bytes — as text or `--json`. No candle request, no file touched.
 * Private to the CLI.
 *
 * @module
 */

import type { CliContext } from "./_context.ts";
import { setErrorContext } from "./_errors.ts";
import type { Job } from "./_job.ts";
import { jobOptions, type RunOptions } from "./_run_options.ts";
import { fmtDuration, fmtInt, fmtTime } from "./_progress.ts";
import type { Provider } from "../providers/provider.ts";
import type { DryRunPlan } from "../pipeline/dry_run.ts";

/** Prints the plan of every job; throws the first job's error as `download` would. */
export async function renderDryRun(
  ctx: CliContext,
  jobs: readonly Job[],
  providers: ReadonlyMap<string, Provider>,
  o: RunOptions,
): Promise<void> {
  const { downloadPlan } = await import("../pipeline/dry_run.ts");
  const plans: DryRunPlan[] = [];
  for (const job of jobs) {
    try {
      plans.push(
        await downloadPlan(
          providers.get(job.provider)!,
          job.symbol,
          jobOptions(ctx, job, o),
        ),
      );
    } catch (e) {
      setErrorContext(e, { provider: job.provider, symbol: job.symbol });
      throw e;
    }
  }
  if (ctx.json) {
    ctx.out(JSON.stringify(plans.map(planJson), null, 2) + "\n");
    return;
  }
  const blocks = plans.map(planText);
  const total = plans.reduce(
    (a, p) => ({
      requests: a.requests + p.requests.candles + p.requests.other,
      ms: a.ms + p.estimatedMs,
      bytes: a.bytes + p.bytes.written,
    }),
    { requests: 0, ms: 0, bytes: 0 },
  );
  if (plans.length > 1) {
    blocks.push(
      `total: ${fmtInt(total.requests)} requests, about ${
        fmtDuration(total.ms / 1000)
      } one after another, ${fmtBytes(total.bytes)} written`,
    );
  }
  blocks.push("dry run: nothing was downloaded or written");
  ctx.out(blocks.join("\n\n") + "\n");
}

const iso = (t: number) => new Date(t).toISOString();

/** The plan as JSON (times as ISO strings). */
function planJson(p: DryRunPlan): unknown {
  return {
    provider: p.providerString,
    path: p.path,
    mode: p.mode,
    from: iso(p.from),
    to: iso(p.to),
    ...(p.existing
      ? {
        existing: {
          candles: p.existing.count,
          first: iso(p.existing.first),
          last: iso(p.existing.last),
        },
      }
      : {}),
    segments: p.segments.map((s) => ({
      kind: s.kind,
      from: iso(s.from),
      to: iso(s.to),
      ...(s.plan
        ? {
          requests: s.plan.windows,
          pageSize: s.plan.pageSize,
          concurrency: s.plan.concurrency,
          periods: s.plan.periods,
        }
        : {}),
    })),
    requests: p.requests,
    ...(p.weight
      ? {
        weight: {
          cost: round(p.weight.cost),
          limit: p.weight.budget.limit,
          windowMs: p.weight.budget.windowMs,
          unit: p.weight.budget.unit,
          burst: p.weight.budget.burst,
        },
      }
      : {}),
    periods: p.periods,
    estimatedMs: p.estimatedMs,
    bytes: p.bytes,
    notServed: p.skipped.map((s) => ({
      from: iso(s.from),
      to: iso(s.to),
      reason: s.reason,
    })),
    notes: p.notes,
  };
}

const MODE_TEXT: Readonly<Record<DryRunPlan["mode"], string>> = {
  new: "new file",
  append: "top up after the last candle",
  prepend: "rebuild: fetch before the file or its holes, copy the rest",
  truncate: "replace the file",
};

function planText(p: DryRunPlan): string {
  const rows: Array<[string, string]> = [
    ["file", p.path],
    ["mode", MODE_TEXT[p.mode]],
    ["range", `${fmtTime(p.from)} .. ${fmtTime(p.to)}`],
  ];
  if (p.existing) {
    rows.push([
      "holds",
      `${fmtInt(p.existing.count)} candles, ${fmtTime(p.existing.first)} .. ${
        fmtTime(p.existing.last)
      }`,
    ]);
  }
  for (const s of p.segments) {
    rows.push([
      s.kind === "range" ? "fetch" : s.kind,
      `${fmtTime(s.from)} .. ${fmtTime(s.to)}` +
      (s.plan
        ? `: ${fmtInt(s.plan.windows)} requests of ${
          fmtInt(s.plan.pageSize)
        } candles, ${s.plan.concurrency} at once`
        : ""),
    ]);
  }
  for (const s of p.skipped) {
    rows.push([
      "not served",
      `${fmtTime(s.from)} .. ${fmtTime(s.to)}: ${s.reason}`,
    ]);
  }
  rows.push([
    "requests",
    p.requests.known
      ? `${fmtInt(p.requests.candles)} for candles (at least) + ${
        fmtInt(p.requests.other)
      } other`
      : "unknown (the provider has no plan)",
  ]);
  if (p.weight) {
    const b = p.weight.budget;
    rows.push([
      "weight",
      `${round(p.weight.cost)} of ${fmtInt(b.limit)} per ${
        fmtDuration(b.windowMs / 1000)
      } (${b.unit})`,
    ]);
  }
  rows.push(
    ["candles", `at most ${fmtInt(p.periods)}`],
    ["time", `about ${fmtDuration(p.estimatedMs / 1000)}`],
    [
      "bytes",
      `${fmtBytes(p.bytes.written)} written, file about ${
        fmtBytes(p.bytes.file)
      }`,
    ],
  );
  for (const n of p.notes) rows.push(["note", n]);
  const w = Math.max(...rows.map(([k]) => k.length));
  return [
    `# ${p.providerString}`,
    ...rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`),
  ].join("\n");
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

/** `1.2 MB`. */
export function fmtBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let v = n / 1000;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}
