/**
 * Capital.com symbol information: an instrument's `GET /api/v1/markets/{epic}`
 * answer as PyneCore symbol info (tick grid from `minStepDistance`, opening
 * hours in New York time, spread, lot size), the instrument types, and the
 * number helpers the candles share. Private to the Capital.com provider.
 *
 * @module
 */

import type { SymbolInfo, SymbolType } from "../format/symbol_info.ts";
import type { Timeframe } from "../format/timeframe.ts";
import { tickGridFromMintick } from "../format/tick_grid.ts";
import {
  type CapitalComOpeningHours,
  convertOpeningHours,
} from "./_capitalcom_hours.ts";
import type { CapitalComClient } from "./_capitalcom_session.ts";
import { ProviderError } from "./provider.ts";

const TYPES: Readonly<Record<string, SymbolType>> = {
  CURRENCIES: "forex",
  SHARES: "stock",
  INDICES: "index",
  CRYPTOCURRENCIES: "crypto",
  COMMODITIES: "commodity",
};

/** Zone names meaning UTC in `openingHours.zone`. */
const UTC_ZONES: ReadonlySet<string> = new Set([
  "UTC",
  "Etc/UTC",
  "GMT",
  "Etc/GMT",
  "Z",
]);
/** The zone opening hours given in UTC are expressed in. */
const HOURS_ZONE = "America/New_York";

/** A clearer error for an epic Capital.com does not know; other errors unchanged. */
export function unknownEpic(error: unknown, epic: string): unknown {
  if (error instanceof ProviderError && error.code === "error.not-found.epic") {
    return new ProviderError(
      `Capital.com has no market with the epic ${
        JSON.stringify(epic)
      } (HTTP 404 error.not-found.epic); search the markets by name to find its epic`,
      { code: error.code, cause: error },
    );
  }
  return error;
}

/** Maps Capital.com's instrument type to PyneCore's symbol type. */
export function capitalComSymbolType(type: string | undefined): SymbolType {
  return (type && TYPES[type]) || "other";
}

/** Decimal places of a number as JavaScript prints it. */
function decimals(x: number): number {
  const s = String(x);
  if (s.includes("e-")) return Number(s.split("e-")[1]) + 1;
  const i = s.indexOf(".");
  return i < 0 ? 0 : s.length - i - 1;
}

/** `a - b` without binary noise (rounded to the inputs' decimals). */
export function diff(a: number, b: number): number {
  return Number(
    (a - b).toFixed(Math.min(12, Math.max(decimals(a), decimals(b)))),
  );
}

/** A number or numeric string as a number; NaN otherwise. */
export function num(v: unknown): number {
  if (typeof v === "number") return v;
  if (typeof v === "string" && v.trim() !== "") return Number(v);
  return NaN;
}

/** The venue's zone when `Intl` knows it, else UTC (logged). */
function knownZone(
  zone: string,
  epic: string,
  log: (line: string) => void,
): string {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return zone;
  } catch {
    log(
      `Capital.com market ${epic} has opening hours in an unknown time zone ${
        JSON.stringify(zone)
      }; using UTC`,
    );
    return "UTC";
  }
}

/** What {@linkcode capitalComSymbolInfo} needs from the provider. */
export interface SymbolInfoContext {
  /** The provider's clock (ms), for the daylight-saving state of the hours. */
  readonly now: () => number;
  /** Progress lines. */
  readonly log: (line: string) => void;
}

/** Symbol information of `epic` from `GET /api/v1/markets/{epic}`. */
export async function capitalComSymbolInfo(
  client: CapitalComClient,
  epic: string,
  tf: Timeframe,
  context: SymbolInfoContext,
): Promise<SymbolInfo> {
  const body = await client.request(
    "GET",
    `/api/v1/markets/${encodeURIComponent(epic)}`,
  ).catch((e) => {
    throw unknownEpic(e, epic);
  }) as {
    instrument?: Record<string, unknown>;
    dealingRules?: Record<string, { value?: unknown } | undefined>;
    snapshot?: Record<string, unknown>;
  };
  const inst = body?.instrument;
  if (!inst || typeof inst !== "object") {
    throw new ProviderError(
      `Capital.com GET /api/v1/markets/${epic} answered without an instrument`,
      { code: "bad.response" },
    );
  }
  const mintick = num(body.dealingRules?.minStepDistance?.value);
  if (!(mintick > 0)) {
    throw new ProviderError(
      `Capital.com market ${epic} has no usable minStepDistance (got ${
        JSON.stringify(body.dealingRules?.minStepDistance?.value)
      })`,
      { code: "bad.response" },
    );
  }
  let grid: { minmove: number; pricescale: number };
  try {
    grid = tickGridFromMintick(mintick);
  } catch (e) {
    throw new ProviderError(
      `Capital.com market ${epic} has a minStepDistance of ${mintick} that no tick grid can hold: ${
        (e as Error).message
      }`,
      { code: "bad.response", cause: e },
    );
  }
  const { minmove, pricescale } = grid;
  const hours = (inst.openingHours ?? {}) as CapitalComOpeningHours;
  // Capital.com gives the hours in UTC as they are today; they follow New
  // York's clock (forex's 17:00 rollover, US sessions) and move by an hour
  // in UTC with daylight saving time. Expressed in New York time (like
  // PyneCore's Capital.com files) they hold all year.
  const sessions = convertOpeningHours(
    hours,
    UTC_ZONES.has(hours.zone ?? "UTC")
      ? { zone: HOURS_ZONE, at: context.now() }
      : {},
  );
  const pair = typeof inst.symbol === "string" ? inst.symbol : "";
  const bid = num(body.snapshot?.bid);
  const offer = num(body.snapshot?.offer);
  const spread = Number.isFinite(bid) && Number.isFinite(offer)
    ? Math.abs(diff(offer, bid))
    : undefined;
  const lotSize = num(inst.lotSize);
  const minDeal = num(body.dealingRules?.minDealSize?.value);
  return {
    prefix: "CAPITALCOM",
    description: typeof inst.name === "string" ? inst.name : epic,
    ticker: typeof inst.epic === "string" ? inst.epic : epic,
    currency: typeof inst.currency === "string" ? inst.currency : "",
    basecurrency: pair.includes("/") ? pair.split("/")[0] : undefined,
    period: tf.period,
    type: capitalComSymbolType(
      typeof inst.type === "string" ? inst.type : undefined,
    ),
    mintick: minmove / pricescale,
    pricescale,
    minmove,
    pointvalue: Number.isFinite(lotSize) && lotSize > 0 ? lotSize : 1,
    mincontract: Number.isFinite(minDeal) ? minDeal : undefined,
    timezone: knownZone(sessions.timezone, epic, context.log),
    volumetype: "base",
    avgSpread: spread,
    openingHours: sessions.openingHours,
    sessionStarts: sessions.sessionStarts,
    sessionEnds: sessions.sessionEnds,
  };
}
