/**
 * Sessions of the Capital.com emulator: the RSA key and timestamps of the
 * encrypted login, the session table with its rotating tokens and idle
 * expiry, and the per-second rate windows. Private.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import {
  constants,
  generateKeyPairSync,
  type KeyObject,
  privateDecrypt,
  randomUUID,
} from "node:crypto";
import type { IncomingMessage } from "node:http";
import { Reply } from "./_capitalcom_http.ts";

/** One logged-in session. */
export interface Session {
  cst: string;
  token: string;
  previousCst?: string;
  previousToken?: string;
  lastUsed: number;
  uses: number;
}

/**
 * RSA PKCS#1 v1.5 decryption of the encrypted login. Deno's `node:crypto`
 * does it directly; Node and Bun refuse `RSA_PKCS1_PADDING` in
 * `privateDecrypt` (CVE-2023-46809 hardening, `ERR_INVALID_ARG_VALUE`), so
 * there the emulator decrypts raw (`RSA_NO_PADDING`) and strips the
 * `00 02 PS 00` padding itself. A test emulator: timing oracles do not matter.
 */
function decryptPkcs1(key: KeyObject, data: Buffer): Buffer {
  try {
    return privateDecrypt({ key, padding: constants.RSA_PKCS1_PADDING }, data);
  } catch (e) {
    if ((e as { code?: unknown }).code !== "ERR_INVALID_ARG_VALUE") throw e;
  }
  const em = privateDecrypt({ key, padding: constants.RSA_NO_PADDING }, data);
  const sep = em.indexOf(0, 2);
  if (em[0] !== 0 || em[1] !== 2 || sep < 10) {
    throw new Error("Bad PKCS#1 v1.5 padding");
  }
  return em.subarray(sep + 1);
}

/** The encryption key of the encrypted login (made on first use). */
export class LoginKeys {
  readonly #bits: number;
  readonly #issued = new Set<number>();
  #keys: { publicDer: string; privateKey: KeyObject } | undefined;

  constructor(bits: number) {
    this.#bits = bits;
  }

  /** The public key (base64 DER) handed out with `timeStamp`. */
  issue(timeStamp: number): string {
    if (!this.#keys) {
      const pair = generateKeyPairSync("rsa", { modulusLength: this.#bits });
      this.#keys = {
        publicDer: Buffer.from(
          pair.publicKey.export({ type: "spki", format: "der" }),
        ).toString("base64"),
        privateKey: pair.privateKey,
      };
    }
    this.#issued.add(timeStamp);
    return this.#keys.publicDer;
  }

  /**
   * The plain password of an encrypted login (`base64(rsa(base64(password|timeStamp)))`
   * with a timestamp handed out before, good once); a 401 answer otherwise.
   */
  decrypt(password: unknown): string {
    if (typeof password !== "string" || !this.#keys) {
      throw new Reply(401, "error.invalid.details");
    }
    let plain: string;
    try {
      const raw = decryptPkcs1(
        this.#keys.privateKey,
        Buffer.from(password, "base64"),
      ).toString("utf8");
      plain = Buffer.from(raw, "base64").toString("utf8");
    } catch {
      throw new Reply(401, "error.invalid.details");
    }
    const bar = plain.lastIndexOf("|");
    const stamp = Number(plain.slice(bar + 1));
    if (bar < 0 || !this.#issued.has(stamp)) {
      throw new Reply(401, "error.invalid.details");
    }
    this.#issued.delete(stamp);
    return plain.slice(0, bar);
  }
}

/** Options of {@linkcode SessionTable}. */
export interface SessionTableOptions {
  readonly now: () => number;
  /** Idle time after which a session dies, ms. */
  readonly timeoutMs: number;
  /** Rotate the tokens every N authenticated requests (0 = never). */
  readonly rotateEvery: number;
}

/** The live sessions, by their current and previous CST. */
export class SessionTable {
  readonly #o: SessionTableOptions;
  readonly #sessions = new Map<string, Session>(); // by CST
  readonly #previous = new Map<string, Session>(); // by the CST before the last rotation

  constructor(options: SessionTableOptions) {
    this.#o = options;
  }

  /** Number of live sessions. */
  get size(): number {
    return this.#sessions.size;
  }

  /** Opens a session with fresh tokens. */
  create(): Session {
    const s: Session = {
      cst: randomUUID().replaceAll("-", ""),
      token: randomUUID().replaceAll("-", ""),
      lastUsed: this.#o.now(),
      uses: 0,
    };
    this.#sessions.set(s.cst, s);
    return s;
  }

  /** Ends a session. */
  end(s: Session): void {
    this.#sessions.delete(s.cst);
    if (s.previousCst !== undefined) this.#previous.delete(s.previousCst);
  }

  /** Ends every session. */
  clear(): void {
    this.#sessions.clear();
    this.#previous.clear();
  }

  /**
   * The session of a request's `CST` and `X-SECURITY-TOKEN` (a 401 answer
   * otherwise), with the rotated tokens to send back when they rotated.
   */
  authenticate(
    req: IncomingMessage,
  ): { session: Session; headers: Record<string, string> } {
    const { now, timeoutMs, rotateEvery } = this.#o;
    const cst = req.headers["cst"];
    const token = req.headers["x-security-token"];
    if (typeof cst !== "string" || cst === "") {
      throw new Reply(401, "error.null.client.token");
    }
    if (typeof token !== "string" || token === "") {
      throw new Reply(401, "error.security.client-token-missing");
    }
    // The pair before the latest rotation stays valid until the next one
    // (requests already under way when the tokens rotated).
    const s = this.#sessions.get(cst) ?? this.#previous.get(cst);
    const valid = s !== undefined &&
      ((cst === s.cst && token === s.token) ||
        (cst === s.previousCst && token === s.previousToken));
    if (!valid) throw new Reply(401, "error.invalid.session.token");
    if (now() - s.lastUsed > timeoutMs) {
      this.end(s);
      throw new Reply(401, "error.invalid.session.token");
    }
    s.lastUsed = now();
    s.uses++;
    const headers: Record<string, string> = {};
    if (rotateEvery > 0 && s.uses % rotateEvery === 0) {
      this.#sessions.delete(s.cst);
      if (s.previousCst !== undefined) this.#previous.delete(s.previousCst);
      s.previousCst = s.cst;
      s.previousToken = s.token;
      this.#previous.set(s.cst, s);
      s.cst = randomUUID().replaceAll("-", "");
      s.token = randomUUID().replaceAll("-", "");
      this.#sessions.set(s.cst, s);
      headers["CST"] = s.cst;
      headers["X-SECURITY-TOKEN"] = s.token;
    }
    return { session: s, headers };
  }
}

/** A sliding one-second window allowing `perSecond` events (`Infinity`: no limit). */
export class RateWindow {
  readonly #perSecond: number;
  readonly #clock: () => number;
  readonly #stamps: number[] = [];

  constructor(perSecond: number, clock: () => number) {
    this.#perSecond = perSecond;
    this.#clock = clock;
  }

  /** Counts an event; true when it is over the limit (and not counted). */
  limited(): boolean {
    if (!Number.isFinite(this.#perSecond)) return false;
    const list = this.#stamps;
    const t = this.#clock();
    while (list.length > 0 && list[0]! <= t - 1000) list.shift();
    if (list.length >= this.#perSecond) return true;
    list.push(t);
    return false;
  }
}
