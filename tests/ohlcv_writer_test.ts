import assert from "node:assert/strict";
import { join } from "node:path";
import {
  batchFromRows,
  type CandleBatch,
  type CandleRow,
} from "../format/candle_batch.ts";
import { FormatError } from "../format/format_error.ts";
import { OhlcvReader } from "../format/ohlcv_reader.ts";
import { OhlcvLockedError, OhlcvWriter } from "../format/ohlcv_writer.ts";
import {
  failsDelta,
  firstFailing,
  float32Resolution,
  resolutionLimit,
} from "../format/_promotion.ts";
import { openBulkWriter } from "../format/_file_io.ts";

const T0 = Date.UTC(2024, 0, 1);
const MIN = 60_000;
const FLT_MAX = 3.4028234663852886e38;

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Simple on-grid candles, one per minute from T0. */
function rows(n: number, start = 0, price = 100): CandleRow[] {
  const out: CandleRow[] = [];
  for (let i = start; i < start + n; i++) {
    const o = price + (i % 7) / 100;
    out.push([T0 + i * MIN, o, o + 0.05, o - 0.03, o + 0.01, 10 + i]);
  }
  return out;
}

async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

Deno.test("OhlcvWriter stores every NaN as the canonical NaN bytes", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "nan.ohlcv");
    // A negative NaN with a payload, as a Float64Array can hold it.
    const weird = new Float64Array(
      new BigUint64Array([0xfff4000000000123n]).buffer,
    )[0]!;
    assert.ok(Number.isNaN(weird));
    const w = await OhlcvWriter.open(path, { period: "1" });
    await w.append(batchFromRows([
      [T0, 100, weird, weird, weird, weird],
      [T0 + MIN, weird, weird, weird, weird, 5],
    ]));
    await w.close();
    const bytes = await Deno.readFile(path);
    const rec = (i: number, off: number, len: number) =>
      Array.from(bytes.subarray(208 + i * 36 + off, 208 + i * 36 + off + len));
    const F32_NAN = [0x00, 0x00, 0xc0, 0x7f];
    const F64_NAN = [0, 0, 0, 0, 0, 0, 0xf8, 0x7f];
    assert.deepEqual(rec(0, 16, 4), F32_NAN, "high delta");
    assert.deepEqual(rec(0, 20, 4), F32_NAN, "low delta");
    assert.deepEqual(rec(0, 24, 4), F32_NAN, "close delta");
    assert.deepEqual(rec(0, 28, 8), F64_NAN, "volume");
    assert.deepEqual(rec(1, 8, 8), F64_NAN, "open");
    await using r = await OhlcvReader.open(path);
    const b = await r.read();
    assert.ok(Number.isNaN(b.high[0]!) && Number.isNaN(b.open[1]!));
    assert.equal(b.volume[1], 5);
  });
});

Deno.test("OhlcvWriter stores NaN in a promoted column as the canonical float64 NaN", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "nanp.ohlcv");
    const w = await OhlcvWriter.open(path, {
      period: "1",
      minmove: 1,
      pricescale: 100,
    });
    // NaN open with a numeric high promotes high (first bar: no rebuild).
    await w.append(batchFromRows([
      [T0, NaN, 101, NaN, NaN, 1],
      [T0 + MIN, 100, -NaN, 99, 100, 1],
    ]));
    assert.equal(w.recordSize, 40);
    await w.close();
    const bytes = await Deno.readFile(path);
    assert.deepEqual(
      Array.from(bytes.subarray(208 + 40 + 16, 208 + 40 + 24)),
      [0, 0, 0, 0, 0, 0, 0xf8, 0x7f],
    );
  });
});

Deno.test("float32Resolution is 2^-149 at 0, 2^-23 at 1.0 and Infinity at FLT_MAX", () => {
  assert.equal(float32Resolution(0), 2 ** -149);
  assert.equal(float32Resolution(-0), 2 ** -149);
  assert.equal(float32Resolution(1), 2 ** -23);
  assert.equal(float32Resolution(-1), 2 ** -23);
  assert.equal(float32Resolution(1 - 2 ** -24), 2 ** -24);
  assert.equal(float32Resolution(2 ** -126), 2 ** -149);
  assert.equal(float32Resolution(2 ** -140), 2 ** -149);
  assert.equal(float32Resolution(FLT_MAX), Infinity);
  assert.equal(float32Resolution(-FLT_MAX), Infinity);
  assert.equal(
    float32Resolution(Math.fround(FLT_MAX * (1 - 2 ** -23))),
    2 ** 104,
  );
  assert.equal(float32Resolution(1e39), Infinity);
});

Deno.test("firstFailing makes exactly failsDelta's decision at the boundaries", () => {
  const grids: [number, number][] = [
    [1, 100],
    [1, 2 ** 22],
    [25, 1000],
    [1, 1],
    [1, 100000000],
    [3, 7],
  ];
  for (const [mm, ps] of grids) {
    const half = mm / ps / 2;
    const s = ps / mm;
    const limit = resolutionLimit(half);
    const opens = [0, 1, 100, 42000.5, -3.25, NaN, 1e15, 5e12];
    const values: number[] = [NaN, 0, 1, -1, 2 ** 51 / s, 3e38, FLT_MAX, 1e300];
    for (const o of opens) {
      if (Number.isFinite(limit) && !Number.isNaN(o)) {
        for (const k of [-2, -1, 0, 1, 2]) {
          const at = limit + k * limit * 2 ** -52;
          values.push(o + at, o - at);
        }
      }
      for (const t of [0, 1, 2, 123456, 4200050]) {
        const g = t * mm / ps;
        values.push(
          g,
          g * (1 + 2 ** -48),
          g * (1 + 2 ** -47),
          g + half,
          g - half,
        );
        values.push(g * (1 + 3 * 2 ** -49), g * (1 - 5 * 2 ** -50));
      }
    }
    for (const o of opens) {
      for (const v of values) {
        const want = failsDelta(v, o, half, s, mm, ps);
        const got = firstFailing(
          new Float64Array([v]),
          new Float64Array([o]),
          0,
          1,
          limit,
          s,
          mm,
          ps,
        ) === 0;
        assert.equal(got, want, `grid ${mm}/${ps}, open ${o}, value ${v}`);
      }
    }
  }
});

