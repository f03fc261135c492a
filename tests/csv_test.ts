import assert from "node:assert/strict";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  batchFromRows,
  batchToRows,
  type CandleBatch,
  concatBatches,
  sliceBatch,
} from "../format/candle_batch.ts";
import { FormatError } from "../format/format_error.ts";
import { OhlcvReader } from "../format/ohlcv_reader.ts";
import {
  candlesToCsv,
  CsvEncoderStream,
  detectDelimiter,
  inferPeriod,
  parseCsvCandles,
  readCsvFile,
  writeCsvFile,
} from "../format/csv.ts";
import {
  candlesToJson,
  JsonEncoderStream,
  parseJsonCandles,
  readJsonFile,
  writeJsonFile,
} from "../format/json.ts";
import { pyFloatRepr } from "../format/_py_float.ts";
import { stringify as stringifyCsv } from "csv-stringify/sync";
import { parse as csvParse } from "csv-parse/sync";
import { parsePlainCsv } from "../format/_plain_csv.ts";

const FIXTURES = new URL("./fixtures/pynecore/", import.meta.url);
const fixturePath = (name: string) => new URL(name, FIXTURES).pathname;

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true });
  }
}

/** Rows with NaN for null, as the JSON fixtures store them. */
function rowsOf(json: (number | null)[][]): number[][] {
  return json.map((r) => r.map((v) => (v === null ? NaN : v)));
}

Deno.test("writeCsvFile exports btc_1D_gap.ohlcv byte for byte like PyneCore", async () => {
  await withTempDir(async (dir) => {
    for (const batchSize of [65536, 7, 1]) {
      await using reader = await OhlcvReader.open(
        fixturePath("btc_1D_gap.ohlcv"),
      );
      const out = join(dir, `out_${batchSize}.csv`);
      const n = await writeCsvFile(out, reader.batches({ batchSize }));
      assert.equal(n, reader.count);
      assert.deepEqual(
        await readFile(out),
        await readFile(fixturePath("btc_1D_gap.export.csv")),
      );
    }
  });
});

Deno.test("writeJsonFile exports btc_1D_gap.ohlcv byte for byte like PyneCore", async () => {
  await withTempDir(async (dir) => {
    for (const batchSize of [65536, 7, 1]) {
      await using reader = await OhlcvReader.open(
        fixturePath("btc_1D_gap.ohlcv"),
      );
      const out = join(dir, `out_${batchSize}.json`);
      await writeJsonFile(out, reader.readable({ batchSize }));
      assert.deepEqual(
        await readFile(out),
        await readFile(fixturePath("btc_1D_gap.export.json")),
      );
    }
    assert.deepEqual((await readdir(dir)).sort(), [
      "out_1.json",
      "out_65536.json",
      "out_7.json",
    ]);
  });
});

Deno.test("candlesToCsv and candlesToJson match PyneCore's export of the decoded fixture", async () => {
  const fx = JSON.parse(await readFile(fixturePath("btc_1D_gap.json"), "utf8"));
  const batch = batchFromRows(rowsOf(fx.decoded));
  assert.equal(
    candlesToCsv(batch),
    await readFile(fixturePath("btc_1D_gap.export.csv"), "utf8"),
  );
  assert.equal(
    candlesToJson(batch),
    await readFile(fixturePath("btc_1D_gap.export.json"), "utf8"),
  );
});

Deno.test("pyFloatRepr formats numbers exactly like Python's repr", () => {
  const cases: Array<[number, string]> = [
    [43000, "43000.0"],
    [43000.12, "43000.12"],
    [0, "0.0"],
    [-0, "-0.0"],
    [0.0001, "0.0001"],
    [0.00001, "1e-05"],
    [1.234e-5, "1.234e-05"],
    [1e15, "1000000000000000.0"],
    [1e16, "1e+16"],
    [1.5e16, "1.5e+16"],
    [0.1 + 0.2, "0.30000000000000004"],
    [-2.5e-10, "-2.5e-10"],
    [1e100, "1e+100"],
    [5e-324, "5e-324"],
    [1.7976931348623157e308, "1.7976931348623157e+308"],
  ];
  for (const [x, s] of cases) assert.equal(pyFloatRepr(x), s, String(x));
});

