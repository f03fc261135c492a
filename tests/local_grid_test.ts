// Venues whose periods follow their own clock (daily candles opening at 22:00
// UTC in winter and 21:00 UTC in summer, like a New York session close) must
// download without data loss, without false anomalies and without hanging.
import assert from "node:assert/strict";
import { allocBatch, type CandleBatch } from "../format/candle_batch.ts";
import { OhlcvReader } from "../format/ohlcv_reader.ts";
import { sessions247 } from "../format/sessions.ts";
import type { SymbolInfo } from "../format/symbol_info.ts";
import { parseTimeframe, type Timeframe } from "../format/timeframe.ts";
import { download } from "../pipeline/download.ts";
import { GapStream } from "../pipeline/gap_stream.ts";
import { ValidateStream } from "../pipeline/validate_stream.ts";
import type {
  CandleRequest,
  Provider,
  ProviderStats,
} from "../providers/provider.ts";

const DAY = 86_400_000;
const HOUR = 3_600_000;

/** Daily open times at 17:00 New York time (22:00 or 21:00 UTC), Sunday to Thursday. */
function newYorkDailyTimes(from: number, to: number): number[] {
  const fmt = new Intl.DateTimeFormat("en-US", {
    timeZone: "America/New_York",
    hour: "numeric",
    hourCycle: "h23",
    weekday: "short",
  });
  const out: number[] = [];
  for (let t = Math.ceil(from / HOUR) * HOUR; t < to; t += HOUR) {
    const parts = fmt.formatToParts(new Date(t));
    const hour = Number(parts.find((p) => p.type === "hour")!.value);
    const wd = parts.find((p) => p.type === "weekday")!.value;
    if (hour === 17 && ["Sun", "Mon", "Tue", "Wed", "Thu"].includes(wd)) {
      out.push(t);
    }
  }
  return out;
}

function batchAt(times: number[]): CandleBatch {
  const b = allocBatch(times.length);
  times.forEach((t, i) => {
    b.time[i] = t;
    b.open[i] = 1.1 + i / 1000;
    b.high[i] = 1.1 + i / 1000 + 0.005;
    b.low[i] = 1.1 + i / 1000 - 0.005;
    b.close[i] = 1.1 + (i + 1) / 1000;
    b.volume[i] = 100 + i;
  });
  return b;
}

const forexInfo = (period: string): SymbolInfo => ({
  prefix: "TEST",
  description: "EUR/USD",
  ticker: "EURUSD",
  currency: "USD",
  basecurrency: "EUR",
  period,
  type: "forex",
  mintick: 0.00001,
  pricescale: 100000,
  minmove: 1,
  pointvalue: 1,
  timezone: "America/New_York",
  volumetype: "base",
  // Sunday 17:00 to Friday 17:00 New York time.
  openingHours: [
    { day: 6, start: "17:00:00", end: "23:59:59" },
    ...[0, 1, 2, 3].map((day) => ({ day, start: "00:00:00", end: "23:59:59" })),
    { day: 4, start: "00:00:00", end: "17:00:00" },
  ],
  sessionStarts: [{ day: 6, time: "17:00:00" }],
  sessionEnds: [{ day: 4, time: "17:00:00" }],
});

class NewYorkDailyProvider implements Provider {
  readonly name = "nydaily";
  readonly stats: ProviderStats = { requests: 0, retries: 0 };
  constructor(readonly times: number[]) {}
  listSymbols() {
    return Promise.resolve([{ symbol: "EURUSD" }]);
  }
  symbolInfo(_symbol: string, tf: Timeframe): Promise<SymbolInfo> {
    return Promise.resolve(forexInfo(tf.period));
  }
  timeframes() {
    return Promise.resolve(["1D"]);
  }
  normalizeSymbol(symbol: string): string {
    return symbol.toUpperCase();
  }
  async *candles(request: CandleRequest): AsyncIterable<CandleBatch> {
    this.stats.requests++;
    const all = batchAt(this.times);
    const keep: number[] = [];
    for (let i = 0; i < this.times.length; i++) {
      const t = this.times[i]!;
      if (t >= request.from && t < request.to) keep.push(t);
    }
    await Promise.resolve();
    if (keep.length > 0) {
      const start = this.times.indexOf(keep[0]!);
      const b = batchAt(this.times);
      yield {
        time: b.time.subarray(start, start + keep.length),
        open: b.open.subarray(start, start + keep.length),
        high: b.high.subarray(start, start + keep.length),
        low: b.low.subarray(start, start + keep.length),
        close: b.close.subarray(start, start + keep.length),
        volume: b.volume.subarray(start, start + keep.length),
      };
    }
    void all;
  }
  [Symbol.asyncDispose](): Promise<void> {
    return Promise.resolve();
  }
}

