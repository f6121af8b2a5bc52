import { randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import type { Atecc } from './atecc.ts';

/**
 * The token's provisioning HTTP API (MASTR.md §2.2) with the firmware's server quirks, because clients must
 * cope with them: raw lwIP on one connection at a time (extra connections are closed), a 1024-byte request
 * buffer, dispatch **as soon as the buffer holds CRLFCRLF** (so a body sent in a second segment is lost),
 * the method ignored (except OPTIONS → 204), exact path match (a query string is a 404), Content-Length
 * ignored, the body trimmed of trailing CR/LF/space, `Authorization: Bearer <64 lowercase hex>` matched
 * literally, and 202/400/409/503 (and 204) sent as a bare status code (`HTTP/1.1 202`).
 *
 * Routes are chosen once per boot from the boot state (S1 open AP unclaimed, S2 claimed not provisioned,
 * S3 provisioned); the bearer token lives in RAM and is handed out once per boot.
 */

export interface ApiDevice {
  atecc: Atecc;
  debugBuild: boolean;
  /** Protocol state byte for /api/status. */
  protocolState(): number;
  /** Background ATECC task duration (pubkey prefetch, slot writes); the firmware's is tens of ms. */
  taskMs: number;
}

type Json = Record<string, unknown>;
interface Reply {
  status: number;
  body?: Json;
}
interface Route {
  auth: boolean;
  handle(body: string): Reply;
}

const PHRASES: Record<number, string> = {
  200: 'OK',
  401: 'Unauthorized',
  404: 'Not Found',
  500: 'Internal Server Error',
};
const REQUEST_BUFFER = 1024;
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export function httpResponse(status: number, body?: Json): string {
  const phrase = PHRASES[status];
  const json = body === undefined ? '' : JSON.stringify(body);
  return [
    `HTTP/1.1 ${status}${phrase ? ` ${phrase}` : ''}`,
    'Content-Type: application/json',
    'Access-Control-Allow-Origin: *',
    'Access-Control-Allow-Methods: GET, POST, OPTIONS',
    'Access-Control-Allow-Headers: Content-Type, Authorization',
    'Connection: close',
    `Content-Length: ${Buffer.byteLength(json)}`,
    '',
    json,
  ].join('\r\n');
}

export type BootStateName = 'S1' | 'S2' | 'S3';

export class ProvisioningApi {
  readonly bootState: BootStateName;
  private readonly bootTime = Date.now();
  private readonly routes = new Map<string, Route>();
  private bearer: string | null = null;
  private claimedThisBoot = false;
  private hostPubStatus: 'pending' | 'ready' | 'failed' = 'pending';
  private hostPubWriting = false;
  private hostPubReadDone = false;
  private goldenStatus: 'processing' | 'success' | 'error' = 'processing';
  private goldenBusy = false;
  private readonly timers = new Set<NodeJS.Timeout>();
  private server: Server | null = null;
  private active: Socket | null = null;

  constructor(private readonly d: ApiDevice) {
    const a = d.atecc;
    this.bootState = a.provisioned ? 'S3' : a.psk.length > 0 ? 'S2' : 'S1';
    this.registerRoutes();
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    t.unref();
    this.timers.add(t);
  }

  private registerRoutes(): void {
    const r = (path: string, auth: boolean, handle: (body: string) => Reply) =>
      this.routes.set(path, { auth, handle });
    r('/api/ping', false, () => ({ status: 200, body: { message: 'pong' } }));
    r('/api/health', false, () => ({ status: 200, body: { ok: true } }));
    if (this.bootState === 'S1') {
      r('/api/claim', false, () => this.claim());
      return;
    }
    r('/api/auth/generate-token', false, () => this.generateToken());
    r('/api/claim', true, () => this.claim());
    r('/api/provision/token_info', true, () => this.tokenInfo());
    if (this.bootState === 'S2') {
      r('/api/provision/host_pubkey', true, (b) => this.postHostPubkey(b));
      r('/api/provision/host_pubkey/get', true, () => this.getHostPubkey());
      r('/api/provision/host_pubkey/status', true, () => ({
        status: 200,
        body: { status: this.hostPubStatus },
      }));
      r('/api/provision/golden_hash', true, (b) => this.postGoldenHash(b));
      r('/api/provision/golden_hash/status', true, () => this.goldenHashStatus());
    } else {
      r('/api/status', true, () => ({
        status: 200,
        body: {
          provisioned: this.d.atecc.provisioned,
          state: `0x${this.d.protocolState().toString(16).padStart(2, '0')}`,
          uptime_s: Math.floor((Date.now() - this.bootTime) / 1000),
          wifi_configured: this.claimedThisBoot,
        },
      }));
      r('/api/network', true, () => ({
        status: 200,
        body: { ssid: 'MASTR-Token', ap_ip: '192.168.4.1', clients: [] },
      }));
      r('/api/ram', true, () => ({ status: 200, body: { free_heap: 180_224, total_heap: 262_144 } }));
      r('/api/temp', true, () => ({ status: 200, body: { temp_c: 27.5 } }));
      r('/api/cpu', true, () => ({ status: 200, body: { cpu_mhz: 150, usage_pct: 3 } }));
      r('/api/provision/reset', true, () => {
        // 2 s later: slot 8 blocks 0–3 zeroed (host key, golden hash, PSK); effective at the next boot.
        this.later(2000, () => this.d.atecc.writeHostPub(new Uint8Array(64)));
        this.later(2000, () => this.d.atecc.writeBlock(2, new Uint8Array(32)));
        this.later(2000, () => this.d.atecc.writeBlock(3, new Uint8Array(32)));
        return { status: 200, body: { status: 'success', message: 'reboot_device' } };
      });
    }
    if (this.d.debugBuild) {
      // Clears only the flash copy of the PSK, which the firmware never reads (§7.8): a no-op in effect.
      r('/api/wifi/reset', true, () => ({ status: 200, body: { status: 'ok', message: 'reboot_device' } }));
    }
  }

  private claim(): Reply {
    if (this.claimedThisBoot && !this.d.debugBuild)
      return { status: 409, body: { error: 'already_claimed' } };
    let psk = '';
    for (let i = 0; i < 16; i++) psk += ALNUM[randomInt(ALNUM.length)];
    this.claimedThisBoot = true;
    const block = new Uint8Array(32);
    block.set(Buffer.from(psk, 'ascii'));
    this.later(this.d.taskMs, () => this.d.atecc.writeBlock(3, block)); // the AP keeps its old credentials until reboot
    return {
      status: 200,
      body: { status: 'ok', ssid: 'MASTR-Token', new_password: psk, message: 'reboot_device' },
    };
  }

  private generateToken(): Reply {
    if (this.bearer) {
      if (this.d.debugBuild) {
        return {
          status: 200,
          body: { status: 'ok', bearer_token: this.bearer, message: 'existing token (DEBUG)' },
        };
      }
      return {
        status: 409,
        body: { error: 'token_already_generated', message: 'A bearer token was already issued this boot' },
      };
    }
    this.bearer = randomBytes(32).toString('hex');
    return {
      status: 200,
      body: {
        status: 'ok',
        bearer_token: this.bearer,
        message: 'Save this token: it is issued once per boot',
      },
    };
  }

  private tokenInfo(): Reply {
    // The pubkey is prefetched in the background after boot (3 tries × 50 ms).
    if (Date.now() - this.bootTime < this.d.taskMs) {
      return { status: 503, body: { status: 'initializing', retry_ms: 100 } };
    }
    return {
      status: 200,
      body: { token_pubkey: Buffer.from(this.d.atecc.tokenPub).toString('hex'), cached: true },
    };
  }

  private postHostPubkey(body: string): Reply {
    if (body.length === 0) return { status: 400, body: { error: 'missing_body' } };
    if (body.length !== 128)
      return { status: 400, body: { error: 'invalid_length', expected: 128, got: body.length } };
    if (!/^[0-9a-fA-F]{128}$/.test(body)) return { status: 400, body: { error: 'invalid_hex_format' } };
    if (this.hostPubWriting) return { status: 409, body: { error: 'write_pending', retry_ms: 100 } };
    this.hostPubWriting = true;
    this.hostPubStatus = 'pending';
    this.later(this.d.taskMs, () => {
      this.d.atecc.writeHostPub(new Uint8Array(Buffer.from(body, 'hex')));
      this.hostPubWriting = false;
      this.hostPubStatus = 'ready';
      this.hostPubReadDone = false;
    });
    return { status: 202, body: { status: 'accepted', message: 'write_queued' } };
  }

  private getHostPubkey(): Reply {
    if (!this.hostPubReadDone) {
      this.later(this.d.taskMs, () => {
        this.hostPubReadDone = true;
      });
      return { status: 503, body: { status: 'reading', retry_ms: 100 } };
    }
    return {
      status: 200,
      body: { host_pubkey: Buffer.from(this.d.atecc.hostPub).toString('hex'), cached: true },
    };
  }

  private postGoldenHash(body: string): Reply {
    if (body.length === 0) return { status: 400, body: { error: 'missing_body' } };
    if (body.length !== 64)
      return { status: 400, body: { error: 'invalid_length', expected: 64, got: body.length } };
    if (!/^[0-9a-fA-F]{64}$/.test(body)) return { status: 400, body: { error: 'invalid_hex' } };
    if (this.goldenBusy) return { status: 503, body: { error: 'task_busy' } };
    this.goldenBusy = true;
    this.goldenStatus = 'processing';
    this.later(this.d.taskMs, () => {
      this.d.atecc.writeBlock(2, new Uint8Array(Buffer.from(body, 'hex')));
      this.goldenBusy = false;
      this.goldenStatus = 'success';
    });
    return { status: 202, body: { status: 'accepted', message: 'golden_hash_operation_queued' } };
  }

  private goldenHashStatus(): Reply {
    if (this.goldenStatus === 'success') {
      return {
        status: 200,
        body: { status: 'success', golden_hash: Buffer.from(this.d.atecc.block(2)).toString('hex') },
      };
    }
    if (this.goldenStatus === 'error')
      return { status: 200, body: { status: 'error', error: 'crypto_operation_failed' } };
    return { status: 200, body: { status: 'processing' } };
  }

  private authorized(head: string): boolean {
    const m = /Authorization: Bearer ([0-9a-f]{64})/.exec(head);
    if (!m || !this.bearer) return false;
    return timingSafeEqual(Buffer.from(m[1]!), Buffer.from(this.bearer));
  }

  /** One request as the firmware's dispatcher sees it (exported for the request-parsing tests). */
  dispatch(raw: string): string {
    const end = raw.indexOf('\r\n\r\n');
    const head = raw.slice(0, end);
    const body = raw.slice(end + 4).replace(/[\r\n ]+$/, '');
    const [method = '', path = ''] = (head.split('\r\n')[0] ?? '').split(' ');
    if (method === 'OPTIONS') return httpResponse(204);
    const route = this.routes.get(path);
    if (!route) return httpResponse(404, { error: 'not found' });
    if (route.auth && !this.authorized(head)) {
      return httpResponse(401, {
        error: 'unauthorized',
        message: 'Bearer token required. Call POST /api/auth/generate-token first.',
      });
    }
    const reply = route.handle(body);
    return httpResponse(reply.status, reply.body);
  }

  listen(port: number, host: string): Promise<{ host: string; port: number }> {
    this.server = createServer((socket) => this.onConnection(socket));
    const server = this.server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        const a = server.address();
        resolve({ host, port: typeof a === 'object' && a ? a.port : port });
      });
    });
  }

  private onConnection(socket: Socket): void {
    socket.on('error', () => undefined);
    if (this.active) {
      socket.destroy(); // one connection at a time
      return;
    }
    this.active = socket;
    let buf = Buffer.alloc(0);
    let done = false;
    socket.on('data', (d: Buffer) => {
      if (done) return;
      buf = Buffer.concat([buf, d]).subarray(0, REQUEST_BUFFER);
      const text = buf.toString('latin1');
      if (text.includes('\r\n\r\n')) {
        done = true;
        socket.end(this.dispatch(text));
        this.active = null; // the firmware closes its pcb after the response: the next client may connect
      } else if (buf.length >= REQUEST_BUFFER) {
        done = true;
        socket.destroy();
      }
    });
    socket.on('close', () => {
      if (this.active === socket) this.active = null;
    });
  }

  close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.active?.destroy();
    this.active = null;
    const s = this.server;
    this.server = null;
    return new Promise((resolve) => (s ? s.close(() => resolve()) : resolve()));
  }
}