Deno.test("candlesToCsv rows are what csv-stringify makes of the same cells", () => {
  const values = [
    0,
    -0,
    1e-5,
    -1e-7,
    0.0001,
    1e15,
    1e16,
    -1.5e16,
    0.1 + 0.2,
    42000.01,
    NaN,
    Infinity,
    -Infinity,
    5e-324,
    1.7976931348623157e308,
  ];
  const rows: number[][] = values.map((v, i) => [
    i * 60000 - 120000,
    v,
    values[(i + 3) % values.length]!,
    values[(i + 5) % values.length]!,
    values[(i + 7) % values.length]!,
    values[(i + 11) % values.length]!,
  ]);
  rows.push([1.5, 1, 2, 3, 4, 5]); // a non-integer time goes through repr too
  const batch = batchFromRows(rows);
  const cell = (x: number) => Number.isNaN(x) ? "NaN" : pyFloatRepr(x);
  for (const timeFormat of ["ms", "iso"] as const) {
    const cells = rows.map((r) => [
      timeFormat === "iso"
        ? new Date(r[0]!).toISOString()
        : Number.isInteger(r[0])
        ? String(r[0])
        : pyFloatRepr(r[0]!),
      ...r.slice(1).map(cell),
    ]);
    const header = [
      timeFormat === "iso" ? "time" : "timestamp",
      "open",
      "high",
      "low",
      "close",
      "volume",
    ];
    assert.equal(
      candlesToCsv(batch, { timeFormat }),
      stringifyCsv([header, ...cells], { record_delimiter: "windows" }),
      timeFormat,
    );
  }
});

