/**
 * The runtime environment as the ccxt provider needs it: the process
 * environment (read only where that cannot prompt for a permission) and the
 * `ws` native add-on workaround applied before ccxt is loaded. Runtime-neutral:
 * Deno's permission API is used only when it exists. Private to the ccxt
 * provider.
 *
 * @module
 */

interface DenoLike {
  env: {
    get(key: string): string | undefined;
    set(k: string, v: string): void;
  };
  permissions: {
    querySync(d: { name: string; variable?: string }): { state: string };
  };
}

function denoGlobal(): DenoLike | undefined {
  return (globalThis as { Deno?: DenoLike }).Deno;
}

/** True when the environment variable can be read without a permission prompt. */
export function envReadable(name: string): boolean {
  const d = denoGlobal();
  if (d === undefined) return true;
  try {
    return d.permissions.querySync({ name: "env", variable: name }).state ===
      "granted";
  } catch {
    return false;
  }
}

/**
 * ccxt loads the `ws` package, which tries its optional native add-ons
 * (`bufferutil`, `utf-8-validate`) through FFI; under Deno without
 * `--allow-ffi` a terminal would stop at a permission prompt. When the
 * environment may be written without a prompt, `WS_NO_BUFFER_UTIL` and
 * `WS_NO_UTF_8_VALIDATE` make `ws` use its pure-JS fallbacks instead. Node
 * and Bun load the add-ons without prompts: nothing to do there.
 */
export function quietNativeAddons(): void {
  const d = denoGlobal();
  if (d === undefined) return;
  try {
    if (d.permissions.querySync({ name: "ffi" }).state === "granted") return;
    for (const k of ["WS_NO_BUFFER_UTIL", "WS_NO_UTF_8_VALIDATE"]) {
      if (envReadable(k) && d.env.get(k) === undefined) d.env.set(k, "1");
    }
  } catch {
    // no permission API or no env permission: nothing to do
  }
}

/** The process environment (Node's `process.env`, else Deno's), or `{}`. */
export function processEnv(): Record<string, string | undefined> {
  const p = (globalThis as {
    process?: { env?: Record<string, string | undefined> };
  }).process;
  if (p?.env) return p.env;
  const d = (globalThis as {
    Deno?: { env?: { toObject(): Record<string, string> } };
  }).Deno;
  try {
    return d?.env?.toObject() ?? {};
  } catch {
    return {};
  }
}
