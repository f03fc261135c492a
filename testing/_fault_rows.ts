/**
 * Private: the candle faults of the fault proxy. Finds the first array of
 * candle rows in a JSON answer, whatever envelope the venue wraps it in
 * (rows as arrays or objects, described by a {@linkcode CandleLayout}), and
 * breaks them: `reverse`, `duplicate`, `high-low`, `null-price`,
 * `nan-price`, `seconds`.
 *
 * @module
 */

/**
 * Where the fields of a candle row are: array indexes (`[t, o, h, l, c]`
 * rows) or object keys (`{start, open, high, low, close}` rows). The unit
 * of the time is recognized from its size (below 10^11: seconds).
 */
export interface CandleLayout {
  /** Open time. */
  readonly time: number | string;
  /** Open price. */
  readonly open: number | string;
  /** High price. */
  readonly high: number | string;
  /** Low price. */
  readonly low: number | string;
  /** Close price. */
  readonly close: number | string;
}

/** Candle layouts of the emulated venues. */
export const CANDLE_LAYOUTS: Readonly<{
  /** `[time ms, open, high, low, close, ...]`: Binance, Bybit, OKX (and Kraken, in seconds). */
  readonly tohlc: CandleLayout;
  /** Coinbase Advanced Trade: `{start (s), low, high, open, close, volume}`. */
  readonly coinbase: CandleLayout;
  /** KuCoin: `[time (s), open, close, high, low, volume, turnover]`. */
  readonly kucoin: CandleLayout;
}> = {
  tohlc: { time: 0, open: 1, high: 2, low: 3, close: 4 },
  coinbase: {
    time: "start",
    open: "open",
    high: "high",
    low: "low",
    close: "close",
  },
  kucoin: { time: 0, open: 1, close: 2, high: 3, low: 4 },
};

/** The faults of {@linkcode breakCandles}: the candle faults of the proxy. */
export type CandleFaultKind =
  | "reverse"
  | "duplicate"
  | "high-low"
  | "null-price"
  | "nan-price"
  | "seconds";

type Row = unknown[] | Record<string, unknown>;

const numeric = (v: unknown): boolean =>
  (typeof v === "number" && Number.isFinite(v)) ||
  (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v)));

function field(row: Row, key: number | string): unknown {
  return (row as Record<string | number, unknown>)[key];
}

function setField(row: Row, key: number | string, v: unknown): void {
  (row as Record<string | number, unknown>)[key] = v;
}

function isRow(v: unknown, layout: CandleLayout): v is Row {
  if (v === null || typeof v !== "object") return false;
  if (Array.isArray(v) !== (typeof layout.time === "number")) return false;
  const r = v as Row;
  return [layout.time, layout.open, layout.high, layout.low, layout.close]
    .every((k) => numeric(field(r, k)));
}

/** The first non-empty array of candle rows in a parsed JSON body. */
function findRows(
  v: unknown,
  layout: CandleLayout,
  depth = 0,
): Row[] | undefined {
  if (depth > 8 || v === null || typeof v !== "object") return undefined;
  if (Array.isArray(v)) {
    if (v.length > 0 && v.every((x) => isRow(x, layout))) return v as Row[];
    for (const x of v) {
      const found = findRows(x, layout, depth + 1);
      if (found) return found;
    }
    return undefined;
  }
  for (const x of Object.values(v)) {
    const found = findRows(x, layout, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/** A numeric field with a new value, in the type the venue used (string or number). */
function sameType(old: unknown, value: number): unknown {
  return typeof old === "string" ? String(value) : value;
}

/**
 * The JSON body with its candles broken as `kind` says, or undefined when
 * the body is not JSON or holds no candle rows.
 */
export function breakCandles(
  text: string,
  kind: CandleFaultKind,
  layout: CandleLayout,
  copyFirst: boolean,
): string | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return undefined;
  }
  const rows = findRows(doc, layout);
  if (!rows) return undefined;
  const mid = rows[rows.length >> 1]!;
  switch (kind) {
    case "reverse":
      if (rows.length < 2) return undefined;
      rows.reverse();
      break;
    case "duplicate": {
      // The same candle again, right after it (or before it), with other
      // prices: a valid candle, only the relation to the other copy is wrong.
      const copy = (Array.isArray(mid) ? [...mid] : { ...mid }) as Row;
      const close = Number(field(mid, layout.close)) * 1.01;
      const high = Math.max(Number(field(mid, layout.high)), close);
      setField(copy, layout.close, sameType(field(mid, layout.close), close));
      setField(copy, layout.high, sameType(field(mid, layout.high), high));
      rows.splice(rows.indexOf(mid) + (copyFirst ? 0 : 1), 0, copy);
      break;
    }
    case "high-low": {
      const h = field(mid, layout.high);
      setField(mid, layout.high, field(mid, layout.low));
      setField(mid, layout.low, h);
      break;
    }
    case "null-price":
      setField(mid, layout.close, null);
      break;
    case "nan-price":
      setField(mid, layout.close, "NaN");
      break;
    case "seconds":
      for (const row of rows) {
        const t = Number(field(row, layout.time));
        const wrong = t >= 1e11 ? Math.floor(t / 1000) : t * 1000;
        setField(row, layout.time, sameType(field(row, layout.time), wrong));
      }
      break;
    default:
      return undefined;
  }
  return JSON.stringify(doc);
}
