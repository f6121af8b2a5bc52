import { ProvaraError } from './errors.ts';

/**
 * The tagged JSON tree that every signed Provara object is parsed into and canonicalized from.
 *
 * Why not plain JS values: Python keeps `1` (int) and `1.0` (float) apart and prints them differently, and
 * its ints are unbounded (`9007199254740993` must survive). So ints are `bigint`, floats are `PyFloat`,
 * and objects are `Map`s, which keep Python's dict insertion order (it shows through `str(dict)` in the
 * reducer) even for keys like `"1"` that a JS object would move to the front.
 */
export type JsonValue = null | boolean | string | bigint | PyFloat | JsonValue[] | JsonObject;
export type JsonObject = Map<string, JsonValue>;

/** A Python `float`. JS `number` alone cannot say whether `1` was written as `1` or `1.0`. */
export class PyFloat {
  constructor(readonly value: number) {}
}

/** Marks a number as a Python float (`confidence`, thresholds): `pyFloat(1)` is written `1.0`. */
export function pyFloat(value: number): PyFloat {
  return new PyFloat(value);
}

/**
 * What builders may pass: plain objects and arrays, `bigint` or safe-integer `number` for ints, `PyFloat`
 * for floats. A fractional `number` is refused rather than guessed (provara-ts guesses with
 * `Number.isInteger` and so writes `confidence: 1` where Python writes `1.0`, PROVARA.md §1.3).
 */
export type JsonInput =
  | null
  | boolean
  | string
  | bigint
  | number
  | PyFloat
  | JsonObject
  | readonly JsonInput[]
  | { readonly [key: string]: JsonInput | undefined };

export function isJsonObject(v: JsonValue | undefined): v is JsonObject {
  return v instanceof Map;
}

/** Converts builder input into the tagged tree; `undefined` object members are left out. */
export function toJson(input: JsonInput): JsonValue {
  if (
    input === null ||
    typeof input === 'boolean' ||
    typeof input === 'string' ||
    typeof input === 'bigint'
  ) {
    return input;
  }
  if (typeof input === 'number') {
    if (!Number.isSafeInteger(input)) {
      throw new ProvaraError(
        'JSON_NOT_REPRESENTABLE',
        `the number ${input} is not a safe integer; mark floats with pyFloat() and big ints with bigint`,
      );
    }
    return BigInt(input);
  }
  if (input instanceof PyFloat) return input;
  if (input instanceof Map) return input;
  if (Array.isArray(input)) return (input as readonly JsonInput[]).map(toJson);
  const out: JsonObject = new Map();
  for (const [k, v] of Object.entries(input as { readonly [key: string]: JsonInput | undefined })) {
    if (v !== undefined) out.set(k, toJson(v));
  }
  return out;
}

/** Shallow copy of an object without the given members (the signature and event-id preimages). */
export function without(obj: JsonObject, ...keys: string[]): JsonObject {
  const out: JsonObject = new Map(obj);
  for (const k of keys) out.delete(k);
  return out;
}

/** The string member `key`, or undefined when it is absent or not a string. */
export function stringField(obj: JsonObject, key: string): string | undefined {
  const v = obj.get(key);
  return typeof v === 'string' ? v : undefined;
}

export function objectField(obj: JsonObject, key: string): JsonObject | undefined {
  const v = obj.get(key);
  return v instanceof Map ? v : undefined;
}

/** Converts a tagged value to plain JS for display (`--json` output); never used for signed bytes. */
export function toPlain(v: JsonValue): unknown {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return v;
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : v.toString();
  if (v instanceof PyFloat) return v.value;
  if (Array.isArray(v)) return v.map(toPlain);
  const out: Record<string, unknown> = {};
  for (const [k, x] of v)
    Object.defineProperty(out, k, { value: toPlain(x), enumerable: true, writable: true });
  return out;
}
