/**
 * `deno task compile`: builds the single-file `pyne-data` binary (ccxt
 * included) with `deno compile` into `dist/`.
 *
 * `deno compile` glues the program onto the Deno runtime for compiled programs
 * ("denort"), which it normally downloads from Deno's release server. Where
 * that download is impossible (offline machines; the npm registry has no
 * package shipping denort), this script says exactly what is missing and how
 * to provide it, instead of failing with a DNS error:
 *
 * - `DENORT_BIN=/path/to/denort deno task compile`, or
 * - put the release zip into Deno's cache
 *   (`$DENO_DIR/dl/release/v<version>/denort-<target>.zip`).
 *
 * Usage:
 *
 * ```sh
 * deno task compile                                   # this machine's target
 * deno task compile --target aarch64-apple-darwin     # cross-compile
 * deno task compile --all                             # every target
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";

/** Targets `deno compile --target` accepts. */
export const TARGETS: readonly string[] = [
  "x86_64-unknown-linux-gnu",
  "aarch64-unknown-linux-gnu",
  "x86_64-pc-windows-msvc",
  "x86_64-apple-darwin",
  "aarch64-apple-darwin",
];

/** Permissions baked into the binary. */
const PERMISSIONS = [
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-sys",
  "--allow-net",
];

function hostTarget(): string {
  return Deno.build.target;
}

function denoDir(): string {
  const env = Deno.env.get("DENO_DIR");
  if (env) return env;
  const home = Deno.env.get("HOME") ?? Deno.env.get("USERPROFILE") ?? ".";
  switch (Deno.build.os) {
    case "darwin":
      return join(home, "Library", "Caches", "deno");
    case "windows":
      return join(
        Deno.env.get("LOCALAPPDATA") ?? join(home, "AppData", "Local"),
        "deno",
      );
    default:
      return join(
        Deno.env.get("XDG_CACHE_HOME") ?? join(home, ".cache"),
        "deno",
      );
  }
}

function denortZipName(target: string): string {
  return `denort-${target}.zip`;
}

function denortUrl(version: string, target: string): string {
  return `https://dl.deno.land/release/v${version}/${denortZipName(target)}`;
}

function cachedDenortPath(version: string, target: string): string {
  return join(denoDir(), "dl", "release", `v${version}`, denortZipName(target));
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

function explainMissingDenort(
  version: string,
  target: string,
  detail: string,
): string {
  const url = denortUrl(version, target);
  const cache = cachedDenortPath(version, target);
  return [
    `Error: deno compile needs the Deno runtime for compiled programs ("denort" ${version} for ${target}) and could not get it${
      detail ? ` (${detail})` : ""
    }.`,
    "Hint: this machine cannot reach Deno's release server. On a machine that can, download",
    `  ${url}`,
    "and then either",
    `  - unzip it here and run:  DENORT_BIN=/path/to/denort deno task compile${
      target === hostTarget() ? "" : ` --target ${target}`
    }`,
    `  - or copy the zip (not unzipped) to:  ${cache}`,
    "  The npm registry has no package shipping denort, and the `deno` npm package's binary is",
    "  the full CLI, which cannot serve as the runtime of a compiled program.",
    "Meanwhile run the CLI without compiling:  deno task cli --help",
  ].join("\n");
}

/**
 * Checks that `deno compile` will find ccxt: every import on the way to it
 * must be statically analysable (a string literal), or the binary would fail
 * at run time. Returns an error line, or undefined when the graph is right.
 * `root` is the checkout (default: the current folder, as `deno task` runs).
 */
export async function checkModuleGraph(
  root = ".",
): Promise<string | undefined> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", "cli.ts"],
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (code !== 0) {
    return `deno info cli.ts failed: ${
      oneLine(new TextDecoder().decode(stderr))
    }`;
  }
  const info = JSON.parse(new TextDecoder().decode(stdout)) as {
    modules: { specifier: string }[];
    npmPackages?: Record<string, unknown>;
  };
  const ccxt = Object.keys(info.npmPackages ?? {}).find((k) =>
    k.startsWith("ccxt@")
  );
  const provider = info.modules.some((m) =>
    m.specifier.endsWith("/providers/ccxt.ts")
  );
  if (!ccxt || !provider) {
    return "the module graph of cli.ts does not reach npm:ccxt; keep every import on the way (cli/download_command.ts, providers/registry.ts, providers/ccxt.ts) a string literal";
  }
  console.error(
    `Module graph: ${info.modules.length} modules, npm ${ccxt} included (all imports statically analysable)`,
  );
  return undefined;
}

