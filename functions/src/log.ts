/**
 * Structured JSON logs, one line per event. Nothing secret may reach a log line: keys that name a
 * secret are replaced, and string values that look like one of our secrets (install tokens, API keys,
 * JWTs, PEM private keys) are masked wherever they appear.
 */
export interface Logger {
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
}

const SECRET_KEY = /(token|secret|password|authorization|api[-_]?key|jwt|private|cookie)/i;
const SECRET_VALUE = [
  /ndr_install_[0-9a-f]+/gi,
  /ndr_live_[0-9a-f]+/gi,
  /eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*/g,
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
];

export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') {
    return SECRET_VALUE.reduce((s, re) => s.replace(re, '[redacted]'), value);
  }
  if (depth > 6 || value === null || typeof value !== 'object') return value;
  if (value instanceof Error) return { name: value.name, message: redact(value.message, depth + 1) };
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = SECRET_KEY.test(k) ? '[redacted]' : redact(v, depth + 1);
  }
  return out;
}

export type LogSink = (line: string) => void;

export function createLogger(base: Record<string, unknown>, sink: LogSink = console.log): Logger {
  const write = (level: string, event: string, fields: Record<string, unknown> = {}) => {
    sink(JSON.stringify(redact({ level, event, ...base, ...fields, time: new Date().toISOString() })));
  };
  return {
    info: (e, f) => write('info', e, f),
    warn: (e, f) => write('warn', e, f),
    error: (e, f) => write('error', e, f),
  };
}
