import assert from "node:assert/strict";
import { download, type DownloadProgress } from "../pipeline/download.ts";
import {
  type MemoryFailure,
  MemoryProvider,
  type MemoryProviderOptions,
} from "../testing/memory_provider.ts";
import { OhlcvReader } from "../format/ohlcv_reader.ts";
import { OhlcvWriter } from "../format/ohlcv_writer.ts";
import { readSymbolInfo } from "../format/symbol_info_toml.ts";
import { FormatError } from "../format/format_error.ts";
import type { CandleBatch } from "../format/candle_batch.ts";
import { type Provider, ProviderError } from "../providers/provider.ts";
import {
  type ExistingFile,
  planDownload,
  resolveDownloadRequest,
} from "../pipeline/_download_plan.ts";
import { segmentStart } from "../pipeline/_download_segment.ts";
import { parseTimeframe } from "../format/timeframe.ts";

const DAY = 86_400_000;
// Wednesday 2024-01-10 12:00:30 UTC: the 12:00 one-minute candle is forming.
const NOW = Date.UTC(2024, 0, 10, 12, 0, 30);
const now = () => NOW;

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "pipeline_dl_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function provider(options: MemoryProviderOptions = {}): MemoryProvider {
  return new MemoryProvider({ now, pageSize: 200, ...options });
}

async function readAll(path: string): Promise<CandleBatch> {
  await using r = await OhlcvReader.open(path);
  return await r.read();
}

async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

Deno.test("download writes a new PyneCore-named file with its symbol info and tick grid", async () => {
  await withDir(async (dir) => {
    const events: DownloadProgress[] = [];
    const s = await download(
      provider({ overlap: 5, order: "desc", duplicateEvery: 7 }),
      "btcusdt",
      {
        timeframe: "1m",
        dataDir: dir,
        from: "2024-01-10",
        now,
        onProgress: (e) => events.push(e),
        progressIntervalMs: 0,
      },
    );
    assert.equal(s.path, `${dir}/memory_BTCUSDT_1.ohlcv`);
    assert.equal(s.mode, "new");
    assert.equal(s.providerString, "memory:BTCUSDT@1");
    assert.equal(s.candles, 12 * 60); // 00:00 .. 11:59; the forming 12:00 is dropped
    assert.equal(s.formingDropped, 1);
    assert.equal(s.first, Date.UTC(2024, 0, 10));
    assert.equal(s.last, Date.UTC(2024, 0, 10, 11, 59));
    assert.ok(s.duplicates > 0);
    assert.equal(s.requests, 4);
    assert.deepEqual(s.gaps, []);
    const data = await readAll(s.path);
    assert.equal(data.time.length, 720);
    await using r = await OhlcvReader.open(s.path);
    assert.deepEqual([r.info.minmove, r.info.pricescale, r.info.period], [
      1,
      10,
      "1",
    ]);
    const toml = await readSymbolInfo(s.symbolInfoPath);
    assert.equal(toml.provider, "memory:BTCUSDT@1");
    assert.equal(toml.info.ticker, "BTCUSDT");
    // Progress: candles grow, the last report is final and matches the summary.
    assert.ok(events.length >= 4);
    for (let i = 1; i < events.length; i++) {
      assert.ok(events[i]!.candles >= events[i - 1]!.candles);
    }
    assert.equal(events.at(-1)!.done, true);
    assert.equal(events.at(-1)!.candles, 720);
    assert.ok(events.at(-1)!.fraction! > 0.99);
  });
});

Deno.test("download continues after the last committed candle by default", async () => {
  await withDir(async (dir) => {
    const p = provider();
    await download(p, "BTCUSDT", {
      timeframe: "1",
      dataDir: dir,
      from: "2024-01-10",
      to: "2024-01-10 06:00",
      now,
    });
    const s = await download(p, "BTCUSDT", {
      timeframe: "1",
      dataDir: dir,
      now,
    });
    assert.equal(s.mode, "append");
    assert.equal(s.first, Date.UTC(2024, 0, 10, 6));
    assert.equal(s.candles, 6 * 60);
    assert.equal(s.fileCount, 720);
    const again = await download(p, "BTCUSDT", {
      timeframe: "1",
      dataDir: dir,
      now,
    });
    assert.equal(again.upToDate, true);
    assert.equal(again.candles, 0);
    assert.equal(again.requests, 0);
  });
});

Deno.test("download of a new file starts one year back and clamps to to now", async () => {
  await withDir(async (dir) => {
    const s = await download(provider({ pageSize: 1000 }), "BTCUSDT", {
      timeframe: "1D",
      dataDir: dir,
      to: "2030-01-01",
      now,
    });
    assert.equal(s.range.from, NOW - 365 * DAY);
    assert.equal(s.range.to, NOW);
    assert.equal(s.first, Date.UTC(2023, 0, 11));
    assert.equal(s.last, Date.UTC(2024, 0, 9));
  });
});

