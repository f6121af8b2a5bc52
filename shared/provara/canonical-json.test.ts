import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { toHex } from '../encoding/bytes.ts';
import { canonicalBytes, canonicalize } from './canonical-json.ts';
import { ProvaraError } from './errors.ts';
import { parseJson } from './json-parse.ts';
import { type JsonValue, pyFloat, toJson } from './json-value.ts';
import { pythonFloatRepr } from './python-float-repr.ts';

const VECTORS = '../shared/vectors/provara/test_vectors';
const load = (name: string) =>
  parseJson(readFileSync(`${VECTORS}/${name}`, 'utf8')) as Map<string, JsonValue>;
const vectorsOf = (doc: Map<string, JsonValue>) => doc.get('vectors') as Map<string, JsonValue>[];

function rejects(text: string, code: string) {
  try {
    parseJson(text);
  } catch (e) {
    expect(e).toBeInstanceOf(ProvaraError);
    expect((e as ProvaraError).code).toBe(code);
    return;
  }
  throw new Error(`parseJson(${text}) did not throw`);
}

describe('canonical_conformance.json (upstream)', () => {
  for (const v of vectorsOf(load('canonical_conformance.json'))) {
    it(`${v.get('id') as string}: ${v.get('description') as string}`, () => {
      expect(toHex(canonicalBytes(v.get('input') as JsonValue))).toBe(v.get('expected_hex'));
    });
  }
});

describe('vectors.json canonical_json_01 (upstream)', () => {
  it('canonicalizes the mixed object to the expected bytes', () => {
    const v = vectorsOf(load('vectors.json')).find((x) => x.get('id') === 'canonical_json_01');
    expect(toHex(canonicalBytes(v?.get('input') as JsonValue))).toBe(v?.get('expected'));
  });
});

describe('Python float repr (PROVARA.md §1.2)', () => {
  const table: [number, string][] = [
    [1e-7, '1e-07'],
    [1e16, '1e+16'],
    [0.00001, '1e-05'],
    [0.0001, '0.0001'],
    [1, '1.0'],
    [100, '100.0'],
    [1e15, '1000000000000000.0'],
    [1.5e-7, '1.5e-07'],
    [1.5e300, '1.5e+300'],
    [5e-324, '5e-324'],
    [1.7976931348623157e308, '1.7976931348623157e+308'],
    [-0, '-0.0'],
    [0, '0.0'],
    [0.1, '0.1'],
    [123.456, '123.456'],
    [-2.5e-5, '-2.5e-05'],
    [1e21, '1e+21'],
  ];
  for (const [x, s] of table) it(`writes ${x} as ${s}`, () => expect(pythonFloatRepr(x)).toBe(s));

  it('refuses NaN and infinities when writing', () => {
    for (const x of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      expect(() => pythonFloatRepr(x)).toThrow(expect.objectContaining({ code: 'JSON_NOT_REPRESENTABLE' }));
    }
  });
});

describe('parse → canonicalize keeps the §1.2 cases byte for byte', () => {
  const cases: [string, string][] = [
    ['1e-7', '1e-07'],
    ['1e16', '1e+16'],
    ['0.00001', '1e-05'],
    ['123456789012345678901', '123456789012345678901'],
    ['9007199254740993', '9007199254740993'],
    ['-0', '0'],
    ['-0.0', '-0.0'],
    ['1.0', '1.0'],
    ['100.0', '100.0'],
    ['1.5e300', '1.5e+300'],
    ['1E2', '100.0'],
    ['[1,1.0,true]', '[1,1.0,true]'],
  ];
  for (const [input, out] of cases)
    it(`${input} → ${out}`, () => expect(canonicalize(parseJson(input))).toBe(out));

  it('sorts keys by code point, not UTF-16 unit (😀 after U+FFFF)', () => {
    expect(canonicalize(parseJson('{"😀":2,"￿":1,"é":4,"a":3}'))).toBe('{"a":3,"é":4,"￿":1,"😀":2}');
  });

  it('escapes only quote, backslash and controls (lowercase hex); keeps / U+007F U+2028 raw', () => {
    const s = parseJson('"a\\"b\\\\c\\u0001\\u001f\\/\u007f\u2028\\b\\f\\n\\r\\t"');
    expect(canonicalize(s)).toBe('"a\\"b\\\\c\\u0001\\u001f/\u007f\u2028\\b\\f\\n\\r\\t"');
  });

  it('keeps the last of duplicate keys, as json.loads does', () => {
    expect(canonicalize(parseJson('{"a":1,"b":2,"a":3}'))).toBe('{"a":3,"b":2}');
  });

  it('joins an escaped surrogate pair into one character', () => {
    expect(canonicalize(parseJson('"\\ud83d\\ude00"'))).toBe('"😀"');
  });

  it('never goes through Number for ints: 2^53+1 and 10^30 survive', () => {
    expect(canonicalize(parseJson('{"n":[9007199254740993,-1000000000000000000000000000000]}'))).toBe(
      '{"n":[9007199254740993,-1000000000000000000000000000000]}',
    );
  });
});

describe('parse rejections', () => {
  it('rejects NaN', () => rejects('NaN', 'JSON_NON_FINITE'));
  it('rejects Infinity', () => rejects('[Infinity]', 'JSON_NON_FINITE'));
  it('rejects -Infinity', () => rejects('-Infinity', 'JSON_NON_FINITE'));
  it('rejects a float that overflows to infinity', () => rejects('1e400', 'JSON_NON_FINITE'));
  it('rejects a lone surrogate escape', () => rejects('"\\ud800"', 'JSON_LONE_SURROGATE'));
  it('rejects a lone low surrogate escape', () => rejects('"x\\udc00"', 'JSON_LONE_SURROGATE'));
  it('rejects ints longer than Python’s 4300-digit limit', () =>
    rejects('1'.repeat(4301), 'JSON_INT_TOO_LONG'));
  it('rejects raw control characters in strings', () => rejects('"a\u0001"', 'JSON_SYNTAX'));
  it('rejects trailing data', () => rejects('{} {}', 'JSON_SYNTAX'));
  it('rejects leading zeros', () => rejects('01', 'JSON_SYNTAX'));
  it('rejects a trailing comma', () => rejects('[1,]', 'JSON_SYNTAX'));
  it('rejects single quotes', () => rejects("{'a':1}", 'JSON_SYNTAX'));
  it('rejects a BOM', () => rejects('\ufeff{}', 'JSON_SYNTAX'));
  it('rejects an invalid escape', () => rejects('"\\x41"', 'JSON_SYNTAX'));
});

describe('builder input', () => {
  it('refuses a fractional JS number instead of guessing int or float', () => {
    expect(() => toJson({ confidence: 0.5 })).toThrow(
      expect.objectContaining({ code: 'JSON_NOT_REPRESENTABLE' }),
    );
  });
  it('writes pyFloat(1) as 1.0 and 1 as 1', () => {
    expect(canonicalize(toJson({ f: pyFloat(1), i: 1 }))).toBe('{"f":1.0,"i":1}');
  });
  it('refuses a lone surrogate created in JS when writing', () => {
    expect(() => canonicalize('\ud800')).toThrow(expect.objectContaining({ code: 'JSON_NOT_REPRESENTABLE' }));
  });
});