Deno.test("resolutionLimit sits exactly on the float32 rounding boundary", () => {
  for (
    const half of [2 ** -25, 2 ** -24, 0.005, 0.5, 2 ** -150, 1e-300, 12.5]
  ) {
    const limit = resolutionLimit(half);
    if (limit === 0) {
      assert.ok(float32Resolution(0) >= half);
      continue;
    }
    assert.ok(
      float32Resolution(limit) >= half,
      `limit ${limit} fails for half ${half}`,
    );
    const below = limit * (1 - 2 ** -53);
    assert.ok(
      float32Resolution(below) < half,
      `below ${below} passes for half ${half}`,
    );
  }
});

Deno.test("OhlcvWriter promotes a column when the float32 resolution reaches half a tick", async () => {
  await withDir(async (dir) => {
    // mintick 2^-22, half tick 2^-23: deltas in [1, 2) have resolution 2^-23.
    const grid = { minmove: 1, pricescale: 2 ** 22 };
    const a = await OhlcvWriter.open(join(dir, "a.ohlcv"), {
      period: "1",
      ...grid,
    });
    await a.append(batchFromRows([[T0, 100, 100.5, 99.5, 100, 1]]));
    assert.equal(a.recordSize, 36, "delta 0.5: resolution 2^-24 < half tick");
    await a.close();
    const b = await OhlcvWriter.open(join(dir, "b.ohlcv"), {
      period: "1",
      ...grid,
    });
    await b.append(batchFromRows([[T0, 100, 101, 99.5, 100, 1]]));
    assert.equal(b.recordSize, 40, "delta 1.0: resolution 2^-23 = half tick");
    await b.close();
    await using r = await OhlcvReader.open(join(dir, "b.ohlcv"));
    assert.equal((await r.read()).high[0], 101);
  });
});

Deno.test("OhlcvWriter promotes a delta that rounds to an infinite float32, and refuses it without a grid", async () => {
  await withDir(async (dir) => {
    const huge: CandleRow = [T0, -FLT_MAX, FLT_MAX, -FLT_MAX, -FLT_MAX, 1];
    const w = await OhlcvWriter.open(join(dir, "g.ohlcv"), {
      period: "1",
      minmove: 1,
      pricescale: 1,
    });
    await w.append(batchFromRows([huge]));
    assert.equal(w.recordSize, 40);
    await w.close();
    await using r = await OhlcvReader.open(join(dir, "g.ohlcv"));
    assert.equal((await r.read()).high[0], FLT_MAX);

    const path = join(dir, "n.ohlcv");
    const n = await OhlcvWriter.open(path, { period: "1" });
    const before = await Deno.readFile(path);
    await assert.rejects(n.append(batchFromRows([huge])), (err: unknown) => {
      assert.ok(err instanceof RangeError);
      assert.match(
        err.message,
        /Candle 0 of the batch .*high .*overflows float32/,
      );
      return true;
    });
    // A delta exactly FLT_MAX is finite and allowed without a grid.
    await n.append(batchFromRows([[T0, 0, FLT_MAX, 0, 0, 1]]));
    await n.close();
    assert.ok((await Deno.readFile(path)).length > before.length);
  });
});

Deno.test("OhlcvWriter refuses a number over a NaN open without a grid", async () => {
  await withDir(async (dir) => {
    const w = await OhlcvWriter.open(join(dir, "x.ohlcv"), { period: "1" });
    await assert.rejects(
      w.append(batchFromRows([[T0, NaN, NaN, NaN, 5, 1]])),
      /close 5 cannot be stored as a float32 delta of a NaN open/,
    );
    await w.append(batchFromRows([[T0, NaN, NaN, NaN, NaN, 1]]));
    assert.equal(w.count, 1);
    await w.close();
  });
});

Deno.test("OhlcvWriter DENSE flag: empty and one-record files are not dense, two adjacent are", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "d.ohlcv");
    const w = await OhlcvWriter.open(path, { period: "1" });
    assert.equal(w.dense, false);
    await w.append(batchFromRows(rows(1)));
    assert.equal(w.dense, false);
    await w.append(batchFromRows(rows(1, 1)));
    assert.equal(w.dense, true);
    await w.append(batchFromRows(rows(3, 2)));
    assert.equal(w.dense, true);
    await w.close();
    await using r = await OhlcvReader.open(path);
    assert.equal(r.info.dense, true);
  });
});

Deno.test("OhlcvWriter DENSE flag: one hole clears it for good, also across reopening", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "h.ohlcv");
    let w = await OhlcvWriter.open(path, { period: "1" });
    await w.append(batchFromRows([...rows(3), ...rows(3, 4)])); // hole at 3
    assert.equal(w.dense, false);
    await w.close();
    w = await OhlcvWriter.open(path, { period: "1" });
    assert.equal(w.dense, false);
    await w.append(batchFromRows(rows(5, 7)));
    assert.equal(
      w.dense,
      false,
      "adjacent candles after the hole do not restore it",
    );
    await w.close();
    // A hole between the first two records.
    const p2 = join(dir, "h2.ohlcv");
    const w2 = await OhlcvWriter.open(p2, { period: "1" });
    await w2.append(batchFromRows(rows(1)));
    await w2.append(batchFromRows(rows(3, 2)));
    assert.equal(w2.dense, false);
    await w2.close();
  });
});

Deno.test("OhlcvWriter DENSE flag: monthly files are never dense", async () => {
  await withDir(async (dir) => {
    const w = await OhlcvWriter.open(join(dir, "m.ohlcv"), { period: "1M" });
    const r: CandleRow[] = [];
    for (let m = 0; m < 3; m++) {
      r.push([Date.UTC(2024, m, 1), 1, 2, 0.5, 1.5, 1]);
    }
    await w.append(batchFromRows(r));
    assert.equal(w.dense, false);
    await w.close();
    // Weekly candles one week apart are dense.
    const wk = await OhlcvWriter.open(join(dir, "w.ohlcv"), { period: "1W" });
    await wk.append(batchFromRows([
      [T0, 1, 2, 0.5, 1.5, 1],
      [T0 + 7 * 86_400_000, 1, 2, 0.5, 1.5, 1],
    ]));
    assert.equal(wk.dense, true);
    await wk.close();
  });
});