Deno.test("download classifies gaps: a forex weekend is closed, missing data is an anomaly", async () => {
  await withDir(async (dir) => {
    const missing: [number, number] = [
      Date.UTC(2024, 0, 3, 10),
      Date.UTC(2024, 0, 3, 13),
    ];
    const s = await download(provider({ gaps: [missing] }), "EURUSD", {
      timeframe: "60",
      dataDir: dir,
      from: "2024-01-01",
      now,
    });
    assert.deepEqual(s.gaps, [
      { from: missing[0], to: missing[1], periods: 3, kind: "anomaly" },
      {
        from: Date.UTC(2024, 0, 5, 21),
        to: Date.UTC(2024, 0, 7, 22),
        periods: 49,
        kind: "closed",
      },
    ]);
    assert.equal(s.anomalyPeriods, 3);
    assert.equal(s.closedPeriods, 49);
  });
});

Deno.test("download counts conflicting repeats and validation problems", async () => {
  await withDir(async (dir) => {
    const inner = provider({ conflictEvery: 50 });
    // A provider that breaks one candle per page (high below low).
    const broken: Provider = {
      name: inner.name,
      stats: inner.stats,
      listSymbols: (o) => inner.listSymbols(o),
      symbolInfo: (s, t) => inner.symbolInfo(s, t),
      timeframes: (s) => inner.timeframes(s),
      normalizeSymbol: (s) => inner.normalizeSymbol(s),
      candles: async function* (req) {
        for await (const b of inner.candles(req)) {
          if (b.time.length > 10) b.high[10] = b.low[10]! - 1;
          yield b;
        }
      },
      [Symbol.asyncDispose]: () => inner[Symbol.asyncDispose](),
    };
    const opts = {
      timeframe: "1",
      dataDir: dir,
      from: "2024-01-10 10:00",
      now,
    };
    await assert.rejects(
      download(broken, "BTCUSDT", { ...opts, validation: "error" }),
      (e: unknown) =>
        e instanceof RangeError && /Candle 10 of the batch/.test(e.message),
    );
    // The default drops invalid candles and reports them.
    const s = await download(broken, "BTCUSDT", opts);
    assert.equal(s.validation.dropped, s.validation.invalid);
    assert.ok(s.validation.counts.ohlc >= 1);
    assert.ok(s.conflicts >= 1);
    assert.equal(
      s.conflictSamples[0]!.dropped[5],
      s.conflictSamples[0]!.kept[5] + 1,
    );
    assert.equal(s.candles + s.validation.dropped, 120);
  });
});

Deno.test("download holds the writer lock: a second download of the same file fails clearly", async () => {
  await withDir(async (dir) => {
    let second: Promise<unknown> | undefined;
    const p = provider({
      pageSize: 60,
      onRequest: (info) => {
        if (info.call === 0 && info.page === 1) {
          second = download(provider(), "BTCUSDT", {
            timeframe: "1",
            dataDir: dir,
            from: "2024-01-10",
            now,
          })
            .then(() => "no error", (e: unknown) => e);
        }
      },
    });
    const s = await download(p, "BTCUSDT", {
      timeframe: "1",
      dataDir: dir,
      from: "2024-01-10",
      now,
    });
    assert.equal(s.candles, 720);
    const err = await second!;
    assert.ok(err instanceof Error && /lock/i.test(err.message), String(err));
  });
});

Deno.test("download refuses a bad symbol before touching any file", async () => {
  await withDir(async (dir) => {
    await assert.rejects(
      download(provider(), "NOPE", { timeframe: "1", dataDir: dir, now }),
      ProviderError,
    );
    assert.deepEqual(await listDir(dir), []);
  });
});

Deno.test("download refuses contradictory or bad options", async () => {
  await withDir(async (dir) => {
    const p = provider();
    await assert.rejects(
      download(p, "BTCUSDT", {
        timeframe: "1",
        dataDir: dir,
        from: "continue",
        truncate: true,
        now,
      }),
      RangeError,
    );
    await assert.rejects(
      download(p, "BTCUSDT", {
        timeframe: "1",
        dataDir: dir,
        to: "continue",
        now,
      }),
      RangeError,
    );
    await assert.rejects(
      download(p, "BTCUSDT", {
        timeframe: "1",
        dataDir: dir,
        from: "2025-01-01",
        now,
      }),
      /not before/,
    );
    await assert.rejects(download(p, "BTCUSDT", {} as never), TypeError);
    // A file of another period.
    const path = `${dir}/x.ohlcv`;
    await download(p, "BTCUSDT", { timeframe: "60", path, from: "1", now });
    await assert.rejects(
      download(p, "BTCUSDT", { timeframe: "1", path, now }),
      (e: unknown) =>
        e instanceof RangeError && /holds 60 candles/.test(e.message),
    );
    // A legacy v1 file needs truncate.
    const v1 = `${dir}/v1.ohlcv`;
    const rec = new DataView(new ArrayBuffer(24));
    rec.setUint32(0, NOW / 1000 - 86400, true);
    for (let i = 1; i < 6; i++) rec.setFloat32(i * 4, 1, true);
    await Deno.writeFile(v1, new Uint8Array(rec.buffer));
    await assert.rejects(
      download(p, "BTCUSDT", { timeframe: "1D", path: v1, now }),
      FormatError,
    );
    const s = await download(p, "BTCUSDT", {
      timeframe: "1D",
      path: v1,
      truncate: true,
      from: 10,
      now,
    });
    assert.equal(s.fileCount, 9); // 10 days back from 12:00 on the 10th: daily candles of the 1st to the 9th
  });
});

