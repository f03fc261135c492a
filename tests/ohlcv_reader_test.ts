import assert from "node:assert/strict";
import { join } from "node:path";
import {
  batchFromRows,
  type CandleBatch,
  type CandleRow,
} from "../format/candle_batch.ts";
import { FormatError } from "../format/format_error.ts";
import { OhlcvReader, ohlcvRecordCount } from "../format/ohlcv_reader.ts";
import { OhlcvWriter } from "../format/ohlcv_writer.ts";

const T0 = Date.UTC(2024, 0, 1);
const MIN = 60_000;
const FIXTURES = new URL("./fixtures/pynecore/", import.meta.url).pathname;

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir();
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** An irregular series: gaps of 1, 2, 3, 5 minutes. */
function irregular(n: number): CandleRow[] {
  const out: CandleRow[] = [];
  let t = T0;
  const gaps = [1, 2, 3, 5];
  for (let i = 0; i < n; i++) {
    const o = 100 + i / 100;
    out.push([t, o, o + 0.5, o - 0.5, o + 0.25, i]);
    t += gaps[i % 4]! * MIN;
  }
  return out;
}

async function writeRows(
  path: string,
  data: CandleRow[],
  options = { period: "1", minmove: 1, pricescale: 100 },
): Promise<void> {
  const w = await OhlcvWriter.open(path, options);
  await w.append(batchFromRows(data));
  await w.close();
}

function times(b: CandleBatch): number[] {
  return Array.from(b.time);
}

Deno.test("OhlcvReader range queries are inclusive binary searches over an irregular series", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "irr.ohlcv");
    const data = irregular(101);
    await writeRows(path, data);
    await using r = await OhlcvReader.open(path);
    const all = data.map((d) => d[0]);
    const expect = (from: number, to: number) =>
      all.filter((t) => t >= from && t <= to);
    const probes = [
      T0 - MIN,
      T0,
      T0 + 30_000,
      all[10]!,
      all[10]! + 1,
      all[50]! - 1,
      all[100]!,
      all[100]! + MIN,
    ];
    for (const from of probes) {
      for (const to of probes) {
        assert.deepEqual(
          times(await r.range(from, to)),
          expect(from, to),
          `range(${from}, ${to})`,
        );
      }
    }
    assert.equal(await r.indexOf(all[10]!), 10);
    assert.equal(await r.indexOf(all[10]!, "right"), 11);
    assert.equal(await r.indexOf(all[10]! + 1), 11);
    assert.equal(await r.indexOf(T0 - 1), 0);
    assert.equal(await r.indexOf(all[100]! + 1), 101);
    const mid = await r.range(all[20]!, all[22]!);
    assert.equal(mid.open[0], data[20]![1]);
    assert.equal(mid.volume[2], 22);
  });
});

Deno.test("OhlcvReader.batches honours from/to and batchSize and never yields empty batches", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "b.ohlcv");
    const data = irregular(50);
    await writeRows(path, data);
    await using r = await OhlcvReader.open(path);
    const sizes: number[] = [];
    const got: number[] = [];
    for await (
      const b of r.batches({
        from: data[5]![0],
        to: data[44]![0],
        batchSize: 8,
      })
    ) {
      sizes.push(b.time.length);
      got.push(...times(b));
    }
    assert.deepEqual(sizes, [8, 8, 8, 8, 8]);
    assert.deepEqual(got, data.slice(5, 45).map((d) => d[0]));
    let count = 0;
    for await (const _ of r.batches({ from: data[49]![0] + 1 })) count++;
    assert.equal(count, 0);
    await assert.rejects(r.batches({ batchSize: 0 }).next(), RangeError);
  });
});

Deno.test("OhlcvReader.readable streams batches of the requested size and can be cancelled", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "s.ohlcv");
    const data = irregular(23);
    await writeRows(path, data);
    await using r = await OhlcvReader.open(path);
    const batches = await Array.fromAsync(r.readable({ batchSize: 10 }));
    assert.deepEqual(batches.map((b) => b.time.length), [10, 10, 3]);
    assert.deepEqual(batches.flatMap(times), data.map((d) => d[0]));
    const reader = r.readable({ batchSize: 5 }).getReader();
    assert.equal((await reader.read()).value?.time.length, 5);
    await reader.cancel();
  });
});

