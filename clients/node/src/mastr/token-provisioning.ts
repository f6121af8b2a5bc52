import { MastrError } from './errors.ts';
import { type ApiResponse, type ProvisioningClient, rejected } from './provisioning-client.ts';

/**
 * The browser wizard of the token's `index.html` (MASTR.md §2.2) as steps: bearer (generate-token),
 * claim on an unclaimed token, token public key, host public key, golden hash — one POST each, then status
 * polling with the UI's schedule (≤30 tries, min(500 + 100·n, 2000) ms), accepting both "ready" and
 * "success", and reading back what was written.
 */

export type TokenProvisionResult =
  | { stage: 'claimed'; ssid: string; psk: string }
  | { stage: 'already-provisioned'; bearer: string; tokenPub: string; status: Record<string, unknown> }
  | {
      stage: 'provisioned';
      bearer: string;
      tokenPub: string;
      hostPub: string | null;
      goldenHash: string | null;
    };

export interface TokenProvisionOptions {
  claim?: boolean;
  hostPub?: Uint8Array;
  goldenHash?: Uint8Array;
  /** Delay before poll n (0-based); default the UI's min(500 + 100·n, 2000) ms. */
  pollDelayMs?(n: number): number;
  maxPolls?: number;
  progress(step: string): void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const uiDelay = (n: number) => Math.min(500 + 100 * n, 2000);

function retryMs(r: ApiResponse): number {
  const v = r.body.retry_ms;
  return typeof v === 'number' && v > 0 && v < 10_000 ? v : 100;
}

async function getWithRetry(
  c: ProvisioningClient,
  path: string,
  what: string,
  maxPolls: number,
): Promise<ApiResponse> {
  for (let i = 0; i < maxPolls; i++) {
    const r = await c.request('GET', path);
    if (r.status === 200) return r;
    if (r.status !== 503) throw rejected(what, r);
    await sleep(retryMs(r));
  }
  throw new MastrError('HTTP_FAILED', `${what}: still busy after ${maxPolls} tries`);
}

async function postWithRetry(
  c: ProvisioningClient,
  path: string,
  body: string,
  what: string,
  maxPolls: number,
): Promise<void> {
  for (let i = 0; i < maxPolls; i++) {
    const r = await c.request('POST', path, body);
    if (r.status === 202 || r.status === 200) return;
    if (r.status !== 409 && r.status !== 503) throw rejected(what, r);
    await sleep(retryMs(r)); // write_pending / task_busy
  }
  throw new MastrError('HTTP_FAILED', `${what}: the token stayed busy for ${maxPolls} tries`);
}

async function poll(
  c: ProvisioningClient,
  path: string,
  what: string,
  o: TokenProvisionOptions,
): Promise<Record<string, unknown>> {
  const max = o.maxPolls ?? 30;
  for (let n = 0; n < max; n++) {
    await sleep((o.pollDelayMs ?? uiDelay)(n));
    const r = await c.request('GET', path);
    if (r.status !== 200) throw rejected(what, r);
    const s = r.body.status;
    if (s === 'ready' || s === 'success') return r.body;
    if (s === 'failed' || s === 'error') throw rejected(`${what} failed on the token`, r);
  }
  throw new MastrError('HTTP_FAILED', `${what}: not finished after ${max} status polls`);
}

export async function provisionToken(
  c: ProvisioningClient,
  o: TokenProvisionOptions,
): Promise<TokenProvisionResult> {
  const max = o.maxPolls ?? 30;
  if (!c.bearer) {
    o.progress('POST /api/auth/generate-token');
    const r = await c.request('POST', '/api/auth/generate-token');
    if (r.status === 404) {
      // S1: an open, unclaimed token serves only ping, health and claim.
      if (!o.claim) {
        throw new MastrError(
          'HTTP_REJECTED',
          'the token is unclaimed (open AP): run again with --claim, then reboot the token and join MASTR-Token with the new password',
        );
      }
      o.progress('GET /api/claim');
      const cl = await c.request('GET', '/api/claim');
      if (cl.status !== 200 || typeof cl.body.new_password !== 'string') throw rejected('claim', cl);
      return { stage: 'claimed', ssid: String(cl.body.ssid ?? 'MASTR-Token'), psk: cl.body.new_password };
    }
    if (r.status === 409) {
      throw new MastrError(
        'HTTP_REJECTED',
        'the token already issued its bearer token this boot: pass --bearer HEX (saved from the first call) or power-cycle the token',
      );
    }
    if (
      r.status !== 200 ||
      typeof r.body.bearer_token !== 'string' ||
      !/^[0-9a-f]{64}$/.test(r.body.bearer_token)
    ) {
      throw rejected('generate-token', r);
    }
    c.bearer = r.body.bearer_token;
  }
  const bearer = c.bearer!;
  o.progress('GET /api/provision/token_info');
  const info = await getWithRetry(c, '/api/provision/token_info', 'token_info', max);
  const tokenPub = info.body.token_pubkey;
  if (typeof tokenPub !== 'string' || !/^[0-9a-f]{128}$/i.test(tokenPub)) throw rejected('token_info', info);

  const status = await c.request('GET', '/api/status');
  if (status.status === 200) {
    return { stage: 'already-provisioned', bearer, tokenPub: tokenPub.toLowerCase(), status: status.body };
  }
  if (status.status !== 404) throw rejected('status', status);

  let hostPub: string | null = null;
  if (o.hostPub) {
    hostPub = Buffer.from(o.hostPub).toString('hex');
    o.progress('POST /api/provision/host_pubkey');
    await postWithRetry(c, '/api/provision/host_pubkey', hostPub, 'host_pubkey', max);
    await poll(c, '/api/provision/host_pubkey/status', 'host_pubkey write', o);
    const back = await getWithRetry(c, '/api/provision/host_pubkey/get', 'host_pubkey/get', max);
    if (String(back.body.host_pubkey).toLowerCase() !== hostPub) {
      throw new MastrError(
        'HTTP_REJECTED',
        `the token read back host key ${String(back.body.host_pubkey)}, not ${hostPub}`,
      );
    }
  }
  let goldenHash: string | null = null;
  if (o.goldenHash) {
    goldenHash = Buffer.from(o.goldenHash).toString('hex');
    o.progress('POST /api/provision/golden_hash');
    await postWithRetry(c, '/api/provision/golden_hash', goldenHash, 'golden_hash', max);
    const done = await poll(c, '/api/provision/golden_hash/status', 'golden_hash write', o);
    if (String(done.golden_hash).toLowerCase() !== goldenHash) {
      throw new MastrError(
        'HTTP_REJECTED',
        `the token read back golden hash ${String(done.golden_hash)}, not ${goldenHash}`,
      );
    }
  }
  return { stage: 'provisioned', bearer, tokenPub: tokenPub.toLowerCase(), hostPub, goldenHash };
}
