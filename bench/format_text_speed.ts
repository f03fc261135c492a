/**
 * Speed of CSV/JSON export and import and of `convertFile` (a plain script, not
 * a `deno bench` file):
 *
 *   deno run -A bench/format_text_speed.ts [candles=1000000]
 *
 * @module
 */
import { OhlcvWriter } from "../format/ohlcv_writer.ts";
import { OhlcvReader } from "../format/ohlcv_reader.ts";
import { readCsvFile, writeCsvFile } from "../format/csv.ts";
import { readJsonFile, writeJsonFile } from "../format/json.ts";
import { convertFile } from "../format/convert.ts";
import { CandleGenerator } from "../testing/candle_generator.ts";

const N = Number(Deno.args[0] ?? 1_000_000);
const dir = await Deno.makeTempDir();
try {
  const gen = new CandleGenerator({
    seed: "BTCUSDT",
    basePrice: 42000,
    tick: 0.01,
  });
  const src = `${dir}/src.ohlcv`;
  const w = await OhlcvWriter.open(src, {
    period: "1",
    minmove: 1,
    pricescale: 100,
    durable: false,
  });
  const T0 = Date.UTC(2020, 0, 1);
  for (let i = 0; i < N; i += 65536) {
    const end = Math.min(N, i + 65536);
    await w.append(gen.batch(T0 + i * 60000, T0 + end * 60000, 60000));
  }
  await w.close();
  const time = async (
    label: string,
    file: string,
    fn: () => Promise<unknown>,
  ) => {
    const s = performance.now();
    await fn();
    const ms = performance.now() - s;
    const size = (await Deno.stat(`${dir}/${file}`)).size;
    console.log(
      `${label}: ${ms.toFixed(0)} ms, ${
        (N / ms / 1000).toFixed(2)
      } M candles/s (${(size / 1e6).toFixed(0)} MB)`,
    );
  };
  await time("export .ohlcv -> csv", "out.csv", async () => {
    await using r = await OhlcvReader.open(src);
    await writeCsvFile(`${dir}/out.csv`, r.batches());
  });
  await time("export .ohlcv -> json", "out.json", async () => {
    await using r = await OhlcvReader.open(src);
    await writeJsonFile(`${dir}/out.json`, r.batches());
  });
  await time("import csv", "out.csv", () => readCsvFile(`${dir}/out.csv`));
  await time("import json", "out.json", () => readJsonFile(`${dir}/out.json`));
  await time(
    "convertFile csv -> .ohlcv",
    "conv.ohlcv",
    () =>
      convertFile(`${dir}/out.csv`, `${dir}/conv.ohlcv`, {
        minmove: 1,
        pricescale: 100,
      }),
  );
  const a = await Deno.readFile(src);
  const b = await Deno.readFile(`${dir}/conv.ohlcv`);
  console.log(
    "round trip .ohlcv -> csv -> .ohlcv byte-identical:",
    a.length === b.length && a.every((x, i) => x === b[i]),
  );
  console.log(`rss ${(Deno.memoryUsage().rss / 1e6).toFixed(0)} MB`);
} finally {
  await Deno.remove(dir, { recursive: true });
}
