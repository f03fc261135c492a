/**
 * Private helper: streams candle batches through a text encoder stage into a
 * file, atomically.
 *
 * @module
 */

import { batchLength, type CandleBatch } from "./candle_batch.ts";
import { withAtomicFile } from "./_atomic_file.ts";
import { writeFully } from "./_file_io.ts";

/** Any source of batches the file exporters accept. */
export type BatchSource =
  | AsyncIterable<CandleBatch>
  | Iterable<CandleBatch>
  | ReadableStream<CandleBatch>;

/**
 * Streams batches into a text file through `encoder`, atomically (temporary
 * file + rename). Returns the number of candles written.
 */
export async function writeEncodedFile(
  path: string,
  source: BatchSource,
  encoder: TransformStream<CandleBatch, string | Uint8Array>,
): Promise<number> {
  return await withAtomicFile(path, async (fh) => {
    let count = 0;
    const te = new TextEncoder();
    const writer = encoder.writable.getWriter();
    const pump = (async () => {
      try {
        for await (const batch of source as AsyncIterable<CandleBatch>) {
          count += batchLength(batch);
          await writer.write(batch);
        }
        await writer.close();
      } catch (e) {
        await writer.abort(e).catch(() => {});
        throw e;
      }
    })();
    const drain = (async () => {
      let pos = 0;
      for await (const chunk of encoder.readable) {
        const bytes = typeof chunk === "string" ? te.encode(chunk) : chunk;
        await writeFully(fh, bytes, 0, bytes.length, pos);
        pos += bytes.length;
      }
    })();
    await Promise.all([pump, drain]);
    return count;
  });
}
