import { ProvaraError } from './errors.ts';
import { type JsonObject, type JsonValue, PyFloat } from './json-value.ts';

/** CPython's default `sys.int_max_str_digits`: `json.loads` refuses longer ints, so we do too. */
const MAX_INT_DIGITS = 4300;

/**
 * Parses JSON text the way Python's `json.loads` reads it, into the tagged tree (json-value.ts).
 *
 * Signed Provara data must never go through `JSON.parse`: it turns `1.0` into `1` and rounds
 * `9007199254740993`, so the canonical bytes — and the signature — change (PROVARA.md §1.3).
 * Differences from Python, all on inputs Python accepts but cannot canonicalize:
 * `NaN`/`Infinity` literals and floats that overflow to infinity are rejected here (Python accepts them
 * and crashes later at `json.dumps(allow_nan=False)`), and so are lone surrogates (Python accepts them and
 * crashes at UTF-8 encoding). Duplicate keys are last-wins like Python, keeping the first key's position.
 *
 * @example parseJson('{"c":1.0}') // Map { 'c' => PyFloat(1) }
 */
export function parseJson(text: string): JsonValue {
  const p = new Parser(text);
  p.ws();
  const v = p.value(0);
  p.ws();
  if (p.i !== text.length) p.fail('unexpected data after the JSON value');
  return v;
}

/** Decodes UTF-8 strictly (Python reads vault files as UTF-8 and fails on invalid bytes), then parses. */
export function parseJsonBytes(bytes: Uint8Array): JsonValue {
  return parseJson(decodeUtf8(bytes));
}

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function decodeUtf8(bytes: Uint8Array): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw new ProvaraError('JSON_INVALID_UTF8', 'the data is not valid UTF-8');
  }
}

const MAX_DEPTH = 512;
const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/y;

class Parser {
  i = 0;
  constructor(readonly s: string) {}

  fail(
    msg: string,
    code: 'JSON_SYNTAX' | 'JSON_NON_FINITE' | 'JSON_LONE_SURROGATE' | 'JSON_INT_TOO_LONG' = 'JSON_SYNTAX',
  ): never {
    throw new ProvaraError(code, `${msg} at offset ${this.i}`, { offset: this.i });
  }

