/**
 * The fetch step of `download()`, one function per way of using the file: a
 * fresh file (`"new"`, `"truncate"`), a top-up (`"append"`) and a front
 * fill-in (`"prepend"`: the missing head, the old candles copied after it,
 * then a top-up). Each is a short sequence of segments and copies. Private.
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
      return await fillInFront(ctx, target, plan, existing!);
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
 * Fetches the missing head into the replacement, copies the old candles
 * after it and tops it up. With nothing before the file's first candle (a
 * later listing, say) there is no rebuild: a plain top-up of the file as it is.
 */
async function fillInFront(
  ctx: SegmentContext,
  target: DownloadTarget,
  plan: DownloadPlan,
  existing: ExistingFile,
): Promise<FetchResult> {
  const head = await fetchSegment(
    ctx,
    plan.from,
    Math.min(existing.first, plan.to),
    undefined,
  );
  if (head.candles === 0) {
    await target.reopenForAppend();
    return await topUp(ctx, plan, existing);
  }
  if (ctx.totals.last !== undefined) {
    // The missing periods where the new head meets the old first candle.
    await joinGaps(ctx, ctx.totals.last, existing.first);
  }
  const copied = await target.copyExisting(ctx.signal);
  await fetchSegment(ctx, existing.first, plan.to, existing.lastRow);
  return { mode: "prepend", copied, upToDate: false };
}
