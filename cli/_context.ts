/**
 * The state one CLI run hands to its command modules. Private to `cli.ts`.
 *
 * @module
 */

/** Where the CLI writes and what it knows about its terminal. */
export interface CliIo {
  /** Writes to standard output. */
  stdout(text: string): void;
  /** Writes to standard error. */
  stderr(text: string): void;
  /** True when stderr is a terminal (live progress display). */
  stderrIsTerminal: boolean;
  /** True when stdout is a terminal (the summary table fits its width). */
  stdoutIsTerminal: boolean;
  /** Terminal width in columns. */
  columns: number;
  /** Terminal height in rows (the live display never grows taller). */
  rows: number;
  /** The terminal's current size, when it can change (a resized window). */
  terminalSize?: (() => { columns: number; rows: number }) | undefined;
  /** Environment variables (credentials, `NO_COLOR`). */
  env: Readonly<Record<string, string | undefined>>;
}

/** Shared state of one CLI run. */
export interface CliContext {
  /** Output streams, terminal facts and environment. */
  readonly io: CliIo;
  /** Aborted on Ctrl-C. */
  readonly signal: AbortSignal;
  /** `--quiet`: print only errors. */
  readonly quiet: boolean;
  /** `--verbose`: diagnostics and stack traces. */
  readonly verbose: boolean;
  /** `--json`: machine-readable output on stdout. */
  readonly json: boolean;
  /** ANSI colours on stderr. */
  readonly color: boolean;
  /** Writes to stdout (results). */
  out(text: string): void;
  /** Writes a status message to stderr unless `--quiet`. */
  info(text: string): void;
  /** Writes a diagnostic line to stderr with `--verbose`. */
  log(line: string): void;
}
