/**
 * The HTTP routes of the Capital.com emulator: injected faults, the rate
 * limits, login (plain and encrypted), session, ping, markets and prices.
 * Private.
 *
 * @module
 */

import type { IncomingMessage, ServerResponse } from "node:http";
import { json, readBody, Reply } from "./_capitalcom_http.ts";
import {
  barsResponse,
  type MarketData,
  marketDetails,
  marketListing,
  type PageCap,
} from "./_capitalcom_market_data.ts";
import type {
  LoginKeys,
  RateWindow,
  SessionTable,
} from "./_capitalcom_sessions.ts";
import type { EmulatorFault } from "./_capitalcom_markets.ts";

/** Everything a running emulator keeps. */
export interface EmulatorState {
  readonly credentials: {
    readonly apiKey: string;
    readonly identifier: string;
    readonly password: string;
  };
  /** The market clock, ms. */
  readonly now: () => number;
  readonly markets: ReadonlyMap<string, MarketData>;
  /** Most bars a `/prices` answer holds, and which end of a longer range it keeps. */
  readonly pageCap: PageCap;
  /** Active faults with the matching requests they have left. */
  readonly faults: { fault: EmulatorFault; left: number }[];
  readonly sessions: SessionTable;
  readonly keys: LoginKeys;
  readonly requestLimit: RateWindow;
  readonly loginLimit: RateWindow;
}

/**
 * Answers one request: a matching fault, the rate limit, the login routes,
 * then (authenticated) the session, ping, markets and prices routes.
 * Resolves to the status answered; rejects with a `Reply` for error answers.
 */
export async function handleRequest(
  state: EmulatorState,
  req: IncomingMessage,
  res: ServerResponse,
  ctx: { headers: Record<string, string> },
): Promise<{ status: number; errorCode?: string }> {
  const url = new URL(req.url ?? "/", "http://127.0.0.1");
  const method = req.method ?? "GET";
  const path = url.pathname;
  const body = method === "POST" || method === "PUT" ? await readBody(req) : "";
  for (const f of state.faults) {
    if (f.left <= 0) continue;
    if (f.fault.path !== undefined && !path.startsWith(f.fault.path)) {
      continue;
    }
    if (f.fault.method !== undefined && f.fault.method !== method) continue;
    f.left--;
    if (f.fault.delayMs) {
      await new Promise((r) => setTimeout(r, f.fault.delayMs));
    }
    const status = f.fault.status ?? 500;
    if (!res.destroyed) {
      json(
        res,
        status,
        f.fault.body !== undefined
          ? f.fault.body
          : f.fault.errorCode
          ? { errorCode: f.fault.errorCode }
          : { message: "fault" },
      );
    }
    return f.fault.errorCode
      ? { status, errorCode: f.fault.errorCode }
      : { status };
  }
  if (state.requestLimit.limited()) {
    throw new Reply(429, "error.too-many.requests");
  }

  if (path === "/api/v1/session/encryptionKey" && method === "GET") {
    if (req.headers["x-cap-api-key"] !== state.credentials.apiKey) {
      throw new Reply(401, "error.invalid.api.key");
    }
    const timeStamp = state.now();
    json(res, 200, { encryptionKey: state.keys.issue(timeStamp), timeStamp });
    return { status: 200 };
  }
  if (path === "/api/v1/session" && method === "POST") {
    const key = req.headers["x-cap-api-key"];
    if (typeof key !== "string" || key === "") {
      throw new Reply(400, "error.null.api.key");
    }
    if (state.loginLimit.limited()) {
      throw new Reply(429, "error.too-many.requests");
    }
    if (key !== state.credentials.apiKey) {
      throw new Reply(401, "error.invalid.api.key");
    }
    let parsed: {
      identifier?: unknown;
      password?: unknown;
      encryptedPassword?: unknown;
    };
    try {
      parsed = JSON.parse(body);
    } catch {
      throw new Reply(400, "error.invalid.details");
    }
    let password = parsed.password;
    if (parsed.encryptedPassword === true) {
      password = state.keys.decrypt(password);
    }
    if (
      parsed.identifier !== state.credentials.identifier ||
      password !== state.credentials.password
    ) {
      throw new Reply(401, "error.invalid.details");
    }
    const s = state.sessions.create();
    json(res, 200, {
      accountType: "CFD",
      currencyIsoCode: "USD",
      currencySymbol: "$",
      currentAccountId: "emulator-account",
      streamingHost: "wss://127.0.0.1/",
      clientId: "emulator-client",
      timezoneOffset: 0,
      hasActiveDemoAccounts: true,
      hasActiveLiveAccounts: true,
      trailingStopsEnabled: false,
    }, { "CST": s.cst, "X-SECURITY-TOKEN": s.token });
    return { status: 200 };
  }

  const { session, headers } = state.sessions.authenticate(req);
  ctx.headers = headers; // rotated tokens go out with error answers too
  if (path === "/api/v1/session" && method === "DELETE") {
    state.sessions.end(session);
    json(res, 200, { status: "SUCCESS" });
    return { status: 200 };
  }
  if (path === "/api/v1/session" && method === "GET") {
    json(res, 200, {
      clientId: "emulator-client",
      accountId: "emulator-account",
      timezoneOffset: 0,
      locale: "en",
      currency: "USD",
      streamEndpoint: "wss://127.0.0.1/",
    }, headers);
    return { status: 200 };
  }
  if (path === "/api/v1/ping" && method === "GET") {
    json(res, 200, { status: "OK" }, headers);
    return { status: 200 };
  }
  if (path === "/api/v1/markets" && method === "GET") {
    const search = url.searchParams.get("searchTerm");
    const epics = url.searchParams.get("epics");
    let list = [...state.markets.values()];
    if (epics) {
      const wanted = new Set(epics.split(",").map((e) => e.trim()));
      list = list.filter((md) => wanted.has(md.market.epic));
    } else if (search) {
      const s = search.toLowerCase();
      list = list.filter((md) =>
        md.market.epic.toLowerCase().includes(s) ||
        md.market.name.toLowerCase().includes(s)
      );
    }
    json(
      res,
      200,
      { markets: list.map((md) => marketListing(md, state.now)) },
      headers,
    );
    return { status: 200 };
  }
  let m = /^\/api\/v1\/markets\/([^/]+)$/.exec(path);
  if (m && method === "GET") {
    const md = state.markets.get(decodeURIComponent(m[1]!));
    if (!md) throw new Reply(404, "error.not-found.epic");
    json(res, 200, marketDetails(md, state.now), headers);
    return { status: 200 };
  }
  m = /^\/api\/v1\/prices\/([^/]+)$/.exec(path);
  if (m && method === "GET") {
    const md = state.markets.get(decodeURIComponent(m[1]!));
    if (!md) throw new Reply(404, "error.not-found.epic");
    json(
      res,
      200,
      barsResponse(md, url.searchParams, state.now, state.pageCap),
      headers,
    );
    return { status: 200 };
  }
  throw new Reply(404, "error.not-found");
}
