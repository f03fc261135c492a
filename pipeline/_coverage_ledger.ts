/**
 * A private part of `download()` and `repair()`: loads a file's coverage
 * ledger from its `.toml`, folds the claims of committed batches into it and
 * writes it back (atomically, with the symbol info) — after the candles it
 * describes are committed, so it never claims more than the file holds.
 *
 * @module
 */

import type { CoverageClaim } from "../format/candle_batch.ts";
import {
  coverageFromToml,
  type CoverageLedger,
  coverageToToml,
  emptyLedger,
  type LedgerFile,
  ledgerFits,
  recordCoverage,
} from "../format/coverage.ts";
import { FormatError } from "../format/format_error.ts";
import type { SymbolInfo } from "../format/symbol_info.ts";
import { readSymbolInfo, writeSymbolInfo } from "../format/symbol_info_toml.ts";

/** What {@linkcode loadLedger} found. */
export interface LoadedLedger {
  /** The ledger (empty when the `.toml` had none, or one that does not fit the file). */
  readonly ledger: CoverageLedger;
  /** Other top-level tables of the `.toml`, kept when it is rewritten. */
  readonly extra: Record<string, unknown>;
  /** Why an existing ledger was set aside, when it was. */
  readonly discarded?: string | undefined;
}

/**
 * Reads the `[coverage]` table of `tomlPath` for a file holding `file`. A
 * missing `.toml` or table gives an empty ledger; a malformed table or one
 * that claims candles the file does not hold is set aside (and said why).
 */
export async function loadLedger(
  tomlPath: string,
  file: LedgerFile,
): Promise<LoadedLedger> {
  let extra: Record<string, unknown> = {};
  try {
    const doc = await readSymbolInfo(tomlPath);
    extra = { ...(doc.extra ?? {}) };
  } catch (e) {
    if ((e as { code?: string }).code === "ENOENT") {
      return { ledger: emptyLedger(), extra };
    }
    if (e instanceof FormatError) {
      return {
        ledger: emptyLedger(),
        extra,
        discarded: `${tomlPath} could not be read (${e.message})`,
      };
    }
    throw e;
  }
  const table = extra.coverage;
  delete extra.coverage;
  if (table === undefined) return { ledger: emptyLedger(), extra };
  let ledger: CoverageLedger;
  try {
    ledger = coverageFromToml(table, tomlPath);
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
    return { ledger: emptyLedger(), extra, discarded: e.message };
  }
  if (!ledgerFits(ledger, file)) {
    return {
      ledger: emptyLedger(),
      extra,
      discarded:
        `the [coverage] table of ${tomlPath} describes ${ledger.file?.records} candles the file no longer holds as recorded; starting a new ledger`,
    };
  }
  return { ledger, extra };
}

/** Options of {@linkcode LedgerKeeper}. */
export interface LedgerKeeperOptions {
  /** The `.toml` path. */
  readonly tomlPath: string;
  /** Symbol info written with the ledger. */
  readonly info: SymbolInfo;
  /** The `[download] provider` string. */
  readonly provider: string;
  /** Other tables of the `.toml` to keep. */
  readonly extra: Record<string, unknown>;
  /** Least time between writes of `persistSoon`, ms. @default {2000} */
  readonly intervalMs?: number | undefined;
}

/** Holds one file's ledger during a download and writes it back. */
export class LedgerKeeper {
  readonly ledger: CoverageLedger;
  readonly #options: LedgerKeeperOptions;
  #lastWrite = 0;
  #dirty = false;
  /** Claims of `"failed"` and `"not-served"` with their reasons (first ones). */
  readonly notes: CoverageClaim[] = [];

  /** Keeps `ledger` for the `.toml` at `options.tomlPath`. */
  constructor(ledger: CoverageLedger, options: LedgerKeeperOptions) {
    this.ledger = ledger;
    this.#options = options;
  }

  /** Folds claims of a committed batch in, with the file as it now is. */
  claim(claims: readonly CoverageClaim[] | undefined, file: LedgerFile): void {
    for (const c of claims ?? []) {
      recordCoverage(this.ledger, c.state, c.from, c.to);
      if (c.state !== "fetched" && this.notes.length < 100) this.notes.push(c);
    }
    this.ledger.file = file;
    this.#dirty = true;
  }

  /** Records a requested range. */
  request(from: number, to: number): void {
    this.ledger.requested.add(from, to);
    this.#dirty = true;
  }

  /** Writes the `.toml` now (recording `file` as the file it describes, when given). */
  async persist(file?: LedgerFile): Promise<void> {
    if (file !== undefined) this.ledger.file = file;
    const o = this.#options;
    await writeSymbolInfo(o.tomlPath, o.info, {
      provider: o.provider,
      extra: { ...o.extra, coverage: coverageToToml(this.ledger) },
    });
    this.#dirty = false;
    this.#lastWrite = performance.now();
  }

  /** Writes the `.toml` when something changed and the interval has passed. */
  async persistSoon(): Promise<void> {
    if (!this.#dirty) return;
    if (
      performance.now() - this.#lastWrite < (this.#options.intervalMs ?? 2000)
    ) {
      return;
    }
    await this.persist();
  }
}