Deno.test("OhlcvReader.read checks its bounds and a closed reader refuses to read", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "r.ohlcv");
    await writeRows(path, irregular(5));
    const r = await OhlcvReader.open(path);
    assert.equal((await r.read(1, 3)).time.length, 2);
    assert.equal((await r.read(5, 5)).time.length, 0);
    await assert.rejects(r.read(0, 6), RangeError);
    await assert.rejects(r.read(3, 2), RangeError);
    await assert.rejects(r.read(-1, 2), RangeError);
    await r.close();
    await assert.rejects(r.read(), /closed/);
  });
});

Deno.test("OhlcvReader reads only the committed extent", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "tail.ohlcv");
    const data = irregular(10);
    await writeRows(path, data);
    const bytes = await Deno.readFile(path);
    // Append two more valid-looking records without committing them.
    const extra = bytes.subarray(208, 208 + 72);
    const f = await Deno.open(path, { append: true });
    await f.write(extra);
    f.close();
    await using r = await OhlcvReader.open(path);
    assert.equal(r.count, 10);
    assert.equal(r.info.last, data[9]![0]);
    assert.equal((await r.read()).time.length, 10);
    assert.equal(await r.indexOf(data[9]![0] + 1), 10);
  });
});

Deno.test("OhlcvReader snaps decoded values to the tick grid and keeps float32 noise without one", async () => {
  await withDir(async (dir) => {
    const row: CandleRow = [T0, 42000.01, 42013.37, 41999.99, 42007.03, 1.5];
    const g = join(dir, "grid.ohlcv");
    await writeRows(g, [row]);
    const n = join(dir, "nogrid.ohlcv");
    await writeRows(n, [row], { period: "1" } as never);
    await using rg = await OhlcvReader.open(g);
    const bg = await rg.read();
    assert.deepEqual([bg.open[0], bg.high[0], bg.low[0], bg.close[0]], [
      42000.01,
      42013.37,
      41999.99,
      42007.03,
    ]);
    await using rn = await OhlcvReader.open(n);
    const bn = await rn.read();
    assert.equal(bn.open[0], 42000.01);
    assert.equal(bn.high[0], 42000.01 + Math.fround(42013.37 - 42000.01));
    assert.notEqual(bn.high[0], 42013.37);
  });
});

Deno.test("OhlcvReader info reports the header", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "i.ohlcv");
    const data = irregular(3);
    await writeRows(path, data);
    await using r = await OhlcvReader.open(path);
    assert.deepEqual(r.info, {
      format: "v2",
      period: "1",
      count: 3,
      first: data[0]![0],
      last: data[2]![0],
      dense: false,
      minmove: 1,
      pricescale: 100,
      recordSize: 36,
      headerSize: 208,
      versionMinor: 1,
    });
  });
});

// ---- validation of hand-made headers ----

async function mutated(
  dir: string,
  mutate: (dv: DataView, bytes: Uint8Array) => void,
): Promise<string> {
  const src = await Deno.readFile(join(FIXTURES, "btc_1D_gap.ohlcv"));
  const bytes = src.slice();
  mutate(new DataView(bytes.buffer), bytes);
  const path = join(dir, `m${Math.random().toString(36).slice(2)}.ohlcv`);
  await Deno.writeFile(path, bytes);
  return path;
}

const D = (i: number) => 64 + 24 * i; // descriptor i

