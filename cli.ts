/**
 * The `pyne-data` command line: download OHLCV candles into PyneCore `.ohlcv`
 * files, top them up, inspect and convert them.
 *
 * This module is thin: it parses arguments (commander), loads only what the
 * chosen command needs (ccxt is loaded only by ccxt commands), calls the
 * library, renders progress and errors, and is the only place that prints or
 * exits.
 *
 * @example
 * ```sh
 * deno run -A cli.ts download ccxt BINANCE:BTC/USDT BINANCE:ETH/USDT -t 1D --from 2024-01-01
 * deno run -A cli.ts download ccxt:BYBIT:BTC/USDT:USDT@60 --from 30
 * deno run -A cli.ts inspect data/ccxt_BINANCE_BTC_USDT_1D.ohlcv --json
 * ```
 *
 * Programmatic use (the offline demo does this):
 *
 * ```ts
 * import { main } from "@pyne/data/cli";
 * const code = await main(["inspect", "data/ccxt_BINANCE_BTC_USDT_1D.ohlcv"]);
 * ```
 *
 * @module
 */

import denoJson from "./deno.json" with { type: "json" };
import process from "node:process";
import { Command, CommanderError, Option } from "commander";
import {
  EXIT_INTERRUPTED,
  EXIT_OK,
  EXIT_USAGE,
  formatError,
  InterruptedError,
  oneLine,
  reportError,
  UsageError,
} from "./cli/_errors.ts";
import type { CliContext } from "./cli/_context.ts";
import { printAboveProgress } from "./cli/_progress.ts";
import {
  addCommonOptions,
  addDownloadOptions,
  addProviderOptions,
  ARCHIVE_HELP,
  EXAMPLES,
} from "./cli/_help.ts";
import type { CliIo } from "./cli/_context.ts";

/** The version of this package, read from `deno.json` at build time. */
export const VERSION: string = denoJson.version;

export type { CliIo } from "./cli/_context.ts";

/** Options of {@linkcode main}. */
export interface MainOptions {
  /** Output and environment; defaults to the process's stdout, stderr and env. */
  io?: Partial<CliIo>;
  /** Aborts a running command (as Ctrl-C does); the result is then 130. */
  signal?: AbortSignal;
  /**
   * Install a SIGINT (Ctrl-C) handler that aborts the running command.
   * @default {true}
   */
  handleSignals?: boolean;
}

const encoder = new TextEncoder();

/** True in Deno; Bun and Node take the `node:process` paths. */
const IN_DENO = typeof (globalThis as { Deno?: unknown }).Deno === "object";

function defaultIo(): CliIo {
  if (!IN_DENO) return processIo();
  let columns = 100;
  let rows = 24;
  let tty = false;
  let outTty = false;
  try {
    tty = Deno.stderr.isTerminal();
    outTty = Deno.stdout.isTerminal();
    if (tty || outTty) ({ columns, rows } = Deno.consoleSize());
  } catch {
    // not a terminal or no console size
  }
  let env: Record<string, string | undefined>;
  try {
    env = Deno.env.toObject();
  } catch {
    env = {};
  }
  let stdoutClosed = false;
  return {
    stdout: (t) => {
      // `pyne-data symbols ccxt | head`: the reader went away; the rest of
      // the output has nowhere to go, which is not an error of ours.
      if (stdoutClosed) return;
      try {
        writeAll(Deno.stdout, t);
      } catch (e) {
        if (!(e instanceof Deno.errors.BrokenPipe)) throw e;
        stdoutClosed = true;
      }
    },
    stderr: (t) => writeAll(Deno.stderr, t),
    stderrIsTerminal: tty,
    stdoutIsTerminal: outTty,
    columns,
    rows,
    terminalSize: tty ? () => Deno.consoleSize() : undefined,
    env,
  };
}

/** Set when stdout's reader went away (`pyne-data symbols ccxt | head`). */
let stdoutClosed: boolean | undefined;

/** {@linkcode defaultIo} in Bun and Node: `node:process` streams and env. */
function processIo(): CliIo {
  const tty = process.stderr.isTTY === true;
  const outTty = process.stdout.isTTY === true;
  const size = () => {
    const s = tty ? process.stderr : process.stdout;
    return { columns: s.columns || 100, rows: s.rows || 24 };
  };
  if (stdoutClosed === undefined) {
    stdoutClosed = false;
    process.stdout.on("error", (e: { code?: unknown }) => {
      if (e.code !== "EPIPE") throw e;
      stdoutClosed = true;
    });
  }
  return {
    stdout: (t) => {
      if (!stdoutClosed) process.stdout.write(t);
    },
    stderr: (t) => void process.stderr.write(t),
    stderrIsTerminal: tty,
    stdoutIsTerminal: outTty,
    ...(tty || outTty ? size() : { columns: 100, rows: 24 }),
    terminalSize: tty ? size : undefined,
    env: { ...process.env },
  };
}

