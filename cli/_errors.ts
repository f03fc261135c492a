/**
 * Maps errors to exit codes and one-line `Error: ...` messages (plus a hint
 * line) for the CLI. Private to `cli.ts`.
 *
 * @module
 */

/** Exit code: success. */
export const EXIT_OK = 0;
/** Exit code: a provider or runtime failure. */
export const EXIT_FAILURE = 1;
/** Exit code: a usage error (bad flag, timeframe, date, symbol format, provider name). */
export const EXIT_USAGE = 2;
/** Exit code: interrupted by SIGINT (Ctrl-C). */
export const EXIT_INTERRUPTED = 130;

/** A mistake in the command line: exits 2. */
export class UsageError extends Error {
  /** A line telling the user how to fix it. */
  readonly hint: string | undefined;

  /** Creates a usage error. */
  constructor(message: string, hint?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "UsageError";
    this.hint = hint;
  }
}

/** Raised when the run was interrupted (Ctrl-C): exits 130. */
export class InterruptedError extends Error {
  /** Creates an interrupted error. */
  constructor(message = "Interrupted") {
    super(message);
    this.name = "InterruptedError";
  }
}

/**
 * A run that ended with part of the requested range neither fetched,
 * verified empty, closed nor outside what the venue serves: exits 1. Every
 * file is valid and resumable.
 */
export class IncompleteError extends Error {
  /** Creates an incomplete-run error. */
  constructor(message: string) {
    super(message);
    this.name = "IncompleteError";
  }
}

/** How an error is reported. */
export interface ErrorReport {
  /** Exit code. */
  code: number;
  /** The message after `Error: `, one line. */
  message: string;
  /** Optional hint line. */
  hint: string | undefined;
}

/** True for the errors an AbortSignal produces. */
export function isAbortError(e: unknown): boolean {
  if (e instanceof InterruptedError) return true;
  const name = (e as { name?: unknown } | null)?.name;
  return name === "AbortError";
}

/** Collapses a message to one line (commander appends suggestions on new lines). */
export function oneLine(text: string): string {
  return text.split(/\r?\n/).map((s) => s.trim()).filter((s) => s !== "")
    .join(" ");
}

/** What a command knew about the failed work: makes hints concrete. */
export interface ErrorContext {
  /** Provider name as the registry knows it, e.g. `ccxt`. */
  provider?: string | undefined;
  /** The symbol being downloaded, e.g. `BINANCE:BTC/USDT`. */
  symbol?: string | undefined;
}

const contexts = new WeakMap<object, ErrorContext>();

/** Records what `e` was about (provider, symbol) so its hint can name them. */
export function setErrorContext(e: unknown, context: ErrorContext): void {
  if (typeof e === "object" && e !== null) contexts.set(e, context);
}

/** True when `e` or one of its causes is a failure to reach the venue. */
function isNetworkFailure(e: unknown): boolean {
  let cur: unknown = e;
  for (let depth = 0; depth < 5 && cur instanceof Error; depth++) {
    if (
      /^(NetworkError|RequestTimeout|ExchangeNotAvailable|ConnectionRefused)$/
        .test(cur.name) ||
      /fetch failed|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENOTFOUND|connection (refused|reset|closed)|timed out|dns error|error sending request/i
        .test(cur.message)
    ) return true;
    cur = cur.cause;
  }
  return false;
}

/** The command that lists the symbols a failed download could have meant. */
function symbolsCommand(context: ErrorContext | undefined): string {
  const p = context?.provider;
  const sym = context?.symbol;
  if (!p || !sym) {
    return "`pyne-data symbols <provider> [exchange] --search <text>`";
  }
  if (p === "ccxt") {
    const m = /^([^:]+):([^/:]+)/.exec(sym);
    if (m) {
      return `\`pyne-data symbols ccxt ${m[1]!.toLowerCase()} --search ${
        m[2]!.toUpperCase()
      }\``;
    }
  }
  const word = sym.replace(/[^A-Za-z0-9].*$/, "") || sym;
  return `\`pyne-data symbols ${p} --search ${word}\``;
}

function formatHint(e: Error): string | undefined {
  const path = (e as { path?: unknown }).path;
  const file = typeof path === "string" ? path.toLowerCase() : "";
  if (
    /\.(csv|json)$/.test(file) && !file.endsWith(".extra.csv") ||
    /^Cannot (import|convert)\b/.test(e.message)
  ) {
    return "Fix the input file at the place named above (CSV: a header timestamp,open,high,low,close,volume, one candle per row; JSON: an array of such objects); nothing was written.";
  }
  if (file.endsWith(".toml")) {
    return "Fix the .toml named above, or download the symbol again to rewrite it.";
  }
  // The message already says what to do with a text file named .ohlcv.
  if (/this is a text file/.test(e.message)) return undefined;
  if (/legacy v1/i.test(e.message)) {
    return "Rewrite it as a v2 file with --truncate --from <date>, or convert it to .csv first to keep a copy.";
  }
  return "The file is not a valid PyneCore .ohlcv file; download it again (--truncate --from <date>) or convert it again.";
}