Deno.test("OhlcvReader refuses malformed descriptors with a FormatError naming file and problem", async () => {
  await withDir(async (dir) => {
    const cases: [string, (dv: DataView, b: Uint8Array) => void, RegExp][] = [
      [
        "duplicate role",
        (dv) => dv.setUint8(D(2), 3),
        /role 3 appears in 2 columns/,
      ],
      ["unknown role", (dv) => dv.setUint8(D(5), 77), /unknown role 77/],
      [
        "base of a missing role",
        (dv) => dv.setUint8(D(2) + 2, 9),
        /delta of role 9, which no column has/,
      ],
      ["delta cycle", (dv) => {
        dv.setUint8(D(1) + 2, 2); // open is a delta of high, high of open
      }, /cycle/],
      ["empty name", (_dv, b) => b.fill(0, D(3) + 6, D(3) + 24), /empty name/],
      ["bytes after NUL", (_dv, b) => (b[D(3) + 20] = 0x41), /after the NUL/],
      ["non-ASCII name", (_dv, b) => (b[D(3) + 6] = 0xe9), /non-ASCII/],
      ["timestamp not int64", (dv) => {
        dv.setUint8(D(0) + 1, 6);
      }, /int64 timestamp/],
      [
        "records do not fit",
        (dv) => dv.setUint32(24, 121, true),
        /declares 121 records but the file holds 120/,
      ],
      ["empty with timestamps", (dv) => {
        dv.setUint32(24, 0, true);
      }, /no records but first\/last/],
      ["record size 0", (dv) => dv.setUint32(16, 0, true), /record_size is 0/],
    ];
    for (const [what, mutate, re] of cases) {
      const path = await mutated(dir, mutate);
      await assert.rejects(OhlcvReader.open(path), (err: unknown) => {
        assert.ok(err instanceof FormatError, `${what}: ${err}`);
        assert.ok(err.message.startsWith(`Cannot open ${path}: `), err.message);
        assert.match(err.message, re, what);
        assert.equal(err.path, path);
        return true;
      });
      assert.equal(await ohlcvRecordCount(path), 0);
    }
  });
});

Deno.test("OhlcvReader decodes a valid non-standard column layout", async () => {
  await withDir(async (dir) => {
    // volume(f64) | timestamp(i64) | close(f32 delta) | open(f64) | low(f64) | high(f32 delta)
    const rowsIn: CandleRow[] = [
      [T0, 100.25, 101.5, 99.75, 100.5, 12],
      [T0 + MIN, 100.5, 100.75, 100, 100.25, -1],
    ];
    const cols = [
      { role: 5, dtype: 6, base: 255, name: "volume", size: 8 },
      { role: 0, dtype: 2, base: 255, name: "timestamp", size: 8 },
      { role: 4, dtype: 5, base: 1, name: "close", size: 4 },
      { role: 1, dtype: 6, base: 255, name: "open", size: 8 },
      { role: 3, dtype: 6, base: 255, name: "low", size: 8 },
      { role: 2, dtype: 5, base: 1, name: "high", size: 4 },
      { role: 255, dtype: 5, base: 255, name: "custom_x", size: 4 },
    ];
    const rs = cols.reduce((a, c) => a + c.size, 0);
    const hs = 64 + 24 * cols.length;
    const bytes = new Uint8Array(hs + rs * rowsIn.length);
    const dv = new DataView(bytes.buffer);
    bytes.set([0x89, 0x50, 0x59, 0x4e, 0x0d, 0x0a, 0x1a, 0x0a]);
    dv.setUint16(8, 2, true);
    dv.setUint16(10, 0, true);
    dv.setUint32(12, hs, true);
    dv.setUint32(16, rs, true);
    dv.setUint16(20, cols.length, true);
    dv.setUint16(22, 1, true);
    dv.setBigInt64(24, 2n, true);
    dv.setBigInt64(32, BigInt(T0), true);
    dv.setBigInt64(40, BigInt(T0 + MIN), true);
    dv.setUint32(48, 1, true);
    dv.setUint8(52, 2);
    dv.setUint32(56, 1, true);
    dv.setUint32(60, 4, true); // grid 0.25
    let off = 0;
    const offsets: number[] = [];
    cols.forEach((c, i) => {
      const d = 64 + 24 * i;
      dv.setUint8(d, c.role);
      dv.setUint8(d + 1, c.dtype);
      dv.setUint8(d + 2, c.base);
      dv.setUint16(d + 4, off, true);
      for (let k = 0; k < c.name.length; k++) {
        bytes[d + 6 + k] = c.name.charCodeAt(k);
      }
      offsets.push(off);
      off += c.size;
    });
    rowsIn.forEach(([t, o, h, l, c, v], i) => {
      const p = hs + i * rs;
      dv.setFloat64(p + offsets[0]!, v, true);
      dv.setBigInt64(p + offsets[1]!, BigInt(t), true);
      dv.setFloat32(p + offsets[2]!, c - o, true);
      dv.setFloat64(p + offsets[3]!, o, true);
      dv.setFloat64(p + offsets[4]!, l, true);
      dv.setFloat32(p + offsets[5]!, h - o, true);
      dv.setFloat32(p + offsets[6]!, 42, true);
    });
    const path = join(dir, "layout.ohlcv");
    await Deno.writeFile(path, bytes);
    await using r = await OhlcvReader.open(path);
    assert.equal(r.info.versionMinor, 0);
    assert.equal(r.info.recordSize, rs);
    assert.equal(r.info.dense, true);
    const b = await r.read();
    assert.deepEqual(
      [0, 1].map((
        i,
      ) => [
        b.time[i],
        b.open[i],
        b.high[i],
        b.low[i],
        b.close[i],
        b.volume[i],
      ]),
      rowsIn,
    );
    assert.deepEqual(times(await r.range(T0 + 1, T0 + MIN)), [T0 + MIN]);
    // The writer does not append to layouts it does not produce.
    await assert.rejects(
      OhlcvWriter.open(path, { period: "1" }),
      /column layout/,
    );
  });
});

