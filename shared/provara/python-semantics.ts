import { type JsonValue, PyFloat } from './json-value.ts';
import { pythonFloatRepr } from './python-float-repr.ts';

/**
 * The bits of Python the reference reducer leans on, over tagged JSON values. They decide state hashes, so
 * "close enough" is not: `{}` and `[]` are falsy, `True == 1 == 1.0`, `str(True)` is `"True"`.
 */

/** Python truthiness. Unlike JS, empty containers and `0.0` are false. */
export function pyTruthy(v: JsonValue | undefined): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') return v.length > 0;
  if (typeof v === 'bigint') return v !== 0n;
  if (v instanceof PyFloat) return v.value !== 0;
  if (Array.isArray(v)) return v.length > 0;
  return v.size > 0;
}

/** `a or b` in Python: the first truthy operand, else the last one. */
export function pyOr(...vs: (JsonValue | undefined)[]): JsonValue | undefined {
  for (const v of vs) if (pyTruthy(v)) return v;
  return vs[vs.length - 1];
}

function asNumberish(v: JsonValue): bigint | number | undefined {
  if (typeof v === 'boolean') return v ? 1n : 0n;
  if (typeof v === 'bigint') return v;
  if (v instanceof PyFloat) return v.value;
  return undefined;
}

/** Python `==` over JSON values: deep, and numeric across bool/int/float with exact int↔float comparison. */
export function pyEquals(a: JsonValue | undefined, b: JsonValue | undefined): boolean {
  if (a === undefined || b === undefined) return a === b || (a ?? null) === (b ?? null);
  const na = asNumberish(a);
  const nb = asNumberish(b);
  if (na !== undefined || nb !== undefined) {
    if (na === undefined || nb === undefined) return false;
    if (typeof na === 'bigint' && typeof nb === 'bigint') return na === nb;
    if (typeof na === 'number' && typeof nb === 'number') return na === nb;
    const f = typeof na === 'number' ? na : (nb as number);
    const i = typeof na === 'bigint' ? na : (nb as bigint);
    return Number.isInteger(f) && BigInt(f) === i;
  }
  if (a === null || typeof a === 'string') return a === b;
  if (Array.isArray(a))
    return Array.isArray(b) && a.length === b.length && a.every((x, i) => pyEquals(x, b[i]));
  if (!(a instanceof Map) || !(b instanceof Map) || a.size !== b.size) return false;
  for (const [k, v] of a) if (!b.has(k) || !pyEquals(v, b.get(k))) return false;
  return true;
}

/** Python `str()`. */
export function pyStr(v: JsonValue): string {
  return typeof v === 'string' ? v : pyRepr(v);
}

/** Python `repr()` of the value Python's json module would have built. */
export function pyRepr(v: JsonValue): string {
  if (v === null) return 'None';
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof PyFloat) {
    if (Number.isNaN(v.value)) return 'nan';
    if (!Number.isFinite(v.value)) return v.value > 0 ? 'inf' : '-inf';
    return pythonFloatRepr(v.value);
  }
  if (typeof v === 'string') return reprString(v);
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  return `{${[...v].map(([k, x]) => `${reprString(k)}: ${pyRepr(x)}`).join(', ')}}`;
}

// str.isprintable() is false for these categories (space excepted).
const NON_PRINTABLE = /[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]/u;

function reprString(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    if (ch === quote || ch === '\\') out += `\\${ch}`;
    else if (ch === '\t') out += '\\t';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch !== ' ' && NON_PRINTABLE.test(ch)) {
      if (cp < 0x100) out += `\\x${cp.toString(16).padStart(2, '0')}`;
      else if (cp < 0x10000) out += `\\u${cp.toString(16).padStart(4, '0')}`;
      else out += `\\U${cp.toString(16).padStart(8, '0')}`;
    } else out += ch;
  }
  return out + quote;
}

/** Python `str.isspace` characters, which `float()` strips (JS `\s` differs: it has U+FEFF, lacks U+001C–1F). */
const PY_SPACE_CLASS =
  '[\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]';
const PY_SPACE = new RegExp(`^${PY_SPACE_CLASS}+|${PY_SPACE_CLASS}+$`, 'g');
const PY_FLOAT_TEXT = /^[+-]?(?:(?:\d(?:_?\d)*)?\.\d(?:_?\d)*|\d(?:_?\d)*\.?)(?:[eE][+-]?\d(?:_?\d)*)?$/;
const DECIMAL_DIGIT = /\p{Nd}/u;

/** Unicode decimal digits come in aligned runs of ten, starting at the digit zero. */
function toAsciiDigits(s: string): string {
  let out = '';
  for (const ch of s) {
    const cp = ch.codePointAt(0) ?? 0;
    if (cp > 0x7f && DECIMAL_DIGIT.test(ch)) {
      let zero = cp;
      while (zero > 0 && DECIMAL_DIGIT.test(String.fromCodePoint(zero - 1)) && cp - zero < 9) zero--;
      out += String((cp - zero) % 10);
    } else out += ch;
  }
  return out;
}

/**
 * Python `float(x)` for a JSON value: a number, or `undefined` where Python raises TypeError/ValueError.
 * Strings follow Python's grammar: surrounding whitespace, `_` between digits (`"1_0"` is 10.0),
 * `inf`/`infinity`/`nan` in any case, and non-ASCII decimal digits.
 */
export function pyFloatOf(v: JsonValue): number | undefined {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'bigint') {
    const x = Number(v);
    // float(10**400) raises OverflowError, which the reducer does not catch: it crashes.
    if (!Number.isFinite(x)) throw new RangeError('int too large to convert to float');
    return x;
  }
  if (v instanceof PyFloat) return v.value;
  if (typeof v !== 'string') return undefined;
  const t = toAsciiDigits(v.replace(PY_SPACE, ''));
  const special = /^([+-]?)(inf|infinity|nan)$/i.exec(t);
  if (special) {
    if ((special[2] ?? '').toLowerCase() === 'nan') return Number.NaN;
    return special[1] === '-' ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
  }
  if (!PY_FLOAT_TEXT.test(t)) return undefined;
  return Number(t.replace(/_/g, ''));
}
