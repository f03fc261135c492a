/**
 * Conformance with PyneCore: every fixture in tests/fixtures/pynecore is read
 * (decode + header) and every v2 fixture is re-written byte for byte. The
 * folder is iterated, so new fixtures are tested automatically.
 */

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { batchFromRows, type CandleBatch } from "../format/candle_batch.ts";
import { FormatError } from "../format/format_error.ts";
import { OhlcvReader, ohlcvRecordCount } from "../format/ohlcv_reader.ts";
import { OhlcvWriter } from "../format/ohlcv_writer.ts";

const DIR = new URL("./fixtures/pynecore/", import.meta.url).pathname;

type Row = (number | null)[];
interface Fixture {
  note?: string;
  must_reject?: boolean;
  why?: string;
  writer?: {
    period: string;
    minmove: number | null;
    pricescale: number | null;
    late_grid: [number, number, number] | null;
  };
  input?: Row[];
  header?: Record<string, number>;
  reader?: {
    period: string | null;
    dense: boolean | null;
    size: number;
    minmove?: number | null;
    pricescale?: number | null;
  };
  decoded?: Row[];
}

const fixtures: { name: string; json: Fixture; ohlcv: string }[] = [];
for (const f of readdirSync(DIR).sort()) {
  if (!f.endsWith(".json")) continue;
  const base = f.slice(0, -5);
  const ohlcv = join(DIR, `${base}.ohlcv`);
  try {
    readFileSync(ohlcv);
  } catch {
    continue; // syminfo_*.json, *.export.json: not OHLCV fixtures
  }
  fixtures.push({
    name: base,
    json: JSON.parse(readFileSync(join(DIR, f), "utf8")),
    ohlcv,
  });
}

Deno.test("every .ohlcv fixture has a JSON twin the conformance tests understand", () => {
  const names = readdirSync(DIR);
  const ohlcv = names.filter((f) => f.endsWith(".ohlcv"));
  assert.ok(ohlcv.length >= 30, `found only ${ohlcv.length} .ohlcv fixtures`);
  for (const f of ohlcv) {
    const fx = fixtures.find((x) => x.name === f.slice(0, -6));
    assert.ok(
      fx,
      `${f} has no ${f.slice(0, -6)}.json twin: it would go untested`,
    );
    const j = fx.json;
    assert.ok(
      j.must_reject === true ||
        (j.reader !== undefined && Array.isArray(j.decoded)),
      `${f}: its twin has neither must_reject nor reader + decoded`,
    );
    if (j.header) {
      assert.ok(
        j.writer && Array.isArray(j.input),
        `${f}: v2 twin without writer + input`,
      );
    }
  }
});

/** TradingView period PyneCore reads back for an interval (spec section 2). */
function periodOf(value: number, unit: number): string {
  return unit === 1
    ? `${value}S`
    : unit === 2
    ? `${value}`
    : unit === 3
    ? `${value * 60}`
    : `${value}${["D", "W", "M"][unit - 4]}`;
}

function toNum(x: number | null): number {
  return x === null ? NaN : x;
}

function assertDecoded(batch: CandleBatch, rows: Row[], name: string): void {
  assert.equal(batch.time.length, rows.length, `${name}: record count`);
  const cols = [
    batch.time,
    batch.open,
    batch.high,
    batch.low,
    batch.close,
    batch.volume,
  ];
  const names = ["time", "open", "high", "low", "close", "volume"];
  for (let i = 0; i < rows.length; i++) {
    for (let c = 0; c < 6; c++) {
      const want = toNum(rows[i]![c]!);
      const got = cols[c]![i]!;
      if (!Object.is(got, want)) {
        assert.fail(
          `${name}: record ${i} ${
            names[c]
          } decoded ${got}, PyneCore reads ${want}`,
        );
      }
    }
  }
}

/** Writes a fixture's input with the given batch sizes (cycled); returns the bytes. */
async function writeFixture(
  fx: Fixture,
  dir: string,
  sizes: number[],
): Promise<Uint8Array> {
  const w = fx.writer!;
  const path = join(dir, `out_${sizes.join("_")}.ohlcv`);
  const opts = w.minmove === null
    ? { period: w.period }
    : { period: w.period, minmove: w.minmove, pricescale: w.pricescale! };
  const writer = await OhlcvWriter.open(path, opts);
  const rows = fx.input!;
  const late = w.late_grid;
  let i = 0, k = 0;
  while (i < rows.length) {
    if (late && i === late[0]) await writer.setTickInfo(late[1], late[2]);
    let end = Math.min(rows.length, i + sizes[k++ % sizes.length]!);
    if (late && i < late[0] && end > late[0]) end = late[0];
    await writer.append(batchFromRows(rows.slice(i, end)));
    i = end;
  }
  if (late && rows.length === late[0]) {
    await writer.setTickInfo(late[1], late[2]);
  }
  await writer.close();
  return await Deno.readFile(path);
}

