/**
 * The library suite under Node 22+ (`node --test tests/node/library.node.ts`),
 * importing @pyne/data the way a Node user of the JSR package does: from
 * `node_modules/@pyne/data`, the JavaScript build of
 * tests/node/build_jsr_npm.ts installed as a tarball (`.ci/run` builds and
 * installs it). The cases are the Bun suite's (tests/bun/_library_cases.ts).
 *
 * @module
 */

import { describe, test } from "node:test";
import * as format from "@pyne/data/format";
import * as pipeline from "@pyne/data/pipeline";
import * as testing from "@pyne/data/testing";
import * as ccxt from "@pyne/data/providers/ccxt";
import * as capitalcom from "@pyne/data/providers/capitalcom";
import * as root from "@pyne/data";
import { type Lib, libraryCases } from "../bun/_library_cases.ts";

describe("library under Node", () => {
  const lib = { format, pipeline, testing, ccxt, capitalcom } as unknown as Lib;
  for (const c of libraryCases(lib)) {
    test(c.name, { timeout: c.timeoutMs }, c.fn);
  }
  test("the root entry point re-exports the format and pipeline", () => {
    if (root.OhlcvReader !== format.OhlcvReader) throw new Error("OhlcvReader");
    if (root.download !== pipeline.download) throw new Error("download");
  });
});
