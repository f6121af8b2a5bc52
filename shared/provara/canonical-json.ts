import { ProvaraError } from './errors.ts';
import { type JsonValue, PyFloat } from './json-value.ts';
import { pythonFloatRepr } from './python-float-repr.ts';

/**
 * Provara's canonical JSON: Python's `json.dumps(sort_keys=True, separators=(",", ":"),
 * ensure_ascii=False, allow_nan=False)`, byte for byte (PROVARA.md §1.2). It is "JCS-like" only:
 * keys sort by code point (RFC 8785 sorts by UTF-16 unit), floats print as Python `repr`, and ints
 * are unbounded.
 *
 * @example canonicalize(parseJson('{"b":1e-7,"a":[true,null]}')) === '{"a":[true,null],"b":1e-07}'
 */
export function canonicalize(value: JsonValue): string {
  return write(value);
}

const encoder = new TextEncoder();

/** The UTF-8 bytes that are hashed and signed. */
export function canonicalBytes(value: JsonValue): Uint8Array {
  return encoder.encode(canonicalize(value));
}

/**
 * Code-point order. UTF-16 order differs only when a surrogate (U+D800–DFFF, i.e. a char above U+FFFF)
 * meets a unit in U+E000–FFFF: Python puts `"😀"` after `"￿"`, a UTF-16 sort puts it before.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800) x += x >= 0xe000 ? -0x800 : 0x2000;
    if (y >= 0xd800) y += y >= 0xe000 ? -0x800 : 0x2000;
    return x - y;
  }
  return a.length - b.length;
}

// Python escapes only '"', '\\' and U+0000–001F; "/", U+007F and U+2028/2029 pass through raw.
// biome-ignore lint/suspicious/noControlCharactersInRegex: the control range is exactly what is escaped
const NEEDS_ESCAPE = /["\\\u0000-\u001f]/g;
const SHORT: Record<string, string> = {
  '"': '\\"',
  '\\': '\\\\',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\b': '\\b',
  '\f': '\\f',
};

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

export function quoteString(s: string): string {
  if (LONE_SURROGATE.test(s)) {
    // Python accepts "\ud800" when parsing but fails to encode it as UTF-8.
    throw new ProvaraError('JSON_NOT_REPRESENTABLE', 'a string contains a lone surrogate');
  }
  return `"${s.replace(NEEDS_ESCAPE, (c) => SHORT[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)}"`;
}

function write(v: JsonValue): string {
  if (v === null) return 'null';
  if (v === true) return 'true';
  if (v === false) return 'false';
  if (typeof v === 'string') return quoteString(v);
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof PyFloat) return pythonFloatRepr(v.value);
  if (Array.isArray(v)) return `[${v.map(write).join(',')}]`;
  if (v instanceof Map) {
    const keys = [...v.keys()].sort(compareCodePoints);
    return `{${keys.map((k) => `${quoteString(k)}:${write(v.get(k) as JsonValue)}`).join(',')}}`;
  }
  throw new ProvaraError('JSON_NOT_REPRESENTABLE', `a ${typeof v} is not a JSON value`);
}
