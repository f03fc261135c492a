import assert from "node:assert/strict";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { batchToRows } from "../format/candle_batch.ts";
import { convertFile } from "../format/convert.ts";
import { FormatError } from "../format/format_error.ts";
import { OhlcvReader } from "../format/ohlcv_reader.ts";

const FIXTURES = new URL("./fixtures/pynecore/", import.meta.url);
const fixturePath = (name: string) => new URL(name, FIXTURES).pathname;

interface Fixture {
  note: string;
  writer?: {
    period: string;
    minmove: number | null;
    pricescale: number | null;
    late_grid: [number, number, number] | null;
  };
  input: (number | null)[][];
  header?: { header_size: number; record_size: number; record_count: number };
  decoded?: (number | null)[][];
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true });
  }
}

/** The fixture's input rows as CSV: ms timestamps, NaN for missing. */
function inputCsv(rows: (number | null)[][]): string {
  const lines = ["timestamp,open,high,low,close,volume"];
  for (const r of rows) {
    lines.push(r.map((v) => (v === null ? "NaN" : String(v))).join(","));
  }
  return lines.join("\n") + "\n";
}

const v2Fixtures: Array<[string, Fixture]> = [];
for (const entry of Deno.readDirSync(FIXTURES)) {
  if (!entry.name.endsWith(".json")) continue;
  const fx = JSON.parse(Deno.readTextFileSync(new URL(entry.name, FIXTURES)));
  if (fx && typeof fx === "object" && !Array.isArray(fx) && fx.writer) {
    v2Fixtures.push([entry.name.replace(/\.json$/, ""), fx]);
  }
}
v2Fixtures.sort(([a], [b]) => a.localeCompare(b));

Deno.test("convertFile fixture list covers every v2 fixture with a writer block", () => {
  assert.ok(v2Fixtures.length >= 15, `only ${v2Fixtures.length} fixtures`);
});

for (const [name, fx] of v2Fixtures) {
  const w = fx.writer!;
  // late_grid sets the grid in the middle of writing, which a one-shot
  // conversion (grid given up front) does not do; it is checked separately.
  if (w.late_grid) continue;
  Deno.test(`convertFile turns ${name}'s input rows as CSV into PyneCore's bytes`, async () => {
    await withTempDir(async (dir) => {
      const csv = join(dir, `${name}.csv`);
      await writeFile(csv, inputCsv(fx.input));
      const out = join(dir, `${name}.ohlcv`);
      const options = w.minmove === null ? { timeframe: w.period } : {
        timeframe: w.period,
        minmove: w.minmove,
        pricescale: w.pricescale!,
      };
      const r = await convertFile(csv, out, options);
      assert.equal(r.count, fx.input.length);
      assert.equal(r.period, w.period);
      const expected = await readFile(fixturePath(`${name}.ohlcv`));
      const h = fx.header!;
      // crash_tail carries junk after the committed extent; compare that extent.
      const committed = h.header_size + h.record_count * h.record_size;
      assert.deepEqual(await readFile(out), expected.subarray(0, committed));
      assert.deepEqual(
        (await readdir(dir)).sort(),
        [csv, out].map((p) => p.slice(dir.length + 1)).sort(),
      );
    });
  });
}

Deno.test("convertFile with a grid up front matches late_grid's data after the grid point", async () => {
  const [, fx] = v2Fixtures.find(([n]) => n === "late_grid")!;
  await withTempDir(async (dir) => {
    const csv = join(dir, "late.csv");
    await writeFile(csv, inputCsv(fx.input));
    const out = join(dir, "late.ohlcv");
    const [, minmove, pricescale] = fx.writer!.late_grid!;
    await convertFile(csv, out, {
      timeframe: fx.writer!.period,
      minmove,
      pricescale,
    });
    await using reader = await OhlcvReader.open(out);
    assert.equal(reader.count, fx.input.length);
    assert.equal(reader.info.minmove, minmove);
    assert.equal(reader.info.pricescale, pricescale);
    const decoded = batchToRows(await reader.read());
    const expected = fx.decoded!.map((r) =>
      r.map((v) => (v === null ? NaN : v))
    );
    assert.deepEqual(decoded, expected);
  });
});

Deno.test("convertFile reads JSON input (arrays and PyneCore objects) to the same bytes", async () => {
  const [, fx] = v2Fixtures.find(([n]) => n === "tick_0025_negvol")!;
  await withTempDir(async (dir) => {
    const opts = { timeframe: "1", minmove: 25, pricescale: 1000 };
    const a = join(dir, "a.json");
    await writeFile(a, JSON.stringify(fx.input));
    await convertFile(a, join(dir, "a.ohlcv"), opts);
    const o = join(dir, "o.json");
    await writeFile(
      o,
      JSON.stringify(
        fx.input.map(([timestamp, open, high, low, close, volume]) => ({
          timestamp,
          open,
          high,
          low,
          close,
          volume,
        })),
      ),
    );
    await convertFile(o, join(dir, "o.ohlcv"), opts);
    const expected = await readFile(fixturePath("tick_0025_negvol.ohlcv"));
    assert.deepEqual(await readFile(join(dir, "a.ohlcv")), expected);
    assert.deepEqual(await readFile(join(dir, "o.ohlcv")), expected);
  });
});