Deno.test("download keeps committed candles after a provider failure and the next run completes", async () => {
  await withDir(async (dir) => {
    const failing = provider({
      pageSize: 100,
      failures: [{ page: 3, kind: "permanent", call: 0 }],
    });
    const opts = { timeframe: "1", dataDir: dir, from: "2024-01-10", now };
    await assert.rejects(download(failing, "BTCUSDT", opts), ProviderError);
    const partial = await readAll(`${dir}/memory_BTCUSDT_1.ohlcv`);
    assert.equal(partial.time.length, 300);
    const s = await download(failing, "BTCUSDT", opts);
    assert.equal(s.mode, "append");
    assert.equal(s.fileCount, 720);
  });
});

Deno.test("download counts retries of transient failures", async () => {
  await withDir(async (dir) => {
    const s = await download(
      provider({ failures: [{ page: 1, kind: "transient", times: 2 }] }),
      "BTCUSDT",
      { timeframe: "1", dataDir: dir, from: "2024-01-10", now },
    );
    assert.equal(s.retries, 2);
    assert.equal(s.requests, 6);
    assert.equal(s.candles, 720);
  });
});

Deno.test("download survives 20 aborts at random points and ends byte-identical to one uninterrupted run", async () => {
  await withDir(async (dir) => {
    const opts = {
      timeframe: "1",
      from: "2024-01-04",
      to: "2024-01-10 08:00",
      pageSize: 60,
    } as const;
    const misbehaving: MemoryProviderOptions = {
      overlap: 3,
      order: "shuffle",
      duplicateEvery: 11,
      concurrency: 3,
    };
    const ref = await download(provider(misbehaving), "BTCUSDT", {
      ...opts,
      now,
      dataDir: `${dir}/ref`,
    });
    assert.equal(ref.candles, 6 * 1440 + 8 * 60);
    const full = await readAll(ref.path);

    // Seeded choice of abort points: the k-th provider request, the k-th
    // committed batch, inside the k-th batch write (the append is still
    // in flight), or the k-th batch passing the stages (their clock).
    type Kind = "request" | "commit" | "write" | "stage";
    const kinds: Kind[] = ["request", "commit", "write", "stage"];
    let seed = 12345;
    const random = () =>
      (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const used = new Map<Kind, number>();
    let inFlightAborts = 0;
    const append = OhlcvWriter.prototype.append;
    let onAppend: (() => void) | undefined;
    OhlcvWriter.prototype.append = function (batch: CandleBatch) {
      const pending = append.call(this, batch);
      onAppend?.(); // the batch is being written now
      return pending;
    };
    const path = `${dir}/resumed/memory_BTCUSDT_1.ohlcv`;
    let previous = 0;
    try {
      for (let run = 0; run < 20; run++) {
        const ac = new AbortController();
        const kind = kinds[Math.floor(random() * kinds.length)]!;
        const k = 1 + Math.floor(random() * 6);
        used.set(kind, (used.get(kind) ?? 0) + 1);
        let seen = 0;
        const hit = (what: Kind) => {
          if (what === kind && ++seen === k && !ac.signal.aborted) {
            ac.abort(new Error(`abort ${run}`));
            return true;
          }
          return false;
        };
        onAppend = () => {
          if (hit("write")) inFlightAborts++;
        };
        let clockCalls = 0;
        const p = provider({ ...misbehaving, onRequest: () => hit("request") });
        await assert.rejects(
          download(p, "BTCUSDT", {
            ...opts,
            // The first call fixes the range; later ones come from the stages.
            now: () => {
              if (clockCalls++ > 0) hit("stage");
              return NOW;
            },
            dataDir: `${dir}/resumed`,
            signal: ac.signal,
            progressIntervalMs: 0,
            onProgress: (e) => {
              if (!e.done) hit("commit");
            },
          }),
          new RegExp(`abort ${run}`),
        );
        // After every abort the file opens and holds a prefix of the reference.
        const part = await readAll(path);
        const n = part.time.length;
        for (const c of ["time", "open", "high", "low", "close", "volume"]) {
          const col = c as keyof Omit<
            CandleBatch,
            "extra" | "seq" | "coverage"
          >;
          assert.deepEqual(part[col], full[col].subarray(0, n), `run ${run}`);
        }
        assert.ok(n >= previous, `run ${run} lost candles`);
        assert.ok(n < full.time.length, `run ${run} finished early`);
        previous = n;
      }
    } finally {
      OhlcvWriter.prototype.append = append;
    }
    // Every kind of abort point was exercised, including mid-write.
    assert.deepEqual([...used.keys()].sort(), [...kinds].sort());
    assert.ok(inFlightAborts >= 2, `${inFlightAborts} aborts during a write`);
    assert.ok(previous > full.time.length / 4, `only ${previous} candles`);
    const last = await download(provider(misbehaving), "BTCUSDT", {
      ...opts,
      now,
      dataDir: `${dir}/resumed`,
    });
    assert.equal(last.fileCount, ref.candles);
    assert.deepEqual(await Deno.readFile(path), await Deno.readFile(ref.path));
    assert.deepEqual(await listDir(`${dir}/resumed`), [
      "memory_BTCUSDT_1.ohlcv",
      "memory_BTCUSDT_1.toml",
    ]);
  });
});

Deno.test("download fills in before the first candle and equals a direct download", async () => {
  await withDir(async (dir) => {
    const p = provider();
    const base = { timeframe: "1", now };
    await download(p, "BTCUSDT", {
      ...base,
      dataDir: `${dir}/a`,
      from: "2024-01-09 12:00",
      to: "2024-01-10 06:00",
    });
    const s = await download(p, "BTCUSDT", {
      ...base,
      dataDir: `${dir}/a`,
      from: "2024-01-09",
    });
    assert.equal(s.mode, "prepend");
    assert.equal(s.copied, 18 * 60);
    assert.equal(s.candles, 12 * 60 + 6 * 60);
    assert.equal(s.fileFirst, Date.UTC(2024, 0, 9));
    const direct = await download(p, "BTCUSDT", {
      ...base,
      dataDir: `${dir}/b`,
      from: "2024-01-09",
    });
    assert.deepEqual(
      await Deno.readFile(s.path),
      await Deno.readFile(direct.path),
    );
    assert.deepEqual(await listDir(`${dir}/a`), [
      "memory_BTCUSDT_1.ohlcv",
      "memory_BTCUSDT_1.toml",
    ]);
  });
});

/** Downloads a base file, then a replacement that fails; returns the old bytes check. */
async function replacementFails(
  dir: string,
  replace: { from: string; truncate?: boolean },
  failure: MemoryFailure,
): Promise<void> {
  const path = `${dir}/memory_BTCUSDT_1.ohlcv`;
  await download(provider(), "BTCUSDT", {
    timeframe: "1",
    dataDir: dir,
    from: "2024-01-09 12:00",
    to: "2024-01-10 06:00",
    now,
  });
  const original = await Deno.readFile(path);
  const tomlPath = `${dir}/memory_BTCUSDT_1.toml`;
  const originalToml = await Deno.readFile(tomlPath);
  let checkedDuring = 0;
  const p = provider({
    pageSize: 120,
    // The venue's symbol info changed since: the new .toml must wait for the new file.
    symbols: {
      BTCUSDT: {
        basePrice: 40_000,
        tick: 0.1,
        info: { description: "renamed" },
      },
    },
    failures: [failure],
    onRequest: () => {
      // While the replacement is being written the old file is byte-intact.
      assert.deepEqual(Deno.readFileSync(path), original);
      checkedDuring++;
    },
  });
  await assert.rejects(
    download(p, "BTCUSDT", { timeframe: "1", dataDir: dir, now, ...replace }),
    ProviderError,
  );
  assert.ok(checkedDuring > 1);
  assert.deepEqual(await Deno.readFile(path), original);
  assert.deepEqual(await Deno.readFile(tomlPath), originalToml);
  assert.deepEqual(await listDir(dir), [
    "memory_BTCUSDT_1.ohlcv",
    "memory_BTCUSDT_1.toml",
  ]);
  await using r = await OhlcvReader.open(path);
  assert.equal(r.count, 18 * 60);
}

Deno.test("download prepend leaves the old file byte-intact when the head download fails", async () => {
  await withDir((dir) =>
    replacementFails(dir, { from: "2024-01-09" }, {
      page: 3,
      kind: "permanent",
    })
  );
});

Deno.test("download prepend leaves the old file byte-intact when the top-up after the copy fails", async () => {
  // Call 0 of the failing provider fetches the head, call 1 the top-up after the copied candles.
  await withDir((dir) =>
    replacementFails(dir, { from: "2024-01-09" }, {
      page: 1,
      call: 1,
      kind: "permanent",
    })
  );
});

Deno.test("download truncate replaces the file atomically and keeps it intact on failure", async () => {
  await withDir(async (dir) => {
    await replacementFails(dir, { from: "2024-01-10", truncate: true }, {
      page: 2,
      call: 0,
      kind: "permanent",
    });
    const s = await download(provider(), "BTCUSDT", {
      timeframe: "1",
      dataDir: dir,
      from: "2024-01-10 11:00",
      truncate: true,
      now,
    });
    assert.equal(s.mode, "truncate");
    assert.equal(s.fileCount, 60);
    assert.equal(
      (await readSymbolInfo(s.symbolInfoPath)).provider,
      s.providerString,
    );
    assert.equal(s.fileFirst, Date.UTC(2024, 0, 10, 11));
  });
});

Deno.test("download truncate aborted mid-way keeps the old file byte-intact", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/memory_BTCUSDT_1.ohlcv`;
    await download(provider(), "BTCUSDT", {
      timeframe: "1",
      dataDir: dir,
      from: "2024-01-10 10:00",
      now,
    });
    const original = await Deno.readFile(path);
    const ac = new AbortController();
    await assert.rejects(
      download(provider({ pageSize: 60 }), "BTCUSDT", {
        timeframe: "1",
        dataDir: dir,
        from: "2024-01-10",
        truncate: true,
        now,
        signal: ac.signal,
        progressIntervalMs: 0,
        onProgress: (e) => {
          if (e.candles >= 180) ac.abort(new Error("user stop"));
        },
      }),
      /user stop/,
    );
    assert.deepEqual(await Deno.readFile(path), original);
    assert.deepEqual(await listDir(dir), [
      "memory_BTCUSDT_1.ohlcv",
      "memory_BTCUSDT_1.toml",
    ]);
  });
});

Deno.test("download aborted before it starts touches nothing", async () => {
  await withDir(async (dir) => {
    await assert.rejects(
      download(provider(), "BTCUSDT", {
        timeframe: "1",
        dataDir: dir,
        now,
        signal: AbortSignal.abort(new Error("early")),
      }),
      /early/,
    );
    assert.deepEqual(await listDir(dir), []);
  });
});

Deno.test("download with concurrent shuffled pages writes the same file as a sequential one", async () => {
  await withDir(async (dir) => {
    const opts = {
      timeframe: "5",
      from: "2024-01-05",
      now,
      pageSize: 50,
    } as const;
    const a = await download(
      provider({ concurrency: 4, order: "shuffle", overlap: 4 }),
      "ETHUSDT",
      { ...opts, dataDir: `${dir}/a` },
    );
    const b = await download(provider(), "ETHUSDT", {
      ...opts,
      dataDir: `${dir}/b`,
    });
    assert.equal(a.candles, b.candles);
    assert.deepEqual(await Deno.readFile(a.path), await Deno.readFile(b.path));
  });
});

Deno.test("download fills an empty file created by another writer", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/memory_BTCUSDT_1.ohlcv`;
    const w = await OhlcvWriter.open(path, { period: "1" });
    await w.close();
    const s = await download(provider(), "BTCUSDT", {
      timeframe: "1",
      dataDir: dir,
      from: "2024-01-10 11:00",
      now,
    });
    assert.equal(s.mode, "new");
    assert.equal(s.fileCount, 60);
  });
});

