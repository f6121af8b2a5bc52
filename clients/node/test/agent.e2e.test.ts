import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Stack } from '../../../functions/test/node/stack.ts';
import { type Swtpm, startSwtpm } from '../../../scripts/lib/swtpm.ts';
import { tpm2 } from '../../../scripts/lib/tpm2-tools.ts';
import { toHex } from '../../../shared/encoding/bytes.ts';
import { agent, Daemon, Forwarder } from './helpers.ts';

/**
 * The agent end to end: the real CLI (child processes) against the real Worker (`wrangler dev`), a real
 * PostgreSQL 15 and a real swtpm. Registration → heartbeat → the daemon through a re-attestation, an API
 * outage and recovery, and revocation. The only shortcut: the re-attestation interval (≥ 60 s by policy)
 * is made due by setting `attestation_due_at` in the database, as the passing of time would.
 */

let stack: Stack;
let sw: Swtpm;
let fwd: Forwarder;
let stateDir: string;
let env: Record<string, string>;
let nodeId: string;
let usedToken: string;

beforeAll(async () => {
  [stack, sw] = await Promise.all([Stack.start(), startSwtpm()]);
  await stack.trustCa(sw);
  fwd = new Forwarder(stack.api.port);
  await fwd.start();
  stateDir = mkdtempSync(join(tmpdir(), 'noderr-agent-e2e-'));
  env = { NODERR_TPM: sw.tcti, NODERR_STATE_DIR: stateDir };
}, 120_000);

