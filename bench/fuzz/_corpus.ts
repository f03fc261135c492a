/**
 * The corpus of the fuzz bench: the fixtures of `tests/fixtures/pynecore/`
 * every trial starts from (the `.ohlcv` files with the layout their headers
 * claim, and the CSV, JSON and TOML seeds derived from the exports and the
 * symbol-info files), and the shape of a mutated input.
 *
 * @module
 */

import { FormatError } from "../../format/format_error.ts";
import { OhlcvReader } from "../../format/ohlcv_reader.ts";
import type { CandleBatch } from "../../format/candle_batch.ts";
import { hasMagic, readLE } from "./_ohlcv_bytes.ts";

const FIXTURES = new URL("../../tests/fixtures/pynecore/", import.meta.url);

/** One `.ohlcv` fixture and the layout its header claims. */
export interface OhlcvSeed {
  name: string;
  bytes: Uint8Array;
  v2: boolean;
  headerSize: number;
  recordSize: number;
  count: number;
  columnCount: number;
  /** The decoded candles when the fixture itself opens. */
  decoded: CandleBatch | undefined;
}

/** The seeds of every target. */
export interface Corpus {
  ohlcv: OhlcvSeed[];
  csv: { name: string; text: string }[];
  json: { name: string; value: unknown; text?: string }[];
  toml: { name: string; text: string }[];
}

/** The layout `bytes` claim (v2: its header; otherwise the v1 24-byte records). */
export function layoutOf(
  name: string,
  bytes: Uint8Array,
): Omit<OhlcvSeed, "decoded"> {
  if (!hasMagic(bytes) || bytes.length < 64) {
    return {
      name,
      bytes,
      v2: false,
      headerSize: 0,
      recordSize: 24,
      count: Math.floor(bytes.length / 24),
      columnCount: 6,
    };
  }
  const columnCount = Number(readLE(bytes, 20, 2));
  let recordSize = Number(readLE(bytes, 16, 4));
  if (recordSize < 8 || recordSize > 64) recordSize = 36;
  let headerSize = Number(readLE(bytes, 12, 4));
  if (headerSize > bytes.length) headerSize = Math.min(208, bytes.length);
  const count = Math.max(
    0,
    Math.floor((bytes.length - headerSize) / recordSize),
  );
  return {
    name,
    bytes,
    v2: true,
    headerSize,
    recordSize,
    count,
    columnCount: Math.min(columnCount, 16),
  };
}

/** Rows of the PyneCore CSV export fixture, as cells. */
function exportRows(csv: string): string[][] {
  return csv.split(/\r?\n/).slice(1).filter((l) => l !== "").map((l) =>
    l.split(",")
  );
}

function isoOf(ms: number): string {
  return new Date(ms).toISOString().replace(".000Z", "Z");
}