Deno.test("OhlcvWriter rejects a bad batch and leaves the file byte-identical", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "r.ohlcv");
    const w = await OhlcvWriter.open(path, {
      period: "1",
      minmove: 1,
      pricescale: 100,
    });
    await w.append(batchFromRows(rows(5)));
    const before = await Deno.readFile(path);
    const good = rows(4, 5);
    const cases: [string, CandleRow[], RegExp][] = [
      [
        "+Infinity",
        [good[0]!, [good[1]![0], 1, Infinity, 0.5, 1, 1]],
        /Candle 1 of the batch .*high is Infinity/,
      ],
      [
        "-Infinity volume",
        [[good[0]![0], 1, 2, 0.5, 1, -Infinity]],
        /volume is -Infinity/,
      ],
      [
        "high below max(open, close)",
        [good[0]!, good[1]!, good[2]!, [T0 + 8 * MIN, 100, 99, 98, 99.5, 1]],
        /^Candle 3 of the batch \(2024-01-01T00:08:00\.000Z\): high 99 is below max\(open, close\) 100$/,
      ],
      [
        "low above min(open, close)",
        [[good[0]![0], 100, 101, 100.5, 100.2, 1]],
        /low 100.5 is above min\(open, close\) 100/,
      ],
      [
        "duplicate of the file's last",
        [[T0 + 4 * MIN, 1, 2, 0.5, 1, 1]],
        /Candle 0 .*duplicate/,
      ],
      [
        "older than the file's last",
        [[T0 + 3 * MIN, 1, 2, 0.5, 1, 1]],
        /Candle 0 .*out of order/,
      ],
      [
        "duplicate inside the batch",
        [good[0]!, good[0]!],
        /Candle 1 .*duplicate/,
      ],
      [
        "out of order inside the batch",
        [good[1]!, good[0]!],
        /Candle 1 .*out of order/,
      ],
      [
        "fractional time",
        [[T0 + 5 * MIN + 0.5, 1, 2, 0.5, 1, 1]],
        /not a whole number of milliseconds/,
      ],
      ["NaN time", [[NaN, 1, 2, 0.5, 1, 1]], /not a whole number/],
    ];
    for (const [what, bad, re] of cases) {
      await assert.rejects(w.append(batchFromRows(bad)), (err: unknown) => {
        assert.ok(err instanceof RangeError, `${what}: RangeError`);
        assert.match(err.message, re, what);
        return true;
      });
      assert.deepEqual(
        await Deno.readFile(path),
        before,
        `${what}: file unchanged`,
      );
      assert.equal(w.count, 5);
    }
    // The writer is still usable.
    await w.append(batchFromRows(good));
    assert.equal(w.count, 9);
    await w.close();
  });
});

Deno.test("OhlcvWriter skips OHLC checks with a NaN operand and allows negative volume", async () => {
  await withDir(async (dir) => {
    const w = await OhlcvWriter.open(join(dir, "o.ohlcv"), {
      period: "1",
      minmove: 1,
      pricescale: 100,
    });
    await w.append(batchFromRows([
      [T0, 100, 99, NaN, NaN, -5], // high < open, but close is NaN
      [T0 + MIN, NaN, 99, 101, 100, 1], // open NaN: both checks skipped
    ]));
    assert.equal(w.count, 2);
    await w.close();
  });
});

Deno.test("OhlcvWriter refuses another period and leaves the file untouched", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "p.ohlcv");
    const w = await OhlcvWriter.open(path, { period: "1" });
    await w.append(batchFromRows(rows(3)));
    await w.close();
    const before = await Deno.readFile(path);
    await assert.rejects(
      OhlcvWriter.open(path, { period: "5" }),
      /holds period "1" but the writer was opened with "5"/,
    );
    await assert.rejects(OhlcvWriter.open(path, { period: "1D" }), RangeError);
    assert.deepEqual(await Deno.readFile(path), before);
    // The lock was released by the refused opens.
    const again = await OhlcvWriter.open(path, { period: "1" });
    assert.equal(again.count, 3);
    await again.close();
  });
});

Deno.test("OhlcvWriter validates its options", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "v.ohlcv");
    await assert.rejects(OhlcvWriter.open(path, { period: "1H" }), RangeError);
    await assert.rejects(
      OhlcvWriter.open(path, { period: "1", minmove: 1 }),
      TypeError,
    );
    await assert.rejects(
      OhlcvWriter.open(path, { period: "1", minmove: 0, pricescale: 100 }),
      RangeError,
    );
    await assert.rejects(
      OhlcvWriter.open(path, { period: "1", minmove: 1.5, pricescale: 100 }),
      RangeError,
    );
    await assert.rejects(Deno.stat(path), Deno.errors.NotFound);
  });
});

Deno.test("OhlcvWriter adopts the file's grid and setTickInfo rewrites the header", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "g.ohlcv");
    let w = await OhlcvWriter.open(path, { period: "1" });
    assert.equal(w.minmove, 0);
    await w.append(batchFromRows(rows(2)));
    await w.setTickInfo(1, 100);
    assert.equal(w.minmove, 1);
    assert.equal(w.pricescale, 100);
    await w.close();
    {
      await using r = await OhlcvReader.open(path);
      assert.equal(r.info.minmove, 1);
      assert.equal(r.info.pricescale, 100);
      assert.equal(r.count, 2);
    }
    w = await OhlcvWriter.open(path, { period: "1" });
    assert.equal(w.pricescale, 100, "adopted");
    await assert.rejects(w.setTickInfo(1, 0), RangeError);
    await w.close();
    // An explicit different grid is applied to the file.
    w = await OhlcvWriter.open(path, {
      period: "1",
      minmove: 5,
      pricescale: 1000,
    });
    await w.close();
    await using r = await OhlcvReader.open(path);
    assert.equal(r.info.minmove, 5);
    assert.equal(r.info.pricescale, 1000);
  });
});

