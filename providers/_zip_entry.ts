/**
 * A streaming reader of the first entry of a zip archive (each of Binance's
 * public data archives holds one CSV file). The zip container is parsed
 * here; the inflating is the built-in `DecompressionStream("deflate-raw")`.
 *
 * - The local file header is read as the first bytes arrive; the entry's
 *   data streams through the inflater chunk by chunk.
 * - A local header may leave the sizes to a data descriptor after the data
 *   (general-purpose flag bit 3), and `DecompressionStream` fails on bytes
 *   after the end of the deflate stream. So the last {@linkcode ZIP_TAIL}
 *   bytes are held back until the archive ends; the central directory and
 *   its end record among them give the exact compressed size, and only the
 *   entry's own bytes reach the inflater. Memory stays at a chunk plus that
 *   tail, whatever the archive's size.
 * - The inflated size is checked against the central directory (an archive
 *   cut short can inflate without an error). The CRC-32 is not recomputed:
 *   the archive's SHA-256, checked by the caller, already covers every byte.
 *
 * Private to the providers.
 *
 * @module
 */

/** Bytes at the end of an archive held back to read its central directory. */
export const ZIP_TAIL = 65_536 + 1024;

const LOCAL = 0x04034b50;
const CENTRAL = 0x02014b50;
const END = 0x06054b50;

/** A zip archive that cannot be read. */
export class ZipFormatError extends Error {
  /** Creates the error. */
  constructor(message: string) {
    super(message);
    this.name = "ZipFormatError";
  }
}

/** What the central directory says about the entry read. */
export interface ZipEntryInfo {
  /** File name inside the archive. */
  readonly name: string;
  /** Compression method (8 deflate, 0 stored). */
  readonly method: number;
  /** Bytes of compressed data. */
  readonly compressedSize: number;
  /** Bytes once inflated. */
  readonly size: number;
}

const u16 = (b: Uint8Array, o: number) => b[o]! | (b[o + 1]! << 8);
const u32 = (b: Uint8Array, o: number) =>
  (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * Zip archive bytes in, the first entry's inflated bytes out (use it with
 * `pipeThrough`). Errors are {@linkcode ZipFormatError}s, or the inflater's
 * own for corrupt deflate data.
 */
export class ZipEntryStream {
  /** Takes the archive's bytes. */
  readonly writable: WritableStream<Uint8Array>;
  /** Gives the entry's inflated bytes. */
  readonly readable: ReadableStream<Uint8Array>;
  #entry: ZipEntryInfo | undefined;