Deno.test("OhlcvReader refuses binary files that are neither v2 nor hold one v1 record", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "bin.ohlcv");
    await Deno.writeFile(
      path,
      new Uint8Array([0, 1, 2, 3, 0xff, 0x80, 7, 8, 9, 10]),
    );
    await assert.rejects(
      OhlcvReader.open(path),
      /no v2 magic bytes, and 10 bytes is shorter than one 24-byte legacy v1 record/,
    );
    assert.equal(await ohlcvRecordCount(path), 0);
    assert.equal(await ohlcvRecordCount(dir), 0, "a directory");
    await assert.rejects(OhlcvReader.open(dir), (err: unknown) => {
      assert.ok(err instanceof FormatError);
      assert.equal(
        err.message,
        `Cannot open ${dir}: it is a directory, not an .ohlcv file`,
      );
      return true;
    });
    await assert.rejects(
      OhlcvReader.open(join(dir, "missing.ohlcv")),
      (err: unknown) => (err as { code?: string }).code === "ENOENT",
    );
    // A named pipe is refused without blocking on open.
    const fifo = join(dir, "pipe.ohlcv");
    const mk = await new Deno.Command("mkfifo", { args: [fifo] }).output();
    if (mk.success) {
      await assert.rejects(OhlcvReader.open(fifo), /not a regular file/);
      assert.equal(await ohlcvRecordCount(fifo), 0);
    }
  });
});

Deno.test("OhlcvReader tells a text file from a v1 file also when its size is a multiple of 24", async () => {
  await withDir(async (dir) => {
    let text = "timestamp,open,high,low,close,volume\r\n";
    text += "1704067200000,1.0,2.0,0.5,1.5,10.0\r\n";
    while (text.length % 24 !== 0) text += " ";
    const csv = join(dir, "x.ohlcv");
    await Deno.writeTextFile(csv, text);
    await assert.rejects(OhlcvReader.open(csv), (err: unknown) => {
      assert.ok(err instanceof FormatError);
      assert.equal(
        err.message,
        `Cannot open ${csv}: this is a text file (CSV or JSON?), not binary OHLCV data; if it holds CSV or JSON candles, rename it to .csv or .json and convert that to .ohlcv with the convert command`,
      );
      return true;
    });
    const json = join(dir, "x.json");
    await Deno.writeTextFile(json, "[]");
    await assert.rejects(
      OhlcvReader.open(json),
      new RegExp(`convert it with "convert ${json} OUT\\.ohlcv"`),
    );
    // The fixture's v1 records are binary and open as v1.
    const v1 = await Deno.readFile(join(FIXTURES, "legacy_v1_60.ohlcv"));
    assert.equal(v1.length % 24, 0);
    await using r = await OhlcvReader.open(
      join(FIXTURES, "legacy_v1_60.ohlcv"),
    );
    assert.equal(r.info.format, "v1");
  });
});

