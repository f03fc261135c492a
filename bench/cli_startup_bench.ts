/**
 * CLI startup time: spawns `deno run cli.ts <command>` N times per command and
 * reports the median wall time (ms). Target: `--help` and `inspect` under
 * 300 ms (ccxt is never loaded by them).
 *
 * Run it directly (it spawns processes, so it needs --allow-run):
 *
 * ```sh
 * deno run --allow-read --allow-run --allow-env bench/cli_startup_bench.ts [N]
 * ```
 *
 * Under `deno task bench` (no --allow-run) it registers `Deno.bench` cases
 * that run when the permission is granted and are skipped otherwise.
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { join } from "node:path";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const CLI = join(ROOT, "cli.ts");
const FIXTURE = join(ROOT, "tests", "fixtures", "pynecore", "btc_1D_gap.ohlcv");
const PERMS = [
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-sys",
  "--allow-net=127.0.0.1",
];

/** The commands measured, with a label. */
const CASES: { label: string; args: string[]; budgetMs?: number }[] = [
  { label: "--help", args: ["--help"], budgetMs: 300 },
  { label: "--version", args: ["--version"], budgetMs: 300 },
  { label: "download --help", args: ["download", "--help"], budgetMs: 300 },
  { label: "inspect <file>", args: ["inspect", FIXTURE], budgetMs: 300 },
  {
    label: "inspect <file> --json",
    args: ["inspect", FIXTURE, "--json"],
    budgetMs: 300,
  },
  { label: "providers", args: ["providers"] },
];

function runOnce(args: string[]): number {
  const t0 = performance.now();
  const out = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--config",
      join(ROOT, "deno.json"),
      ...PERMS,
      CLI,
      ...args,
    ],
    cwd: ROOT,
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).outputSync();
  const ms = performance.now() - t0;
  if (out.code !== 0) {
    throw new Error(
      `cli.ts ${args.join(" ")} exited ${out.code}: ${
        new TextDecoder().decode(out.stderr)
      }`,
    );
  }
  return ms;
}

function runImportCcxt(): number {
  const t0 = performance.now();
  new Deno.Command(Deno.execPath(), {
    args: ["eval", "--config", join(ROOT, "deno.json"), "await import('ccxt')"],
    cwd: ROOT,
    stdout: "null",
    stderr: "null",
  }).outputSync();
  return performance.now() - t0;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Measures every case `n` times; returns label → median ms. */
export function measure(
  n: number,
): { label: string; median: number; min: number; budgetMs?: number }[] {
  const rows = [];
  for (const c of CASES) {
    runOnce(c.args); // warm the module cache
    const xs = Array.from({ length: n }, () => runOnce(c.args));
    rows.push({
      label: c.label,
      median: median(xs),
      min: Math.min(...xs),
      ...(c.budgetMs ? { budgetMs: c.budgetMs } : {}),
    });
  }
  runImportCcxt();
  const xs = Array.from({ length: Math.max(3, Math.min(n, 5)) }, runImportCcxt);
  rows.push({
    label: "(reference) deno eval import('ccxt')",
    median: median(xs),
    min: Math.min(...xs),
  });
  return rows;
}

if (import.meta.main) {
  const n = Number(Deno.args[0] ?? 15);
  const rows = measure(n);
  console.log(
    `CLI startup, median of ${n} runs (deno ${Deno.version.deno}, ${Deno.build.target})`,
  );
  let failed = false;
  for (const r of rows) {
    const verdict = r.budgetMs === undefined
      ? ""
      : r.median < r.budgetMs
      ? `  ok (< ${r.budgetMs} ms)`
      : `  OVER ${r.budgetMs} ms`;
    if (r.budgetMs !== undefined && r.median >= r.budgetMs) failed = true;
    console.log(
      `${r.label.padEnd(40)} ${r.median.toFixed(0).padStart(5)} ms  (min ${
        r.min.toFixed(0)
      } ms)${verdict}`,
    );
  }
  if (failed) Deno.exitCode = 1;
} else {
  const canRun =
    (await Deno.permissions.query({ name: "run" })).state === "granted";
  for (const c of CASES) {
    Deno.bench({
      name: `cli startup: ${c.label}`,
      group: "cli startup",
      ignore: !canRun,
      fn: () => {
        runOnce(c.args);
      },
    });
  }
}