function writeAll(
  f: { writeSync(p: Uint8Array): number },
  text: string,
): void {
  let bytes = encoder.encode(text);
  while (bytes.length > 0) {
    const n = f.writeSync(bytes);
    bytes = bytes.subarray(n);
  }
}

/** Short flags of the original (Python) tool, rewritten to ours. */
const LEGACY_FLAGS: Record<string, string> = {
  "-tf": "--timeframe",
  "-ls": "--list-symbols",
  "-si": "--show-info",
  "-tr": "--truncate",
};

/** Shared state of one CLI run, passed to the command modules. */
function makeContext(
  io: CliIo,
  signal: AbortSignal,
  opts: Record<string, unknown>,
): CliContext {
  const noColor = io.env["NO_COLOR"] !== undefined && io.env["NO_COLOR"] !== "";
  return {
    io,
    signal,
    quiet: opts["quiet"] === true,
    verbose: opts["verbose"] === true,
    json: opts["json"] === true,
    color: io.stderrIsTerminal && !noColor,
    out: (t) => io.stdout(t),
    info: (t) => {
      if (opts["quiet"] !== true) io.stderr(t);
    },
    log: (t) => {
      if (opts["verbose"] === true) io.stderr(`[verbose] ${t}\n`);
    },
  };
}

function buildProgram(
  io: CliIo,
  signal: AbortSignal,
  setVerbose: (v: boolean) => void,
): Command {
  const program = new Command("pyne-data");
  program
    .description(
      "Download OHLCV candles (ccxt exchanges, Capital.com) into PyneCore .ohlcv files.",
    )
    .version(VERSION, "-V, --version", "print the version")
    .option("-q, --quiet", "print only errors (any command)")
    .option("-v, --verbose", "print diagnostics and stack traces (any command)")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout(s),
      writeErr: (s) => io.stderr(s),
      outputError: () => {}, // reported by main() in our one-line format
    })
    .showSuggestionAfterError(true)
    .allowExcessArguments(false)
    .helpCommand("help [command]", "show help for a command")
    .addHelpText("after", EXAMPLES.root);

  const ctx = (cmd: Command): CliContext => {
    const opts = cmd.optsWithGlobals();
    setVerbose(opts["verbose"] === true);
    return makeContext(io, signal, opts);
  };

  const dl = program
    .command("download")
    .description(
      "download candles for symbols, provider strings or existing files",
    )
    .argument(
      "[targets...]",
      "<provider> <symbol>..., provider strings, or .ohlcv/.toml files",
    )
    .addHelpText("after", EXAMPLES.download);
  addDownloadOptions(dl).action(async (targets: string[], _o, cmd: Command) => {
    const m = await import("./cli/download_command.ts");
    await m.downloadCommand(ctx(cmd), targets, cmd.opts());
  });

  const data = program
    .command("data")
    .description("the original tool's command group (data download ...)")
    .addHelpText("after", EXAMPLES.data);
  const dataDl = data
    .command("download")
    .description("download candles (same as `pyne-data download`)")
    .argument("[targets...]", "<provider> <symbol>...")
    .addHelpText("after", EXAMPLES.data);
  addDownloadOptions(dataDl).action(
    async (targets: string[], _o, cmd: Command) => {
      const m = await import("./cli/download_command.ts");
      await m.downloadCommand(ctx(cmd), targets, cmd.opts());
    },
  );

  const update = program
    .command("update")
    .description(
      "top up every .ohlcv file in a folder from its [download] section",
    )
    .argument("[dir]", "folder of .ohlcv files (default: --ohlcv-dir)")
    .option("-o, --ohlcv-dir <dir>", "folder of the .ohlcv files", "./data")
    .option("--to <date>", "end (exclusive): N days back | date; default now")
    .option("--concurrency <n>", "pages fetched at once per symbol")
    .option("--limit <n>", "candles per request (page size)")
    .option("--no-archive", ARCHIVE_HELP)
    .option(
      "--repair",
      "first re-fetch each file's failed and never-requested holes",
    )
    .option("--json", "print the summary as JSON on stdout")
    .addOption(new Option("--now <date>").hideHelp())
    .addHelpText("after", EXAMPLES.update);
  addProviderOptions(update);
  addCommonOptions(update).action(
    async (dir: string | undefined, _o, cmd: Command) => {
      const m = await import("./cli/download_command.ts");
      await m.updateCommand(ctx(cmd), dir, cmd.opts());
    },
  );

  const repairCmd = program
    .command("repair")
    .description(
      "re-fetch the failed and never-requested holes of .ohlcv files",
    )
    .argument("<files...>", ".ohlcv files (each with its .toml)")
    .option("--json", "print the result as JSON on stdout")
    .addOption(new Option("--now <date>").hideHelp())
    .addHelpText("after", EXAMPLES.repair);
  addProviderOptions(repairCmd);
  addCommonOptions(repairCmd).action(
    async (files: string[], _o, cmd: Command) => {
      const m = await import("./cli/repair_command.ts");
      await m.repairCommand(ctx(cmd), files, cmd.opts());
    },
  );

  addCommonOptions(
    program
      .command("inspect")
      .description(
        "print a .ohlcv file's format, period, count, range, grid and gaps",
      )
      .argument("<file>", ".ohlcv file")
      .option("--json", "print one JSON object on stdout")
      .option("--no-gaps", "skip the gap scan (header facts only)")
      .addHelpText("after", EXAMPLES.inspect),
  ).action(async (file: string, _o, cmd: Command) => {
    const m = await import("./cli/_file_commands.ts");
    await m.inspectCommand(ctx(cmd), file, cmd.opts());
  });

  addCommonOptions(
    program
      .command("convert")
      .description("convert between .csv/.json and .ohlcv, by extension")
      .argument("<in>", "input file (.csv, .json or .ohlcv)")
      .argument("<out>", "output file (.ohlcv, .csv or .json)")
      .option(
        "-t, --timeframe <tf>",
        "period of the candles (inferred from the input when omitted)",
      )
      .option("--minmove <n>", "tick grid numerator (with --pricescale)")
      .option("--pricescale <n>", "tick grid denominator (with --minmove)")
      .option("--time-format <ms|iso>", "timestamps written to .csv/.json")
      .option("--force", "overwrite an existing output file (atomically)")
      .option("--json", "print the result as JSON on stdout")
      .addHelpText("after", EXAMPLES.convert),
  ).action(async (input: string, output: string, _o, cmd: Command) => {
    const m = await import("./cli/_file_commands.ts");
    await m.convertCommand(ctx(cmd), input, output, cmd.opts());
  });

  addCommonOptions(
    program
      .command("providers")
      .description("list the data providers")
      .option("--json", "print JSON on stdout")
      .addHelpText("after", EXAMPLES.providers),
  ).action(async (_o, cmd: Command) => {
    const m = await import("./cli/catalog_commands.ts");
    await m.providersCommand(ctx(cmd), cmd.opts());
  });

  const symbols = program
    .command("symbols")
    .description(
      "list a provider's symbols (ccxt: exchanges, or one exchange's markets)",
    )
    .argument("<provider>", "provider name (see `pyne-data providers`)")
    .argument("[exchange]", "ccxt exchange id, e.g. binance")
    .option("--search <text>", "case-insensitive filter")
    .option("--json", "print JSON on stdout")
    .addHelpText("after", EXAMPLES.symbols);
  addProviderOptions(symbols);
  addCommonOptions(symbols).action(
    async (
      provider: string,
      exchange: string | undefined,
      _o,
      cmd: Command,
    ) => {
      const m = await import("./cli/catalog_commands.ts");
      await m.symbolsCommand(ctx(cmd), provider, exchange, cmd.opts());
    },
  );

  const info = program
    .command("info")
    .description("print a symbol's information (what goes into the .toml)")
    .argument("<provider>", "provider name")
    .argument("<symbol>", "symbol, e.g. BINANCE:BTC/USDT")
    .option("-t, --timeframe <tf>", "timeframe", "1D")
    .option("--json", "print JSON on stdout")
    .addHelpText("after", EXAMPLES.info);
  addProviderOptions(info);
  addCommonOptions(info).action(
    async (provider: string, symbol: string, _o, cmd: Command) => {
      const m = await import("./cli/catalog_commands.ts");
      await m.infoCommand(ctx(cmd), provider, symbol, cmd.opts());
    },
  );

  return program;
}

