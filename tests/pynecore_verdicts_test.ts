/**
 * Agreement with PyneCore: tests/fixtures/pynecore_verdicts holds 400 seeded
 * mutations (bit flips, header fields overwritten, truncations, appended
 * bytes) of the PyneCore fixtures with PyneCore's own verdict on each
 * (`verdicts.json`). Every mutation goes through our reader: where PyneCore
 * accepts, we decode the same rows bit for bit; where it refuses, we refuse
 * with a FormatError. The deliberate differences are listed below with their
 * reason (docs/format.md, "Agreement with PyneCore").
 */

import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { CandleBatch } from "../format/candle_batch.ts";
import { FormatError } from "../format/format_error.ts";
import { OhlcvReader, ohlcvRecordCount } from "../format/ohlcv_reader.ts";
import { OhlcvWriter } from "../format/ohlcv_writer.ts";

const DIR = new URL("./fixtures/pynecore_verdicts/", import.meta.url).pathname;

type Row = (number | null)[];
interface Verdict {
  source: string;
  mutation: string;
  accepted: boolean;
  error?: string;
  count?: number;
  decoded?: Row[];
}

const verdicts: Record<string, Verdict> = JSON.parse(
  readFileSync(join(DIR, "verdicts.json"), "utf8"),
);
const names = Object.keys(verdicts).sort();

/**
 * Mutations PyneCore reads and we refuse on purpose. All are v2 files whose
 * magic bytes were overwritten but whose first two bytes are still the magic's
 * `89 50`: PyneCore takes any file without the full magic for legacy v1 and
 * decodes the v2 header and records as garbage 24-byte v1 candles. We refuse
 * a file that is recognisably a damaged v2 file rather than misread it.
 */
const DAMAGED_V2_MAGIC =
  "a v2 file with overwritten magic bytes: PyneCore reads its bytes as garbage legacy v1 candles; we refuse it as a damaged v2 file";
const EXPECTED_DISAGREEMENTS: Record<string, string> = {
  "m045.ohlcv": DAMAGED_V2_MAGIC,
  "m126.ohlcv": DAMAGED_V2_MAGIC,
  "m228.ohlcv": DAMAGED_V2_MAGIC,
  "m307.ohlcv": DAMAGED_V2_MAGIC,
  "m329.ohlcv": DAMAGED_V2_MAGIC,
  "m348.ohlcv": DAMAGED_V2_MAGIC,
  "m357.ohlcv": DAMAGED_V2_MAGIC,
  "m360.ohlcv": DAMAGED_V2_MAGIC,
  "m388.ohlcv": DAMAGED_V2_MAGIC,
};

/** What our reader says about one file. */
type Outcome =
  | { accepted: true; format: "v1" | "v2"; batch: CandleBatch }
  | { accepted: false; error: unknown };

async function readWithUs(path: string): Promise<Outcome> {
  try {
    await using reader = await OhlcvReader.open(path);
    return {
      accepted: true,
      format: reader.info.format,
      batch: await reader.read(),
    };
  } catch (error) {
    return { accepted: false, error };
  }
}

/** The first difference between our rows and PyneCore's, or undefined. */
function rowDifference(batch: CandleBatch, rows: Row[]): string | undefined {
  if (batch.time.length !== rows.length) {
    return `we decode ${batch.time.length} records, PyneCore ${rows.length}`;
  }
  const cols = [
    batch.time,
    batch.open,
    batch.high,
    batch.low,
    batch.close,
    batch.volume,
  ];
  const colNames = ["time", "open", "high", "low", "close", "volume"];
  for (let i = 0; i < rows.length; i++) {
    for (let c = 0; c < 6; c++) {
      // verdicts.json writes NaN as null; -0 and every other double exactly.
      const v = rows[i]![c];
      const want = v === null ? NaN : v!;
      const got = cols[c]![i]!;
      if (!Object.is(got, want)) {
        return `record ${i} ${colNames[c]}: we decode ${got}, PyneCore ${want}`;
      }
    }
  }
  return undefined;
}

/** Why our verdict on a file differs from PyneCore's, or undefined when they agree. */
function disagreement(v: Verdict, ours: Outcome): string | undefined {
  if (v.accepted) {
    if (!ours.accepted) {
      return `PyneCore reads ${v.count} records, we refuse: ${
        (ours.error as Error).message
      }`;
    }
    return rowDifference(ours.batch, v.decoded!);
  }
  if (ours.accepted) {
    return `PyneCore refuses (${v.error}), we read ${ours.batch.time.length} records`;
  }
  return undefined;
}

Deno.test("the verdict set is complete: 400 mutations, each with its file and a well-formed verdict", () => {
  assert.equal(names.length, 400);
  const files = readdirSync(DIR).filter((f) => f.endsWith(".ohlcv")).sort();
  assert.deepEqual(files, names, "one .ohlcv per verdict and no other");
  for (const name of names) {
    const v = verdicts[name]!;
    if (v.accepted) {
      assert.ok(Array.isArray(v.decoded), `${name}: accepted without rows`);
      assert.equal(v.decoded!.length, v.count, `${name}: count`);
    } else {
      assert.match(v.error!, /^\w+Error: /, `${name}: refused without error`);
    }
  }
  for (const name of Object.keys(EXPECTED_DISAGREEMENTS)) {
    assert.ok(name in verdicts, `${name} is listed but not a mutation`);
  }
});