function hintFor(e: Error): string | undefined {
  const name = e.name;
  const msg = e.message;
  const context = contexts.get(e);
  if (name === "ConfigError") {
    return "Fix or delete the configuration file named above (a fresh template is written when it is missing).";
  }
  if (name === "FormatError") return formatHint(e);
  if (/no space left on device|ENOSPC|os error 28\b/i.test(msg)) {
    return "The disk is full: free some space and run the same command again; every candle committed so far is kept (a replacement leaves the old file as it was).";
  }
  if (/read-only file system|EROFS|os error 30\b/i.test(msg)) {
    return "The data folder is on a read-only filesystem: pick a writable --ohlcv-dir (nothing was changed).";
  }
  if (name === "IncompleteError") {
    return "Every file is valid: run the same command again to fetch what is missing (or `pyne-data repair <file>` for holes in the middle); --json lists the runs.";
  }
  if (/lock/i.test(msg) && /writer|locked|lock file/i.test(msg)) {
    return "Another pyne-data process is writing this file; wait for it to finish (a stale lock of a dead process is taken over).";
  }
  if (name === "ProviderError" || name === "TransientProviderError") {
    if (/credential|api key|password|login|auth/i.test(msg)) {
      return "Put the credentials into the provider's config file (in --config-dir, default ./config) or the environment variables named above; they are never printed.";
    }
    if (isNetworkFailure(e)) {
      return "The venue could not be reached: check the network connection, and any base_url in the provider's config file (in --config-dir, default ./config).";
    }
    if (/timeframe/i.test(msg)) {
      return "Pick one of the timeframes the venue lists above (TradingView notation: 1, 60, 1D ...).";
    }
    if (/symbol|market/i.test(msg)) {
      return `List valid symbols with ${symbolsCommand(context)}.`;
    }
    return "Run again with --verbose for details; a download resumes where it stopped.";
  }
  return undefined;
}

/** Venue error codes that mean the user asked for something that does not exist. */
const USAGE_CODES: ReadonlySet<string> = new Set([
  "BadTimeframe",
  "unsupported.timeframe",
  "BadSymbol",
  "error.not-found.epic",
]);

/** Classifies any thrown value into an exit code, a one-line message and a hint. */
export function reportError(e: unknown): ErrorReport {
  if (e instanceof UsageError) {
    return { code: EXIT_USAGE, message: oneLine(e.message), hint: e.hint };
  }
  if (isAbortError(e)) {
    return {
      code: EXIT_INTERRUPTED,
      message: "Interrupted; every file written so far is valid",
      hint: "Run the same command again to resume where it stopped.",
    };
  }
  const code = (e as { code?: unknown } | null)?.code;
  if (e instanceof Error && code === "BadExchange") {
    // A mistyped exchange name is a usage error, like a provider name.
    return {
      code: EXIT_USAGE,
      message: oneLine(e.message),
      hint:
        "List the exchanges with `pyne-data symbols ccxt` (filter with --search).",
    };
  }
  if (e instanceof Error && typeof code === "string" && USAGE_CODES.has(code)) {
    // A symbol or timeframe the venue does not know is a usage error too.
    return {
      code: EXIT_USAGE,
      message: oneLine(e.message),
      hint: hintFor(e),
    };
  }
  if (e instanceof Error) {
    const message = oneLine(e.message) || e.name;
    return { code: EXIT_FAILURE, message, hint: hintFor(e) };
  }
  return { code: EXIT_FAILURE, message: oneLine(String(e)), hint: undefined };
}

/**
 * Formats an error report for stderr: `Error: <message>` and, when there is
 * one, `Hint: <hint>`. With `verbose` the stack (and causes) follow.
 */
export function formatError(
  e: unknown,
  report: ErrorReport,
  options: { verbose: boolean; color: boolean },
): string {
  const red = options.color ? (s: string) => `\x1b[31m${s}\x1b[39m` : (
    s: string,
  ) => s;
  const dim = options.color ? (s: string) => `\x1b[2m${s}\x1b[22m` : (
    s: string,
  ) => s;
  let out = `${red("Error:")} ${report.message}\n`;
  if (report.hint) out += `${dim("Hint:")} ${report.hint}\n`;
  if (options.verbose && e instanceof Error && !(e instanceof UsageError)) {
    let cur: unknown = e;
    let depth = 0;
    while (cur instanceof Error && depth < 5) {
      if (cur.stack) {
        out += dim(depth === 0 ? cur.stack : `Caused by: ${cur.stack}`) + "\n";
      }
      cur = cur.cause;
      depth++;
    }
  }
  return out;
}
