/**
 * Seconds to wait from an HTTP `retry-after` header (RFC 9110 §10.2.3): either delay-seconds or an
 * HTTP-date. `undefined` when the header is missing or unreadable.
 *
 * @example
 * ```ts
 * parseRetryAfter('3'); // 3
 * parseRetryAfter(new Date(Date.now() + 5000).toUTCString()); // about 5
 * ```
 */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text);
  const at = Date.parse(text);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, Math.ceil((at - now) / 1000));
}
