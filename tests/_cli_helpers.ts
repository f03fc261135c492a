/**
 * Helpers for the CLI tests: run `cli.ts` as a subprocess, snapshot a folder.
 *
 * @module
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";

/** Absolute path of the repository root. */
export const ROOT: string = fileURLToPath(new URL("../", import.meta.url));
/** Absolute path of `cli.ts`. */
export const CLI: string = join(ROOT, "cli.ts");
/** Absolute path of `deno.json`. */
export const CONFIG: string = join(ROOT, "deno.json");
/** Fixture folder. */
export const FIXTURES: string = join(ROOT, "tests", "fixtures", "pynecore");

/** Permissions the CLI gets in tests (loopback network only). */
export const PERMS: readonly string[] = [
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-sys",
  "--allow-net=127.0.0.1",
];

/** Result of a CLI run. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@linkcode runCli}. */
export interface RunCliOptions {
  /** Working directory (the default ./data and ./config land here). */
  cwd: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
}

/** Runs `deno run <perms> cli.ts ...args` and collects its output. */
export function runCli(
  args: readonly string[],
  options: RunCliOptions,
): Promise<CliRun> {
  return runDeno(
    ["run", "--quiet", "--config", CONFIG, ...PERMS, CLI, ...args],
    options,
  );
}

/** Runs `deno <denoArgs>` (no stdin, `NO_COLOR`) and collects its output. */
export async function runDeno(
  denoArgs: readonly string[],
  options: RunCliOptions,
): Promise<CliRun> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [...denoArgs],
    cwd: options.cwd,
    env: { NO_COLOR: "1", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

/** Spawns the CLI without waiting (for SIGINT tests). */
export function spawnCli(
  args: readonly string[],
  options: RunCliOptions,
): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--config", CONFIG, ...PERMS, CLI, ...args],
    cwd: options.cwd,
    env: { NO_COLOR: "1", ...options.env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** Every file under `dir` (relative path → sha256 of its bytes), plus folders. */
export async function snapshotTree(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const rel = relative(dir, p);
      if (e.isDirectory()) {
        out.set(rel + "/", "dir");
        await walk(p);
      } else {
        out.set(
          rel,
          createHash("sha256").update(await readFile(p)).digest("hex"),
        );
      }
    }
  };
  await walk(dir);
  return out;
}

/** Lines of a text without the empty last one. */
export function lines(text: string): string[] {
  return text.split("\n").filter((l, i, a) =>
    !(l === "" && i === a.length - 1)
  );
}

/**
 * Runs the CLI's `main` in this process (no terminal, no signal handlers),
 * with `--now` set to `now` (ms, none when undefined), and collects its
 * output.
 */
export async function runMainAt(
  now: number | undefined,
  args: readonly string[],
): Promise<CliRun> {
  const { main } = await import("../cli.ts");
  let stdout = "";
  let stderr = "";
  const clock = now === undefined ? [] : ["--now", new Date(now).toISOString()];
  const code = await main([...args, ...clock], {
    io: {
      stdout: (t) => (stdout += t),
      stderr: (t) => (stderr += t),
      stdoutIsTerminal: false,
      stderrIsTerminal: false,
      columns: 120,
      rows: 30,
      env: {},
    },
    handleSignals: false,
  });
  return { code, stdout, stderr };
}

/** Asserts the shape of an error report: one `Error:` line, a hint, no stack. */
export function assertErrorOutput(
  stderr: string,
  message: RegExp,
  label: string,
): void {
  const ls = lines(stderr);
  const errorLines = ls.filter((l) => l.startsWith("Error:"));
  assert.equal(errorLines.length, 1, `${label}: one Error: line in\n${stderr}`);
  assert.match(errorLines[0]!, message, `${label}: message`);
  assert.ok(
    !ls.some((l) => /^\s+at /.test(l)),
    `${label}: no stack trace in\n${stderr}`,
  );
  // Plain progress lines (no terminal) may precede a failure found by the venue.
  const report = ls.filter((l) => !/^(start|progress|failed) /.test(l));
  assert.ok(report.length <= 3, `${label}: short report, got\n${stderr}`);
}
