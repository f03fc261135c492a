/**
 * The symbol-info TOML mutations of the fuzz bench: values of the wrong
 * type, number tweaks, table headers, uncommented keys, deep nesting (on
 * top of the common text operators), and the input of one TOML trial.
 *
 * @module
 */

import type { Corpus, Mutated } from "./_corpus.ts";
import { opCount, Rng, trialSeed } from "./_prng.ts";
import {
  applyTextOps,
  charAt,
  lineOp,
  TEXT_COMMON,
  type TextOp,
} from "./_text_ops.ts";

const TOML_TYPED_VALUES = [
  '"str"',
  '""',
  "'literal'",
  '"""multi\nline"""',
  "0",
  "-1",
  "+1",
  "-0",
  "1.5",
  "0.1",
  "1e400",
  "inf",
  "-inf",
  "nan",
  "true",
  "false",
  "[]",
  '[1, "a"]',
  "[[1], [2]]",
  "{}",
  "{ a = 1 }",
  "1979-05-27",
  "07:32:00",
  "1979-05-27T07:32:00Z",
  "1979-05-27T07:32:00.999-07:00",
  "9223372036854775807",
  "9223372036854775808",
  "4294967295",
  "4294967296",
  "0x7fffffff",
  "0o777",
  "1_000",
  "7",
  '"24:00:00"',
  '"23:59:60"',
  '"1:2:3"',
  '"00:00:00"',
  '"\\u0000"',
  '"1H"',
  '"0D"',
  '"1D"',
  '["2024-01-01T00:00:00Z", "2023-01-01T00:00:00Z"]',
  '[["2024-13-45T99:99:00Z", "2024-01-02T00:00:00Z"]]',
];

const TOML_CHARS = "\"'=[]{}.,#\n\\ 0123456789abcxyz-:_+";

const KEY_LINE = /^(\s*)([A-Za-z_][\w-]*)(\s*=\s*)(.*)$/;

const TOML_OPS: readonly [number, string, TextOp][] = [
  ...TEXT_COMMON,
  [10, "char flip", (r, t) => charAt(r, t, TOML_CHARS)],
  [4, "bit flip", (r, t) => {
    if (t.length === 0) return t;
    const i = r.int(t.length);
    return t.slice(0, i) +
      String.fromCharCode(t.charCodeAt(i) ^ (1 << r.int(7))) + t.slice(i + 1);
  }],
  [14, "wrong type", (r, t) =>
    lineOp(t, (lines) => {
      const keyed = lines.map((l, i) => [l, i] as const).filter(([l]) =>
        KEY_LINE.test(l)
      );
      if (keyed.length === 0) return;
      const [line, i] = r.pick(keyed);
      const m = KEY_LINE.exec(line)!;
      lines[i] = `${m[1]}${m[2]}${m[3]}${r.pick(TOML_TYPED_VALUES)}`;
    })],
  [5, "number tweak", (r, t) =>
    lineOp(t, (lines) => {
      const keyed = lines.map((l, i) => [l, i] as const).filter(([l]) =>
        /=\s*-?[\d.]+\s*$/.test(l)
      );
      if (keyed.length === 0) return;
      const [line, i] = r.pick(keyed);
      const m = KEY_LINE.exec(line);
      if (!m) return;
      const x = Number(m[4]);
      const y = r.pick([x + 1, x - 1, x * 10, x / 10, -x, 0, 7, 2 ** 32, 0.5]);
      lines[i] = `${m[1]}${m[2]}${m[3]}${
        Number.isInteger(y) ? y : y.toFixed(8)
      }`;
    })],
  [4, "table header", (r, t) =>
    lineOp(t, (lines) => {
      const heads = lines.map((l, i) => [l, i] as const).filter(([l]) =>
        /^\[/.test(l)
      );
      if (heads.length === 0) return;
      const [line, i] = r.pick(heads);
      const name = line.replace(/[[\]]/g, "");
      lines[i] = r.pick([
        `[${name}]`,
        `[[${name}]]`,
        `[${name}.x]`,
        "[symbol]",
        "[[symbol]]",
        "[download]",
        "[coverage]",
        "",
        `[${name}`,
      ]);
    })],
  [3, "uncomment", (r, t) =>
    lineOp(t, (lines) => {
      const c = lines.map((l, i) => [l, i] as const).filter(([l]) =>
        /^#\w+ =/.test(l)
      );
      if (c.length === 0) return;
      const [line, i] = r.pick(c);
      lines[i] = line.slice(1) +
        (r.chance(0.7) ? ` ${r.pick(TOML_TYPED_VALUES)}` : "");
    })],
  [2, "deep nesting", (r, t) => {
    const n = r.range(50, 5000);
    return t + `\ndeep = ${"[".repeat(n)}${"]".repeat(n)}\n`;
  }],
];

/** The input of one TOML trial. */
export function mutateToml(
  corpus: Corpus,
  seed: number,
  trial: number,
): Mutated<string> {
  const r = new Rng(trialSeed(seed, "toml", trial));
  const s = r.pick(corpus.toml);
  const ops: string[] = [];
  const input = applyTextOps(r, s.text, TOML_OPS, opCount(r), ops);
  return { input, source: s.name, ops, preserving: false };
}