Deno.test("OhlcvWriter rebuilds the file when a later bar promotes a column", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "late.ohlcv");
    const w = await OhlcvWriter.open(path, {
      period: "1",
      minmove: 1,
      pricescale: 100,
    });
    await w.append(batchFromRows(rows(10)));
    assert.equal(w.recordSize, 36);
    // 100.123 is off the 0.01 grid: close is promoted, the file is rebuilt.
    await w.append(
      batchFromRows([[T0 + 10 * MIN, 100, 100.2, 99.9, 100.123, 1]]),
    );
    assert.equal(w.recordSize, 40);
    assert.equal(w.count, 11);
    await w.append(batchFromRows(rows(2, 11)));
    await w.close();
    assert.deepEqual(
      await listDir(dir),
      ["late.ohlcv"],
      "no temporary files left",
    );
    await using r = await OhlcvReader.open(path);
    assert.equal(r.info.recordSize, 40);
    const b = await r.read();
    assert.equal(b.close[10], 100.123);
    assert.equal(b.close[0], rows(1)[0]![4]);
    assert.equal(b.time.length, 13);
    assert.equal(r.info.dense, true);
  });
});

Deno.test("OhlcvWriter leaves the original intact when a rebuild fails before the rename", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "fail.ohlcv");
    const w = await OhlcvWriter.open(path, {
      period: "1",
      minmove: 1,
      pricescale: 100,
    });
    await w.append(batchFromRows(rows(10)));
    const before = await Deno.readFile(path);
    w.hooks.beforeRebuildRename = () => {
      throw new Error("simulated crash before rename");
    };
    await assert.rejects(
      w.append(batchFromRows([[T0 + 10 * MIN, 100, 100.2, 99.9, 100.123, 1]])),
      /simulated crash/,
    );
    assert.deepEqual(await Deno.readFile(path), before);
    assert.deepEqual(
      await listDir(dir),
      ["fail.ohlcv"],
      "temp file removed, lock released",
    );
    await assert.rejects(w.append(batchFromRows(rows(1, 10))), /failed/);
    const again = await OhlcvWriter.open(path, { period: "1" });
    assert.equal(again.count, 10);
    await again.close();
  });
});

/** Deterministic pseudo-random candles with promotions and NaNs sprinkled in. */
function trickyRows(n: number, seed: number): CandleRow[] {
  let x = seed >>> 0;
  const rnd = () => {
    x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
    return x / 4294967296;
  };
  const out: CandleRow[] = [];
  let t = T0;
  for (let i = 0; i < n; i++) {
    t += MIN * (rnd() < 0.1 ? 2 : 1);
    const o = Math.round((100 + rnd() * 5) * 100) / 100;
    let h = Math.round((o + rnd()) * 100) / 100;
    let l = Math.round((o - rnd()) * 100) / 100;
    let c = Math.round((l + rnd() * (h - l)) * 100) / 100;
    const r = rnd();
    if (r < 0.02) h = o + 0.3333; // off grid: promotes high
    else if (r < 0.04) l = o - 0.2221; // promotes low
    else if (r < 0.05) c = NaN;
    else if (r < 0.06) c = Math.max(l, Math.min(h, o + 0.0101)); // promotes close
    out.push([
      t,
      o,
      Math.max(h, o, c || o),
      Math.min(l, o, c || o),
      c,
      Math.round(rnd() * 1e6) / 1e3,
    ]);
  }
  return out;
}

Deno.test("OhlcvWriter gives the same bytes whatever the batch sizes, promotions included", async () => {
  await withDir(async (dir) => {
    for (const seed of [1, 2, 3]) {
      const data = trickyRows(300, seed);
      const write = async (sizes: number[]): Promise<Uint8Array> => {
        const path = join(dir, `s${seed}_${sizes.join("_")}.ohlcv`);
        const w = await OhlcvWriter.open(path, {
          period: "1",
          minmove: 1,
          pricescale: 100,
        });
        for (let i = 0, k = 0; i < data.length; k++) {
          const end = Math.min(data.length, i + sizes[k % sizes.length]!);
          await w.append(batchFromRows(data.slice(i, end)));
          i = end;
        }
        await w.close();
        return Deno.readFile(path);
      };
      const one = await write([300]);
      assert.ok(
        new DataView(one.buffer).getUint32(16, true) > 36,
        "some column was promoted",
      );
      for (const sizes of [[1], [2], [17], [64, 1, 5], [299, 1]]) {
        assert.deepEqual(
          await write(sizes),
          one,
          `seed ${seed}, batches ${sizes.join("/")}`,
        );
      }
    }
  });
});

Deno.test("OhlcvWriter recovers from a crash between the record write and the header write", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "crash.ohlcv");
    const w = await OhlcvWriter.open(path, {
      period: "1",
      minmove: 1,
      pricescale: 100,
    });
    await w.append(batchFromRows(rows(5)));
    const committed = await Deno.readFile(path);
    w.hooks.beforeHeaderWrite = () => {
      throw new Error("simulated crash");
    };
    await assert.rejects(
      w.append(batchFromRows(rows(3, 5))),
      /simulated crash/,
    );
    const crashed = await Deno.readFile(path);
    assert.equal(
      crashed.length,
      committed.length + 3 * 36,
      "records written past the extent",
    );
    assert.deepEqual(
      crashed.subarray(0, committed.length),
      committed,
      "header untouched",
    );
    {
      await using r = await OhlcvReader.open(path);
      assert.equal(r.count, 5, "readers see the old count");
      assert.equal((await r.read()).time.length, 5);
    }
    const w2 = await OhlcvWriter.open(path, { period: "1" });
    assert.equal(w2.count, 5);
    assert.deepEqual(
      await Deno.readFile(path),
      committed,
      "tail truncated on open",
    );
    await w2.append(batchFromRows(rows(3, 5)));
    await w2.close();
    await using r = await OhlcvReader.open(path);
    assert.equal(r.count, 8);
  });
});

Deno.test("OhlcvWriter lock: a second writer gets a clear error until the first closes", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "l.ohlcv");
    const w = await OhlcvWriter.open(path, { period: "1" });
    await assert.rejects(
      OhlcvWriter.open(path, { period: "1" }),
      (err: unknown) => {
        assert.ok(err instanceof OhlcvLockedError);
        assert.match(
          err.message,
          /another writer \(pid \d+\) holds the lock file .*l\.ohlcv\.lock/,
        );
        return true;
      },
    );
    // lock: false skips the lock.
    const unlocked = await OhlcvWriter.open(path, { period: "1", lock: false });
    await unlocked.close();
    await w.close();
    await assert.rejects(Deno.stat(`${path}.lock`), Deno.errors.NotFound);
    const w2 = await OhlcvWriter.open(path, { period: "1" });
    await w2.close();
  });
});