Deno.test("download prepend keeps the extra-data sidecar of the copied candles", async () => {
  await withDir(async (dir) => {
    const p = provider();
    const base = { timeframe: "1", now, extraData: true };
    await download(p, "BTCUSDT", {
      ...base,
      dataDir: `${dir}/a`,
      from: "2024-01-10 06:00",
      to: "2024-01-10 09:00",
    });
    const s = await download(p, "BTCUSDT", {
      ...base,
      dataDir: `${dir}/a`,
      from: "2024-01-10 03:00",
    });
    assert.equal(s.mode, "prepend");
    const direct = await download(p, "BTCUSDT", {
      ...base,
      dataDir: `${dir}/b`,
      from: "2024-01-10 03:00",
    });
    const sidecar = (d: string) =>
      Deno.readTextFile(`${d}/memory_BTCUSDT_1.extra.csv`);
    const text = await sidecar(`${dir}/a`);
    assert.equal(text.split("\r\n").length - 1, 1 + 9 * 60); // header + one row per candle
    assert.equal(text, await sidecar(`${dir}/b`));
    assert.deepEqual(
      await Deno.readFile(s.path),
      await Deno.readFile(direct.path),
    );
  });
});

Deno.test("download reports a repeat of the file's last candle with different values", async () => {
  await withDir(async (dir) => {
    const inner = provider();
    const opts = { timeframe: "1", dataDir: dir, now } as const;
    await download(inner, "BTCUSDT", {
      ...opts,
      from: "2024-01-10 10:00",
      to: "2024-01-10 11:00",
    });
    const last = Date.UTC(2024, 0, 10, 10, 59);
    // A venue that ignores the resume point and sends the last candle again, changed.
    const sloppy: Provider = {
      name: inner.name,
      stats: inner.stats,
      listSymbols: (o) => inner.listSymbols(o),
      symbolInfo: (s, t) => inner.symbolInfo(s, t),
      timeframes: (s) => inner.timeframes(s),
      normalizeSymbol: (s) => inner.normalizeSymbol(s),
      candles: async function* (req) {
        for await (
          const b of inner.candles({
            ...req,
            from: last,
            resumeAfter: undefined,
          })
        ) {
          if (b.time[0] === last) b.volume[0] = b.volume[0]! + 5;
          yield b;
        }
      },
      [Symbol.asyncDispose]: () => inner[Symbol.asyncDispose](),
    };
    const s = await download(sloppy, "BTCUSDT", opts);
    assert.equal(s.mode, "append");
    assert.equal(s.conflicts, 1);
    assert.equal(s.conflictSamples[0]!.time, last);
    assert.equal(s.first, last + 60_000);
  });
});

