/**
 * The state one CLI run hands to its command modules. Private to `cli.ts`.
 *
 * @module
 */

import type { CliIo } from "../cli.ts";

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
