/**
 * Private: small positional I/O helpers over `node:fs/promises` FileHandles.
 *
 * @module
 */

import { writeSync } from "node:fs";
import { type FileHandle, open, stat } from "node:fs/promises";
import { dirname } from "node:path";

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

/** Eight random hex digits, for temporary file names beside a file. */
export function randomSuffix(): string {
  return Math.floor(Math.random() * 0x100000000).toString(16).padStart(8, "0");
}

/** fsyncs the folder holding `path`, so a rename into it is durable. */
export async function fsyncDir(path: string): Promise<void> {
  try {
    const fh = await open(dirname(path), "r");
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  } catch {
    // Not supported everywhere (e.g. Windows); the rename itself is atomic.
  }
}

/** True when an error is a "file not found" error from node:fs or Deno. */
export function isNotFound(err: unknown): boolean {
  return typeof err === "object" && err !== null &&
    ((err as { code?: unknown }).code === "ENOENT" ||
      (err as { name?: unknown }).name === "NotFound");
}

/** True when something exists at `path`; false when it does not; other errors are thrown. */
export async function pathExists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (e) {
    if (isNotFound(e)) return false;
    throw e;
  }
}

/**
 * Writes large record blocks at given positions. {@linkcode openBulkWriter}
 * picks the runtime's fastest path.
 */
export interface BulkWriter {
  /** Writes all of `buf[0, length)` at `position`; calls must not overlap. */
  write(buf: Uint8Array, length: number, position: number): Promise<void>;
  /** Closes what the writer opened (never the FileHandle it was given). */
  close(): Promise<void>;
}

/** The part of `Deno.FsFile` the Deno path uses. */
interface DenoFile {
  seek(offset: number, whence: number): Promise<number>;
  write(p: Uint8Array): Promise<number>;
  close(): void;
}

/** The part of the `Deno` namespace the Deno path uses. */
export interface DenoNamespace {
  open(path: string, options: { write: true }): Promise<DenoFile>;
  SeekMode: { Start: number };
}

/**
 * Opens a {@linkcode BulkWriter} on `path`, already open as `fh`.
 *
 * In Deno, `node:fs` `FileHandle.write` copies and writes on the JavaScript
 * thread (about 1 ms per 2.4 MB block, during which nothing else runs), while
 * `Deno.FsFile.write` hands the buffer to a worker thread; so Deno gets a
 * second descriptor on the same file through `Deno.open`. Elsewhere (Node,
 * Bun) `FileHandle.write` is already asynchronous and is used directly. Both
 * descriptors reach the same file, so an fsync through `fh` covers bytes
 * written through either. `deno` is for tests (`null` forces the `node:fs`
 * path).
 */
export async function openBulkWriter(
  path: string,
  fh: FileHandle,
  deno: Partial<DenoNamespace> | null | undefined =
    (globalThis as { Deno?: Partial<DenoNamespace> }).Deno,
): Promise<BulkWriter> {
  if (typeof deno?.open !== "function" || deno.SeekMode === undefined) {
    return {
      write: (buf, length, position) =>
        writeFully(fh, buf, 0, length, position),
      close: () => Promise.resolve(),
    };
  }
  const start = deno.SeekMode.Start;
  const file = await deno.open(path, { write: true });
  let at = -1; // the descriptor's offset; -1 = unknown (after an error)
  return {
    async write(buf, length, position) {
      if (at !== position) {
        at = -1;
        await file.seek(position, start);
      }
      at = -1;
      let done = 0;
      while (done < length) {
        const n = await file.write(buf.subarray(done, length));
        if (n <= 0) {
          throw new Error(`Write made no progress at byte ${position + done}`);
        }
        done += n;
      }
      at = position + length;
    },
    close() {
      file.close();
      return Promise.resolve();
    },
  };
}

/**
 * Writes `buf[0, length)` at byte 0 synchronously. Only for the few bytes of
 * a header: the write lands in the page cache at once, and the fsync after it
 * can start without waiting for a turn of the event loop (which the encoding
 * of the next batch may be holding).
 */
export function writeHeaderSync(
  fh: FileHandle,
  buf: Uint8Array,
  length: number,
): void {
  let done = 0;
  while (done < length) {
    const n = writeSync(fh.fd, buf, done, length - done, done);
    if (n <= 0) throw new Error(`Write made no progress at byte ${done}`);
    done += n;
  }
}
