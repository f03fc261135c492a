/**
 * Text mutations shared by the CSV, JSON and TOML targets of the fuzz
 * bench: line and character helpers, the operators common to line-based
 * texts (truncation, deleted / duplicated / swapped lines, appended junk,
 * line endings, BOM, NUL) and the stacking of operators from a table.
 *
 * @module
 */

import { type Rng, weighted } from "./_prng.ts";

/** One text mutation. */
export type TextOp = (r: Rng, t: string) => string;

/** `t` with its lines (split on `\n`) changed in place by `f`. */
export function lineOp(t: string, f: (lines: string[]) => void): string {
  const lines = t.split("\n");
  f(lines);
  return lines.join("\n");
}

/** `t` with one character replaced by one of `chars` (now and then by any UTF-16 unit). */
export function charAt(r: Rng, t: string, chars: string): string {
  if (t.length === 0) return r.pick([...chars]);
  const i = r.int(t.length);
  const c = r.chance(0.8)
    ? r.pick([...chars])
    : String.fromCharCode(r.int(0x10000));
  return t.slice(0, i) + c + t.slice(i + 1);
}

/** The operators of every line-based text target. */
export const TEXT_COMMON: readonly [number, string, TextOp][] = [
  [4, "truncate", (r, t) => t.slice(0, r.int(t.length + 1))],
  [4, "delete line", (r, t) =>
    lineOp(t, (l) => {
      l.splice(r.int(l.length), r.range(1, 3));
    })],
  [4, "duplicate line", (r, t) =>
    lineOp(t, (l) => {
      const i = r.int(l.length);
      l.splice(r.int(l.length + 1), 0, l[i]!);
    })],
  [3, "swap lines", (r, t) =>
    lineOp(t, (l) => {
      const i = r.int(l.length), j = r.int(l.length);
      [l[i], l[j]] = [l[j]!, l[i]!];
    })],
  [
    3,
    "append junk",
    (r, t) =>
      t +
      r.pick([
        "\n",
        "junk",
        "\u0000\u0001",
        "\ufffd",
        "[1,2]",
        "}",
        "\n\n\n",
        "a = 1\n",
      ]).repeat(
        r.range(1, 4),
      ),
  ],
  [
    2,
    "line endings",
    (r, t) =>
      r.chance(0.5)
        ? t.replace(/\r?\n/g, r.pick(["\r\n", "\r", "\n\r"]))
        : t.replace(/\r\n/g, "\n"),
  ],
  [1, "BOM", (_r, t) => "\ufeff" + t],
  [1, "NUL", (r, t) => {
    const i = r.int(t.length + 1);
    return t.slice(0, i) + "\u0000" + t.slice(i);
  }],
];

/** `count` operators of `table`, picked by weight, applied in turn; their names go to `ops`. */
export function applyTextOps(
  r: Rng,
  text: string,
  table: readonly [number, string, TextOp][],
  count: number,
  ops: string[],
): string {
  for (let k = 0; k < count; k++) {
    const [name, op] = weighted(r, table);
    text = op(r, text);
    ops.push(name);
  }
  return text;
}