/** Loads the fixtures and derives the text seeds from them. */
export async function loadCorpus(): Promise<Corpus> {
  const dir = FIXTURES.pathname;
  const names = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
  const ohlcv: OhlcvSeed[] = [];
  for (const name of names.filter((n) => n.endsWith(".ohlcv"))) {
    const bytes = Deno.readFileSync(dir + name);
    let decoded: CandleBatch | undefined;
    try {
      await using r = await OhlcvReader.open(dir + name);
      decoded = await r.read();
    } catch (e) {
      if (!(e instanceof FormatError)) throw e;
    }
    ohlcv.push({ ...layoutOf(name, bytes), decoded });
  }

  const exportCsv = Deno.readTextFileSync(dir + "btc_1D_gap.export.csv");
  const rows = exportRows(exportCsv);
  const head = ["timestamp", "open", "high", "low", "close", "volume"];
  const lines = (
    hdr: string[] | null,
    body: string[][],
    sep = ",",
    eol = "\n",
  ) =>
    (hdr ? [hdr.join(sep)] : []).concat(body.map((c) => c.join(sep))).join(
      eol,
    ) + eol;
  const iso = rows.map((c) => [isoOf(Number(c[0])), ...c.slice(1)]);
  const mt = rows.map((c) => {
    const d = new Date(Number(c[0])).toISOString();
    return [
      d.slice(0, 10).replaceAll("-", "."),
      d.slice(11, 16),
      ...c.slice(1),
    ];
  });
  const withNan = rows.map((c, i) =>
    i % 7 === 3 ? [c[0]!, "NaN", c[2]!, c[3]!, "nan", ""] : c
  );
  const csv = [
    { name: "export.csv", text: exportCsv },
    { name: "iso.csv", text: lines(["time", ...head.slice(1)], iso) },
    {
      name: "semicolon_decimal_comma.csv",
      text: lines(
        ["Date", "Open", "High", "Low", "Close", "Volume"],
        iso.map((
          c,
        ) => [
          c[0]!.slice(0, 10),
          ...c.slice(1).map((x) => x.replace(".", ",")),
        ]),
        ";",
        "\r\n",
      ),
    },
    {
      name: "metatrader.csv",
      text: lines(
        [
          "<DATE>",
          "<TIME>",
          "<OPEN>",
          "<HIGH>",
          "<LOW>",
          "<CLOSE>",
          "<TICKVOL>",
        ],
        mt,
        "\t",
      ),
    },
    {
      name: "headerless_seconds.csv",
      text: lines(
        null,
        rows.map((c) => [String(Number(c[0]) / 1000), ...c.slice(1, 5)]),
      ),
    },
    {
      name: "quoted.csv",
      text: lines(
        head.map((h) => `"${h}"`),
        rows.map((c) => c.map((x) => `"${x}"`)),
      ),
    },
    { name: "nan.csv", text: lines(head, withNan, ",", "\r\n") },
  ];

  const num = (c: string[]) => c.map(Number);
  const exportJson = Deno.readTextFileSync(dir + "btc_1D_gap.export.json");
  const json: Corpus["json"] = [
    { name: "export.json", value: JSON.parse(exportJson), text: exportJson },
    { name: "ccxt_arrays.json", value: rows.map(num) },
    {
      name: "data_short_keys.json",
      value: {
        data: rows.map((c) => {
          const n = num(c);
          return { t: n[0], o: n[1], h: n[2], l: n[3], c: n[4], v: n[5] };
        }),
      },
    },
    {
      name: "candles_iso.json",
      value: {
        candles: iso.map((c, i) => ({
          time: c[0],
          open: Number(c[1]),
          high: Number(c[2]),
          low: Number(c[3]),
          close: Number(c[4]),
          volume: i % 5 === 2 ? null : Number(c[5]),
        })),
      },
    },
    {
      name: "seconds_strings.json",
      value: rows.map((c) => [String(Number(c[0]) / 1000), ...c.slice(1)]),
    },
  ];

  const crypto = Deno.readTextFileSync(dir + "syminfo_crypto.toml");
  const forex = Deno.readTextFileSync(dir + "syminfo_forex.toml");
  const withDownload = crypto +
    `\n[download]\nprovider = "ccxt:BYBIT:BTC/USDT:USDT@1D"\n\n[coverage]\n` +
    `requested = [["2024-01-01T00:00:00Z", "2024-03-01T00:00:00Z"]]\n` +
    `fetched = [["2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z"]]\n` +
    `not_served = []\nfailed = [["2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z"]]\n\n` +
    `[coverage.file]\nrecords = 31\nfirst = "2024-01-01T00:00:00Z"\nlast = "2024-01-31T00:00:00Z"\n`;
  const toml = [
    { name: "syminfo_crypto.toml", text: crypto },
    { name: "syminfo_forex.toml", text: forex },
    { name: "syminfo_download_coverage.toml", text: withDownload },
  ];
  return { ohlcv, csv, json, toml };
}

/** A mutated input and what was done to it. */
export interface Mutated<T> {
  input: T;
  source: string;
  ops: string[];
  /**
   * True when every operation keeps the decoded candles the same (appended
   * bytes past a v2 file's extent, descriptors reordered): the reader must
   * then decode exactly the fixture's candles.
   */
  preserving: boolean;
  /**
   * The candles the reader must decode (and so must not refuse the file):
   * the fixture's for a preserving change, or those a random valid layout
   * encodes.
   */
  expected?: CandleBatch;
}