Deno.test("pyFloatRepr prints the shortest round-trip digits between 1e-4 and 1e16, also for float neighbours of short decimals", () => {
  // Reference: JavaScript's shortest digits in plain notation, which Python's
  // repr also uses between 1e-4 and 1e16.
  const ref = (x: number) => {
    const s = String(x);
    return s.includes(".") ? s : s + ".0";
  };
  let seed = 12345;
  const rnd = () => { // mulberry32: deterministic
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const f = new Float64Array(1);
  const bits = new BigInt64Array(f.buffer);
  let checked = 0;
  const check = (x: number) => {
    const a = Math.abs(x);
    if (!(a >= 1e-4 && a < 1e16)) return;
    checked++;
    if (pyFloatRepr(x) !== ref(x)) {
      assert.fail(`pyFloatRepr(${ref(x)}) gave ${pyFloatRepr(x)}`);
    }
  };
  for (let i = 0; i < 40_000; i++) {
    const k = Math.floor(rnd() * 14);
    const short = Math.round(rnd() * 10 ** Math.floor(rnd() * 16)) / 10 ** k;
    check(short);
    check(-short);
    f[0] = short; // its float neighbours have long digit strings
    bits[0]! += 1n;
    check(f[0]!);
    bits[0]! -= 2n;
    check(f[0]!);
    check(rnd() * 10 ** (Math.floor(rnd() * 21) - 4));
    check(42000.01 + Math.fround(rnd() * 100)); // float32-delta noise
    check(Math.round(rnd() * 2 ** 53) / 10 ** k);
  }
  for (
    const x of [
      1e15,
      1e15 - 1,
      999999999999999.9,
      1125899906842624.2,
      9007199254740991,
      0.0001,
      0.00010000000000000002,
      0.1 + 0.2,
      1 / 3,
      42000.01,
      0.00000001 * 12345,
    ]
  ) check(x);
  assert.ok(checked > 200_000, `checked ${checked}`);
});

Deno.test("CSV and JSON exports print random batches exactly as Python's repr", async () => {
  let seed = 99;
  const rnd = () => { // mulberry32: deterministic
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const value = (): number => {
    const r = rnd();
    const k = Math.floor(rnd() * 13);
    if (r < 0.4) { // on a decimal grid, any magnitude
      return (rnd() < 0.2 ? -1 : 1) *
        Math.round(rnd() * 10 ** Math.floor(rnd() * 16)) / 10 ** k;
    }
    if (r < 0.6) return 42000.01 + Math.fround(rnd() * 100 - 50); // f32 noise
    if (r < 0.8) return (rnd() - 0.5) * 10 ** (Math.floor(rnd() * 40) - 20);
    return [NaN, 0, -0, 1e15, 1e16, 9.999999999999999e14, 0.0001, 1e-5][
      Math.floor(rnd() * 8)
    ]!;
  };
  const rows: number[][] = [];
  let t = -5 * 60_000;
  for (let i = 0; i < 20_000; i++) {
    t += 1 + Math.floor(rnd() * 3) * 60_000;
    rows.push([t, value(), value(), value(), value(), value()]);
  }
  rows.push([2 ** 53 + 2, 1, 1, 1, 1, 1], [1.5e21, 1, 1, 1, 1, 1]);
  const batch = batchFromRows(rows);
  const cell = (x: number) => Number.isNaN(x) ? "NaN" : pyFloatRepr(x);
  const want = "timestamp,open,high,low,close,volume\r\n" +
    rows.map((r) =>
      [
        Number.isInteger(r[0]) ? String(r[0]) : pyFloatRepr(r[0]!),
        ...r.slice(1).map(cell),
      ].join(",") + "\r\n"
    ).join("");
  assert.ok(want.includes("9007199254740994,") && want.includes("1.5e+21,"));
  const got = candlesToCsv(batch);
  if (got !== want) {
    const at = [...got].findIndex((c, i) => c !== want[i]);
    assert.fail(
      `differs at ${at}: ${got.slice(at - 40, at + 40)} vs ${
        want.slice(at - 40, at + 40)
      }`,
    );
  }
  await withTempDir(async (dir) => {
    const path = join(dir, "r.csv");
    await writeCsvFile(path, [
      sliceBatch(batch, 0, 777),
      sliceBatch(batch, 777, rows.length),
    ]);
    assert.equal(await readFile(path, "utf8"), want);
    // JSON, against the layout written out independently.
    const num = (x: number) => Number.isFinite(x) ? pyFloatRepr(x) : "null";
    const wantJson = "[\n" + rows.map((r) =>
      `  {\n    "timestamp": ${
        Number.isInteger(r[0]) ? String(r[0]) : pyFloatRepr(r[0]!)
      },\n    "open": ${num(r[1]!)},\n    "high": ${num(r[2]!)},\n    "low": ${
        num(r[3]!)
      },\n    "close": ${num(r[4]!)},\n    "volume": ${num(r[5]!)}\n  }`
    ).join(",\n") + "\n]";
    assert.equal(candlesToJson(batch), wantJson);
    const jpath = join(dir, "r.json");
    await writeJsonFile(jpath, [
      sliceBatch(batch, 0, 501),
      sliceBatch(batch, 501, rows.length),
    ]);
    assert.equal(await readFile(jpath, "utf8"), wantJson);
  });
});

Deno.test("CSV export writes NaN as NaN and JSON export writes it as null", () => {
  const batch = batchFromRows([[60000, 1, NaN, 1e-7, 0.5, NaN]]);
  assert.equal(
    candlesToCsv(batch),
    "timestamp,open,high,low,close,volume\r\n60000,1.0,NaN,1e-07,0.5,NaN\r\n",
  );
  assert.equal(
    candlesToJson(batch),
    '[\n  {\n    "timestamp": 60000,\n    "open": 1.0,\n    "high": null,\n    "low": 1e-07,\n    "close": 0.5,\n    "volume": null\n  }\n]',
  );
  // 60000 looks like seconds by magnitude; the unit can be given explicitly.
  assert.equal(parseCsvCandles(candlesToCsv(batch)).batch.time[0], 60_000_000);
  const back = parseCsvCandles(candlesToCsv(batch), { timeUnit: "ms" });
  assert.deepEqual(batchToRows(back.batch), batchToRows(batch));
  assert.deepEqual(
    batchToRows(
      parseJsonCandles(candlesToJson(batch), { timeUnit: "ms" }).batch,
    ),
    batchToRows(batch),
  );
});

Deno.test("Exports of no candles are a header-only CSV and an empty JSON array", async () => {
  const empty = batchFromRows([]);
  assert.equal(candlesToCsv(empty), "timestamp,open,high,low,close,volume\r\n");
  assert.equal(candlesToJson(empty), "[]");
  const csv = await Array.fromAsync(
    ReadableStream.from<CandleBatch>([]).pipeThrough(new CsvEncoderStream()),
  );
  assert.equal(csv.join(""), "timestamp,open,high,low,close,volume\r\n");
  const json = await Array.fromAsync(
    ReadableStream.from([empty]).pipeThrough(new JsonEncoderStream()),
  );
  assert.equal(json.join(""), "[]");
});

Deno.test("CSV export with timeFormat iso writes a time column", () => {
  const batch = batchFromRows([[Date.UTC(2024, 0, 2), 1, 2, 0.5, 1.5, 10]]);
  assert.equal(
    candlesToCsv(batch, { timeFormat: "iso" }),
    "time,open,high,low,close,volume\r\n2024-01-02T00:00:00.000Z,1.0,2.0,0.5,1.5,10.0\r\n",
  );
  const back = parseCsvCandles(candlesToCsv(batch, { timeFormat: "iso" }));
  assert.equal(back.timeUnit, "iso");
  assert.deepEqual(batchToRows(back.batch), batchToRows(batch));
  assert.match(
    candlesToJson(batch, { timeFormat: "iso" }),
    /"time": "2024-01-02T00:00:00.000Z"/,
  );
  assert.throws(
    () => candlesToCsv(batch, { timeFormat: "s" as "ms" }),
    RangeError,
  );
});

Deno.test("CsvEncoderStream output joined over many batches equals the one-shot export", async () => {
  const rows = Array.from(
    { length: 50 },
    (_, i) => [i * 60000, 10 + i, 11 + i, 9 + i, 10.5 + i, i * 0.001],
  );
  const batches = [0, 7, 7, 20, 50].slice(1).map((end, j, a) =>
    batchFromRows(rows.slice(j === 0 ? 0 : a[j - 1], end))
  );
  const chunks = await Array.fromAsync(
    ReadableStream.from(batches).pipeThrough(new CsvEncoderStream()),
  );
  assert.equal(chunks.join(""), candlesToCsv(concatBatches(batches)));
  const jchunks = await Array.fromAsync(
    ReadableStream.from(batches).pipeThrough(new JsonEncoderStream()),
  );
  assert.equal(jchunks.join(""), candlesToJson(concatBatches(batches)));
  JSON.parse(jchunks.join(""));
});

Deno.test("writeCsvFile leaves no file behind when the source fails", async () => {
  await withTempDir(async (dir) => {
    async function* broken() {
      yield batchFromRows([[0, 1, 1, 1, 1, 1]]);
      throw new Error("source broke");
    }
    await assert.rejects(
      writeCsvFile(join(dir, "x.csv"), broken()),
      /source broke/,
    );
    await assert.rejects(
      writeJsonFile(join(dir, "x.json"), broken()),
      /source broke/,
    );
    assert.deepEqual(await readdir(dir), []);
  });
});

// ------------------------------------------------------------------ import

Deno.test("parseCsvCandles reads PyneCore's own export back to the decoded values", async () => {
  const fx = JSON.parse(await readFile(fixturePath("btc_1D_gap.json"), "utf8"));
  const r = await readCsvFile(fixturePath("btc_1D_gap.export.csv"));
  assert.deepEqual(batchToRows(r.batch), rowsOf(fx.decoded));
  assert.equal(r.period, "1D");
  assert.equal(r.timeUnit, "ms");
  assert.equal(r.delimiter, ",");
  assert.deepEqual(r.header, [
    "timestamp",
    "open",
    "high",
    "low",
    "close",
    "volume",
  ]);
  const j = await readJsonFile(fixturePath("btc_1D_gap.export.json"));
  assert.deepEqual(batchToRows(j.batch), rowsOf(fx.decoded));
  assert.equal(j.period, "1D");
});

const T0 = Date.UTC(2024, 0, 1);
const EXPECTED = [
  [T0, 1, 2, 0.5, 1.5, 10],
  [T0 + 3_600_000, 1.5, 2.5, 1, 2, 12],
  [T0 + 7_200_000, 2, 3, 1.5, 2.5, 0],
];

Deno.test("parseCsvCandles detects headers, delimiters and timestamp units", () => {
  const s = T0 / 1000;
  const variants: Array<[string, string, string]> = [
    [
      "ms, comma, header",
      `timestamp,open,high,low,close,volume\n${T0},1,2,0.5,1.5,10\n${
        T0 + 3600000
      },1.5,2.5,1,2,12\n${T0 + 7200000},2,3,1.5,2.5,0\n`,
      ",",
    ],
    [
      "seconds, headerless",
      `${s},1,2,0.5,1.5,10\n${s + 3600},1.5,2.5,1,2,12\n${
        s + 7200
      },2,3,1.5,2.5,0`,
      ",",
    ],
    [
      "µs, semicolon",
      `Time;Open;High;Low;Close;Volume\r\n${T0 * 1000};1;2;0.5;1.5;10\r\n${
        (T0 + 3600000) * 1000
      };1.5;2.5;1;2;12\r\n${(T0 + 7200000) * 1000};2;3;1.5;2.5;0\r\n`,
      ";",
    ],
    [
      "ns, tab",
      `${BigInt(T0) * 1000000n}\t1\t2\t0.5\t1.5\t10\n${
        BigInt(T0 + 3600000) * 1000000n
      }\t1.5\t2.5\t1\t2\t12\n${
        BigInt(T0 + 7200000) * 1000000n
      }\t2\t3\t1.5\t2.5\t0\n`,
      "\t",
    ],
    [
      "ISO, pipe, shuffled columns",
      `Date|Volume|Close|Low|High|Open\n2024-01-01T00:00:00Z|10|1.5|0.5|2|1\n2024-01-01 01:00:00|12|2|1|2.5|1.5\n2024-01-01T03:00:00+01:00|0|2.5|1.5|3|2\n`,
      "|",
    ],
    [
      "decimal comma with semicolons",
      `date;open;high;low;close;vol\n2024-01-01 00:00;1;2;0,5;1,5;10\n2024-01-01 01:00;1,5;2,5;1;2;12\n2024-01-01 02:00;2;3;1,5;2,5;0\n`,
      ";",
    ],
    [
      "MetaTrader date and time columns",
      `<DATE>,<TIME>,<OPEN>,<HIGH>,<LOW>,<CLOSE>,<TICKVOL>\n2024.01.01,00:00,1,2,0.5,1.5,10\n2024.01.01,01:00,1.5,2.5,1,2,12\n2024.01.01,02:00,2,3,1.5,2.5,0\n`,
      ",",
    ],
    [
      "MetaTrader headerless",
      `2024.01.01,00:00,1,2,0.5,1.5,10\n2024.01.01,01:00,1.5,2.5,1,2,12\n2024.01.01,02:00,2,3,1.5,2.5,0\n`,
      ",",
    ],
    [
      "quoted header and BOM",
      `\uFEFF"timestamp","open","high","low","close","volume"\n"${T0}","1","2","0.5","1.5","10"\n${
        T0 + 3600000
      },1.5,2.5,1,2,12\n${T0 + 7200000},2,3,1.5,2.5,0\n`,
      ",",
    ],
  ];
  for (const [name, text, delimiter] of variants) {
    const r = parseCsvCandles(text);
    assert.equal(r.delimiter, delimiter, name);
    assert.deepEqual(batchToRows(r.batch), EXPECTED, name);
    assert.equal(r.period, "60", name);
  }
  assert.equal(parseCsvCandles(variants[1]![1]).timeUnit, "s");
  assert.equal(parseCsvCandles(variants[2]![1]).timeUnit, "us");
  assert.equal(parseCsvCandles(variants[3]![1]).timeUnit, "ns");
});

Deno.test("parseCsvCandles without a volume column gives NaN volumes", () => {
  const r = parseCsvCandles(`time,open,high,low,close\n${T0},1,2,0.5,1.5\n`);
  assert.ok(Number.isNaN(r.batch.volume[0]!));
  assert.equal(r.period, undefined);
  assert.ok(
    Number.isNaN(parseCsvCandles(`${T0},1,2,0.5,1.5`).batch.volume[0]!),
  );
});

Deno.test("parseCsvCandles reads NaN, nan, null and empty cells as missing", () => {
  const r = parseCsvCandles(
    `timestamp,open,high,low,close,volume\n${T0},1,NaN,nan,,null\n`,
  );
  assert.deepEqual(batchToRows(r.batch), [[T0, 1, NaN, NaN, NaN, NaN]]);
});

Deno.test("parseCsvCandles sorts descending input and refuses duplicate times", () => {
  const r = parseCsvCandles(
    `${T0 + 7200000},2,3,1.5,2.5,0\n${
      T0 + 3600000
    },1.5,2.5,1,2,12\n${T0},1,2,0.5,1.5,10\n`,
  );
  assert.deepEqual(batchToRows(r.batch), EXPECTED);
  assert.throws(
    () =>
      parseCsvCandles(
        `t,o,h,l,c,v\n${T0},1,2,0.5,1.5,10\n${
          T0 + 60000
        },1,2,0.5,1.5,10\n${T0},1,2,0.5,1.5,10\n`,
        { path: "d.csv" },
      ),
    /^FormatError: Cannot import d\.csv: rows 2 and 4 have the same time 2024-01-01T00:00:00\.000Z$/,
  );
});

Deno.test("parseCsvCandles errors name the file, the row and the bad value", () => {
  const head = "timestamp,open,high,low,close,volume\n";
  const good = (i: number) => `${T0 + i * 60000},1,2,0.5,1.5,10\n`;
  const many = head + Array.from({ length: 15 }, (_, i) => good(i)).join("");
  const cases: Array<[string, RegExp]> = [
    [
      many + `${T0 + 99 * 60000},1,abc,0.5,1.5,10\n`,
      /^Cannot import data\.csv: row 17: high "abc" is not a number$/,
    ],
    [
      head + good(0) + `${T0 + 60000},1,0.9,0.5,1.5,10\n`,
      /^Cannot import data\.csv: row 3: high 0\.9 is below max\(open, close\) 1\.5$/,
    ],
    [
      head + `${T0},1,2,1.2,1.5,10\n`,
      /row 2: low 1\.2 is above min\(open, close\) 1$/,
    ],
    [
      head + `${T0},1,inf,0.5,1.5,10\n`,
      /row 2: high "inf" is not a finite number/,
    ],
    [
      head + `${T0},1,1e999,0.5,1.5,10\n`,
      /row 2: high "1e999" is not a finite number/,
    ],
    [
      head + `yesterday,1,2,0.5,1.5,10\n`,
      /row 2: time "yesterday" is not a timestamp/,
    ],
    [
      head + `2024-02-31,1,2,0.5,1.5,10\n`,
      /row 2: time "2024-02-31" is not a timestamp/,
    ],
    [head + `${T0},1,2\n`, /row 2: 3 columns, expected 6/],
    [
      "when,open,high,low,close\n1,2,3,4,5\n",
      /no "time" column in the header \(columns: when, open, high, low, close\)/,
    ],
    [
      `${T0}\n${T0 + 60000}\n`,
      /row 1: 1 column; expected time, open, high, low, close and optionally volume \(is the delimiter "," right\?\)/,
    ],
    ["", /the file is empty/],
    [
      head + `${T0},1,2,0.5,1.5,10\n2024-01-02,1,2,0.5,1.5,10\n`,
      /row 3: time "2024-01-02" is not a number like the rows before it/,
    ],
  ];
  for (const [text, re] of cases) {
    assert.throws(
      () => parseCsvCandles(text, { path: "data.csv" }),
      (e: unknown) =>
        e instanceof FormatError && e.path === "data.csv" && re.test(e.message),
      JSON.stringify(text.slice(-60)),
    );
  }
});

Deno.test("Import errors quote at most 60 characters of a bad value", () => {
  const long = "x".repeat(5000);
  assert.throws(
    () =>
      parseCsvCandles(`time,open,high,low,close\n${T0},1,${long},0.5,1\n`, {
        path: "d.csv",
      }),
    (e: unknown) =>
      e instanceof FormatError &&
      e.message ===
        `Cannot import d.csv: row 2: high "${
          "x".repeat(56)
        }... is not a number`,
  );
  assert.throws(
    () => parseJsonCandles(JSON.stringify(long), { path: "d.json" }),
    (e: unknown) =>
      e instanceof FormatError && e.message.length < 140 &&
      e.message.startsWith(
        'Cannot import d.json: expected an array of candles, got "xxx',
      ),
  );
  assert.throws(
    () => parseJsonCandles(`[${JSON.stringify(long)}]`, { path: "d.json" }),
    (e: unknown) =>
      e instanceof FormatError && e.message.length < 140 &&
      /row 1: expected an object or an array, got "x+\.\.\.$/.test(e.message),
  );
});

Deno.test("parsePlainCsv gives csv-parse's records and line numbers for every text it accepts", () => {
  let seed = 7;
  const rnd = () => { // mulberry32: deterministic
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
  const atoms = [
    "1",
    "23",
    ".",
    "-",
    "e",
    "NaN",
    "2024-01-01",
    " ",
    "  ",
    "\t",
    " \t ",
    ",",
    ";",
    "|",
  ];
  const odd = ["\r", "\n", '"', "é", "\v", "\f", "\x01", "\u00a0"];
  let accepted = 0, refused = 0;
  for (let i = 0; i < 30_000; i++) {
    const delimiter = pick([",", ";", "|", "\t"]);
    const eol = pick(["\n", "\r\n"]);
    const lines = Math.floor(rnd() * 6);
    let text = rnd() < 0.1 ? "\uFEFF" : "";
    for (let l = 0; l < lines; l++) {
      const n = Math.floor(rnd() * 8);
      for (let k = 0; k < n; k++) text += pick(atoms);
      if (l < lines - 1 || rnd() < 0.7) text += eol;
    }
    if (rnd() < 0.1) {
      const at = Math.floor(rnd() * (text.length + 1));
      text = text.slice(0, at) + pick(odd) + text.slice(at);
    }
    const fast: [string[], number][] = [];
    if (!parsePlainCsv(text, delimiter, (c, line) => fast.push([c, line]))) {
      refused++;
      continue;
    }
    accepted++;
    const ref: [string[], number][] = [];
    (csvParse as (t: string, o: unknown) => unknown)(text, {
      delimiter,
      bom: true,
      trim: true,
      skip_empty_lines: true,
      relax_column_count: true,
      relax_quotes: true,
      on_record: (r: string[], ctx: { lines: number }) => {
        ref.push([r, ctx.lines]);
        return null;
      },
    });
    assert.deepEqual(fast, ref, JSON.stringify({ text, delimiter }));
  }
  assert.ok(accepted > 20_000 && refused > 500, `${accepted}/${refused}`);
  // What it refuses goes to csv-parse.
  for (
    const text of ['a,"b"\n', "a,b\r\n1,2\n", "a\rb\n", "é,1\n", "a\v,b\n"]
  ) assert.equal(parsePlainCsv(text, ",", () => {}), false, text);
  assert.equal(parsePlainCsv("a b\n", " ", () => {}), false);
});

Deno.test("parseCsvCandles reads plain, quoted and mixed-line-end text alike, with the same row numbers", () => {
  const plain =
    "time,open,high,low,close\r\n2024-01-01,1,2,0.5,1.5\r\n\r\n2024-01-02,1,2,0.5,1.5\r\n";
  const quoted = plain.replace("2024-01-02", '"2024-01-02"');
  const mixed = plain.replace("0.5,1.5\r\n\r\n", "0.5,1.5\n\r\n");
  const want = batchToRows(parseCsvCandles(plain).batch);
  assert.equal(want.length, 2);
  assert.deepEqual(batchToRows(parseCsvCandles(quoted).batch), want);
  assert.deepEqual(batchToRows(parseCsvCandles(mixed).batch), want);
  for (const text of [plain, quoted]) {
    assert.throws(
      () =>
        parseCsvCandles(
          text.replace("1,2,0.5,1.5\r\n\r\n", "1,2,x,1.5\r\n\r\n"),
        ),
      /row 2: low "x" is not a number/,
    );
    assert.throws(
      () => parseCsvCandles(text.replace(/2,0\.5,1\.5\r\n$/, "2,x,1.5\r\n")),
      /row 4: low "x" is not a number/,
    );
  }
});

Deno.test("readJsonFile refuses a file too large for one string up front", async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, "huge.json");
    await writeFile(path, "");
    await Deno.truncate(path, 0x1fffffe8 + 1); // sparse: no disk used
    await assert.rejects(
      readJsonFile(path),
      (e: unknown) =>
        e instanceof FormatError && e.path === path &&
        e.message ===
          `Cannot import ${path}: 536870889 bytes is too large to read as one JSON document (the limit is 536870888); use CSV for files this size`,
    );
  });
});

