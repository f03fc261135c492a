/**
 * The CLI's way to the provider registry: names and aliases, the "unknown
 * provider" usage error, opening and closing providers (their verbose log
 * printed above a live progress display). Private to the CLI.
 *
 * @module
 */

import type { CliContext } from "./_context.ts";
import { UsageError } from "./_errors.ts";
import type { ProgressRenderer } from "./_progress.ts";
import type { Provider } from "../providers/provider.ts";

/** The progress display in use, so diagnostics print above it. */
let liveProgress: ProgressRenderer | undefined;

/** Sets (or clears) the progress display that diagnostics print above. */
export function setLiveProgress(p: ProgressRenderer | undefined): void {
  liveProgress = p;
}

export async function registry(): Promise<
  typeof import("../providers/registry.ts")
> {
  return await import("../providers/registry.ts");
}

export interface ProviderEntryLike {
  name: string;
  aliases?: readonly string[] | undefined;
  description?: string | undefined;
}

export async function providerEntries(): Promise<ProviderEntryLike[]> {
  const reg = await registry();
  return reg.listProviders() as unknown as ProviderEntryLike[];
}

/** Resolves a provider name or alias (case-insensitive) to its registry name. */
export async function resolveProviderName(
  name: string,
): Promise<string | undefined> {
  const lower = name.toLowerCase();
  for (const e of await providerEntries()) {
    if (e.name.toLowerCase() === lower) return e.name;
    if (e.aliases?.some((a) => a.toLowerCase() === lower)) return e.name;
  }
  return undefined;
}

export async function unknownProvider(
  name: string,
  example?: string,
): Promise<UsageError> {
  const names = (await providerEntries()).map((e) => e.name).join(", ");
  return new UsageError(
    `Unknown provider "${name}"`,
    example
      ? `Providers: ${names}. Did you mean ${example}?`
      : `Providers: ${names} (see \`pyne-data providers\`).`,
  );
}

export async function openProviders(
  ctx: CliContext,
  names: Iterable<string>,
  configDir: string,
): Promise<Map<string, Provider>> {
  const reg = await registry();
  const out = new Map<string, Provider>();
  try {
    for (const name of names) {
      ctx.log(`opening provider ${name} (config ${configDir})`);
      out.set(
        name,
        await reg.openProvider(name, {
          configDir,
          env: ctx.io.env,
          log: (line: string) => {
            if (!ctx.verbose) return;
            if (liveProgress) liveProgress.log(`[verbose] ${line}`);
            else ctx.log(line);
          },
        }),
      );
    }
  } catch (e) {
    await closeProviders(out);
    throw e;
  }
  return out;
}

export async function closeProviders(
  providers: Map<string, Provider>,
): Promise<void> {
  for (const p of providers.values()) {
    try {
      await p[Symbol.asyncDispose]();
    } catch {
      // closing is best effort
    }
  }
}