function commanderToUsage(e: CommanderError, args: string[]): UsageError {
  const msg = oneLine(e.message).replace(/^error:\s*/i, "");
  const first = msg.charAt(0).toUpperCase() + msg.slice(1);
  const cmd = args.find((a) => !a.startsWith("-"));
  const known = [
    "download",
    "data",
    "update",
    "inspect",
    "convert",
    "providers",
    "symbols",
    "info",
  ];
  const helpFor = cmd && known.includes(cmd)
    ? `pyne-data ${cmd === "data" ? "data download" : cmd} --help`
    : "pyne-data --help";
  return new UsageError(first, `Run \`${helpFor}\` for usage and examples.`);
}

/**
 * Runs the CLI with `args` (without the program name) and returns the exit
 * code: 0 success, 1 provider or runtime failure, 2 usage error, 130
 * interrupted. Never calls `Deno.exit`.
 */
export async function main(
  args: string[],
  options: MainOptions = {},
): Promise<number> {
  const io: CliIo = { ...defaultIo(), ...options.io };
  if (
    options.io?.terminalSize === undefined &&
    (options.io?.columns !== undefined || options.io?.rows !== undefined)
  ) {
    io.terminalSize = undefined; // the caller fixed the size
  }
  const controller = new AbortController();
  const onAbort = () =>
    controller.abort(new InterruptedError("Interrupted by the caller"));
  if (options.signal) {
    if (options.signal.aborted) onAbort();
    else options.signal.addEventListener("abort", onAbort, { once: true });
  }
  let sigints = 0;
  const onSigint = () => {
    sigints++;
    if (sigints > 1) {
      io.stderr("Error: interrupted twice; exiting now\n");
      if (!IN_DENO) process.exit(EXIT_INTERRUPTED);
      Deno.exit(EXIT_INTERRUPTED);
    }
    printAboveProgress(
      "Interrupted: finishing the current commit, please wait...",
      (t) => io.stderr(`\n${t}`),
    );
    controller.abort(new InterruptedError("Interrupted (Ctrl-C)"));
  };
  const handleSignals = options.handleSignals ?? true;
  if (handleSignals) {
    try {
      if (IN_DENO) Deno.addSignalListener("SIGINT", onSigint);
      else process.on("SIGINT", onSigint);
    } catch {
      // signals unsupported here
    }
  }
  let verbose = args.includes("--verbose") || args.includes("-v");
  const argv = args.map((a) => LEGACY_FLAGS[a] ?? a);
  const color = io.stderrIsTerminal &&
    !(io.env["NO_COLOR"] !== undefined && io.env["NO_COLOR"] !== "");
  try {
    if (argv.length === 0) {
      const program = buildProgram(io, controller.signal, () => {});
      io.stdout(program.helpInformation());
      return EXIT_OK;
    }
    const program = buildProgram(io, controller.signal, (v) => {
      verbose = v;
    });
    await program.parseAsync(argv, { from: "user" });
    if (controller.signal.aborted) return EXIT_INTERRUPTED;
    return EXIT_OK;
  } catch (e) {
    let err: unknown = e;
    if (e instanceof CommanderError) {
      if (
        e.code === "commander.helpDisplayed" || e.code === "commander.version"
      ) {
        return EXIT_OK;
      }
      if (e.code === "commander.help") return EXIT_OK;
      if (e.code === "commander.executeSubCommandAsync") return e.exitCode;
      err = commanderToUsage(e, argv);
    } else if (controller.signal.aborted && !(e instanceof UsageError)) {
      err = controller.signal.reason;
    }
    const report = reportError(err);
    io.stderr(formatError(err, report, { verbose, color }));
    return report.code === EXIT_OK ? EXIT_USAGE : report.code;
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
    if (handleSignals) {
      try {
        if (IN_DENO) Deno.removeSignalListener("SIGINT", onSigint);
        else process.off("SIGINT", onSigint);
      } catch {
        // ignore
      }
    }
  }
}