Deno.test("parseCsvCandles honours explicit delimiter and header options", () => {
  // A header-like first row read as data when header: false fails on that row.
  assert.throws(
    () => parseCsvCandles("a,b,c,d,e\n", { header: false }),
    /row 1: time "a" is not a timestamp/,
  );
  const r = parseCsvCandles(`${T0};1;2;0.5;1.5;10\n`, { delimiter: ";" });
  assert.equal(r.count, 1);
  assert.equal(detectDelimiter("a;b;c\n1,5;2,5;3\n"), ";");
  assert.equal(detectDelimiter("a\tb\n1\t2\n"), "\t");
  assert.equal(detectDelimiter("abc\n"), ",");
});

Deno.test("inferPeriod uses the most common spacing and the largest fitting unit", () => {
  const series = (step: number, n: number, start = T0) =>
    Array.from({ length: n }, (_, i) => start + i * step);
  assert.equal(inferPeriod(series(60_000, 10)), "1");
  assert.equal(inferPeriod(series(15_000, 10)), "15S");
  assert.equal(inferPeriod(series(3_600_000, 10)), "60");
  assert.equal(inferPeriod(series(4 * 3_600_000, 10)), "240");
  assert.equal(inferPeriod(series(86_400_000, 10)), "1D");
  assert.equal(inferPeriod(series(7 * 86_400_000, 10)), "1W");
  assert.equal(inferPeriod(series(14 * 86_400_000, 10)), "2W");
  assert.equal(
    inferPeriod(Array.from({ length: 14 }, (_, i) => Date.UTC(2023, i, 1))),
    "1M",
  );
  assert.equal(
    inferPeriod(Array.from({ length: 6 }, (_, i) => Date.UTC(2023, 3 * i, 1))),
    "3M",
  );
  // Hourly forex with weekend gaps stays hourly; one candle cannot tell.
  const fx = [
    ...series(3_600_000, 24),
    ...series(3_600_000, 24, T0 + 3 * 86_400_000),
  ];
  assert.equal(inferPeriod(fx), "60");
  assert.equal(inferPeriod([T0]), undefined);
  assert.equal(inferPeriod([T0, T0 + 1500]), undefined);
});

