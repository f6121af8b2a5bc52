import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Stack } from './stack.ts';

const ROOT = new URL('../../..', import.meta.url).pathname;

// The audit trail leaves the service as a Provara vault that an outside party verifies offline with
// `noderr-agent provara verify`, here the real CLI in a child process against the exported tar.
describe('the exported audit vault, verified offline by noderr-agent', () => {
  let stack: Stack;
  let dir: string;

  beforeAll(async () => {
    stack = await Stack.start();
    dir = mkdtempSync(join(tmpdir(), 'noderr-audit-'));
    await stack.issueToken('ALL');
    const { body } = await stack.admin<{ id: string }>('POST', '/api/v1/admin/install-tokens', {
      applicationId: '6f1c1d2e-0000-4000-8000-00000000e2e1',
      tier: 'GUARDIAN',
      os: 'windows',
      expiresInDays: 2,
    });
    await stack.admin('POST', `/api/v1/admin/install-tokens/${body.id}/revoke`);
    // A dashboard edit: it must reach the signed log too.
    await stack.sql("update install_tokens set revoked_at = now() where tier = 'ALL' and revoked_at is null");
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function exportVault(into: string): Promise<{ rootKeyId: string }> {
    const res = await fetch(`${stack.api.url}/api/v1/admin/audit/export`, {
      headers: { authorization: `Bearer ${stack.adminToken}` },
    });
    expect(res.status).toBe(200);
    const tar = join(dir, `${into}.tar`);
    writeFileSync(tar, Buffer.from(await res.arrayBuffer()));
    execFileSync('mkdir', ['-p', join(dir, into)]);
    execFileSync('tar', ['-xf', tar, '-C', join(dir, into)]);
    const head = await stack.admin<{ head: { key_id: string } }>('GET', '/api/v1/admin/audit/head');
    return { rootKeyId: head.body.head.key_id };
  }

  function verify(vault: string, rootKeyId: string) {
    return spawnSync(
      process.execPath,
      [
        join(ROOT, 'clients/node/bin/noderr-agent.mjs'),
        'provara',
        'verify',
        vault,
        '--json',
        '--expect-root',
        rootKeyId,
      ],
      { encoding: 'utf8' },
    );
  }

  it('verifies, holding the admin actions and the dashboard edit', async () => {
    const { rootKeyId } = await exportVault('good');
    expect(rootKeyId).toMatch(/^bp1_[0-9a-f]{16}$/);
    const run = verify(join(dir, 'good'), rootKeyId);
    expect(run.status, run.stdout + run.stderr).toBe(0);
    const events = readFileSync(join(dir, 'good', 'events', 'events.ndjson'), 'utf8');
    expect(events).toContain('install_token.revoked');
    expect(events).toContain('dashboard:');
  });

  it('detects an exported event that was edited afterwards (exit 1)', async () => {
    const { rootKeyId } = await exportVault('edited');
    const file = join(dir, 'edited', 'events', 'events.ndjson');
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    const i = lines.findIndex((l) => l.includes('"tier":"GUARDIAN"'));
    expect(i).toBeGreaterThan(-1);
    lines[i] = lines[i]!.replace('"tier":"GUARDIAN"', '"tier":"ALL"');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const run = verify(join(dir, 'edited'), rootKeyId);
    expect(run.status).toBe(1);
  });
});
