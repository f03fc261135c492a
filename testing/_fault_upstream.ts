/**
 * Private: the upstream side of the fault proxy. Checks that the target is
 * a loopback http origin, reads a request body, and forwards a request to
 * the target, answering its status, end-to-end headers and whole body.
 *
 * @module
 */

import {
  type IncomingHttpHeaders,
  type IncomingMessage,
  request as httpRequest,
} from "node:http";

/** The target's answer to a forwarded request. */
export interface Upstream {
  /** HTTP status. */
  readonly status: number;
  /** End-to-end headers (hop-by-hop ones and `content-length` left out). */
  readonly headers: Record<string, string>;
  /** The whole body. */
  readonly body: Uint8Array;
}

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "te",
  "trailer",
  "content-length",
]);

/** Throws unless `url` is an http origin on a loopback host. */
export function loopbackOrigin(url: string): URL {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new TypeError(`target must be an http origin, got ${url}`);
  }
  const host = u.hostname.replace(/^\[|\]$/g, "");
  if (
    u.protocol !== "http:" ||
    !["127.0.0.1", "localhost", "::1"].includes(host)
  ) {
    throw new TypeError(
      `target must be a loopback http origin (127.0.0.1, localhost, ::1), got ${url}`,
    );
  }
  return u;
}

/** Forwards `req` (whose body is `body`) to `target`; rejects when the target does not answer. */
export function forward(
  target: URL,
  req: IncomingMessage,
  body: Uint8Array,
): Promise<Upstream> {
  return new Promise((resolve, reject) => {
    const headers: IncomingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (!HOP_BY_HOP.has(k) && v !== undefined) headers[k] = v;
    }
    headers["host"] = target.host;
    if (body.byteLength > 0) {
      headers["content-length"] = String(body.byteLength);
    }
    const up = httpRequest({
      host: target.hostname.replace(/^\[|\]$/g, ""),
      port: target.port === "" ? 80 : Number(target.port),
      method: req.method ?? "GET",
      path: req.url ?? "/",
      headers,
      agent: false,
    }, (res) => {
      const chunks: Uint8Array[] = [];
      res.on("data", (c: Uint8Array) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () => {
        const out: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) {
          if (HOP_BY_HOP.has(k) || v === undefined) continue;
          out[k] = Array.isArray(v) ? v.join(", ") : v;
        }
        resolve({
          status: res.statusCode ?? 502,
          headers: out,
          body: concatBytes(chunks),
        });
      });
    });
    up.on("error", reject);
    up.end(body.byteLength > 0 ? body : undefined);
  });
}

/** The whole body of `req`. */
export function readAll(req: IncomingMessage): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    req.on("data", (c: Uint8Array) => chunks.push(c));
    req.on("end", () => resolve(concatBytes(chunks)));
    req.on("error", reject);
  });
}

/** `chunks` joined into one array. */
function concatBytes(chunks: readonly Uint8Array[]): Uint8Array {
  const n = chunks.reduce((a, c) => a + c.byteLength, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.byteLength;
  }
  return out;
}
