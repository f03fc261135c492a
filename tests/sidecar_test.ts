import assert from "node:assert/strict";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { parse } from "csv-parse/sync";
import { Sidecar, sidecarPath } from "../format/_sidecar.ts";

Deno.test("Sidecar never writes a blank line for an empty single-column row (CSV readers would skip it)", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "a.extra.csv");
    const side = await Sidecar.open(path, 0, false, true);
    const rows = side.prepare(
      [undefined, { ask: 1.5 }, {}, { ask: "" }, undefined, { ask: 2 }],
      6,
      0,
    );
    assert.ok(rows);
    await side.append(rows);
    await side.close();
    const text = await readFile(path, "utf8");
    assert.equal(text, 'ask\r\n""\r\n1.5\r\n""\r\n""\r\n""\r\n2\r\n');
    assert.doesNotMatch(text, /\r\n\r\n/);
    // A CSV reader that skips blank lines still sees one row per record.
    const parsed = parse(text, { skip_empty_lines: true }) as string[][];
    assert.deepEqual(parsed.map((r) => r[0]), [
      "ask",
      "",
      "1.5",
      "",
      "",
      "",
      "2",
    ]);
    // Reopening counts the same rows (no padding, no truncation).
    const again = await Sidecar.open(path, 6, false, false);
    await again.close();
    assert.equal(await readFile(path, "utf8"), text);
  } finally {
    await rm(dir, { recursive: true });
  }
});

Deno.test("Sidecar quotes values with commas, quotes and line breaks and reopens aligned", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "b.extra.csv");
    const side = await Sidecar.open(path, 0, false, true);
    await side.append(
      side.prepare(
        [{ note: 'a,"b"', n: 1 }, { note: "line\nbreak", n: 2 }, undefined],
        3,
        0,
      )!,
    );
    await side.close();
    const text = await readFile(path, "utf8");
    assert.deepEqual(parse(text), [
      ["note", "n"],
      ['a,"b"', "1"],
      ["line\nbreak", "2"],
      ["", ""],
    ]);
    // Reopened for 2 committed records: the third row is cut, not the
    // quoted line break.
    const again = await Sidecar.open(path, 2, false, false);
    await again.close();
    assert.deepEqual(parse(await readFile(path, "utf8")), [
      ["note", "n"],
      ['a,"b"', "1"],
      ["line\nbreak", "2"],
    ]);
    assert.equal(sidecarPath("x/y.ohlcv"), "x/y.extra.csv");
  } finally {
    await rm(dir, { recursive: true });
  }
});
