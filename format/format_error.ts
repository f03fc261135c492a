/**
 * The error class for bad file bytes and bad data files.
 *
 * @module
 */

/**
 * Raised when a file's bytes (or an imported CSV/JSON/TOML file) are not valid.
 * The message names the file and the problem, for example
 * `Cannot open data/x.ohlcv: header declares 10 records but the file holds 3`.
 */
export class FormatError extends Error {
  /** Path of the offending file, when known. */
  readonly path: string | undefined;

  /** Creates a format error; `path` is the offending file when known. */
  constructor(message: string, options?: { path?: string; cause?: unknown }) {
    super(
      message,
      options?.cause !== undefined ? { cause: options.cause } : undefined,
    );
    this.name = "FormatError";
    this.path = options?.path;
  }
}
