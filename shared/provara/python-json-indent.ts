import { quoteString } from './canonical-json.ts';
import { type JsonValue, PyFloat } from './json-value.ts';
import { pythonFloatRepr } from './python-float-repr.ts';

/**
 * `json.dumps(value, indent=2, ensure_ascii=False) + "\n"`: how Provara writes genesis.json, keys.json and
 * the policy files. Unlike canonical JSON, keys keep insertion order. These bytes are not signed, but the
 * manifest hashes them, so matching Python keeps a vault's manifest reproducible by either implementation.
 */
export function pythonJsonIndent(value: JsonValue): string {
  return `${write(value, '')}\n`;
}

function write(v: JsonValue, indent: string): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'string') return quoteString(v);
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof PyFloat) return pythonFloatRepr(v.value);
  const inner = `${indent}  `;
  if (Array.isArray(v)) {
    if (v.length === 0) return '[]';
    return `[\n${v.map((x) => inner + write(x, inner)).join(',\n')}\n${indent}]`;
  }
  if (v.size === 0) return '{}';
  const items = [...v].map(([k, x]) => `${inner}${quoteString(k)}: ${write(x, inner)}`);
  return `{\n${items.join(',\n')}\n${indent}}`;
}