  ws(): void {
    const s = this.s;
    for (;;) {
      const c = s.charCodeAt(this.i);
      // Python's json whitespace is exactly these four.
      if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) this.i++;
      else return;
    }
  }

  value(depth: number): JsonValue {
    if (depth > MAX_DEPTH) this.fail('nesting too deep');
    const c = this.s.charCodeAt(this.i);
    switch (c) {
      case 0x7b:
        return this.object(depth);
      case 0x5b:
        return this.array(depth);
      case 0x22:
        return this.string();
      case 0x74:
        return this.literal('true', true);
      case 0x66:
        return this.literal('false', false);
      case 0x6e:
        return this.literal('null', null);
      case 0x4e: // NaN
      case 0x49: // Infinity
        this.fail('NaN and Infinity cannot be canonicalized', 'JSON_NON_FINITE');
        break;
      default:
        if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    }
    return this.fail(Number.isNaN(c) ? 'unexpected end of data' : 'unexpected character');
  }

  literal<T extends JsonValue>(word: string, v: T): T {
    if (!this.s.startsWith(word, this.i)) this.fail('unexpected literal');
    this.i += word.length;
    return v;
  }

  number(): JsonValue {
    if (this.s.startsWith('-Infinity', this.i))
      this.fail('-Infinity cannot be canonicalized', 'JSON_NON_FINITE');
    NUMBER.lastIndex = this.i;
    const m = NUMBER.exec(this.s);
    if (!m) return this.fail('malformed number');
    const tok = m[0];
    this.i += tok.length;
    if (m[1] === undefined && m[2] === undefined) {
      const digits = tok.startsWith('-') ? tok.length - 1 : tok.length;
      if (digits > MAX_INT_DIGITS) this.fail('integer longer than Python accepts', 'JSON_INT_TOO_LONG');
      return BigInt(tok); // "-0" becomes 0n, as Python's int does
    }
    const x = Number(tok);
    if (!Number.isFinite(x)) this.fail('float overflows to infinity', 'JSON_NON_FINITE');
    return new PyFloat(x);
  }

  string(): string {
    const s = this.s;
    let i = this.i + 1;
    let out = '';
    let start = i;
    for (;;) {
      const c = s.charCodeAt(i);
      if (Number.isNaN(c)) {
        this.i = i;
        this.fail('unterminated string');
      }
      if (c === 0x22) break;
      if (c < 0x20) {
        this.i = i;
        this.fail('control character in string'); // json.loads(strict=True)
      }
      if (c >= 0xd800 && c <= 0xdfff) {
        const next = s.charCodeAt(i + 1);
        if (c <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
          i += 2;
          continue;
        }
        this.i = i;
        this.fail('lone surrogate', 'JSON_LONE_SURROGATE');
      }
      if (c !== 0x5c) {
        i++;
        continue;
      }
      out += s.slice(start, i);
      const e = s.charCodeAt(i + 1);
      i += 2;
      switch (e) {
        case 0x22:
          out += '"';
          break;
        case 0x5c:
          out += '\\';
          break;
        case 0x2f:
          out += '/';
          break;
        case 0x62:
          out += '\b';
          break;
        case 0x66:
          out += '\f';
          break;
        case 0x6e:
          out += '\n';
          break;
        case 0x72:
          out += '\r';
          break;
        case 0x74:
          out += '\t';
          break;
        case 0x75: {
          const u = this.hex4(i);
          i += 4;
          if (u >= 0xd800 && u <= 0xdbff && s.charCodeAt(i) === 0x5c && s.charCodeAt(i + 1) === 0x75) {
            const lo = this.hex4(i + 2);
            if (lo >= 0xdc00 && lo <= 0xdfff) {
              out += String.fromCharCode(u, lo);
              i += 6;
              break;
            }
          }
          if (u >= 0xd800 && u <= 0xdfff) {
            this.i = i;
            this.fail('lone surrogate escape', 'JSON_LONE_SURROGATE');
          }
          out += String.fromCharCode(u);
          break;
        }
        default:
          this.i = i - 1;
          this.fail('invalid escape');
      }
      start = i;
    }
    out += s.slice(start, i);
    this.i = i + 1;
    return out;
  }

  hex4(at: number): number {
    const h = this.s.slice(at, at + 4);
    if (!/^[0-9a-fA-F]{4}$/.test(h)) {
      this.i = at;
      this.fail('invalid \\u escape');
    }
    return Number.parseInt(h, 16);
  }

  array(depth: number): JsonValue[] {
    this.i++;
    const out: JsonValue[] = [];
    this.ws();
    if (this.s.charCodeAt(this.i) === 0x5d) {
      this.i++;
      return out;
    }
    for (;;) {
      this.ws();
      out.push(this.value(depth + 1));
      this.ws();
      const c = this.s.charCodeAt(this.i++);
      if (c === 0x5d) return out;
      if (c !== 0x2c) {
        this.i--;
        this.fail("expected ',' or ']'");
      }
    }
  }

  object(depth: number): JsonObject {
    this.i++;
    const out: JsonObject = new Map();
    this.ws();
    if (this.s.charCodeAt(this.i) === 0x7d) {
      this.i++;
      return out;
    }
    for (;;) {
      this.ws();
      if (this.s.charCodeAt(this.i) !== 0x22) this.fail('expected a string key');
      const k = this.string();
      this.ws();
      if (this.s.charCodeAt(this.i++) !== 0x3a) {
        this.i--;
        this.fail("expected ':'");
      }
      this.ws();
      out.set(k, this.value(depth + 1)); // Map.set keeps the first position, last value: Python's dict
      this.ws();
      const c = this.s.charCodeAt(this.i++);
      if (c === 0x7d) return out;
      if (c !== 0x2c) {
        this.i--;
        this.fail("expected ',' or '}'");
      }
    }
  }
}