Deno.test("OhlcvWriter lock: a stale lock of a dead process is taken over", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "stale.ohlcv");
    // A pid far above any pid_max default is never alive.
    await Deno.writeTextFile(`${path}.lock`, "99999999\n");
    const w = await OhlcvWriter.open(path, { period: "1" });
    assert.equal(
      (await Deno.readTextFile(`${path}.lock`)).trim(),
      String(Deno.pid),
    );
    await w.close();
  });
});

Deno.test("OhlcvWriter replace mode keeps the old file until close", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "rep.ohlcv");
    const w = await OhlcvWriter.open(path, { period: "1" });
    await w.append(batchFromRows(rows(5)));
    await w.close();
    const before = await Deno.readFile(path);
    const rw = await OhlcvWriter.open(path, { period: "5", replace: true });
    assert.equal(rw.count, 0);
    await rw.append(batchFromRows([[T0, 1, 2, 0.5, 1.5, 1]]));
    assert.deepEqual(
      await Deno.readFile(path),
      before,
      "old file untouched before close",
    );
    await rw.close();
    await using r = await OhlcvReader.open(path);
    assert.equal(r.info.period, "5");
    assert.equal(r.count, 1);
    assert.deepEqual(await listDir(dir), ["rep.ohlcv"]);
  });
});

Deno.test("OhlcvWriter replace mode abort deletes the temporary file and keeps the old one", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "ab.ohlcv");
    const w = await OhlcvWriter.open(path, { period: "1" });
    await w.append(batchFromRows(rows(5)));
    await w.close();
    const before = await Deno.readFile(path);
    {
      await using rw = await OhlcvWriter.open(path, {
        period: "1",
        replace: true,
      });
      await rw.append(batchFromRows(rows(2)));
      // disposed without close(): aborted
    }
    assert.deepEqual(await Deno.readFile(path), before);
    assert.deepEqual(await listDir(dir), ["ab.ohlcv"]);
  });
});

Deno.test("OhlcvWriter abort leaves the committed data", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "keep.ohlcv");
    const w = await OhlcvWriter.open(path, { period: "1", durable: false });
    await w.append(batchFromRows(rows(4)));
    await w.abort(new Error("stop"));
    await assert.rejects(w.append(batchFromRows(rows(1, 4))), /aborted/);
    await using r = await OhlcvReader.open(path);
    assert.equal(r.count, 4);
    assert.deepEqual(await listDir(dir), ["keep.ohlcv"]);
  });
});

Deno.test("OhlcvWriter.writable appends each chunk and closes the writer", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "s.ohlcv");
    const w = await OhlcvWriter.open(path, { period: "1" });
    const chunks: CandleBatch[] = [
      batchFromRows(rows(3)),
      batchFromRows([]),
      batchFromRows(rows(2, 3)),
    ];
    await ReadableStream.from(chunks).pipeTo(w.writable);
    assert.equal(w.count, 5);
    assert.equal(w.writable, w.writable, "one stream per writer");
    await assert.rejects(
      Deno.stat(`${path}.lock`),
      Deno.errors.NotFound,
      "closed: lock released",
    );
    await using r = await OhlcvReader.open(path);
    assert.equal(r.count, 5);
  });
});

Deno.test("OhlcvWriter.writable abort keeps committed batches", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "sa.ohlcv");
    const w = await OhlcvWriter.open(path, { period: "1" });
    async function* source() {
      yield batchFromRows(rows(3));
      throw new Error("provider failed");
    }
    await assert.rejects(
      ReadableStream.from(source()).pipeTo(w.writable),
      /provider failed/,
    );
    await using r = await OhlcvReader.open(path);
    assert.equal(r.count, 3);
    await assert.rejects(Deno.stat(`${path}.lock`), Deno.errors.NotFound);
  });
});

Deno.test("OhlcvWriter writes a v2 file over a zero-byte file", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "z.ohlcv");
    await Deno.writeFile(path, new Uint8Array(0));
    const w = await OhlcvWriter.open(path, { period: "1" });
    await w.append(batchFromRows(rows(2)));
    await w.close();
    await using r = await OhlcvReader.open(path);
    assert.equal(r.info.format, "v2");
    assert.equal(r.count, 2);
  });
});

Deno.test("OhlcvWriter refuses a text file named .ohlcv", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "t.ohlcv");
    await Deno.writeTextFile(
      path,
      "timestamp,open,high,low,close,volume\r\n1,2,3,1,2,5\r\n",
    );
    await assert.rejects(
      OhlcvWriter.open(path, { period: "1" }),
      (err: unknown) => {
        assert.ok(err instanceof FormatError);
        assert.match(err.message, /text file/);
        return true;
      },
    );
  });
});

// ---- .extra.csv sidecar ----

Deno.test("OhlcvWriter sidecar: one row per record, header from the first record with extras", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "x.ohlcv");
    const side = join(dir, "x.extra.csv");
    const w = await OhlcvWriter.open(path, { period: "1" });
    await w.append(batchFromRows(rows(2)));
    await assert.rejects(
      Deno.stat(side),
      Deno.errors.NotFound,
      "no sidecar before extras",
    );
    const b = batchFromRows(rows(3, 2));
    await w.append({
      ...b,
      extra: [undefined, { ask: 1.5, note: "a,b" }, { ask: 2, note: 'q"x' }],
    });
    await w.append(batchFromRows(rows(1, 5)));
    await w.close();
    const text = await Deno.readTextFile(side);
    assert.equal(
      text,
      'ask,note\r\n,\r\n,\r\n,\r\n1.5,"a,b"\r\n2,"q""x"\r\n,\r\n',
    );
    // Header + 6 rows for 6 records.
    assert.equal(text.split("\r\n").length - 2, 6);
  });
});