async function compileOne(
  target: string,
  output: string,
  denortBin: string | undefined,
): Promise<number> {
  const version = Deno.version.deno;
  const args = [
    "compile",
    ...PERMISSIONS,
    "--target",
    target,
    "--output",
    output,
    // Loaded as a Web Worker (not an import): deno compile includes it only
    // when told. Without it Binance archives are parsed on the main thread.
    "--include",
    "providers/_archive_worker.ts",
    "cli.ts",
  ];
  if (!denortBin && !(await isFile(cachedDenortPath(version, target)))) {
    console.error(
      `Note: no cached denort for ${target}; deno compile will try to download ${
        denortUrl(version, target)
      }`,
    );
  }
  console.error(`$ deno ${args.join(" ")}`);
  const env: Record<string, string> = {};
  if (denortBin) env["DENORT_BIN"] = denortBin;
  const child = new Deno.Command(Deno.execPath(), {
    args,
    env,
    stdout: "inherit",
    stderr: "piped",
  }).spawn();
  const { code, stderr } = await child.output();
  const text = new TextDecoder().decode(stderr);
  if (code === 0) {
    Deno.stderr.writeSync(new TextEncoder().encode(text));
    if (target === hostTarget() && !(await runsAsPyneData(output))) {
      await Deno.remove(output).catch(() => {});
      console.error(
        `Error: the built binary is not pyne-data: ${
          denortBin ?? "the base binary"
        } is the full Deno CLI, not denort (the runtime of compiled programs); nothing was kept.`,
      );
      console.error(explainMissingDenort(Deno.version.deno, target, ""));
      return 1;
    }
    console.error(`Built ${output} (${target})`);
    return 0;
  }
  if (
    /Setting up base binary|dl\.deno\.land|denort|error sending request|dns error/i
      .test(text)
  ) {
    const detail = /dns error|Connect|error sending request/i.test(text)
      ? "download failed: no connection to dl.deno.land"
      : oneLine(text);
    console.error(explainMissingDenort(version, target, detail));
    return 1;
  }
  Deno.stderr.writeSync(new TextEncoder().encode(text));
  console.error(`Error: deno compile failed for ${target} (exit code ${code})`);
  return code || 1;
}

/** True when the compiled binary answers `--help` as pyne-data does. */
async function runsAsPyneData(output: string): Promise<boolean> {
  try {
    const { stdout } = await new Deno.Command(output, {
      args: ["--help"],
      stdout: "piped",
      stderr: "null",
    }).output();
    return /pyne-data/.test(new TextDecoder().decode(stdout));
  } catch {
    return false;
  }
}

const ANSI = new RegExp("\u001b\\[[0-9;]*m", "g");

function oneLine(text: string): string {
  const lines = text.split("\n").map((l) => l.trim()).filter(Boolean);
  return (lines.find((l) => /error/i.test(l)) ?? lines[0] ?? "").replace(
    ANSI,
    "",
  );
}

async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        target: { type: "string" },
        all: { type: "boolean" },
        output: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (e) {
    console.error(`Error: ${(e as Error).message}`);
    console.error(
      "Hint: deno task compile [--target <target> | --all] [--output <file>]",
    );
    return 2;
  }
  const v = parsed.values;
  if (v.help) {
    console.log(
      [
        "Usage: deno task compile [--target <target> | --all] [--output <file>]",
        "",
        "Builds dist/pyne-data (dist/pyne-data-<target> for other targets) with deno compile.",
        `Targets: ${TARGETS.join(", ")}`,
        "Offline: set DENORT_BIN to a denort binary of this Deno version (see the error message",
        "for the download URL), or put the denort zip into Deno's cache.",
      ].join("\n"),
    );
    return 0;
  }
  const denortBin = Deno.env.get("DENORT_BIN") || undefined;
  if (denortBin && !(await isFile(denortBin))) {
    console.error(
      `Error: DENORT_BIN is set to ${denortBin}, which is not a file`,
    );
    console.error(
      `Hint: point DENORT_BIN at the unzipped denort binary of Deno ${Deno.version.deno} (${
        denortUrl(Deno.version.deno, hostTarget())
      }).`,
    );
    return 1;
  }
  let targets: string[];
  if (v.all) targets = [...TARGETS];
  else if (v.target) {
    if (!TARGETS.includes(v.target)) {
      console.error(`Error: unknown target "${v.target}"`);
      console.error(`Hint: choose one of ${TARGETS.join(", ")}`);
      return 2;
    }
    targets = [v.target];
  } else targets = [hostTarget()];
  if (v.output && targets.length > 1) {
    console.error("Error: --output works with one target only");
    return 2;
  }
  if (denortBin && targets.some((t) => t !== hostTarget())) {
    console.error(
      "Note: DENORT_BIN must be the denort of the target being built; it is used for every target requested.",
    );
  }
  const graphError = await checkModuleGraph();
  if (graphError) {
    console.error(`Error: ${graphError}`);
    return 1;
  }
  await Deno.mkdir("dist", { recursive: true });
  let worst = 0;
  for (const target of targets) {
    const exe = target.includes("windows") ? ".exe" : "";
    const output = v.output ??
      (target === hostTarget() && !v.all
        ? join("dist", `pyne-data${exe}`)
        : join("dist", `pyne-data-${target}${exe}`));
    const code = await compileOne(target, output, denortBin);
    if (code !== 0) worst = code;
  }
  return worst;
}

if (import.meta.main) {
  Deno.exit(await run(Deno.args));
}
