/**
 * The `.ohlcv` check of the fuzz bench: what `OhlcvReader` documents about
 * a file it opens or refuses, held against the bytes the trial wrote (the
 * header's figures, `read()`, `batches()`, `range()`, `indexOf()` and
 * `ohlcvRecordCount` agreeing, and the exact candles when a change keeps
 * them).
 *
 * @module
 */

import { OhlcvReader, ohlcvRecordCount } from "../../format/ohlcv_reader.ts";
import type { CandleBatch } from "../../format/candle_batch.ts";
import {
  formatErrorNaming,
  must,
  note,
  type Notes,
  sameBatch,
  type TrialOutcome,
} from "./_invariants.ts";
import { hasMagic, readLE } from "./_ohlcv_bytes.ts";
import type { Rng } from "./_prng.ts";

/**
 * Opens `path` (holding `bytes`) with `OhlcvReader` and checks what it
 * documents: a `FormatError` naming the file, or a reader whose `info`
 * matches the header (v2) or the size (v1) and whose `read()`, `batches()`
 * and `range()` agree, with `count` records, integer times and
 * `time[0] === info.first`, `time[count - 1] === info.last`.
 */
export async function checkOhlcv(
  bytes: Uint8Array,
  path: string,
  notes: Notes,
  expected?: CandleBatch,
  r?: Rng,
): Promise<TrialOutcome> {
  let reader: OhlcvReader;
  try {
    reader = await OhlcvReader.open(path);
  } catch (e) {
    const out = formatErrorNaming(e, path);
    must(
      expected === undefined,
      `a valid file is refused: ${(e as Error).message}`,
    );
    must(
      await ohlcvRecordCount(path) === 0,
      "ohlcvRecordCount is not 0 for a refused file",
    );
    return out;
  }
  try {
    const info = reader.info;
    const v2 = hasMagic(bytes);
    must(info.format === (v2 ? "v2" : "v1"), `format ${info.format}`);
    if (v2) {
      must(
        info.count === Number(readLE(bytes, 24, 8)),
        `count ${info.count} is not the header's`,
      );
      must(
        info.recordSize === Number(readLE(bytes, 16, 4)),
        "recordSize differs from the header",
      );
      must(
        info.headerSize === Number(readLE(bytes, 12, 4)),
        "headerSize differs from the header",
      );
      if (info.count > 0) {
        must(
          info.first === Number(BigInt.asIntN(64, readLE(bytes, 32, 8))),
          "first differs from the header",
        );
        must(
          info.last === Number(BigInt.asIntN(64, readLE(bytes, 40, 8))),
          "last differs from the header",
        );
      }
    } else {
      must(
        info.count === Math.floor(bytes.length / 24),
        `v1 count ${info.count} for ${bytes.length} bytes`,
      );
      must(info.recordSize === 24 && info.headerSize === 0, "v1 layout");
    }
    must(
      info.headerSize + info.count * info.recordSize <= bytes.length,
      "the committed records do not fit the file",
    );
    const n = info.count;
    must((n === 0) === (info.first === undefined), "first/undefined vs count");
    const all = await reader.read();
    for (
      const col of ["time", "open", "high", "low", "close", "volume"] as const
    ) {
      must(
        all[col] instanceof Float64Array && all[col].length === n,
        `${col} has ${all[col].length} values, count is ${n}`,
      );
    }
    let sorted = true, finite = true;
    for (let i = 0; i < n; i++) {
      must(
        Number.isInteger(all.time[i]),
        `time[${i}] = ${all.time[i]} is not a whole number`,
      );
      if (i > 0 && !(all.time[i]! > all.time[i - 1]!)) sorted = false;
      for (const col of ["open", "high", "low", "close", "volume"] as const) {
        const v = all[col][i]!;
        if (v === Infinity || v === -Infinity) finite = false;
      }
    }
    if (n > 0) {
      must(
        all.time[0] === info.first,
        `time[0] ${all.time[0]} is not info.first ${info.first}`,
      );
      must(
        all.time[n - 1] === info.last,
        `last time ${all.time[n - 1]} is not info.last ${info.last}`,
      );
    }
    if (!sorted) note(notes, "decoded with times not strictly increasing");
    if (!finite) note(notes, "decoded with ±Infinity values");
    if (n > 0) note(notes, `decoded ${info.format}, non-empty`);
    else note(notes, `decoded ${info.format}, empty`);
    if (expected) {
      const diff = sameBatch(all, expected);
      must(
        diff === undefined,
        `a change that keeps the candles changed them: ${diff}`,
      );
      note(
        notes,
        "decoded exactly the candles it must (valid layouts, preserving changes)",
      );
    }
    // batches() in random chunks must give the same candles as read().
    const batchSize = r ? r.range(1, Math.max(1, n)) : 7;
    const parts: CandleBatch[] = [];
    for await (const b of reader.batches({ batchSize })) parts.push(b);
    const joined = {
      time: Float64Array.from(parts.flatMap((p) => [...p.time])),
      open: Float64Array.from(parts.flatMap((p) => [...p.open])),
      high: Float64Array.from(parts.flatMap((p) => [...p.high])),
      low: Float64Array.from(parts.flatMap((p) => [...p.low])),
      close: Float64Array.from(parts.flatMap((p) => [...p.close])),
      volume: Float64Array.from(parts.flatMap((p) => [...p.volume])),
    };
    const bd = sameBatch(joined, all);
    must(
      bd === undefined,
      `batches({ batchSize: ${batchSize} }) differs from read(): ${bd}`,
    );
    if (info.format === "v1") {
      let real = 0;
      for (const v of all.volume) if (v !== -1) real++;
      let got = 0;
      for await (const b of reader.batches({ skipPhantoms: true, batchSize })) {
        got += b.time.length;
      }
      must(got === real, `skipPhantoms gave ${got} candles, expected ${real}`);
    }
    if (n > 0) {
      const rg = await reader.range(info.first!, info.last!);
      must(rg.time.length <= n, "range() returned more than count");
      if (sorted) {
        must(
          rg.time.length === n,
          `range(first, last) gave ${rg.time.length} of ${n}`,
        );
      }
      const mid = all.time[n >> 1]!;
      const i = await reader.indexOf(mid, "left");
      must(i >= 0 && i <= n, `indexOf gave ${i}`);
      if (sorted) {
        must(all.time[i] === mid, `indexOf(${mid}) = ${i} on sorted times`);
      }
    }
    must(
      await ohlcvRecordCount(path) === n,
      "ohlcvRecordCount differs from count",
    );
    return "ok";
  } finally {
    await reader.close();
  }
}