Deno.test("OhlcvWriter sidecar stays aligned after a crash and is truncated on open", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "c.ohlcv");
    const side = join(dir, "c.extra.csv");
    const w = await OhlcvWriter.open(path, { period: "1" });
    const b = batchFromRows(rows(2));
    await w.append({ ...b, extra: [{ bid: 1 }, { bid: 2 }] });
    w.hooks.beforeHeaderWrite = () => {
      throw new Error("crash");
    };
    const b2 = batchFromRows(rows(2, 2));
    await assert.rejects(
      w.append({ ...b2, extra: [{ bid: 3 }, { bid: 4 }] }),
      /crash/,
    );
    assert.equal(
      await Deno.readTextFile(side),
      "bid\r\n1\r\n2\r\n3\r\n4\r\n",
      "rows past the commit",
    );
    const w2 = await OhlcvWriter.open(path, { period: "1" });
    assert.equal(
      await Deno.readTextFile(side),
      "bid\r\n1\r\n2\r\n",
      "truncated to the committed records",
    );
    await w2.append({ ...b2, extra: [{ bid: 5 }, undefined] });
    await w2.close();
    assert.equal(await Deno.readTextFile(side), 'bid\r\n1\r\n2\r\n5\r\n""\r\n');
  });
});

Deno.test("OhlcvWriter sidecar is padded when it has fewer rows than records", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "p.ohlcv");
    const side = join(dir, "p.extra.csv");
    const w = await OhlcvWriter.open(path, { period: "1" });
    const b = batchFromRows(rows(3));
    await w.append({
      ...b,
      extra: [{ a: 1, b: 2 }, { a: 3, b: 4 }, { a: 5, b: 6 }],
    });
    await w.close();
    await Deno.writeTextFile(side, "a,b\r\n1,2\r\n");
    const w2 = await OhlcvWriter.open(path, { period: "1" });
    await w2.close();
    assert.equal(await Deno.readTextFile(side), "a,b\r\n1,2\r\n,\r\n,\r\n");
  });
});

Deno.test("OhlcvWriter replace mode replaces or deletes the sidecar on close", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "r.ohlcv");
    const side = join(dir, "r.extra.csv");
    const w = await OhlcvWriter.open(path, { period: "1" });
    const b = batchFromRows(rows(1));
    await w.append({ ...b, extra: [{ a: 1 }] });
    await w.close();
    const rw = await OhlcvWriter.open(path, { period: "1", replace: true });
    await rw.append({ ...b, extra: [{ z: 9 }] });
    assert.equal(
      await Deno.readTextFile(side),
      "a\r\n1\r\n",
      "old sidecar kept until close",
    );
    await rw.close();
    assert.equal(await Deno.readTextFile(side), "z\r\n9\r\n");
    const rw2 = await OhlcvWriter.open(path, { period: "1", replace: true });
    await rw2.append(b);
    await rw2.close();
    await assert.rejects(
      Deno.stat(side),
      Deno.errors.NotFound,
      "no extras: sidecar deleted",
    );
    assert.deepEqual(await listDir(dir), ["r.ohlcv"]);
  });
});

Deno.test("OhlcvWriter.append can be called again before the previous commit resolves", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "pipe.ohlcv");
    const w = await OhlcvWriter.open(path, { period: "1" });
    const a = w.append(batchFromRows(rows(3)));
    const b = w.append(batchFromRows(rows(3, 3))); // validated against batch a
    const bad = assert.rejects(
      w.append(batchFromRows(rows(1, 2))), // older than batch b
      /Candle 0 .*out of order/,
    );
    const grid = w.setTickInfo(1, 100);
    const c = w.append(batchFromRows([[T0 + 6 * MIN, 1, 1.005, 1, 1, 1]])); // off the new grid
    await Promise.all([a, b, grid, c, bad]);
    assert.equal(w.count, 7);
    assert.equal(w.recordSize, 40, "checked against the grid set before it");
    await w.close();
    await using r = await OhlcvReader.open(path);
    assert.deepEqual(Array.from((await r.read()).time), [
      ...rows(6).map((x) => x[0]),
      T0 + 6 * MIN,
    ]);
  });
});

Deno.test("validateEncode36 takes the fast path only when the careful path agrees byte for byte", async () => {
  const { validateEncode36, encodeStandard } = await import(
    "../format/_codec.ts"
  );
  let x = 12345;
  const rnd = () => {
    x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
    return x / 4294967296;
  };
  const grids: [number, number][] = [
    [0, 0],
    [1, 100],
    [25, 1000],
    [1, 2 ** 22],
    [1, 100000000],
  ];
  let fast = 0;
  for (const [mm, ps] of grids) {
    for (let trial = 0; trial < 200; trial++) {
      const n = 1 + Math.floor(rnd() * 20);
      const data: CandleRow[] = [];
      for (let i = 0; i < n; i++) {
        const tick = mm ? mm / ps : 0.01;
        const base = [1, 100, 42000, 5e12, 1e-6][Math.floor(rnd() * 5)]!;
        const o = Math.round(base * (1 + rnd()) / tick) * tick;
        const jitter = () => (rnd() < 0.1
          ? tick * [0.5, 1e-13, 0.3, 2 ** -40][Math.floor(rnd() * 4)]!
          : 0);
        const h = o + Math.round(rnd() * 100) * tick + jitter();
        const l = o - Math.round(rnd() * 100) * tick - jitter();
        data.push([T0 + i * MIN, o, h, l, o, 1]);
      }
      const batch = batchFromRows(data);
      const buf = new Uint8Array(n * 36);
      const limit = mm ? resolutionLimit(mm / ps / 2) : 0;
      const k = validateEncode36(batch, n, {
        prev: -Infinity,
        limit,
        minmove: mm,
        pricescale: ps,
      }, new DataView(buf.buffer));
      if (k !== n) continue;
      fast++;
      if (mm) {
        for (let i = 0; i < n; i++) {
          for (const c of [2, 3, 4]) {
            assert.equal(
              failsDelta(
                data[i]![c]!,
                data[i]![1],
                mm / ps / 2,
                ps / mm,
                mm,
                ps,
              ),
              false,
            );
          }
        }
      }
      const ref = new Uint8Array(n * 36);
      encodeStandard(batch, 0, n, 0, new DataView(ref.buffer), 0);
      assert.deepEqual(buf, ref);
    }
  }
  assert.ok(fast > 300, `fast path taken ${fast} times`);
});