Deno.test("download takes real-world blemishes in stride and drops, counts and reports broken candles", async () => {
  await withDir(async (dir) => {
    // Missing volumes (NaN) and no-trade candles (volume 0) are harmless;
    // a high below the low is bad data.
    const p = provider({
      missingVolumeEvery: 7,
      zeroVolumeEvery: 5,
      brokenEvery: 100,
    });
    const s = await download(p, "BTCUSDT", {
      timeframe: "1",
      dataDir: dir,
      from: "2024-01-10",
      now,
    });
    const slot0 = Date.UTC(2024, 0, 10) / 60_000;
    const firstBroken = Math.ceil(slot0 / 100) * 100; // slot0 + 20
    assert.equal(s.validation.checked, 720);
    assert.equal(s.validation.invalid, 7); // slot0 + 20, + 120, ..., + 620
    assert.equal(s.validation.dropped, 7);
    assert.deepEqual(s.validation.counts, {
      "non-finite": 0,
      ohlc: 7,
      "negative-volume": 0,
      "off-grid": 0,
    });
    assert.equal(s.validation.issues.length, 7);
    assert.equal(s.validation.issues[1]!.time, (firstBroken + 100) * 60_000);
    assert.match(s.validation.issues[1]!.message, /below/);
    assert.equal(s.candles, 713);
    // Each dropped candle leaves a one-period anomaly gap.
    assert.equal(s.anomalyPeriods, 7);
    assert.deepEqual(s.gaps[0], {
      from: firstBroken * 60_000,
      to: (firstBroken + 1) * 60_000,
      periods: 1,
      kind: "anomaly",
    });
    const data = await readAll(s.path);
    assert.equal(data.time.length, 713);
    let nan = 0, zero = 0;
    for (let i = 0; i < data.time.length; i++) {
      const slot = data.time[i]! / 60_000;
      if (slot % 7 === 0) {
        assert.ok(Number.isNaN(data.volume[i]), `volume at slot ${slot}`);
        nan++;
      } else if (slot % 5 === 0) {
        assert.equal(data.volume[i], 0);
        assert.equal(data.high[i], data.open[i]);
        zero++;
      }
    }
    assert.ok(nan > 90 && zero > 100, `${nan} NaN, ${zero} zero volumes`);
    // Strict settings refuse the same data.
    await assert.rejects(
      download(provider({ missingVolumeEvery: 7 }), "BTCUSDT", {
        timeframe: "1",
        dataDir: `${dir}/strict`,
        from: "2024-01-10",
        now,
        allowNaN: false,
        validation: "error",
      }),
      /volume is NaN/,
    );
  });
});

