import { ProvaraError } from './errors.ts';

/**
 * Python's `repr(float)`, which `json.dumps` uses for every float (PROVARA.md §1.2).
 *
 * The digits are the shortest that round-trip — the same digits JS produces — but the layout differs:
 * Python switches to exponent notation below 1e-4 and from 1e16 (JS: below 1e-6 and from 1e21), pads the
 * exponent to two digits with a mandatory sign (`1e-05`, `1e+16`), and always writes a fractional part
 * in fixed notation (`1.0`). Getting this wrong breaks signatures: Python re-parses `1e-7` as a float
 * and re-serializes it as `1e-07`.
 *
 * @example pythonFloatRepr(1e-5) === '1e-05'; pythonFloatRepr(100) === '100.0'
 */
export function pythonFloatRepr(x: number): string {
  if (!Number.isFinite(x)) {
    // json.dumps(allow_nan=False) raises; so must we.
    throw new ProvaraError('JSON_NOT_REPRESENTABLE', `${x} is not allowed in canonical JSON`);
  }
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  // toExponential() without an argument gives the shortest round-trip digits: "d.ddde±x".
  const [mantissa = '', expText = '0'] = Math.abs(x).toExponential().split('e');
  const digits = mantissa.replace('.', '');
  const e = Number(expText);
  if (e >= -4 && e < 16) {
    let s: string;
    if (e < 0) s = `0.${'0'.repeat(-e - 1)}${digits}`;
    else if (digits.length <= e + 1) s = `${digits}${'0'.repeat(e + 1 - digits.length)}.0`;
    else s = `${digits.slice(0, e + 1)}.${digits.slice(e + 1)}`;
    return sign + s;
  }
  const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  const abs = Math.abs(e).toString().padStart(2, '0');
  return `${sign}${m}e${e < 0 ? '-' : '+'}${abs}`;
}