Deno.test("OhlcvReader agrees with PyneCore on every mutation but the documented ones", async () => {
  const undocumented: string[] = [];
  const notDiffering: string[] = [];
  let agree = 0, bothAccept = 0;
  for (const name of names) {
    const v = verdicts[name]!;
    const path = join(DIR, name);
    const ours = await readWithUs(path);
    if (!ours.accepted && !(ours.error instanceof FormatError)) {
      assert.fail(`${name}: refused with ${ours.error}, not a FormatError`);
    }
    if (!ours.accepted) {
      // Refusals are one clean line naming the file.
      const msg = (ours.error as FormatError).message;
      assert.ok(msg.startsWith(`Cannot open ${path}: `), `${name}: ${msg}`);
      assert.doesNotMatch(msg, /undefined|NaN|\[object|\n/, `${name}: ${msg}`);
    }
    const why = disagreement(v, ours);
    const expected = EXPECTED_DISAGREEMENTS[name];
    if (why === undefined) {
      agree++;
      if (v.accepted) bothAccept++;
      if (expected !== undefined) notDiffering.push(name);
    } else if (expected === undefined) {
      undocumented.push(
        `${name} (${v.source}, ${v.mutation}): ${why.replace(DIR, "")}`,
      );
    }
  }
  assert.deepEqual(undocumented, [], "undocumented disagreements");
  assert.deepEqual(
    notDiffering,
    [],
    "listed as deliberate disagreements but agreeing (update the list)",
  );
  const listed = Object.keys(EXPECTED_DISAGREEMENTS).length;
  assert.equal(agree, names.length - listed);
  assert.equal(
    bothAccept,
    names.filter((n) => verdicts[n]!.accepted).length - listed,
  );
  console.log(
    `agreement with PyneCore: ${agree} of ${names.length} (${bothAccept} read identically by both, ${listed} documented differences)`,
  );
});

for (const [name, reason] of Object.entries(EXPECTED_DISAGREEMENTS)) {
  Deno.test(`deliberate difference ${name}: ${reason}`, async () => {
    const v = verdicts[name]!;
    const path = join(DIR, name);
    assert.equal(v.accepted, true, "PyneCore reads it");
    const bytes = readFileSync(path);
    const source = readFileSync(
      new URL(`./fixtures/pynecore/${v.source}`, import.meta.url),
    );
    // A v2 source whose first eight bytes were hit; the rest of the magic
    // position still starts with 89 50.
    assert.equal(source[0], 0x89);
    assert.notDeepEqual(bytes.subarray(0, 8), source.subarray(0, 8));
    assert.deepEqual([bytes[0], bytes[1]], [0x89, 0x50]);
    assert.equal(v.count, Math.floor(bytes.length / 24), "read as v1 records");
    await assert.rejects(OhlcvReader.open(path), (err: unknown) => {
      assert.ok(err instanceof FormatError, `got ${err}`);
      assert.match(err.message, /v2 file with a damaged header/);
      return true;
    });
    assert.equal(await ohlcvRecordCount(path), 0);
  });
}

Deno.test("legacy v1 mutations with a partial last record are read as their whole records, like PyneCore", async () => {
  const partial = names.filter((n) =>
    verdicts[n]!.source.startsWith("legacy_v1") &&
    readFileSync(join(DIR, n)).length % 24 !== 0
  );
  // Truncated and appended-to copies of the legacy fixture.
  assert.ok(partial.length >= 10, `only ${partial.length} such mutations`);
  for (const name of partial) {
    const v = verdicts[name]!;
    const path = join(DIR, name);
    await using reader = await OhlcvReader.open(path);
    assert.equal(reader.info.format, "v1");
    assert.equal(reader.count, Math.floor(readFileSync(path).length / 24));
    assert.equal(reader.count, v.count, name);
    assert.equal(
      rowDifference(await reader.read(), v.decoded!),
      undefined,
      name,
    );
  }
});

Deno.test("OhlcvWriter refuses every mutation we refuse, and legacy v1 ones, leaving them untouched", async () => {
  const dir = await Deno.makeTempDir();
  try {
    let checked = 0;
    for (const name of names) {
      const src = join(DIR, name);
      const ours = await readWithUs(src);
      if (ours.accepted && ours.format === "v2") continue;
      const path = join(dir, name);
      await Deno.copyFile(src, path);
      const before = await Deno.readFile(path);
      await assert.rejects(
        OhlcvWriter.open(path, { period: "1", durable: false }),
        FormatError,
        name,
      );
      assert.deepEqual(await Deno.readFile(path), before, name);
      await Deno.remove(path);
      checked++;
    }
    assert.ok(checked > 200, `only ${checked} files checked`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