Deno.test("OhlcvReader reads the whole records of a legacy v1 file with a partial last record, like PyneCore", async () => {
  await withDir(async (dir) => {
    const v1 = await Deno.readFile(join(FIXTURES, "legacy_v1_60.ohlcv"));
    const whole = await (async () => {
      await using r = await OhlcvReader.open(
        join(FIXTURES, "legacy_v1_60.ohlcv"),
      );
      return await r.read();
    })();
    const n = v1.length / 24;
    // Truncated in the middle of record n-3, and with 13 bytes appended.
    const cases: [string, Uint8Array, number][] = [
      ["truncated.ohlcv", v1.subarray(0, (n - 3) * 24 + 11), n - 3],
      [
        "appended.ohlcv",
        new Uint8Array([...v1, ...new Uint8Array(13).fill(0xab)]),
        n,
      ],
    ];
    for (const [name, bytes, count] of cases) {
      const path = join(dir, name);
      await Deno.writeFile(path, bytes);
      await using r = await OhlcvReader.open(path);
      assert.equal(r.info.format, "v1");
      assert.equal(r.count, count, name);
      assert.equal(r.info.last, whole.time[count - 1]);
      const b = await r.read();
      assert.deepEqual(
        Array.from(b.time),
        Array.from(whole.time).slice(0, count),
      );
      assert.deepEqual(
        Array.from(b.close),
        Array.from(whole.close).slice(0, count),
      );
      const parts: number[] = [];
      for await (const p of r.batches({ batchSize: 7 })) parts.push(...p.time);
      assert.deepEqual(parts, Array.from(b.time));
      assert.equal(await ohlcvRecordCount(path), count);
      // Still read-only: the writer refuses it and leaves it as it is.
      await assert.rejects(
        OhlcvWriter.open(path, { period: "60" }),
        /legacy v1.*replace/,
      );
      assert.deepEqual(await Deno.readFile(path), bytes);
    }
  });
});

Deno.test("OhlcvReader refuses a v2 file with damaged magic bytes instead of reading it as v1 garbage", async () => {
  await withDir(async (dir) => {
    const v2 = await Deno.readFile(join(FIXTURES, "btc_1D_gap.ohlcv"));
    const cases: [string, (b: Uint8Array) => void, RegExp][] = [
      // Bytes 2-7 overwritten: still starts with 89 50.
      ["prefix", (b) => b.fill(0x42, 2, 8), /first bytes of the v2 magic/],
      // Bytes 0-3 zeroed: the magic's end 0D 0A 1A 0A is still there.
      ["tail", (b) => b.fill(0, 0, 4), /bytes 4-7 are the end of the v2 magic/],
      // All eight zeroed: header_size 208 for 6 columns gives it away.
      [
        "fields",
        (b) => b.fill(0, 0, 8),
        /bytes 12-15 are the v2 header_size for the 6 columns/,
      ],
    ];
    for (const [name, damage, sign] of cases) {
      // As is (4528 bytes) and padded to a multiple of 24, which read as v1
      // garbage before.
      for (const extra of [0, 24 - (v2.length % 24)]) {
        const bytes = new Uint8Array(v2.length + extra);
        bytes.set(v2);
        damage(bytes);
        const path = join(dir, `${name}_${extra}.ohlcv`);
        await Deno.writeFile(path, bytes);
        await assert.rejects(OhlcvReader.open(path), (err: unknown) => {
          assert.ok(err instanceof FormatError, `${name}: ${err}`);
          assert.match(err.message, sign);
          assert.match(err.message, /a v2 file with a damaged header/);
          assert.ok(err.message.startsWith(`Cannot open ${path}: `));
          return true;
        });
        assert.equal(await ohlcvRecordCount(path), 0);
        await assert.rejects(
          OhlcvWriter.open(path, { period: "1D" }),
          /damaged header/,
        );
        assert.deepEqual(await Deno.readFile(path), bytes, "left untouched");
      }
    }
  });
});

Deno.test("OhlcvReader range queries work on legacy v1 files", async () => {
  await using r = await OhlcvReader.open(join(FIXTURES, "legacy_v1_60.ohlcv"));
  const all = await r.read();
  const t = Array.from(all.time);
  const b = await r.range(t[3]!, t[7]!);
  assert.deepEqual(times(b), t.slice(3, 8));
  assert.equal(r.info.first, t[0]);
  assert.equal(r.info.last, t[t.length - 1]);
  assert.equal(r.info.format, "v1");
  assert.equal(r.info.period, null);
});

/** The spec's snapping formulas, written out independently. */
function pyRoundRef(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  const r = d > 0.5 ? f + 1 : d < 0.5 ? f : f % 2 === 0 ? f : f + 1;
  return r === 0 ? 0 : r;
}