Deno.test("download fills in before the file and tops it up in one run, reporting the gap at the join", async () => {
  await withDir(async (dir) => {
    const H = 3_600_000;
    const join: [number, number] = [
      Date.UTC(2024, 0, 8, 10),
      Date.UTC(2024, 0, 8, 12),
    ];
    const inside: [number, number] = [
      Date.UTC(2024, 0, 8, 3),
      Date.UTC(2024, 0, 8, 4),
    ];
    const after: [number, number] = [
      Date.UTC(2024, 0, 9, 0),
      Date.UTC(2024, 0, 9, 1),
    ];
    const p = provider({ gaps: [join, inside, after] });
    const base = { timeframe: "60", dataDir: dir, now } as const;
    await download(p, "BTCUSDT", {
      ...base,
      from: "2024-01-08 12:00",
      to: "2024-01-09",
    });
    const s = await download(p, "BTCUSDT", { ...base, from: "2024-01-08" });
    assert.equal(s.mode, "prepend");
    assert.equal(s.copied, 12);
    assert.equal(s.fileFirst, Date.UTC(2024, 0, 8));
    assert.equal(s.fileLast, Date.UTC(2024, 0, 10, 11));
    assert.equal(s.first, Date.UTC(2024, 0, 8));
    assert.equal(s.last, Date.UTC(2024, 0, 10, 11));
    assert.deepEqual(s.gaps, [
      { from: inside[0], to: inside[1], periods: 1, kind: "anomaly" },
      { from: join[0], to: join[1], periods: 2, kind: "anomaly" },
      { from: after[0], to: after[1], periods: 1, kind: "anomaly" },
    ]);
    assert.equal(s.anomalyPeriods, 4);
    assert.equal(s.candles, (10 - 1) + (36 - 1));
    assert.equal(s.fileCount, s.candles + s.copied);
    const data = await readAll(s.path);
    for (let i = 1; i < data.time.length; i++) {
      assert.ok(data.time[i]! > data.time[i - 1]!);
    }
    assert.equal(data.time.length, 2 * 24 + 12 - 4);
    assert.equal(data.time[0], Date.UTC(2024, 0, 8));
    assert.equal(data.time.at(-1), Date.UTC(2024, 0, 10, 11));
    assert.ok(!data.time.includes(join[0] + H));
  });
});

Deno.test("download with a start inside the file tops it up; a start after the end is refused", async () => {
  await withDir(async (dir) => {
    const p = provider();
    const base = { timeframe: "60", dataDir: dir, now } as const;
    await download(p, "BTCUSDT", {
      ...base,
      from: "2024-01-08",
      to: "2024-01-09",
    });
    const path = `${dir}/memory_BTCUSDT_60.ohlcv`;
    const before = await Deno.readFile(path);
    // Entirely inside the file: nothing to do.
    const inside = await download(p, "BTCUSDT", {
      ...base,
      from: "2024-01-08 06:00",
      to: "2024-01-08 12:00",
    });
    assert.equal(inside.mode, "append");
    assert.equal(inside.upToDate, true);
    assert.equal(inside.candles, 0);
    assert.ok(inside.range.from <= inside.range.to);
    assert.deepEqual(await Deno.readFile(path), before);
    // Starting inside, ending after: continues after the file's last candle.
    const top = await download(p, "BTCUSDT", {
      ...base,
      from: "2024-01-08 06:00",
    });
    assert.equal(top.mode, "append");
    assert.equal(top.first, Date.UTC(2024, 0, 9));
    assert.equal(top.candles, 36);
    assert.deepEqual(top.gaps, []);
    const after = await Deno.readFile(path);
    // A start in the future is a mistake, not "up to date".
    await assert.rejects(
      download(p, "BTCUSDT", { ...base, from: "2024-03-01" }),
      (e: unknown) =>
        e instanceof RangeError &&
        /start 2024-03-01T00:00:00.000Z is not before the end/.test(e.message),
    );
    assert.deepEqual(await Deno.readFile(path), after);
  });
});

