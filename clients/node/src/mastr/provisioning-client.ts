import { connect } from 'node:net';
import { MastrError } from './errors.ts';

/**
 * A client for the token's provisioning HTTP API (MASTR.md §2.2), shaped by the token's server: headers and
 * body in **one write** (the token dispatches at the first CRLFCRLF), no query strings, a lenient status
 * line (`HTTP/1.1 202` without a reason phrase), a fresh connection per request (one at a time,
 * `Connection: close`). Plain HTTP only: the token speaks nothing else, on its own WiFi AP.
 */

export interface ApiResponse {
  status: number;
  body: Record<string, unknown>;
}

export interface ProvisioningClientOptions {
  baseUrl: string;
  bearer?: string;
  timeoutMs?: number;
  /** Retries on connection failure (the seed: 3, backoff 1 s·n). */
  retries?: number;
  retryDelayMs?: number;
}

/** Parses `HTTP/1.1 202` or `HTTP/1.1 200 OK`, headers, and a JSON body (empty → {}). */
export function parseHttpResponse(raw: string): ApiResponse {
  const m = /^HTTP\/1\.[01] (\d{3})(?: [^\r\n]*)?\r?\n/.exec(raw);
  if (!m) throw new MastrError('HTTP_FAILED', `not an HTTP response: ${JSON.stringify(raw.slice(0, 40))}`);
  const sep = raw.indexOf('\r\n\r\n');
  const text = sep < 0 ? '' : raw.slice(sep + 4).trim();
  let body: Record<string, unknown> = {};
  if (text) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed))
        body = parsed as Record<string, unknown>;
      else throw new Error('not an object');
    } catch {
      throw new MastrError(
        'HTTP_FAILED',
        `response body is not a JSON object: ${JSON.stringify(text.slice(0, 80))}`,
      );
    }
  }
  return { status: Number(m[1]), body };
}

/** The exact request bytes: one buffer, `Authorization: Bearer` when known, text/plain body. */
export function buildRequest(
  method: 'GET' | 'POST',
  host: string,
  path: string,
  bearer?: string,
  body?: string,
): string {
  const lines = [`${method} ${path} HTTP/1.1`, `Host: ${host}`, 'Connection: close'];
  if (bearer) lines.push(`Authorization: Bearer ${bearer}`);
  if (body !== undefined)
    lines.push('Content-Type: text/plain', `Content-Length: ${Buffer.byteLength(body)}`);
  return `${lines.join('\r\n')}\r\n\r\n${body ?? ''}`;
}

export class ProvisioningClient {
  private readonly host: string;
  private readonly port: number;
  bearer: string | undefined;

  constructor(private readonly o: ProvisioningClientOptions) {
    let url: URL;
    try {
      url = new URL(o.baseUrl);
    } catch {
      throw new MastrError('USAGE', `--url ${o.baseUrl} is not a URL (e.g. http://192.168.4.1)`);
    }
    if (url.protocol !== 'http:')
      throw new MastrError('USAGE', `--url must be http:// (the token serves plain HTTP)`);
    this.host = url.hostname;
    this.port = url.port ? Number(url.port) : 80;
    this.bearer = o.bearer;
  }

  async request(method: 'GET' | 'POST', path: string, body?: string): Promise<ApiResponse> {
    const retries = this.o.retries ?? 3;
    let last: unknown;
    for (let attempt = 0; attempt <= retries; attempt++) {
      if (attempt > 0) await new Promise((r) => setTimeout(r, (this.o.retryDelayMs ?? 1000) * attempt));
      try {
        return parseHttpResponse(await this.once(buildRequest(method, this.host, path, this.bearer, body)));
      } catch (e) {
        last = e;
        if (e instanceof MastrError && e.code !== 'HTTP_FAILED') throw e;
      }
    }
    throw last instanceof MastrError ? last : new MastrError('HTTP_FAILED', String(last));
  }

  private once(request: string): Promise<string> {
    const timeoutMs = this.o.timeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      const socket = connect({ host: this.host, port: this.port });
      const chunks: Buffer[] = [];
      const timer = setTimeout(() => {
        socket.destroy();
        reject(
          new MastrError('HTTP_FAILED', `${this.host}:${this.port}: no response within ${timeoutMs} ms`),
        );
      }, timeoutMs);
      socket.once('connect', () => socket.write(request)); // one write: headers + body together
      socket.on('data', (d: Buffer) => chunks.push(d));
      socket.once('error', (e) => {
        clearTimeout(timer);
        reject(new MastrError('HTTP_FAILED', `${this.host}:${this.port}: ${e.message}`));
      });
      socket.once('close', () => {
        clearTimeout(timer);
        const text = Buffer.concat(chunks).toString('utf8');
        if (text) resolve(text);
        else
          reject(
            new MastrError(
              'HTTP_FAILED',
              `${this.host}:${this.port} closed the connection without a response`,
            ),
          );
      });
    });
  }
}

export function rejected(what: string, r: ApiResponse): MastrError {
  return new MastrError('HTTP_REJECTED', `${what}: HTTP ${r.status} ${JSON.stringify(r.body)}`, {
    status: r.status,
    body: r.body,
  });
}