Deno.test("convertFile exports .ohlcv to PyneCore's CSV and JSON", async () => {
  await withTempDir(async (dir) => {
    const csv = join(dir, "btc.csv");
    const json = join(dir, "btc.json");
    const r = await convertFile(fixturePath("btc_1D_gap.ohlcv"), csv);
    const [, btc] = v2Fixtures.find(([n]) => n === "btc_1D_gap")!;
    assert.equal(r.count, btc.header!.record_count);
    assert.equal(r.first, btc.input[0]![0]);
    assert.equal(r.period, "1D");
    await convertFile(fixturePath("btc_1D_gap.ohlcv"), json, { batchSize: 10 });
    assert.deepEqual(
      await readFile(csv),
      await readFile(fixturePath("btc_1D_gap.export.csv")),
    );
    assert.deepEqual(
      await readFile(json),
      await readFile(fixturePath("btc_1D_gap.export.json")),
    );
    // ... and back: PyneCore's export converts to PyneCore's file (period inferred).
    const back = join(dir, "back.ohlcv");
    const b = await convertFile(csv, back, { minmove: 1, pricescale: 100 });
    assert.equal(b.period, "1D");
    assert.deepEqual(
      await readFile(back),
      await readFile(fixturePath("btc_1D_gap.ohlcv")),
    );
    // csv -> json works too.
    await convertFile(csv, join(dir, "again.json"));
    assert.deepEqual(
      await readFile(join(dir, "again.json")),
      await readFile(fixturePath("btc_1D_gap.export.json")),
    );
  });
});

Deno.test("convertFile exports a legacy v1 file with ISO times", async () => {
  await withTempDir(async (dir) => {
    const out = join(dir, "v1.csv");
    const r = await convertFile(fixturePath("legacy_v1_60.ohlcv"), out, {
      timeFormat: "iso",
    });
    assert.equal(r.period, null);
    const lines = (await readFile(out, "utf8")).split("\r\n");
    assert.equal(lines[0], "time,open,high,low,close,volume");
    assert.equal(lines.length, r.count + 2);
    assert.match(lines[1]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z,/);
  });
});

Deno.test("convertFile leaves nothing on disk when the input is bad", async () => {
  await withTempDir(async (dir) => {
    const rows = Array.from(
      { length: 30 },
      (_, i) => `${1704067200000 + i * 60000},1,2,0.5,1.5,10`,
    );
    rows[20] = `${1704067200000 + 20 * 60000},1,abc,0.5,1.5,10`;
    const csv = join(dir, "data.csv");
    await writeFile(
      csv,
      "timestamp,open,high,low,close,volume\n" + rows.join("\n") + "\n",
    );
    await assert.rejects(
      convertFile(csv, join(dir, "out.ohlcv"), { timeframe: "1" }),
      (e: unknown) =>
        e instanceof FormatError &&
        e.message ===
          `Cannot import ${csv}: row 22: high "abc" is not a number`,
    );
    // A value the .ohlcv encoding refuses (close without open, no grid) fails in the writer.
    rows[20] = `${1704067200000 + 20 * 60000},NaN,2,0.5,1.5,10`;
    await writeFile(
      csv,
      "timestamp,open,high,low,close,volume\n" + rows.join("\n") + "\n",
    );
    await assert.rejects(
      convertFile(csv, join(dir, "out.ohlcv"), {
        timeframe: "1",
        batchSize: 8,
      }),
      (e: unknown) =>
        e instanceof Error && e.message.includes("2024-01-01T00:20:00.000Z"),
    );
    assert.deepEqual(await readdir(dir), ["data.csv"]);
  });
});

