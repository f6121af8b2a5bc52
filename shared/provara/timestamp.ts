/**
 * Python's `datetime.now(timezone.utc).isoformat()`: microseconds and `+00:00`, e.g.
 * `2026-02-17T04:21:30.530267+00:00`. Provara compares timestamps as strings (merge order), so mixing this
 * with JS's `…Z` form would mis-order a merged log (PROVARA.md §7 item 9). JS clocks have milliseconds,
 * so the last three digits are zero.
 */
export function pythonUtcNow(now: Date = new Date()): string {
  return now.toISOString().replace(/\.(\d{3})Z$/, '.$1000+00:00');
}

/** Parses the ISO-8601 forms Provara vaults contain (`+00:00` or `Z`, any fraction); NaN when malformed. */
export function parseUtc(s: string): number {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?(Z|\+00:00)$/.exec(s);
  if (!m) return Number.NaN;
  return Date.parse(`${m[1]}.${(m[2] ?? '0').padEnd(3, '0').slice(0, 3)}Z`);
}