/** What the error must name for each known corrupt fixture (new ones get the generic checks). */
const CORRUPT_PROBLEMS: Record<string, RegExp> = {
  corrupt_bad_dtype: /column 2 \("high"\) has unknown dtype 3/,
  corrupt_bad_unit: /unknown interval_unit 9/,
  corrupt_count_too_big: /declares 10000 records but the file holds 120/,
  corrupt_dense_single: /DENSE flag is set on a file with 1 record/,
  corrupt_first_ts_mismatch:
    /first_timestamp 1 differs from the first stored record's 1704153600000/,
  corrupt_grid_half: /tick grid: minmove 1, pricescale 0/,
  corrupt_header_size: /header_size is 200 but 6 columns need 208/,
  corrupt_last_ts_mismatch: /last_timestamp 1 /,
  corrupt_major_3: /unsupported format version 3/,
  corrupt_minor_9: /unsupported minor version 2\.9/,
  corrupt_offset_gap: /offsets do not tile/,
  corrupt_short_header: /40 bytes, shorter than the 64-byte v2 header/,
  corrupt_unknown_flag: /unknown flag bits 0x4/,
  corrupt_zero_interval: /interval_value is 0/,
};

for (const { name, json, ohlcv } of fixtures) {
  if (json.must_reject) {
    Deno.test(`OhlcvReader refuses corrupt fixture ${name} (${json.why})`, async () => {
      await assert.rejects(OhlcvReader.open(ohlcv), (err: unknown) => {
        assert.ok(
          err instanceof FormatError,
          `expected FormatError, got ${err}`,
        );
        assert.ok(
          err.message.includes(ohlcv),
          `message names the file: ${err.message}`,
        );
        assert.ok(
          err.message.startsWith(`Cannot open ${ohlcv}: `),
          `message starts with "Cannot open FILE: ": ${err.message}`,
        );
        assert.doesNotMatch(
          err.message,
          /undefined|NaN|\[object|\n/,
          "one clean line",
        );
        const problem = CORRUPT_PROBLEMS[name];
        if (problem) assert.match(err.message, problem, "names the problem");
        else {
          assert.ok(
            err.message.length > ohlcv.length + 30,
            `message explains the problem: ${err.message}`,
          );
        }
        return true;
      });
      assert.equal(await ohlcvRecordCount(ohlcv), 0);
    });
    Deno.test(`OhlcvWriter refuses corrupt fixture ${name} and leaves it untouched`, async () => {
      const dir = await Deno.makeTempDir();
      try {
        const path = join(dir, `${name}.ohlcv`);
        await Deno.copyFile(ohlcv, path);
        const before = await Deno.readFile(path);
        await assert.rejects(
          OhlcvWriter.open(path, { period: "1" }),
          FormatError,
        );
        assert.deepEqual(await Deno.readFile(path), before);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
    continue;
  }

  Deno.test(`OhlcvReader decodes fixture ${name} exactly as PyneCore`, async () => {
    await using reader = await OhlcvReader.open(ohlcv);
    const r = json.reader!;
    assert.equal(reader.count, r.size);
    assert.equal(reader.info.period, r.period);
    if (json.header) {
      const h = json.header;
      assert.equal(reader.info.format, "v2");
      assert.equal(reader.info.dense, r.dense);
      assert.equal(reader.info.dense, (h.flags! & 1) === 1);
      assert.equal(reader.info.recordSize, h.record_size);
      assert.equal(reader.info.headerSize, h.header_size);
      assert.equal(reader.info.versionMinor, h.version_minor);
      assert.equal(reader.info.count, h.record_count);
      assert.equal(reader.info.minmove, h.minmove);
      assert.equal(reader.info.pricescale, h.pricescale);
      assert.equal(reader.info.first ?? 0, h.first_timestamp);
      assert.equal(reader.info.last ?? 0, h.last_timestamp);
      assert.equal(reader.info.minmove, r.minmove ?? 0);
      assert.equal(reader.info.pricescale, r.pricescale ?? 0);
      assert.equal(
        reader.info.period,
        periodOf(h.interval_value!, h.interval_unit!),
      );
    } else {
      assert.equal(reader.info.format, "v1");
    }
    const batch = await reader.read();
    assertDecoded(batch, json.decoded!, name);
    // Streaming in small batches gives the same values.
    const parts: CandleBatch[] = [];
    for await (const b of reader.batches({ batchSize: 7 })) parts.push(b);
    const rows: Row[] = [];
    for (const p of parts) {
      for (let i = 0; i < p.time.length; i++) {
        rows.push([
          p.time[i]!,
          p.open[i]!,
          p.high[i]!,
          p.low[i]!,
          p.close[i]!,
          p.volume[i]!,
        ]);
      }
    }
    assertDecoded(batchFromRows(rows), json.decoded!, `${name} (batches)`);
    assert.equal(await ohlcvRecordCount(ohlcv), r.size);
  });

  if (!json.header) {
    // Legacy v1: read-only; phantom rows (volume -1) can be skipped.
    Deno.test(`OhlcvReader skips phantom rows of legacy fixture ${name}`, async () => {
      await using reader = await OhlcvReader.open(ohlcv);
      const kept = json.decoded!.filter((r) => r[5] !== -1);
      assert.ok(kept.length < json.decoded!.length, "fixture has phantom rows");
      const parts: CandleBatch[] = [];
      for await (
        const b of reader.batches({ batchSize: 5, skipPhantoms: true })
      ) {
        assert.ok(b.time.length > 0, "never an empty batch");
        parts.push(b);
      }
      const rows: Row[] = [];
      for (const p of parts) {
        for (let i = 0; i < p.time.length; i++) {
          rows.push([
            p.time[i]!,
            p.open[i]!,
            p.high[i]!,
            p.low[i]!,
            p.close[i]!,
            p.volume[i]!,
          ]);
        }
      }
      assertDecoded(batchFromRows(rows), kept, name);
    });
    Deno.test(`OhlcvWriter refuses to append to legacy fixture ${name} unless replacing`, async () => {
      const dir = await Deno.makeTempDir();
      try {
        const path = join(dir, `${name}.ohlcv`);
        await Deno.copyFile(ohlcv, path);
        const before = await Deno.readFile(path);
        await assert.rejects(
          OhlcvWriter.open(path, { period: "60" }),
          /legacy v1.*replace/,
        );
        assert.deepEqual(await Deno.readFile(path), before);
        const w = await OhlcvWriter.open(path, { period: "60", replace: true });
        await w.append(batchFromRows(json.input!.slice(0, 3)));
        assert.deepEqual(
          await Deno.readFile(path),
          before,
          "old file kept until close",
        );
        await w.close();
        await using r = await OhlcvReader.open(path);
        assert.equal(r.info.format, "v2");
        assert.equal(r.count, 3);
      } finally {
        await Deno.remove(dir, { recursive: true });
      }
    });
    continue;
  }

  Deno.test(`OhlcvWriter reproduces fixture ${name} byte for byte`, async () => {
    const dir = await Deno.makeTempDir();
    try {
      let expected = await Deno.readFile(ohlcv);
      const h = json.header!;
      expected = expected.subarray(
        0,
        h.header_size! + h.record_count! * h.record_size!,
      );
      const n = json.input!.length;
      const variants = [[Math.max(n, 1)], [1], [2], [3], [7], [64], [5, 1, 13]];
      for (const sizes of variants) {
        const bytes = await writeFixture(json, dir, sizes);
        if (!bytesEqual(bytes, expected)) {
          assert.fail(
            `${name}: batches of ${
              sizes.join("/")
            } give different bytes (${bytes.length} vs ${expected.length}); first difference at byte ${
              firstDiff(bytes, expected)
            }`,
          );
        }
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("OhlcvWriter truncates the crash_tail fixture's uncommitted bytes on open", async () => {
  const fx = fixtures.find((f) => f.name === "crash_tail")!;
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "crash_tail.ohlcv");
    await Deno.copyFile(fx.ohlcv, path);
    const h = fx.json.header!;
    const extent = h.header_size! + h.record_count! * h.record_size!;
    const before = await Deno.readFile(path);
    assert.ok(before.length > extent, "fixture has junk past the extent");
    {
      await using r = await OhlcvReader.open(path);
      assert.equal(r.count, 40);
    }
    const w = await OhlcvWriter.open(path, { period: "1" });
    assert.equal(w.count, 40);
    assert.equal(w.minmove, 1, "grid adopted from the file");
    assert.equal(w.pricescale, 100);
    await w.close();
    const after = await Deno.readFile(path);
    assert.equal(after.length, extent);
    assert.deepEqual(after, before.subarray(0, extent));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("OhlcvReader reports a text file named .ohlcv as a text file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "prices.ohlcv");
    await Deno.copyFile(join(DIR, "btc_1D_gap.export.csv"), path);
    await assert.rejects(OhlcvReader.open(path), (err: unknown) => {
      assert.ok(err instanceof FormatError);
      assert.match(err.message, /text file/);
      assert.ok(err.message.includes(path));
      return true;
    });
    assert.equal(await ohlcvRecordCount(path), 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("OhlcvReader opens a zero-byte file as empty and ohlcvRecordCount of a missing file is 0", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "empty.ohlcv");
    await Deno.writeFile(path, new Uint8Array(0));
    await using r = await OhlcvReader.open(path);
    assert.equal(r.count, 0);
    assert.equal(r.info.first, undefined);
    assert.equal((await r.read()).time.length, 0);
    assert.equal(await ohlcvRecordCount(join(dir, "missing.ohlcv")), 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function firstDiff(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}