Deno.test("ValidateStream with a local grid accepts a venue's own daily opens and still drops odd times", async () => {
  const times = [
    Date.UTC(2024, 2, 7, 22),
    Date.UTC(2024, 2, 10, 21),
    Date.UTC(2024, 2, 11, 21, 7),
  ];
  const stage = new ValidateStream({
    timeframe: "1D",
    grid: "local",
    policy: "drop",
  });
  const out = await Array.fromAsync(
    ReadableStream.from([batchAt(times)]).pipeThrough(stage),
  );
  assert.deepEqual(Array.from(out[0]!.time), times.slice(0, 2));
  assert.equal(stage.counts["off-grid"], 1);
  assert.match(stage.issues[0]!.message, /not on a quarter hour/);
  // The UTC grid refuses the same 22:00 opens.
  const strict = new ValidateStream({ timeframe: "1D", policy: "drop" });
  await Array.fromAsync(
    ReadableStream.from([batchAt(times)]).pipeThrough(strict),
  );
  assert.equal(strict.counts["off-grid"], 3);
  // Periods under an hour keep the UTC grid even with a local grid.
  const minute = new ValidateStream({
    timeframe: "1",
    grid: "local",
    policy: "drop",
  });
  await Array.fromAsync(
    ReadableStream.from([
      batchAt([Date.UTC(2024, 0, 1, 0, 0), Date.UTC(2024, 0, 1, 0, 1, 30)]),
    ])
      .pipeThrough(minute),
  );
  assert.equal(minute.counts["off-grid"], 1);
  assert.throws(
    () => new ValidateStream({ timeframe: "1D", grid: "x" as "utc" }),
    TypeError,
  );
});

Deno.test("GapStream neither hangs nor invents gaps when a local daily series shifts by an hour at DST", async () => {
  // March 2024: New York moves to summer time on the 10th (22:00 → 21:00 UTC),
  // November 2024: back on the 3rd (21:00 → 22:00 UTC, a 25-hour step).
  const times = [
    ...newYorkDailyTimes(Date.UTC(2024, 2, 1), Date.UTC(2024, 2, 20)),
    ...newYorkDailyTimes(Date.UTC(2024, 9, 25), Date.UTC(2024, 10, 10)),
  ];
  const stage = new GapStream({
    timeframe: parseTimeframe("1D"),
    symbolInfo: forexInfo("1D"),
  });
  await Array.fromAsync(
    ReadableStream.from([batchAt(times)]).pipeThrough(stage),
  );
  // Anomalies only inside the hole between the two stretches: none at either
  // DST change, none on a weekend.
  const anomalies = stage.gaps.filter((g) => g.kind === "anomaly");
  assert.ok(anomalies.length > 0);
  for (const g of anomalies) {
    assert.ok(
      g.from >= Date.UTC(2024, 2, 19) && g.to <= Date.UTC(2024, 9, 28),
      `unexpected anomaly ${new Date(g.from).toISOString()}`,
    );
  }
  // A 24/7 symbol with a half-period step reports nothing either.
  const allWeek = { ...forexInfo("1D"), timezone: "UTC", ...sessions247() };
  const g247 = new GapStream({
    timeframe: parseTimeframe("1D"),
    symbolInfo: allWeek,
  });
  await Array.fromAsync(
    ReadableStream.from([batchAt([0, DAY, 2 * DAY + HOUR, 3 * DAY + HOUR])])
      .pipeThrough(g247),
  );
  assert.deepEqual(g247.gaps, []);
});

Deno.test("download keeps a session venue's daily candles opening on its own clock", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const times = newYorkDailyTimes(Date.UTC(2024, 1, 1), Date.UTC(2024, 4, 1));
    await using provider = new NewYorkDailyProvider(times);
    const summary = await download(provider, "EURUSD", {
      timeframe: "1D",
      dataDir: dir,
      from: "2024-02-01",
      to: "2024-05-01",
      now: () => Date.UTC(2024, 5, 1),
    });
    assert.equal(summary.candles, times.length);
    assert.equal(summary.anomalyPeriods, 0, JSON.stringify(summary.gaps));
    assert.equal(summary.validation.invalid, 0);
    await using reader = await OhlcvReader.open(summary.path);
    const batch = await reader.read();
    assert.deepEqual(Array.from(batch.time), times);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