/**
 * `deno task cli ...` runs in the checkout (the folder of `deno.json`), not
 * where the user typed the command; Deno passes that folder as `INIT_CWD`.
 * Relative paths (and the default ./data, ./config) then mean what the user
 * meant. Only when this file runs in its own folder and `INIT_CWD` names
 * another: `deno task` sets it (keeping one it inherits), and so does npm
 * when the task runs through `npx deno task ...`, both with the folder the
 * command was typed in.
 */
function followTaskCwd(): void {
  try {
    const init = Deno.env.get("INIT_CWD");
    if (!init) return;
    const here = decodeURIComponent(new URL(".", import.meta.url).pathname);
    const same = (a: string, b: string) =>
      a.replace(/[\\/]+$/, "") === b.replace(/[\\/]+$/, "");
    if (same(Deno.cwd(), here) && !same(init, here)) Deno.chdir(init);
  } catch {
    // no env or read permission, or not a file URL: stay where we are
  }
}

if (import.meta.main && IN_DENO) {
  followTaskCwd();
  const code = await main(Deno.args);
  Deno.exit(code);
} else if (import.meta.main) {
  // Bun (`bun cli.ts ...`): exit once stdout and stderr are written.
  const code = await main(process.argv.slice(2));
  const flushed = (s: NodeJS.WritableStream) =>
    new Promise<void>((resolve) => s.write("", () => resolve()));
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit(code);
}