Deno.test("OhlcvReader grid snapping matches the spec formulas on NaN, huge, tie and off-grid values", async () => {
  await withDir(async (dir) => {
    const grids: [number, number][] = [[1, 100], [25, 1000], [1, 3], [7, 2]];
    const opens = [
      0,
      1,
      -1,
      42000.01,
      1e14,
      3e15,
      9e15,
      1e-300,
      NaN,
      0.125,
      2.5,
    ];
    const deltas = [0, 0.005, -0.015, 1e-7, 0.5, -2.5, NaN, 1e10, 3.0000001];
    for (const [mm, ps] of grids) {
      const rowsIn: CandleRow[] = [];
      let t = T0;
      for (const o of opens) {
        for (const d of deltas) {
          rowsIn.push([t, o, o + d, o - Math.abs(d), o + d / 3, 1]);
          t += MIN;
        }
      }
      // Write raw bytes (the writer would promote some of these columns).
      const n = rowsIn.length;
      const bytes = new Uint8Array(208 + n * 36);
      const src = await Deno.readFile(join(FIXTURES, "btc_1m_dense.ohlcv"));
      bytes.set(src.subarray(0, 208));
      const dv = new DataView(bytes.buffer);
      dv.setBigUint64(24, BigInt(n), true);
      dv.setBigInt64(32, BigInt(rowsIn[0]![0]), true);
      dv.setBigInt64(40, BigInt(rowsIn[n - 1]![0]), true);
      dv.setUint16(22, 1, true);
      dv.setUint32(56, mm, true);
      dv.setUint32(60, ps, true);
      rowsIn.forEach(([t, o, h, l, c, v], i) => {
        const p = 208 + i * 36;
        dv.setBigInt64(p, BigInt(t), true);
        dv.setFloat64(p + 8, o, true);
        dv.setFloat32(p + 16, h - o, true);
        dv.setFloat32(p + 20, l - o, true);
        dv.setFloat32(p + 24, c - o, true);
        dv.setFloat64(p + 28, v, true);
      });
      const path = join(dir, `snap_${mm}_${ps}.ohlcv`);
      await Deno.writeFile(path, bytes);
      await using r = await OhlcvReader.open(path);
      const b = await r.read();
      const s = ps / mm;
      for (let i = 0; i < n; i++) {
        const p = 208 + i * 36;
        const o = dv.getFloat64(p + 8, true);
        let want = o;
        if (!Number.isNaN(o)) {
          const g = pyRoundRef(o * s) * mm / ps;
          if (Math.abs(g - o) <= Math.abs(o) * 2 ** -52) want = g;
        }
        assert.ok(
          Object.is(b.open[i], want),
          `open ${o} grid ${mm}/${ps}: ${b.open[i]} vs ${want}`,
        );
        const cols = [b.high, b.low, b.close];
        for (let k = 0; k < 3; k++) {
          const d = dv.getFloat32(p + 16 + 4 * k, true);
          const v = o + d;
          let w = v;
          if (!Number.isNaN(v)) {
            const g = pyRoundRef(v * s) * mm / ps;
            if (
              Math.abs(g - v) <= Math.abs(d) * 2 ** -23 + Math.abs(v) * 2 ** -52
            ) w = g;
          }
          assert.ok(
            Object.is(cols[k]![i], w),
            `row ${i} col ${k}: ${cols[k]![i]} vs ${w}`,
          );
        }
      }
    }
  });
});