Deno.test("download of a new file that fails before its first candle leaves no files behind", async () => {
  await withDir(async (dir) => {
    const p = provider({ failures: [{ page: 0, kind: "permanent" }] });
    await assert.rejects(
      download(p, "BTCUSDT", { timeframe: "1", dataDir: dir, now }),
      ProviderError,
    );
    assert.deepEqual(await listDir(dir), []);
    // An existing file keeps its symbol info and bytes when a top-up fails.
    const ok = await download(provider(), "BTCUSDT", {
      timeframe: "1",
      dataDir: dir,
      from: "2024-01-10 10:00",
      to: "2024-01-10 11:00",
      now,
    });
    const bytes = await Deno.readFile(ok.path);
    await assert.rejects(
      download(p, "BTCUSDT", { timeframe: "1", dataDir: dir, now }),
      ProviderError,
    );
    assert.deepEqual(await Deno.readFile(ok.path), bytes);
    assert.deepEqual(await listDir(dir), [
      "memory_BTCUSDT_1.ohlcv",
      "memory_BTCUSDT_1.toml",
    ]);
  });
});

Deno.test("download refuses to continue a file another writer changed while it started", async () => {
  await withDir(async (dir) => {
    const inner = provider();
    const opts = { timeframe: "1", dataDir: dir, now } as const;
    const first = await download(inner, "BTCUSDT", {
      ...opts,
      from: "2024-01-10 10:00",
      to: "2024-01-10 11:00",
    });
    // Another writer appends after download() read the file, before it took the lock.
    const racing: Provider = {
      name: inner.name,
      stats: inner.stats,
      listSymbols: (o) => inner.listSymbols(o),
      symbolInfo: async (s, t) => {
        const w = await OhlcvWriter.open(first.path, { period: "1" });
        const b = await readAll(first.path);
        const t0 = b.time.at(-1)! + 60_000;
        await w.append({
          time: Float64Array.of(t0),
          open: Float64Array.of(1),
          high: Float64Array.of(1),
          low: Float64Array.of(1),
          close: Float64Array.of(1),
          volume: Float64Array.of(1),
        });
        await w.close();
        return await inner.symbolInfo(s, t);
      },
      timeframes: (s) => inner.timeframes(s),
      normalizeSymbol: (s) => inner.normalizeSymbol(s),
      candles: (req) => inner.candles(req),
      [Symbol.asyncDispose]: () => inner[Symbol.asyncDispose](),
    };
    await assert.rejects(
      download(racing, "BTCUSDT", opts),
      /another writer changed it \(60 candles, now 61\).*run it again/,
    );
    assert.equal((await readAll(first.path)).time.length, 61);
    const again = await download(inner, "BTCUSDT", opts);
    assert.equal(again.first, Date.UTC(2024, 0, 10, 11, 1));
  });
});