Deno.test("convertFile refuses to overwrite unless replace is set, and replaces atomically", async () => {
  await withTempDir(async (dir) => {
    const out = join(dir, "out.ohlcv");
    await writeFile(out, "keep me");
    const csv = join(dir, "in.csv");
    await writeFile(
      csv,
      "1704067200000,1,2,0.5,1.5,10\n1704067260000,1,2,0.5,1.5,10\n",
    );
    await assert.rejects(
      convertFile(csv, out),
      (e: unknown) =>
        (e as { code?: string }).code === "EEXIST" &&
        /out\.ohlcv already exists; pass replace: true/.test(
          (e as Error).message,
        ),
    );
    assert.equal(await readFile(out, "utf8"), "keep me");
    // A bad input with replace keeps the old file too.
    await writeFile(join(dir, "bad.csv"), "1704067200000,1,2,0.5,x,10\n");
    await assert.rejects(
      convertFile(join(dir, "bad.csv"), out, { replace: true, timeframe: "1" }),
      FormatError,
    );
    assert.equal(await readFile(out, "utf8"), "keep me");
    const r = await convertFile(csv, out, { replace: true });
    assert.equal(r.period, "1");
    await using reader = await OhlcvReader.open(out);
    assert.equal(reader.count, 2);
    assert.deepEqual((await readdir(dir)).sort(), [
      "bad.csv",
      "in.csv",
      "out.ohlcv",
    ]);
  });
});

Deno.test("convertFile into a folder that does not exist says so", async () => {
  await withTempDir(async (dir) => {
    const csv = join(dir, "in.csv");
    await writeFile(
      csv,
      "timestamp,open,high,low,close,volume\n1704067200000,1,2,0.5,1.5,10\n1704067260000,1,2,0.5,1.5,10\n",
    );
    const missing = join(dir, "nope");
    for (const out of ["x.csv", "x.json", "x.ohlcv"]) {
      await assert.rejects(
        convertFile(csv, join(missing, out)),
        (e: unknown) => {
          assert.ok(e instanceof Error);
          assert.equal(
            e.message,
            `Cannot write ${
              join(missing, out)
            }: the folder ${missing} does not exist; create it first`,
          );
          assert.equal((e as { code?: unknown }).code, "ENOENT");
          return true;
        },
      );
    }
    await assert.rejects(
      convertFile(fixturePath("btc_1D_gap.ohlcv"), join(missing, "x.csv")),
      /the folder .*nope does not exist/,
    );
    assert.deepEqual(await readdir(dir), ["in.csv"]);
  });
});

Deno.test("convertFile explains unknown extensions, missing periods and bad options", async () => {
  await withTempDir(async (dir) => {
    const csv = join(dir, "one.csv");
    await writeFile(csv, "1704067200000,1,2,0.5,1.5,10\n");
    await assert.rejects(
      convertFile(join(dir, "a.txt"), join(dir, "b.ohlcv")),
      /unknown extension "\.txt" of .*a\.txt; convert \.csv or \.json to \.ohlcv, or \.ohlcv to \.csv or \.json/,
    );
    await assert.rejects(
      convertFile(csv, join(dir, "b")),
      /unknown extension "\(none\)"/,
    );
    await assert.rejects(
      convertFile(fixturePath("btc_1D_gap.ohlcv"), join(dir, "b.ohlcv")),
      /both files are \.ohlcv/,
    );
    await assert.rejects(convertFile(csv, csv), /the same file/);
    await assert.rejects(
      convertFile(csv, join(dir, "b.ohlcv")),
      (e: unknown) =>
        e instanceof FormatError &&
        /cannot infer the period from a single candle; give a timeframe/
          .test(
            (e as Error).message,
          ),
    );
    const headerOnly = join(dir, "header_only.csv");
    await writeFile(headerOnly, "timestamp,open,high,low,close,volume\r\n");
    await assert.rejects(
      convertFile(headerOnly, join(dir, "e.ohlcv")),
      /header_only\.csv holds no candles; give a timeframe .* to write an empty \.ohlcv anyway/,
    );
    const empty = await convertFile(headerOnly, join(dir, "e.ohlcv"), {
      timeframe: "5",
    });
    assert.equal(empty.count, 0);
    const er = await OhlcvReader.open(join(dir, "e.ohlcv"));
    assert.equal(er.info.period, "5");
    assert.equal(er.count, 0);
    await er.close();
    await rm(join(dir, "e.ohlcv"));
    await rm(headerOnly);
    await assert.rejects(
      convertFile(csv, join(dir, "b.ohlcv"), { timeframe: "1", minmove: 1 }),
      /minmove and pricescale go together/,
    );
    await assert.rejects(
      convertFile(csv, join(dir, "b.ohlcv"), { timeframe: "1H" }),
      /Unknown timeframe "1H"/,
    );
    await assert.rejects(
      convertFile(fixturePath("btc_1D_gap.ohlcv"), join(dir, "b.csv"), {
        timeframe: "1D",
      }),
      /apply only when writing \.ohlcv/,
    );
    await assert.rejects(
      convertFile(fixturePath("corrupt_bad_unit.ohlcv"), join(dir, "b.csv")),
      FormatError,
    );
    const r = await convertFile(csv, join(dir, "b.ohlcv"), { timeframe: "H1" });
    assert.equal(r.period, "60");
    assert.deepEqual((await readdir(dir)).sort(), ["b.ohlcv", "one.csv"]);
  });
});
