/**
 * The OHLCV request cost of each row of the per-exchange table matches the
 * cost ccxt itself charges for the endpoint its `fetchOHLCV` calls, and the
 * row's page size does not exceed what ccxt sends at most.
 */

import assert from "node:assert/strict";
import ccxt from "ccxt";
import { CCXT_VENUES } from "../providers/_ccxt_venues.ts";

/** The endpoint each exchange's `fetchOHLCV` calls for a historical page, in ccxt's API tree. */
const ENDPOINTS: Readonly<Record<string, readonly string[]>> = {
  binance: ["public", "get", "klines"],
  binanceus: ["public", "get", "klines"],
  binanceusdm: ["fapiPublic", "get", "klines"],
  binancecoinm: ["dapiPublic", "get", "klines"],
  bybit: ["public", "get", "v5/market/kline"],
  okx: ["public", "get", "market/history-candles"],
  kraken: ["public", "get", "OHLC"],
  kucoin: ["public", "get", "market/candles"],
  coinbase: [
    "v3",
    "public",
    "get",
    "brokerage/market/products/{product_id}/candles",
  ],
};

/** ccxt's cost of an endpoint at a `limit` (a `byLimit` table picks by it). */
function endpointCost(entry: unknown, limit: number): number {
  if (typeof entry === "number") return entry;
  const e = entry as { cost?: number; byLimit?: Array<[number, number]> };
  if (e.byLimit) {
    for (const [max, cost] of e.byLimit) if (limit <= max) return cost;
  }
  return e.cost ?? 1;
}

Deno.test("each ccxt venue row's OHLCV cost is ccxt's own cost of the endpoint at the row's page size", () => {
  const lib = ccxt as unknown as Record<
    string,
    new () => { api: Record<string, unknown> }
  >;
  for (const [id, row] of Object.entries(CCXT_VENUES)) {
    const path = ENDPOINTS[id];
    assert.ok(path, `${id}: endpoint named in the test`);
    let node: unknown = new lib[id]!().api;
    for (const key of path) node = (node as Record<string, unknown>)?.[key];
    assert.ok(node !== undefined, `${id}: ${path.join(".")} in ccxt's API`);
    assert.equal(
      row.ohlcvCost ?? 1,
      endpointCost(node, row.pageSize),
      `${id}: cost of ${path.at(-1)} at limit ${row.pageSize}`,
    );
  }
});
