/**
 * The fetch step of `download()`, one function per way of using the file: a
 * fresh file (`"new"`, `"truncate"`), a top-up (`"append"`) and a rebuild
 * (`"prepend"`: the missing head, the old candles copied after it with the
 * failed and never-requested holes of the requested range re-fetched between
 * them — as `repair()` does — then a top-up). Each is a short sequence of
 * segments and copies. Private.
 *
 * @module
 */

import type { DownloadPlan, ExistingFile } from "./_download_plan.ts";
import {
  fetchSegment,
  joinGaps,
  type SegmentContext,
} from "./_download_segment.ts";
import type { DownloadTarget } from "./_download_target.ts";
import { fillHoles } from "./_repair_merge.ts";
import type { DownloadMode } from "./download_options.ts";

/** What the fetch step did. */
export interface FetchResult {
  /** How the file was used in the end (a front fill-in that found nothing is a top-up). */
  readonly mode: DownloadMode;
  /** Existing candles copied into a rebuilt file. */
  readonly copied: number;
  /** True when a top-up had nothing to ask for. */
  readonly upToDate: boolean;
}

/** Runs the segments and copies of the plan's mode into the target. */
export async function fetchByPlan(
  ctx: SegmentContext,
  target: DownloadTarget,
  plan: DownloadPlan,
  existing: ExistingFile | undefined,
): Promise<FetchResult> {
  switch (plan.mode) {
    case "new":
    case "truncate":
      await fetchSegment(ctx, plan.from, plan.to, undefined);
      return { mode: plan.mode, copied: 0, upToDate: false };
    case "append":
      return await topUp(ctx, plan, existing!);
    case "prepend":
      return await rebuild(ctx, target, plan, existing!);
  }
}

/** Fetches after the file's last candle. */
async function topUp(
  ctx: SegmentContext,
  plan: DownloadPlan,
  existing: ExistingFile,
): Promise<FetchResult> {
  const tail = await fetchSegment(ctx, plan.from, plan.to, existing.lastRow);
  return { mode: "append", copied: 0, upToDate: !tail.fetched };
}

/**
 * Fetches the missing head (when the range starts before the file) into the
 * replacement, copies the old candles after it with the holes of the range
 * re-fetched between them, and tops it up. With nothing before the file's
 * first candle (a later listing, say) and no holes there is no rebuild: a
 * plain top-up of the file as it is.
 */
async function rebuild(
  ctx: SegmentContext,
  target: DownloadTarget,
  plan: DownloadPlan,
  existing: ExistingFile,
): Promise<FetchResult> {
  const holes = plan.holes ?? [];
  let headCandles = 0;
  if (plan.from < existing.first) {
    const head = await fetchSegment(
      ctx,
      plan.from,
      Math.min(existing.first, plan.to),
      undefined,
    );
    headCandles = head.candles;
  }
  if (headCandles === 0 && holes.length === 0) {
    await target.reopenForAppend();
    return await topUp(ctx, plan, existing);
  }
  if (headCandles > 0 && ctx.totals.last !== undefined) {
    // The missing periods where the new head meets the old first candle.
    await joinGaps(ctx, ctx.totals.last, existing.first);
  }
  const { copied } = holes.length > 0
    ? await fillHoles(ctx, target.path, holes)
    : { copied: await target.copyExisting(ctx.signal) };
  await fetchSegment(ctx, existing.first, plan.to, existing.lastRow);
  return { mode: "prepend", copied, upToDate: false };
}