  /** Creates the stream. */
  constructor() {
    let size = 0;
    const out = new TransformStream<Uint8Array, Uint8Array>({
      transform: (chunk, controller) => {
        size += chunk.length;
        controller.enqueue(chunk);
      },
      flush: () => {
        const e = this.#entry;
        if (e === undefined) {
          throw new ZipFormatError("the archive ended early");
        }
        if (size !== e.size) {
          throw new ZipFormatError(
            `${e.name} inflated to ${size} bytes; the archive declares ${e.size}`,
          );
        }
      },
    });
    this.readable = out.readable;
    let head: Uint8Array = new Uint8Array(0); // bytes before the data starts
    let dataStart = -1; // offset of the entry's data, once the header is read
    let method = -1;
    let name = "";
    let total = 0; // archive bytes received
    let fed = 0; // data bytes given to the inflater
    const tail: Uint8Array[] = []; // held back, in order
    let held = 0;
    let writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
    let piped: Promise<void> = Promise.resolve();

    const start = () => {
      if (u32(head, 0) !== LOCAL) {
        throw new ZipFormatError("not a zip archive (no local file header)");
      }
      const flags = u16(head, 6);
      method = u16(head, 8);
      if (flags & 1) throw new ZipFormatError("the entry is encrypted");
      if (method !== 8 && method !== 0) {
        throw new ZipFormatError(
          `compression method ${method} is not supported (deflate or stored)`,
        );
      }
      const nameLength = u16(head, 26);
      const extraLength = u16(head, 28);
      if (head.length < 30 + nameLength + extraLength) return;
      name = new TextDecoder().decode(head.subarray(30, 30 + nameLength));
      dataStart = 30 + nameLength + extraLength;
      if (method === 8) {
        const inflate = new DecompressionStream("deflate-raw");
        piped = inflate.readable.pipeTo(out.writable);
        piped.catch(() => {}); // seen through the readable
        writer = (inflate.writable as WritableStream<Uint8Array>).getWriter();
      } else {
        writer = out.writable.getWriter();
      }
      const rest = head.subarray(dataStart);
      head = new Uint8Array(0);
      return rest;
    };

    /** Holds `chunk` back and feeds what is more than the tail. */
    const hold = async (chunk: Uint8Array) => {
      if (chunk.length === 0) return;
      tail.push(chunk);
      held += chunk.length;
      while (held - tail[0]!.length >= ZIP_TAIL) {
        const first = tail.shift()!;
        held -= first.length;
        fed += first.length;
        await writer!.write(first);
      }
    };

    const finish = async () => {
      if (dataStart < 0) throw new ZipFormatError("the archive ended early");
      let end = new Uint8Array(held);
      let o = 0;
      for (const c of tail) {
        end.set(c, o);
        o += c.length;
      }
      tail.length = 0;
      const endOffset = total - end.length; // archive offset of end[0]
      let eocd = -1;
      for (let i = end.length - 22; i >= 0; i--) {
        if (u32(end, i) === END) {
          eocd = i;
          break;
        }
      }
      if (eocd < 0) {
        throw new ZipFormatError(
          "no end of central directory record: the archive is cut short",
        );
      }
      const entries = u16(end, eocd + 10);
      const cdOffset = u32(end, eocd + 16) - endOffset;
      if (entries < 1 || cdOffset < 0 || cdOffset + 46 > eocd) {
        throw new ZipFormatError("malformed central directory");
      }
      if (u32(end, cdOffset) !== CENTRAL) {
        throw new ZipFormatError("malformed central directory entry");
      }
      const compressedSize = u32(end, cdOffset + 20);
      const uncompressed = u32(end, cdOffset + 24);
      if (compressedSize === 0xffffffff || uncompressed === 0xffffffff) {
        throw new ZipFormatError("zip64 archives are not supported");
      }
      if (u32(end, cdOffset + 42) !== 0) {
        throw new ZipFormatError("the central directory's entry is not first");
      }
      this.#entry = { name, method, compressedSize, size: uncompressed };
      const dataEnd = dataStart + compressedSize - endOffset; // in `end`
      const from = dataStart + fed - endOffset;
      if (from > dataEnd || dataEnd > cdOffset) {
        throw new ZipFormatError(
          "the entry's data does not end where the central directory says",
        );
      }
      if (dataEnd > from) await writer!.write(end.subarray(from, dataEnd));
      end = new Uint8Array(0);
      await writer!.close();
      await piped;
    };

    const fail = async (e: unknown) => {
      try {
        if (writer) await writer.abort(e);
        else await out.writable.abort(e);
      } catch {
        // already errored
      }
    };

    this.writable = new WritableStream<Uint8Array>({
      write: async (chunk) => {
        try {
          total += chunk.length;
          if (dataStart < 0) {
            head = concat(head, chunk);
            if (head.length < 30) return;
            const rest = start();
            if (rest === undefined) return;
            await hold(rest);
            return;
          }
          await hold(chunk);
        } catch (e) {
          await fail(e);
          throw e;
        }
      },
      close: async () => {
        try {
          await finish();
        } catch (e) {
          await fail(e);
          throw e;
        }
      },
      abort: (reason) => fail(reason),
    });
  }

  /** The entry as the central directory describes it, once the archive has ended. */
  get entry(): ZipEntryInfo | undefined {
    return this.#entry;
  }
}
