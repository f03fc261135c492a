/**
 * Private: a fast path for the common CSV text that needs no CSV parser —
 * ASCII, no quote character, one kind of line ending — giving exactly the
 * records (and line numbers) csv-parse gives for it with the importer's
 * options (`bom`, `trim`, `skip_empty_lines`, `relax_column_count`). Anything
 * else is left to csv-parse.
 *
 * @module
 */

const PLAIN_DELIMITERS = new Set([",", ";", "|", "\t"]);
// deno-lint-ignore no-control-regex
const NOT_PLAIN = /["\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\uffff]/;

/**
 * Splits `text` into trimmed records and calls `onRecord(cells, line)` for
 * each non-blank line (`line` is 1-based within `text`). Returns `false`
 * without calling anything when the text is not plain (quotes, non-ASCII or
 * control characters other than tab, a lone `\r`, mixed `\n` and `\r\n`
 * endings, or an unusual delimiter): the caller then uses csv-parse.
 */
export function parsePlainCsv(
  text: string,
  delimiter: string,
  onRecord: (cells: string[], line: number) => void,
): boolean {
  if (!PLAIN_DELIMITERS.has(delimiter)) return false;
  let start = text.charCodeAt(0) === 0xfeff ? 1 : 0; // csv-parse's `bom`
  // Only printable ASCII, tab and line ends: then trimming removes exactly
  // spaces and tabs, as csv-parse does.
  if (NOT_PLAIN.test(start === 1 ? text.slice(1) : text)) return false;
  const crlf = text.includes("\r");
  if (crlf && (/\r(?!\n)/.test(text) || /(?:^|[^\r])\n/.test(text))) {
    return false;
  }
  const cut = crlf ? 1 : 0;
  let line = 0;
  while (start < text.length) {
    let end = text.indexOf("\n", start);
    if (end === -1) end = text.length;
    line++;
    const body = text.slice(start, end - (end < text.length ? cut : 0));
    start = end + 1;
    // skip_empty_lines after trimming; with a tab delimiter a tab makes
    // empty fields, not a blank line.
    if (body.trim() === "" && (delimiter !== "\t" || !body.includes("\t"))) {
      continue;
    }
    const cells = body.split(delimiter);
    for (let i = 0; i < cells.length; i++) cells[i] = cells[i]!.trim();
    onRecord(cells, line);
  }
  return true;
}