Deno.test("OhlcvWriter keeps an hours-encoded interval (unit 3) when appending", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "h.ohlcv");
    const src = await Deno.readFile(
      new URL("./fixtures/pynecore/empty_5.ohlcv", import.meta.url),
    );
    const bytes = src.slice();
    const dv = new DataView(bytes.buffer);
    dv.setUint32(48, 1, true);
    dv.setUint8(52, 3); // 1 hour, which reads back as period "60"
    await Deno.writeFile(path, bytes);
    const w = await OhlcvWriter.open(path, { period: "60" });
    await w.append(batchFromRows([
      [T0, 1, 2, 0.5, 1.5, 1],
      [T0 + 3_600_000, 1, 2, 0.5, 1.5, 1],
    ]));
    assert.equal(w.dense, true);
    await w.close();
    const out = new DataView((await Deno.readFile(path)).buffer);
    assert.equal(out.getUint32(48, true), 1);
    assert.equal(out.getUint8(52), 3);
    await using r = await OhlcvReader.open(path);
    assert.equal(r.info.period, "60");
    assert.equal(r.info.dense, true);
  });
});

Deno.test("OhlcvWriter deletes an orphan sidecar when it creates a new file", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "o.ohlcv");
    await Deno.writeTextFile(join(dir, "o.extra.csv"), "old\r\n1\r\n2\r\n");
    const w = await OhlcvWriter.open(path, { period: "1" });
    const b = batchFromRows(rows(1));
    await w.append({ ...b, extra: [{ ask: 7 }] });
    await w.close();
    assert.equal(
      await Deno.readTextFile(join(dir, "o.extra.csv")),
      "ask\r\n7\r\n",
    );
  });
});

Deno.test("OhlcvWriter rebuilds a file larger than one rebuild chunk exactly like a single-batch write", async () => {
  const { CandleGenerator } = await import("../testing/candle_generator.ts");
  const { concatBatches } = await import("../format/candle_batch.ts");
  await withDir(async (dir) => {
    const gen = new CandleGenerator({ seed: "REBUILD", basePrice: 3000 });
    const base = gen.batch(T0, T0 + 70_000 * MIN, MIN);
    const off = batchFromRows([[
      T0 + 70_000 * MIN,
      3000,
      3000.5,
      2999,
      3000.123,
      1,
    ]]);
    const a = join(dir, "a.ohlcv");
    const wa = await OhlcvWriter.open(a, {
      period: "1",
      minmove: 1,
      pricescale: 100,
    });
    await wa.append(base);
    await wa.append(off); // later-bar promotion: rebuild through a temp file
    await wa.close();
    const b = join(dir, "b.ohlcv");
    const wb = await OhlcvWriter.open(b, {
      period: "1",
      minmove: 1,
      pricescale: 100,
    });
    await wb.append(concatBatches([base, off])); // same promotion inside one batch
    await wb.close();
    const bytes = await Deno.readFile(a);
    assert.deepEqual(bytes, await Deno.readFile(b));
    assert.equal(new DataView(bytes.buffer).getUint32(16, true), 40);
    await using r = await OhlcvReader.open(a);
    assert.equal(r.count, 70_001);
    const all = await r.read();
    assert.equal(all.close[70_000], 3000.123);
    assert.deepEqual(all.high.subarray(0, 70_000), base.high);
    assert.deepEqual(await listDir(dir), ["a.ohlcv", "b.ohlcv"]);
  });
});

Deno.test("OhlcvWriter.writable errors on a bad batch, keeps the committed ones and releases the lock", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "bad.ohlcv");
    const w = await OhlcvWriter.open(path, { period: "1" });
    const chunks = [
      batchFromRows(rows(3)),
      batchFromRows(rows(2, 3)),
      batchFromRows([[T0 + 9 * MIN, 100, 99, 98, 99.5, 1]]), // high < open
      batchFromRows(rows(2, 20)),
    ];
    await assert.rejects(
      ReadableStream.from(chunks).pipeTo(w.writable),
      /Candle 0 of the batch .*high 99 is below/,
    );
    await assert.rejects(Deno.stat(`${path}.lock`), Deno.errors.NotFound);
    await assert.rejects(w.append(batchFromRows(rows(1, 30))), /aborted/);
    await using r = await OhlcvReader.open(path);
    assert.equal(r.count, 5);
  });
});

// ---- pipelined commits (durability order) ----

/**
 * Spies on fdatasync/fsync of `node:fs` FileHandles: at the start of each
 * one, notes the header's record count and the size of the file at `path`
 * (what that sync makes durable); `done` lists the snapshots of the syncs
 * that have completed. Install it after `OhlcvWriter.open`: from then on the
 * writer's only syncs are on its file (no sidecar rows, no rebuild here).
 */
async function spySyncs(path: string, dir: string) {
  const probe = await Deno.open(join(dir, "probe"), {
    create: true,
    write: true,
  });
  probe.close();
  const { open } = await import("node:fs/promises");
  const fh = await open(join(dir, "probe"), "r");
  const proto = Object.getPrototypeOf(fh) as {
    datasync(): Promise<void>;
    sync(): Promise<void>;
  };
  await fh.close();
  const orig = { datasync: proto.datasync, sync: proto.sync };
  const done: { count: number; size: number }[] = [];
  const snapshot = () => {
    const b = Deno.readFileSync(path);
    const count = b.length >= 32
      ? Number(new DataView(b.buffer).getBigUint64(24, true))
      : 0;
    return { count, size: b.length };
  };
  for (const name of ["datasync", "sync"] as const) {
    proto[name] = async function (this: unknown) {
      const snap = snapshot();
      await orig[name].call(this);
      done.push(snap);
    };
  }
  return {
    done,
    /** Largest file size and header count some completed sync made durable. */
    durable() {
      return {
        size: Math.max(0, ...done.map((d) => d.size)),
        count: Math.max(0, ...done.map((d) => d.count)),
      };
    },
    restore() {
      proto.datasync = orig.datasync;
      proto.sync = orig.sync;
    },
  };
}

/** Cumulative record counts after each batch. */
function ends(sizes: number[]): number[] {
  let t = 0;
  return sizes.map((n) => (t += n));
}

/** Before each header write: the records it will count must be durable. */
function checkRecordsFirst(
  w: OhlcvWriter,
  spy: { durable(): { size: number } },
  sizes: number[],
  problems: string[],
): void {
  const after = ends(sizes);
  w.hooks.beforeHeaderWrite = () => {
    const end = after.find((e) => e > w.count)!;
    if (spy.durable().size < 208 + end * 36) {
      problems.push(`header counting ${end} written before its records synced`);
    }
  };
}

