/**
 * Private: puts an HTTP server of an emulator on 127.0.0.1 and closes it with
 * every open connection (keep-alive sockets would hold it open otherwise).
 *
 * @module
 */

import type { Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/** A listening loopback server. */
export interface LoopbackListener {
  /** The port it listens on. */
  readonly port: number;
  /** Closes the server and destroys its open connections; safe to call twice. */
  close(): Promise<void>;
}

/** Starts `server` on 127.0.0.1 (`port` 0 picks a free port). */
export async function listenLoopback(
  server: Server,
  port = 0,
): Promise<LoopbackListener> {
  const sockets = new Set<Socket>();
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  let closed = false;
  return {
    port: (server.address() as AddressInfo).port,
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
