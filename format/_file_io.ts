/**
 * Private: small positional I/O helpers over `node:fs/promises` FileHandles.
 *
 * @module
 */

import type { FileHandle } from "node:fs/promises";

/** Reads exactly `length` bytes at `position` into `buf` at `offset` (fewer at EOF); returns bytes read. */
export async function readFully(
  fh: FileHandle,
  buf: Uint8Array,
  offset: number,
  length: number,
  position: number,
): Promise<number> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(
      buf,
      offset + done,
      length - done,
      position + done,
    );
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

/** Writes all of `buf[offset, offset + length)` at `position`. */
export async function writeFully(
  fh: FileHandle,
  buf: Uint8Array,
  offset: number,
  length: number,
  position: number,
): Promise<void> {
  let done = 0;
  while (done < length) {
    const { bytesWritten } = await fh.write(
      buf,
      offset + done,
      length - done,
      position + done,
    );
    if (bytesWritten <= 0) {
      throw new Error(`Write made no progress at byte ${position + done}`);
    }
    done += bytesWritten;
  }
}

/** True when an error is a "file not found" error from node:fs or Deno. */
export function isNotFound(err: unknown): boolean {
  return typeof err === "object" && err !== null &&
    ((err as { code?: unknown }).code === "ENOENT" ||
      (err as { name?: unknown }).name === "NotFound");
}