Deno.test("parseJsonCandles reads arrays, objects, wrapped arrays and nulls", () => {
  const arrays = JSON.stringify(EXPECTED);
  assert.deepEqual(batchToRows(parseJsonCandles(arrays).batch), EXPECTED);
  const objs = JSON.stringify(
    EXPECTED.map(([t, o, h, l, c, v]) => ({
      t: new Date(t!).toISOString(),
      o,
      h,
      l,
      c,
      v,
    })),
  );
  const r = parseJsonCandles(objs);
  assert.deepEqual(batchToRows(r.batch), EXPECTED);
  assert.equal(r.timeUnit, "iso");
  assert.equal(r.period, "60");
  assert.deepEqual(
    batchToRows(parseJsonCandles(`{"data": ${arrays}}`).batch),
    EXPECTED,
  );
  assert.deepEqual(
    batchToRows(
      parseJsonCandles(
        `[{"Timestamp": ${T0}, "Open": "1", "High": null, "Low": 0.5, "Close": 1.5}]`,
      ).batch,
    ),
    [[T0, 1, NaN, 0.5, 1.5, NaN]],
  );
});

Deno.test("parseJsonCandles errors name the file and the row", () => {
  const cases: Array<[string, RegExp]> = [
    ["[1,", /^Cannot import d\.json: not valid JSON/],
    [
      '{"x": 1}',
      /expected an array of candles \(or an object with a "candles" or "data" array\), got an object with keys x/,
    ],
    ["5", /expected an array of candles, got 5/],
    [
      `[[${T0},1,2,0.5,1.5,1], "x"]`,
      /row 2: expected an object or an array, got "x"/,
    ],
    [
      `[[${T0},1,2,0.5,1.5,1], [${T0 + 60000},1,"abc",0.5,1.5,1]]`,
      /row 2: high "abc" is not a number/,
    ],
    [
      `[[${T0},1,2]]`,
      /row 1: 3 values; expected \[time, open, high, low, close, volume\]/,
    ],
    [
      `[{"time": ${T0}, "open": 1, "high": 2, "low": 0.5}]`,
      /row 1: no "close" key \(keys: time, open, high, low\)/,
    ],
    [
      `[{"time": ${T0}, "open": 1, "high": 2, "low": 0.5, "close": true}]`,
      /row 1: close true is not a number/,
    ],
  ];
  for (const [text, re] of cases) {
    assert.throws(
      () => parseJsonCandles(text, { path: "d.json" }),
      (e: unknown) => e instanceof FormatError && re.test(e.message),
      text,
    );
  }
});