Deno.test("OhlcvReader refuses a record_count above 2^53 and truncated files with clear errors", async () => {
  await withDir(async (dir) => {
    const cases: [
      string,
      (dv: DataView, b: Uint8Array) => Uint8Array,
      RegExp,
    ][] = [
      [
        "u64 count",
        (dv, b) => (dv.setBigUint64(24, 2n ** 60n, true), b),
        /record_count 1152921504606846976 is impossibly large/,
      ],
      [
        "count just above 2^53",
        (dv, b) => (dv.setBigUint64(24, 2n ** 53n + 1n, true), b),
        /impossibly large/,
      ],
      [
        "cut inside a record",
        (_dv, b) => b.subarray(0, 208 + 36 * 119 + 20),
        /declares 120 records but the file holds 119/,
      ],
      [
        "cut inside the descriptors",
        (_dv, b) => b.subarray(0, 100),
        /100 bytes, shorter than its 208-byte header/,
      ],
      [
        "only part of the magic",
        (_dv, b) => b.subarray(0, 5),
        /5 bytes, shorter than the 64-byte v2 header/,
      ],
    ];
    for (const [what, mutate, re] of cases) {
      const src = await Deno.readFile(join(FIXTURES, "btc_1D_gap.ohlcv"));
      const bytes = src.slice();
      const out = mutate(new DataView(bytes.buffer), bytes);
      const path = join(dir, `${what.replaceAll(" ", "_")}.ohlcv`);
      await Deno.writeFile(path, out);
      await assert.rejects(OhlcvReader.open(path), (err: unknown) => {
        assert.ok(err instanceof FormatError, `${what}: ${err}`);
        assert.ok(err.message.startsWith(`Cannot open ${path}: `), err.message);
        assert.match(err.message, re, what);
        return true;
      });
      assert.equal(await ohlcvRecordCount(path), 0, what);
    }
  });
});

Deno.test("OhlcvReader keeps the extent it opened while a writer appends, and reports a file that shrank", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "grow.ohlcv");
    const data = irregular(30);
    await writeRows(path, data.slice(0, 20));
    await using r = await OhlcvReader.open(path);
    const w = await OhlcvWriter.open(path, { period: "1" });
    await w.append(batchFromRows(data.slice(20)));
    await w.close();
    assert.equal(r.count, 20);
    assert.equal(r.info.last, data[19]![0]);
    assert.deepEqual(times(await r.read()), data.slice(0, 20).map((d) => d[0]));
    const streamed = await Array.fromAsync(r.batches({ batchSize: 6 }));
    assert.deepEqual(
      streamed.flatMap(times),
      data.slice(0, 20).map((d) => d[0]),
    );
    assert.equal(await r.indexOf(data[25]![0]), 20, "bisect stays inside");
    assert.equal(await ohlcvRecordCount(path), 30, "a new reader sees all");
    // Cut the file below what the open reader committed to.
    await Deno.truncate(path, 208 + 36 * 5);
    await assert.rejects(r.read(), (err: unknown) => {
      assert.ok(err instanceof FormatError);
      assert.match(err.message, /grow\.ohlcv: the file shrank while reading/);
      return true;
    });
  });
});

Deno.test("OhlcvReader.batches with from after to, or outside the file, yields nothing; batchSize is checked", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "ft.ohlcv");
    const data = irregular(12);
    await writeRows(path, data);
    await using r = await OhlcvReader.open(path);
    const count = async (o: Parameters<typeof r.batches>[0]) =>
      (await Array.fromAsync(r.batches(o))).flatMap(times).length;
    assert.equal(await count({ from: data[8]![0], to: data[2]![0] }), 0);
    assert.equal(await count({ to: T0 - 1 }), 0);
    assert.equal(await count({ from: data[11]![0] + 1 }), 0);
    assert.equal(await count({ from: -Infinity, to: Infinity }), 12);
    assert.equal(await count({ from: data[11]![0], batchSize: 1e9 }), 1);
    assert.equal((await r.range(data[8]![0], data[2]![0])).time.length, 0);
    for (const batchSize of [0, -1, 1.5, NaN]) {
      await assert.rejects(r.batches({ batchSize }).next(), RangeError);
      assert.throws(() => r.readable({ batchSize }), RangeError);
    }
    await assert.rejects(r.indexOf(NaN), TypeError);
  });
});

Deno.test("OhlcvReader.readable cancelled with a read in flight lets the reader close cleanly", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "cancel.ohlcv");
    await writeRows(path, irregular(40));
    const r = await OhlcvReader.open(path);
    const stream = r.readable({ batchSize: 3 });
    const reader = stream.getReader();
    assert.equal((await reader.read()).value?.time.length, 3);
    await reader.cancel("enough");
    await r.close();
    await assert.rejects(r.read(), /closed/);
    // The file is free: it can be replaced and reopened.
    await Deno.remove(path);
    assert.equal(await ohlcvRecordCount(path), 0);
  });
});