Deno.test("download refuses a damaged file with a hint, leaves it as it is, and truncate replaces it", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/memory_BTCUSDT_60.ohlcv`;
    // A v2 file whose header was overwritten (its magic cut to 89 50).
    const junk = new Uint8Array(100).fill(7);
    junk.set([0x89, 0x50]);
    await Deno.writeFile(path, junk);
    await assert.rejects(
      download(provider(), "BTCUSDT", { timeframe: "60", dataDir: dir, now }),
      (e: unknown) =>
        e instanceof FormatError && e.path === path &&
        /Cannot open .*memory_BTCUSDT_60\.ohlcv: .*download with truncate and a start date$/
          .test(e.message),
    );
    assert.deepEqual(await Deno.readFile(path), junk);
    assert.deepEqual(await listDir(dir), ["memory_BTCUSDT_60.ohlcv"]);
    const s = await download(provider(), "BTCUSDT", {
      timeframe: "60",
      dataDir: dir,
      from: "2024-01-10",
      truncate: true,
      now,
    });
    assert.equal(s.fileCount, 12);
  });
});

Deno.test("download with a start before the file but nothing there to fetch tops the file up without rebuilding it", async () => {
  await withDir(async (dir) => {
    const listed = Date.UTC(2024, 0, 10, 6);
    const p = provider({
      symbols: {
        BTCUSDT: { basePrice: 40_000, tick: 0.1, listedFrom: listed },
      },
    });
    const base = { timeframe: "1", dataDir: dir, now } as const;
    const first = await download(p, "BTCUSDT", {
      ...base,
      from: "2024-01-10",
      to: "2024-01-10 09:00",
    });
    assert.equal(first.fileFirst, listed);
    const before = await readAll(first.path);
    const inode = (await Deno.stat(first.path)).ino;
    // A scheduled job that always asks from before the listing.
    const s = await download(p, "BTCUSDT", { ...base, from: "2024-01-09" });
    assert.equal(s.mode, "append");
    assert.equal(s.copied, 0);
    assert.equal(s.first, Date.UTC(2024, 0, 10, 9));
    assert.equal(s.candles, 3 * 60);
    assert.equal(s.fileCount, 6 * 60);
    assert.equal(s.range.from, Date.UTC(2024, 0, 9));
    // Appended in place, not rebuilt and renamed over.
    assert.equal((await Deno.stat(first.path)).ino, inode);
    const after = await readAll(first.path);
    assert.deepEqual(after.time.subarray(0, 180), before.time);
    assert.deepEqual(after.close.subarray(0, 180), before.close);
    assert.deepEqual(await listDir(dir), [
      "memory_BTCUSDT_1.ohlcv",
      "memory_BTCUSDT_1.toml",
    ]);
    const again = await download(p, "BTCUSDT", { ...base, from: "2024-01-09" });
    assert.equal(again.mode, "append");
    assert.equal(again.upToDate, true);
    assert.equal(again.candles, 0);
  });
});

Deno.test("download stops clearly when every candle is off the timeframe's grid", async () => {
  await withDir(async (dir) => {
    const inner = provider();
    // A venue whose daily candles start at 22:00 UTC.
    const shifted: Provider = {
      name: inner.name,
      stats: inner.stats,
      listSymbols: (o) => inner.listSymbols(o),
      symbolInfo: (s, t) => inner.symbolInfo(s, t),
      timeframes: (s) => inner.timeframes(s),
      normalizeSymbol: (s) => inner.normalizeSymbol(s),
      candles: async function* (req) {
        for await (const b of inner.candles(req)) {
          yield { ...b, time: b.time.map((t) => t - 2 * 3_600_000) };
        }
      },
      [Symbol.asyncDispose]: () => inner[Symbol.asyncDispose](),
    };
    await assert.rejects(
      download(shifted, "BTCUSDT", {
        timeframe: "1D",
        dataDir: dir,
        from: "2024-01-01",
        now,
      }),
      (e: unknown) =>
        e instanceof RangeError &&
        /^Every one of the 8 1D candles received for memory:BTCUSDT@1D is off the UTC 1D grid \(time 2024-01-01T22:00:00.000Z is not the start of a 1D period\); nothing was written\./
          .test(e.message),
    );
    assert.deepEqual(await listDir(dir), []);
  });
});

Deno.test("planDownload picks how the file is used and the range to fetch", () => {
  const H = 3_600_000;
  const first = NOW - 5 * DAY;
  const last = Date.UTC(2024, 0, 10, 10);
  const existing: ExistingFile = {
    count: 100,
    first,
    last,
    lastRow: [last, 1, 1, 1, 1, 1],
    minmove: 1,
    pricescale: 100,
  };
  const plan = (
    options: Record<string, unknown>,
    file: ExistingFile | "none" = existing,
  ) =>
    planDownload(
      resolveDownloadRequest(provider(), "btcusdt", {
        timeframe: "60",
        dataDir: "data",
        now,
        ...options,
      }),
      file === "none" ? undefined : file,
    );
  // No file: 365 days back (or defaultDays) to now.
  assert.deepEqual(plan({}, "none"), {
    mode: "new",
    from: NOW - 365 * DAY,
    to: NOW,
    fetchFrom: NOW - 365 * DAY,
  });
  assert.equal(plan({ defaultDays: 2 }, "none").from, NOW - 2 * DAY);
  // A file: topped up after its last candle.
  assert.deepEqual(plan({}), {
    mode: "append",
    from: last + H,
    to: NOW,
    fetchFrom: last + H,
  });
  // A start inside the file still fetches after its last candle.
  assert.equal(plan({ from: new Date(first + DAY) }).fetchFrom, last + H);
  // A start before the first candle fills in the front.
  assert.equal(plan({ from: new Date(first - DAY) }).mode, "prepend");
  assert.equal(
    plan({ from: new Date(first - DAY), truncate: true }).mode,
    "truncate",
  );
  assert.throws(
    () => plan({ from: "2024-01-09", to: "2024-01-08" }),
    /is not before the end/,
  );
  assert.throws(() => plan({ from: "continue", truncate: true }), RangeError);
});

Deno.test("segmentStart starts after the given candle and skips ranges with nothing closed yet", () => {
  const tf = parseTimeframe("60");
  const H = 3_600_000;
  const t = Date.UTC(2024, 0, 10);
  assert.deepEqual(segmentStart(tf, NOW, t, t + 5 * H, undefined), {
    start: t,
    due: true,
  });
  assert.deepEqual(
    segmentStart(tf, NOW, t, t + 5 * H, t + 2 * H),
    { start: t + 3 * H, due: true },
  );
  assert.equal(segmentStart(tf, NOW, t, t, undefined).due, false);
  // 12:00 opens before NOW (12:00:30) but has not closed.
  assert.equal(segmentStart(tf, NOW, t + 12 * H, NOW, undefined).due, false);
});
