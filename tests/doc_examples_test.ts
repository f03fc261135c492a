/**
 * The code examples in the library's documentation run: `deno test --doc`
 * over every module of the published folders type-checks each example and
 * runs it (offline: the examples start the emulators they need).
 */

import assert from "node:assert/strict";
import { ROOT } from "./_cli_helpers.ts";

Deno.test("every documentation example of the library type-checks and runs offline", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "test",
      "--doc",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-sys",
      "--allow-net=127.0.0.1",
      "mod.ts",
      "format/",
      "pipeline/",
      "providers/",
      "testing/",
    ],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) +
    new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, text.slice(-3000));
  const m = /ok \| (\d+) passed \| 0 failed/.exec(text);
  assert.ok(m, text.slice(-2000));
  assert.ok(Number(m[1]) >= 30, `${m[1]} examples ran`);
});
