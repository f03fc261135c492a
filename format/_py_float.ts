/**
 * Python's `repr(float)`, which PyneCore's CSV and JSON exports use:
 * shortest round-trip digits, always a `.0` or an exponent, exponent form
 * below 1e-4 and from 1e16 (`1e-05`, `1.5e+16`).
 *
 * @module
 */

/** Formats a number exactly as Python's `repr(float(x))` does. */
export function pyFloatRepr(x: number): string {
  const a = Math.abs(x);
  if (a >= 1e-4 && a < 1e16) {
    // JavaScript prints the same shortest digits in plain notation here.
    const s = String(x);
    return s.includes(".") ? s : s + ".0";
  }
  if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
  if (Number.isNaN(x)) return "nan";
  if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
  const e = a.toExponential(); // shortest round-trip digits: "d.ddde+N"
  const at = e.indexOf("e");
  const mant = e.slice(0, at);
  const exp = Number(e.slice(at + 1));
  const digits = mant.replace(".", "");
  const sign = x < 0 ? "-" : "";
  const decpt = exp + 1;
  if (decpt > -4 && decpt <= 16) {
    // Not reached for finite x outside the fast path, kept for completeness.
    if (decpt <= 0) return `${sign}0.${"0".repeat(-decpt)}${digits}`;
    if (decpt >= digits.length) {
      return `${sign}${digits}${"0".repeat(decpt - digits.length)}.0`;
    }
    return `${sign}${digits.slice(0, decpt)}.${digits.slice(decpt)}`;
  }
  const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const ae = Math.abs(exp);
  return `${sign}${m}e${exp < 0 ? "-" : "+"}${ae < 10 ? "0" : ""}${ae}`;
}

/** Formats a timestamp (ms) like Python's `repr(int)`. */
export function pyIntRepr(x: number): string {
  return Number.isInteger(x) ? String(x) : pyFloatRepr(x);
}
