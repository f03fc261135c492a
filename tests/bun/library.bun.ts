/**
 * The library suite under Bun (`bun test ./tests/bun/library.bun.ts`): the
 * TypeScript sources, imported as they are, with the npm packages of
 * deno.json's "imports" from tests/bun/package.json (linked into
 * ./node_modules by .ci/run).
 *
 * @module
 */

import { describe, test } from "bun:test";
import * as format from "../../format/mod.ts";
import * as pipeline from "../../pipeline/mod.ts";
import * as testing from "../../testing/mod.ts";
import * as ccxt from "../../providers/ccxt.ts";
import * as capitalcom from "../../providers/capitalcom.ts";
import { libraryCases } from "./_library_cases.ts";

describe("library under Bun", () => {
  for (
    const c of libraryCases({ format, pipeline, testing, ccxt, capitalcom })
  ) {
    test(c.name, c.fn, c.timeoutMs);
  }
});
