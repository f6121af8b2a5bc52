import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
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
/** A second TPM whose EK certificate CA the API is not told to trust. */
let untrusted: Swtpm;
let fwd: Forwarder;
let stateDir: string;
let env: Record<string, string>;
let nodeId: string;
let usedToken: string;

beforeAll(async () => {
  [stack, sw, untrusted] = await Promise.all([Stack.start(), startSwtpm(), startSwtpm()]);
  await stack.trustCa(sw);
  fwd = new Forwarder(stack.api.port);
  await fwd.start();
  stateDir = mkdtempSync(join(tmpdir(), 'noderr-agent-e2e-'));
  env = { NODERR_TPM: sw.tcti, NODERR_STATE_DIR: stateDir };
}, 120_000);

afterAll(async () => {
  await fwd?.stop();
  await Promise.all([stack?.stop(), sw?.stop(), untrusted?.stop()]);
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

  it('refuses to register twice without --force (exit 3); protects the keys of the first agent from a second one (exit 7); the API refuses the consumed token (exit 5)', async () => {
    const again = await agent(['register', '--api-url', fwd.url, '--json'], {
      ...env,
      NODERR_INSTALL_TOKEN: `ndr_install_${'0'.repeat(64)}`,
    });
    expect(again.code).toBe(3);
    expect(again.json).toMatchObject({ ok: false, error: { code: 'ALREADY_REGISTERED' } });
    const other = mkdtempSync(join(tmpdir(), 'noderr-agent-e2e-'));
    try {
      const otherEnv = { ...env, NODERR_STATE_DIR: other, NODERR_INSTALL_TOKEN: usedToken };
      // A second state directory on the same TPM does not own the first one's keys.
      const occupied = await agent(['register', '--api-url', fwd.url, '--json'], otherEnv);
      expect(occupied.code).toBe(7);
      expect(occupied.json).toMatchObject({
        ok: false,
        error: {
          code: 'HANDLE_OCCUPIED',
          details: { handles: [{ handle: '0x81008001' }, { handle: '0x81008002' }] },
        },
      });
      // --force gets past the handles; the token is refused before anything is evicted.
      const bad = await agent(['register', '--api-url', fwd.url, '--json', '--force'], otherEnv);
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

/**
 * Leaving a machine and crash recovery, on the same stack and TPM after the node above was revoked (which
 * frees its EK for the next registrations). The agent is killed with SIGKILL at its test-only kill points
 * (NODERR_TEST_ONLY_KILL_AT) — what a crash or power loss does. A killed agent cannot flush its transient
 * EK; on /dev/tpmrm0 and TBS the resource manager does that when the process dies, on swtpm's raw socket
 * nobody does, so the test flushes transient objects (tpm2-tools, as every tpm2() call does) in its place.
 */
describe('unregister and interrupted registrations', () => {
  const persistent = async () =>
    (await tpm2(sw.tcti, 'tpm2_getcap', ['handles-persistent'])).stdout
      .split('\n')
      .map((l) => l.replace(/^- /, '').trim())
      .filter((l) => l.startsWith('0x'));
  const file = (f: string) => join(stateDir, f);
  const registerWith = (token: string | undefined, extra: Record<string, string> = {}, args: string[] = []) =>
    agent(['register', '--json', ...args, ...(token ? ['--api-url', fwd.url] : [])], {
      ...env,
      ...(token ? { NODERR_INSTALL_TOKEN: token } : {}),
      ...extra,
    });
  const revoke = async (id: string) => {
    const res = await stack.admin('POST', `/api/v1/admin/nodes/${id}/status`, {
      status: 'revoked',
      reason: 'e2e: credentials lost',
    });
    expect(res.status).toBe(200);
  };

  it('unregister evicts the recorded keys and removes the state; the node stays registered at the API', async () => {
    const r = await agent(['unregister', '--json'], env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json).toMatchObject({
      ok: true,
      nodeId,
      evicted: [
        { role: 'ak', handle: '0x81008001' },
        { role: 'nodeKey', handle: '0x81008002' },
      ],
      absent: [],
      kept: [],
      stateDirRemoved: true,
      stateKept: false,
      apiRegistration: `node ${nodeId} stays registered at the API until an admin revokes it`,
    });
    expect([...(r.json.removedFiles as string[])].sort()).toEqual(
      ['credentials.json', 'keys.json', 'state.json', 'status.json'].sort(),
    );
    expect(existsSync(stateDir)).toBe(false);
    const handles = await persistent();
    expect(handles).not.toContain('0x81008001');
    expect(handles).not.toContain('0x81008002');
    const again = await agent(['unregister', '--json'], env);
    expect(again.code).toBe(3);
    expect(again.json).toMatchObject({ ok: false, error: { code: 'NOT_REGISTERED' } });
  });

  it('killed after saving the pending activation, before calling activate: the next register finishes it', async () => {
    const killed = await registerWith(await stack.issueToken('ORACLE'), {
      NODERR_TEST_ONLY_KILL_AT: 'before-activate',
    });
    expect(killed.signal, killed.stdout + killed.stderr).toBe('SIGKILL');
    expect(statSync(file('pending-activation.json')).mode & 0o777).toBe(0o600);
    expect(existsSync(file('credentials.json'))).toBe(false);
    await persistent(); // flushes the EK the killed agent left loaded (see above)
    const status = await agent(['status', '--json'], env);
    expect(status.code).toBe(3);
    expect(status.json).toMatchObject({
      error: { code: 'NOT_REGISTERED', details: { pendingActivation: true } },
    });

    // Neither the token nor the API URL is needed to finish: the pending activation knows its API.
    const r = await registerWith(undefined);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json).toMatchObject({ ok: true, resumed: true, tier: 'ORACLE' });
    expect(existsSync(file('pending-activation.json'))).toBe(false);
    expect(JSON.parse(readFileSync(file('credentials.json'), 'utf8')).nodeId).toBe(r.json.nodeId);
    const hb = await agent(['heartbeat', '--json'], env);
    expect(hb.code, hb.stdout + hb.stderr).toBe(0);
    expect(hb.json).toMatchObject({ ok: true, nodeId: r.json.nodeId });
    await revoke(String(r.json.nodeId));
    expect((await agent(['unregister', '--json'], env)).code).toBe(0);
  }, 60_000);

  it('killed after the API activated the node: REGISTRATION_LOST (exit 8) until an admin revokes it', async () => {
    const killed = await registerWith(await stack.issueToken('ORACLE'), {
      NODERR_TEST_ONLY_KILL_AT: 'after-activate',
    });
    expect(killed.signal, killed.stdout + killed.stderr).toBe('SIGKILL');
    await persistent();
    const pending = JSON.parse(readFileSync(file('pending-activation.json'), 'utf8'));
    const lostId = pending.state.nodeId as string;

    const lost = await registerWith(undefined);
    expect(lost.code, lost.stdout + lost.stderr).toBe(8);
    expect(lost.json).toMatchObject({
      ok: false,
      error: {
        code: 'REGISTRATION_LOST',
        message: expect.stringMatching(
          /An admin must revoke node 0x[0-9a-f]{64} and issue a new install token/,
        ),
        details: { nodeId: lostId, activationId: pending.activationId, apiUrl: fwd.url },
      },
      exitCode: 8,
    });
    expect(existsSync(file('pending-activation.json'))).toBe(true); // still pending: the next run says it again

    // The admin revokes the lost node and issues a new token: register settles the old activation and
    // registers afresh (the keys at the handles are the agent's own, recorded in keys.json).
    await revoke(lostId);
    const fresh = await registerWith(await stack.issueToken('ORACLE'), {
      NODERR_TEST_ONLY_KILL_AT: 'after-credentials',
    });
    expect(fresh.signal, fresh.stdout + fresh.stderr).toBe('SIGKILL');
    await persistent();
    // Killed with the credentials saved but not the state: finished locally (activate would say NOT_FOUND).
    const done = await registerWith(undefined);
    expect(done.code, done.stdout + done.stderr).toBe(0);
    expect(done.json).toMatchObject({ ok: true, resumed: true });
    expect(done.json.nodeId).not.toBe(lostId);
    expect((await agent(['heartbeat', '--json'], env)).code).toBe(0);
  }, 90_000);

  it('unregister keeps an object it did not create at its handle; --keep-state keeps the files', async () => {
    // Someone else's key where the agent's node key was (evicted and replaced with tpm2-tools).
    await tpm2(sw.tcti, 'tpm2_evictcontrol', ['-C', 'o', '-c', '0x81008002']);
    await tpm2(sw.tcti, 'tpm2_createprimary', ['-C', 'o', '-G', 'ecc', '-c', 'other.ctx'], { cwd: stateDir });
    await tpm2(sw.tcti, 'tpm2_evictcontrol', ['-C', 'o', '-c', 'other.ctx', '0x81008002'], { cwd: stateDir });
    rmSync(file('other.ctx'));
    try {
      const r = await agent(['unregister', '--keep-state', '--json'], env);
      expect(r.code, r.stdout + r.stderr).toBe(0);
      expect(r.json).toMatchObject({
        evicted: [{ role: 'ak', handle: '0x81008001' }],
        kept: [{ handle: '0x81008002', reason: expect.stringMatching(/did not create/) }],
        removedFiles: [],
        stateKept: true,
      });
      expect(await persistent()).toContain('0x81008002');
      expect(existsSync(file('state.json'))).toBe(true);
    } finally {
      await tpm2(sw.tcti, 'tpm2_evictcontrol', ['-C', 'o', '-c', '0x81008002']);
    }
  });
});

describe('--json errors carry details for installers', () => {
  it('ATTESTATION_INVALID (an EK certificate from a CA the API does not trust): details.reason, exit 5; the retry knows its own keys', async () => {
    const dir2 = mkdtempSync(join(tmpdir(), 'noderr-agent-e2e-'));
    const env2 = { NODERR_TPM: untrusted.tcti, NODERR_STATE_DIR: dir2 };
    try {
      const token = await stack.issueToken('ORACLE');
      for (let attempt = 0; attempt < 2; attempt++) {
        const r = await agent(['register', '--api-url', fwd.url, '--json'], {
          ...env2,
          NODERR_INSTALL_TOKEN: token,
        });
        expect(r.code, r.stdout + r.stderr).toBe(5);
        expect(r.json).toMatchObject({
          ok: false,
          error: {
            code: 'API_REJECTED',
            details: {
              path: '/auth/register',
              status: 422,
              apiCode: 'ATTESTATION_INVALID',
              reason: 'EK_CERT_UNTRUSTED',
            },
          },
          exitCode: 5,
        });
      }
      // The failed registration left its keys recorded (keys.json only): unregister removes them.
      const u = await agent(['unregister', '--json'], env2);
      expect(u.code, u.stdout + u.stderr).toBe(0);
      expect(u.json).toMatchObject({
        nodeId: null,
        evicted: [{ handle: '0x81008001' }, { handle: '0x81008002' }],
        removedFiles: ['keys.json'],
      });
    } finally {
      rmSync(dir2, { recursive: true, force: true });
    }
  }, 60_000);
});