afterAll(async () => {
  await fwd?.stop();
  await Promise.all([stack?.stop(), sw?.stop()]);
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

describe('noderr-agent against the local stack', () => {
  it('registers: install/config → TPM evidence → register → ActivateCredential → activate', async () => {
    const token = await stack.issueToken('ORACLE');
    usedToken = token;
    const r = await agent(['register', '--api-url', fwd.url, '--json', '--interval', '1'], {
      ...env,
      NODERR_INSTALL_TOKEN: token,
    });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json).toMatchObject({ ok: true, tier: 'ORACLE', ekKind: 'ecc', ekCertificate: 'nv' });
    nodeId = String(r.json.nodeId);
    expect(nodeId).toMatch(/^0x[0-9a-f]{64}$/);
    // The token never reached argv, and no secret reached the output.
    expect(r.stdout + r.stderr).not.toContain(token);
    expect(r.stdout + r.stderr).not.toMatch(/ndr_live_/);
  });

  it('keeps state and credentials owner-only (0600 files in a 0700 directory)', () => {
    expect(statSync(stateDir).mode & 0o777).toBe(0o700);
    for (const f of ['state.json', 'credentials.json'])
      expect(statSync(join(stateDir, f)).mode & 0o777).toBe(0o600);
    const creds = JSON.parse(readFileSync(join(stateDir, 'credentials.json'), 'utf8'));
    expect(creds.apiKey).toMatch(/^ndr_live_[0-9a-f]{64}$/);
    const state = JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8'));
    expect(JSON.stringify(state)).not.toContain('ndr_live_');
  });

  it('persisted the keys: tpm2_readpublic reads the AK and node key the API pinned', async () => {
    const state = JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8'));
    for (const [handle, pub] of [
      [state.akHandle, state.akPublic],
      [state.nodeKeyHandle, state.nodeKeyPublic],
    ] as const) {
      const file = `pub-${handle}.bin`;
      await tpm2(
        sw.tcti,
        'tpm2_readpublic',
        ['-c', `0x${Number(handle).toString(16)}`, '-o', file, '-f', 'tss'],
        {
          cwd: stateDir,
        },
      );
      expect(toHex(new Uint8Array(readFileSync(join(stateDir, file))))).toBe(
        toHex(Buffer.from(pub, 'base64')),
      );
      rmSync(join(stateDir, file));
    }
  });

  it('refuses to register twice without --force (exit 3); the API refuses the consumed token (exit 5)', async () => {
    const again = await agent(['register', '--api-url', fwd.url, '--json'], {
      ...env,
      NODERR_INSTALL_TOKEN: `ndr_install_${'0'.repeat(64)}`,
    });
    expect(again.code).toBe(3);
    expect(again.json).toMatchObject({ ok: false, error: { code: 'ALREADY_REGISTERED' } });
    const other = mkdtempSync(join(tmpdir(), 'noderr-agent-e2e-'));
    try {
      const bad = await agent(['register', '--api-url', fwd.url, '--json'], {
        ...env,
        NODERR_STATE_DIR: other,
        NODERR_INSTALL_TOKEN: usedToken,
      });
      expect(bad.code).toBe(5);
      expect(bad.json).toMatchObject({
        ok: false,
        error: { code: 'API_REJECTED', details: { apiCode: 'INSTALL_TOKEN_USED' } },
      });
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });

  it('heartbeat: challenge → TPM-signed verify → heartbeat', async () => {
    // Drop the session from activation so this beat has to open one with a TPM2_Sign of the challenge.
    const credsPath = join(stateDir, 'credentials.json');
    const creds = JSON.parse(readFileSync(credsPath, 'utf8'));
    const { writeFileSync } = await import('node:fs');
    writeFileSync(credsPath, JSON.stringify({ apiKey: creds.apiKey }), { mode: 0o600 });
    const r = await agent(['heartbeat', '--json'], env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json).toMatchObject({ ok: true, nodeId, acknowledged: true, reattested: false });
    expect(JSON.parse(readFileSync(credsPath, 'utf8')).jwt).toEqual(expect.any(String));
    const status = await agent(['status', '--json'], env);
    expect(status.json).toMatchObject({ ok: true, nodeId, tier: 'ORACLE', nodeStatus: 'active' });
    expect(status.json.lastHeartbeatAt).toEqual(expect.any(String));
  });

  it('run: beats every interval, re-attests when due, backs off while the API is down and recovers', async () => {
    const d = new Daemon(['--backoff-base-ms', '200', '--backoff-max', '2'], env);
    try {
      await d.waitFor((e) => e.event === 'heartbeat');
      await stack.sql(
        `update public.node_identities set attestation_due_at = now() where node_id = '${nodeId}'`,
      );
      const re = await d.waitFor((e) => e.event === 'heartbeat' && e.reattested === true);
      await d.waitFor((e) => e.event === 'heartbeat' && e.reattested === false, 10_000, re + 1);

      await fwd.stop();
      const firstBackoff = await d.waitFor((e) => e.event === 'backoff');
      const third = await d.waitFor((e) => e.event === 'backoff' && e.attempt === 3, 15_000);
      const backoffs = d.events.slice(firstBackoff, third + 1).filter((e) => e.event === 'backoff');
      expect(backoffs.map((e) => e.code)).toEqual(['API_UNREACHABLE', 'API_UNREACHABLE', 'API_UNREACHABLE']);
      // Exponential with equal jitter: attempt n waits within [base·2^(n-1)/2, base·2^(n-1)].
      backoffs.forEach((e, i) => {
        const cap = 200 * 2 ** i;
        expect(Number(e.delayMs)).toBeGreaterThanOrEqual(cap / 2);
        expect(Number(e.delayMs)).toBeLessThanOrEqual(cap);
      });

      await fwd.start();
      const rec = await d.waitFor((e) => e.event === 'recovered', 15_000);
      await d.waitFor((e) => e.event === 'heartbeat', 10_000, rec);
      d.signal('SIGTERM');
      expect(await d.exited).toBe(0);
      expect(d.events.at(-1)).toMatchObject({ event: 'stopped' });
    } finally {
      d.signal('SIGKILL');
    }
  }, 90_000);

  it('run exits with code 10 when an admin revokes the node; heartbeat then exits 10 too', async () => {
    const d = new Daemon([], env);
    try {
      await d.waitFor((e) => e.event === 'heartbeat');
      const res = await stack.admin('POST', `/api/v1/admin/nodes/${nodeId}/status`, {
        status: 'revoked',
        reason: 'e2e: decommissioned',
      });
      expect(res.status).toBe(200);
      expect(await d.exited).toBe(10);
      expect(d.events.at(-1)).toMatchObject({ event: 'revoked' });
    } finally {
      d.signal('SIGKILL');
    }
    const hb = await agent(['heartbeat', '--json'], env);
    expect(hb.code).toBe(10);
    expect(hb.json).toMatchObject({ ok: false, error: { code: 'NODE_REVOKED' } });
    const status = await agent(['status', '--json'], env);
    expect(status.json).toMatchObject({ nodeStatus: 'revoked' });
  }, 60_000);
});
