import { ProvaraError } from './errors.ts';
import { decodeUtf8, parseJson } from './json-parse.ts';
import type { JsonValue } from './json-value.ts';

export const EVENTS_PATH = 'events/events.ndjson';

export interface LogLine {
  /** 1-based line number in events.ndjson. */
  line: number;
  value: JsonValue | undefined;
  error: ProvaraError | undefined;
}

/**
 * Splits events.ndjson into parsed lines. Python's `iter_events` silently drops lines that do not parse
 * (PROVARA.md §7 item 5), which hides tampering; we keep them as errors for the verifier to report.
 * Blank lines are skipped as Python does; a trailing `\r` (a CRLF file) is harmless because signatures
 * cover the parsed value, not the line bytes.
 */
export function readEventLog(bytes: Uint8Array): LogLine[] {
  let text: string;
  try {
    text = decodeUtf8(bytes);
  } catch (e) {
    return [{ line: 1, value: undefined, error: e as ProvaraError }];
  }
  const out: LogLine[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = (lines[i] as string).replace(/\r$/, '');
    if (raw.trim() === '') continue;
    try {
      out.push({ line: i + 1, value: parseJson(raw), error: undefined });
    } catch (e) {
      if (!(e instanceof ProvaraError)) throw e;
      out.push({ line: i + 1, value: undefined, error: e });
    }
  }
  return out;
}