Deno.test("OhlcvWriter.writable commits every batch on its own: records synced before its header, header synced without waiting for the next batch", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "d.ohlcv");
    const w = await OhlcvWriter.open(path, { period: "1" });
    const spy = await spySyncs(path, dir);
    const sizes = [5, 3, 7, 2, 4, 6];
    const problems: string[] = [];
    try {
      checkRecordsFirst(w, spy, sizes, problems);
      const source = async function* () {
        let total = 0;
        for (const n of sizes) {
          yield batchFromRows(rows(n, total));
          total += n;
          // Pause the source: the batch must become durable on its own, not
          // when a next batch (or close) comes along.
          const until = Date.now() + 2000;
          while (spy.durable().count < total && Date.now() < until) {
            await new Promise((r) => setTimeout(r, 1));
          }
          if (spy.durable().count < total) {
            problems.push(`header counting ${total} not synced while waiting`);
          }
        }
      };
      await ReadableStream.from(source()).pipeTo(w.writable);
    } finally {
      spy.restore();
    }
    assert.deepEqual(problems, []);
    assert.equal(spy.durable().count, 27);
    await using r = await OhlcvReader.open(path);
    assert.equal(r.count, 27);
  });
});

Deno.test("OhlcvWriter.writable at full speed: every header is written after its records are synced, and close returns with all of them durable", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "f.ohlcv");
    const w = await OhlcvWriter.open(path, { period: "1" });
    const spy = await spySyncs(path, dir);
    const sizes = Array.from({ length: 40 }, (_, i) => 50 + (i * 37) % 200);
    const problems: string[] = [];
    const batches: CandleBatch[] = [];
    let total = 0;
    for (const n of sizes) {
      batches.push(batchFromRows(rows(n, total)));
      total += n;
    }
    try {
      checkRecordsFirst(w, spy, sizes, problems);
      await ReadableStream.from(batches).pipeTo(w.writable);
    } finally {
      spy.restore();
    }
    assert.deepEqual(problems, []);
    assert.equal(spy.durable().count, total, "last header synced");
    // At most two syncs per batch (one when the previous header's sync
    // already covered the records; how often depends on timing).
    assert.ok(spy.done.length <= 2 * sizes.length);
    await using r = await OhlcvReader.open(path);
    assert.equal(r.count, total);
  });
});

Deno.test("OhlcvWriter.append: each promise resolves once its batch's header is synced, also when calls overlap", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "a.ohlcv");
    const sizes = [4, 9, 1, 6, 3, 8, 2];
    const after = ends(sizes);
    const write = async (overlap: boolean) => {
      await Deno.remove(path).catch(() => {});
      const w = await OhlcvWriter.open(path, { period: "1" });
      const spy = await spySyncs(path, dir);
      const problems: string[] = [];
      try {
        checkRecordsFirst(w, spy, sizes, problems);
        const calls: Promise<void>[] = [];
        let total = 0;
        for (const [k, n] of sizes.entries()) {
          const call = w.append(batchFromRows(rows(n, total))).then(() => {
            if (spy.durable().count < after[k]!) {
              problems.push(`append ${k} resolved before its header synced`);
            }
          });
          total += n;
          if (overlap) calls.push(call);
          else await call;
        }
        await Promise.all(calls);
        await w.close();
      } finally {
        spy.restore();
      }
      assert.deepEqual(problems, []);
      return Deno.readFile(path);
    };
    assert.deepEqual(await write(true), await write(false));
  });
});

Deno.test("OhlcvWriter.writable: a crash before a header leaves the earlier batches committed, later records past the extent, and reopening truncates them", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "c.ohlcv");
    const sizes = [6, 5, 4, 7, 3];
    const batches: CandleBatch[] = [];
    let total = 0;
    for (const n of sizes) {
      batches.push(batchFromRows(rows(n, total)));
      total += n;
    }
    const w = await OhlcvWriter.open(path, { period: "1" });
    let headers = 0;
    w.hooks.beforeHeaderWrite = () => {
      if (++headers === 3) throw new Error("simulated crash");
    };
    await assert.rejects(
      ReadableStream.from(batches).pipeTo(w.writable),
      /simulated crash/,
    );
    await assert.rejects(Deno.stat(`${path}.lock`), Deno.errors.NotFound);
    const size = (await Deno.stat(path)).size;
    assert.ok(size >= 208 + 15 * 36, "third batch's records were written");
    {
      await using r = await OhlcvReader.open(path);
      assert.equal(r.count, 11, "two batches committed");
    }
    const w2 = await OhlcvWriter.open(path, { period: "1" });
    assert.equal(w2.count, 11);
    assert.equal((await Deno.stat(path)).size, 208 + 11 * 36, "tail cut");
    await ReadableStream.from(batches.slice(2)).pipeTo(w2.writable);
    const once = join(dir, "once.ohlcv");
    const w3 = await OhlcvWriter.open(once, { period: "1" });
    await ReadableStream.from(batches).pipeTo(w3.writable);
    assert.deepEqual(await Deno.readFile(path), await Deno.readFile(once));
  });
});

Deno.test("openBulkWriter writes blocks at their positions through Deno.FsFile and through node:fs", async () => {
  await withDir(async (dir) => {
    const { open } = await import("node:fs/promises");
    const results: Uint8Array[] = [];
    for (const deno of [undefined, null]) {
      const path = join(dir, `bulk_${deno === null ? "node" : "deno"}.bin`);
      await Deno.writeFile(path, new Uint8Array(4).fill(9));
      const fh = await open(path, "r+");
      const out = await openBulkWriter(path, fh, deno);
      await out.write(new Uint8Array([1, 2, 3, 4, 5]), 3, 4);
      await out.write(new Uint8Array([6, 7]), 2, 7);
      await out.write(new Uint8Array([8]), 1, 1);
      await out.close();
      await fh.close();
      results.push(await Deno.readFile(path));
    }
    const want = new Uint8Array([9, 8, 9, 9, 1, 2, 3, 6, 7]);
    assert.deepEqual(results[0], want);
    assert.deepEqual(results[1], want);
  });
});
