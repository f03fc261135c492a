/**
 * The library cases under Bun on the JSR-style npm build, as a Bun user gets
 * the package from `bunx jsr add @pyne/data`: the JavaScript modules that
 * tests/node/setup.sh builds and installs into
 * tests/node/node_modules/@pyne/data. Skipped when that build is missing
 * (run tests/node/setup.sh first); with PYNE_REQUIRE_JSR_BUILD=1 (as .ci/run
 * sets it) a missing build fails instead.
 *
 * @module
 */

import { describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import process from "node:process";
import { type Lib, libraryCases } from "./_library_cases.ts";

const built = existsSync(
  new URL("../node/node_modules/@pyne/data/package.json", import.meta.url),
);

if (!built) {
  if (process.env["PYNE_REQUIRE_JSR_BUILD"] === "1") {
    test("the JSR-style build is installed (tests/node/setup.sh)", () => {
      expect(built).toBe(true);
    });
  } else {
    test.skip("library on the JSR-style build (run tests/node/setup.sh first)", () => {});
  }
} else {
  // Through the package's "exports", as `import "@pyne/data/format"` would.
  const from = new URL("../node/", import.meta.url).pathname;
  const load = (entry: string) =>
    import(
      (globalThis as unknown as {
        Bun: { resolveSync(spec: string, dir: string): string };
      }).Bun.resolveSync(`@pyne/data${entry}`, from)
    );
  const lib = {
    format: await load("/format"),
    pipeline: await load("/pipeline"),
    testing: await load("/testing"),
    ccxt: await load("/providers/ccxt"),
    capitalcom: await load("/providers/capitalcom"),
  } as Lib;
  describe("library under Bun, from the JSR-style npm build", () => {
    for (const c of libraryCases(lib)) test(c.name, c.fn, c.timeoutMs);
  });
}
