/**
 * The file side of `download()`: opens the `.ohlcv` writer (taking its lock),
 * checks that nobody changed the file since it was read, copies the existing
 * candles into a rebuilt file, saves the symbol-info `.toml` at the right
 * moment, and on failure leaves nothing behind from a first download.
 * Private.
 *
 * @module
 */

import { mkdir, rm } from "node:fs/promises";
import { basename, dirname } from "node:path";
import { pathExists } from "../format/_file_io.ts";
import { readSidecarRows } from "../format/_sidecar.ts";
import type { CandleBatch } from "../format/candle_batch.ts";
import { OhlcvReader, ohlcvRecordCount } from "../format/ohlcv_reader.ts";
import { OhlcvWriter } from "../format/ohlcv_writer.ts";
import { symbolInfoPath } from "../format/symbol_info_toml.ts";
import type { Timeframe } from "../format/timeframe.ts";
import type { LedgerFile } from "../format/coverage.ts";
import type { LedgerKeeper } from "./_coverage_ledger.ts";
import type { ExistingFile } from "./_download_plan.ts";

/** Options of {@linkcode DownloadTarget.open}. */
export interface DownloadTargetOptions {
  readonly timeframe: Timeframe;
  /** Write a fresh file that replaces the old one when closed. */
  readonly replace: boolean;
  /** What the file held when it was read (checked again under the lock). */
  readonly existing: ExistingFile | undefined;
  /** The tick grid of a new or rebuilt file. */
  readonly grid: { minmove: number; pricescale: number } | undefined;
  readonly durable: boolean;
  /** The file's coverage ledger, written with the symbol info. */
  readonly ledger: LedgerKeeper;
  /** Notices for the user (files of killed writers removed). */
  readonly log?: ((line: string) => void) | undefined;
}

/** The `.ohlcv` file and its `.toml` while a download writes them. */
export class DownloadTarget {
  /** The `.ohlcv` file. */
  readonly path: string;
  /** The symbol-info `.toml` beside it. */
  readonly tomlPath: string;
  readonly #options: DownloadTargetOptions;
  readonly #fileExisted: boolean;
  readonly #tomlExisted: boolean;
  #writer: OhlcvWriter;
  #replacing: boolean;

  private constructor(
    path: string,
    options: DownloadTargetOptions,
    writer: OhlcvWriter,
    existed: { file: boolean; toml: boolean },
  ) {
    this.path = path;
    this.tomlPath = symbolInfoPath(path);
    this.#options = options;
    this.#writer = writer;
    this.#replacing = options.replace;
    this.#fileExisted = existed.file;
    this.#tomlExisted = existed.toml;
  }

  /**
   * Creates the folder and opens the writer (which takes the file's lock).
   * With an existing file, checks it is still what was read.
   */
  static async open(
    path: string,
    options: DownloadTargetOptions,
  ): Promise<DownloadTarget> {
    const file = await pathExists(path);
    await mkdir(dirname(path), { recursive: true });
    const toml = await pathExists(symbolInfoPath(path));
    const writer = await OhlcvWriter.open(path, {
      period: options.timeframe.period,
      replace: options.replace,
      durable: options.durable,
      ...(options.grid ?? {}),
    });
    tellRemoved(writer, options.log);
    const target = new DownloadTarget(path, options, writer, { file, toml });
    if (options.existing !== undefined) {
      await target.#ensureUnchanged(options.replace);
    }
    return target;
  }

  /**
   * True while a replacement is written: it stays invisible until `close()`
   * renames it into place, and so does its symbol info.
   */
  get replacing(): boolean {
    return this.#replacing;
  }

  /** Commits a batch (one without candles does nothing). */
  async append(batch: CandleBatch): Promise<void> {
    if (batch.time.length > 0) await this.#writer.append(batch);
  }

  /** The committed candles of the file being written (or its replacement). */
  get committed(): LedgerFile {
    const w = this.#writer;
    return { records: w.count, first: w.firstTime, last: w.lastTime };
  }

  /**
   * Drops the replacement and opens the file as it is for a top-up (and saves
   * the symbol info now, as a top-up does before it starts).
   */
  async reopenForAppend(): Promise<void> {
    await this.#writer.abort();
    this.#writer = await OhlcvWriter.open(this.path, {
      period: this.#options.timeframe.period,
      durable: this.#options.durable,
    });
    tellRemoved(this.#writer, this.#options.log);
    this.#replacing = false;
    await this.#ensureUnchanged(false);
    await this.saveSymbolInfo();
  }

  /**
   * Copies every candle of the existing file (with its `.extra.csv` fields)
   * into the replacement; returns how many.
   */
  async copyExisting(signal: AbortSignal | undefined): Promise<number> {
    let copied = 0;
    const reader = await OhlcvReader.open(this.path);
    try {
      const extras = await readSidecarRows(this.path, reader.count);
      for await (const batch of reader.batches()) {
        signal?.throwIfAborted();
        const n = batch.time.length;
        await this.#writer.append(
          extras && extras.slice(copied, copied + n).some((e) => e)
            ? { ...batch, extra: extras.slice(copied, copied + n) }
            : batch,
        );
        copied += n;
      }
    } finally {
      await reader.close();
    }
    return copied;
  }

  /** Writes the symbol-info `.toml` with the coverage ledger. */
  async saveSymbolInfo(): Promise<void> {
    await this.#options.ledger.persist(this.committed);
  }

  /**
   * Records a committed batch's claims in the ledger, and writes the ledger
   * now and then (not while a replacement is invisible: then on close).
   */
  async recordClaims(claims: CandleBatch["coverage"]): Promise<void> {
    const ledger = this.#options.ledger;
    ledger.claim(claims, this.committed);
    if (!this.#replacing) await ledger.persistSoon();
  }

  /** Commits the file (renaming a replacement into place) and unlocks it. */
  async close(): Promise<void> {
    await this.#writer.close();
  }

  /**
   * Aborts the writer (a replacement is discarded, committed candles stay).
   * A first download that wrote nothing leaves no file behind. Returns true
   * when the file (and its `.toml`) stay, to be told what the run got.
   */
  async fail(error: unknown, nothingWritten: boolean): Promise<boolean> {
    await this.#writer.abort(error);
    if (!this.#fileExisted && nothingWritten) {
      await rm(this.path, { force: true });
      if (!this.#tomlExisted) await rm(this.tomlPath, { force: true });
      return false;
    }
    return !this.#replacing;
  }

  // The file was read before its lock was taken: another writer may have
  // changed it in between. Starting from a stale end would fail half-way.
  async #ensureUnchanged(replace: boolean): Promise<void> {
    const old = this.#options.existing!;
    const writer = this.#writer;
    const count = replace ? await ohlcvRecordCount(this.path) : writer.count;
    if (count !== old.count || (!replace && writer.lastTime !== old.last)) {
      await writer.abort();
      throw new Error(
        `Cannot download into ${this.path}: another writer changed it (${old.count} candles, now ${count}) while this download started; run it again`,
      );
    }
  }
}

/** Tells what taking the lock cleared away (files of writers that are gone). */
function tellRemoved(
  writer: OhlcvWriter,
  log: ((line: string) => void) | undefined,
): void {
  const files = writer.staleFilesRemoved;
  if (files.length === 0 || !log) return;
  log(
    `removed ${files.length} file${
      files.length === 1 ? "" : "s"
    } left by an earlier download that was killed: ${
      files.map((f) => basename(f)).join(", ")
    }`,
  );
}