Deno.test("readCsvFile and readJsonFile name the file in errors", async () => {
  await withTempDir(async (dir) => {
    const p = join(dir, "bad.csv");
    await writeFile(p, "timestamp,open,high,low,close,volume\n1,x,1,1,1,1\n");
    await assert.rejects(
      readCsvFile(p),
      (e: unknown) =>
        e instanceof FormatError &&
        e.message.startsWith(`Cannot import ${p}: row 2: open "x"`),
    );
    const j = join(dir, "bad.json");
    await writeFile(j, "[{]");
    await assert.rejects(
      readJsonFile(j),
      (e: unknown) => e instanceof FormatError && e.path === j,
    );
  });
});

Deno.test("readCsvFile reads big files in pieces with the right row numbers, also across a quoted newline", async () => {
  await withTempDir(async (dir) => {
    const CHUNK = 8 * 1024 * 1024; // readCsvFile's read size
    const lines = ["timestamp,open,high,low,close,volume,note"];
    let size = lines[0]!.length + 1;
    let t = T0;
    const row = (note: string) => `${t},100.25,101.5,99.75,100.5,12.5,${note}`;
    // Fill up to just before the first chunk boundary, then a row whose quoted
    // note holds a newline that straddles it.
    while (size < CHUNK - 200) {
      const l = row("x");
      lines.push(l);
      size += l.length + 1;
      t += 60_000;
    }
    const pad = "y".repeat(CHUNK - size - 60);
    const q = row(`"${pad}\n${"z".repeat(100)}"`);
    lines.push(q);
    t += 60_000;
    for (let i = 0; i < 1000; i++, t += 60_000) lines.push(row("x"));
    const text = lines.join("\n") + "\n";
    const p = join(dir, "big.csv");
    await writeFile(p, text);
    const r = await readCsvFile(p);
    assert.equal(r.count, lines.length - 1);
    assert.equal(r.period, "1");
    assert.equal(r.batch.time[r.count - 1], t - 60_000);
    // Row numbers stay line numbers after the pieces (the quoted row spans 2 lines).
    await writeFile(p, text + `${t},1,abc,1,1,1,x\n`);
    await assert.rejects(
      readCsvFile(p),
      (e: unknown) =>
        e instanceof FormatError &&
        e.message.endsWith(
          `row ${lines.length + 2}: high "abc" is not a number`,
        ),
    );
  });
});
