import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Stack } from '../../../functions/test/node/stack.ts';
import { type Swtpm, startSwtpm } from '../../../scripts/lib/swtpm.ts';
import { tpm2 } from '../../../scripts/lib/tpm2-tools.ts';
import { toHex } from '../../../shared/encoding/bytes.ts';
import { KERNEL, sha256Hex, syntheticBoot } from '../../../shared/tpm2/eventlog/testing/synthetic.ts';
import { agent } from './helpers.ts';

/**
 * The agent sends the boot event log, end to end: the real CLI against the real Worker (`wrangler dev`,
 * PostgreSQL 15) and real swtpms. A synthetic crypto-agile boot log is extended into one swtpm's PCRs
 * event by event (tpm2_pcrextend), so it replays to what the agent quotes; the GUARDIAN tier judges it
 * (Secure Boot on, the kernel's SHA-256 in the allowlist). The only shortcut: re-attestation is made due
 * in the database, as the passing of time would.
 */

let stack: Stack;
let booted: Swtpm;
let bare: Swtpm;
let work: string;
let logFile: string;
let logBytes: number;
let nodeId: string;

beforeAll(async () => {
  [stack, booted, bare] = await Promise.all([Stack.start(), startSwtpm(), startSwtpm()]);
  await stack.trustCa(booted);
  await stack.trustCa(bare);
  const boot = await syntheticBoot({ secureBoot: true });
  for (const e of boot.log.events) {
    await tpm2(booted.tcti, 'tpm2_pcrextend', [
      `${e.pcr}:sha1=${toHex(e.digests.sha1!)},sha256=${toHex(e.digests.sha256!)}`,
    ]);
  }
  work = mkdtempSync(join(tmpdir(), 'noderr-agent-eventlog-'));
  logFile = join(work, 'binary_bios_measurements');
  writeFileSync(logFile, boot.log.bytes);
  logBytes = boot.log.bytes.length;
  const put = await stack.admin('PUT', '/api/v1/admin/policies/GUARDIAN', {
    requireEkCertificate: true,
    pcrSelection: { sha256: [0, 4, 5, 7, 8, 9] },
    pcrMode: 'none',
    reattestationIntervalSeconds: 3600,
    sessionTtlSeconds: 900,
    eventLogRules: { requireSecureBoot: true, kernelSha256Allowlist: [await sha256Hex(KERNEL.contents)] },
  });
  expect(put.status, JSON.stringify(put.body)).toBe(200);
}, 120_000);

afterAll(async () => {
  await Promise.all([stack?.stop(), booted?.stop(), bare?.stop()]);
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('noderr-agent under a tier that judges measured boot', () => {
  it('register --event-log FILE: the log replays to the quote and passes the rules; the setting is recorded', async () => {
    const stateDir = join(work, 'booted');
    const r = await agent(['register', '--api-url', stack.api.url, '--json', '--event-log', logFile], {
      NODERR_TPM: booted.tcti,
      NODERR_STATE_DIR: stateDir,
      NODERR_INSTALL_TOKEN: await stack.issueToken('GUARDIAN'),
    });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json).toMatchObject({
      ok: true,
      tier: 'GUARDIAN',
      eventLog: { source: logFile, from: logFile, sent: true, bytes: logBytes },
    });
    nodeId = String(r.json.nodeId);
    const state = JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8'));
    expect(state).toMatchObject({ eventLog: logFile, pcrSelection: { sha256: [0, 4, 5, 7, 8, 9] } });
  });

  it('a forced re-attestation through heartbeat sends the recorded log and passes', async () => {
    const env = { NODERR_STATE_DIR: join(work, 'booted') };
    await stack.sql(
      `update public.node_identities set attestation_due_at = now() - interval '1 second' where node_id = '${nodeId}'`,
    );
    const r = await agent(['heartbeat', '--json'], env);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.json).toMatchObject({
      ok: true,
      nodeId,
      reattested: true,
      eventLog: { source: logFile, sent: true, bytes: logBytes },
    });

    // The log is what passed it: the same re-attestation with `--event-log none` is refused.
    await stack.sql(
      `update public.node_identities set attestation_due_at = now() - interval '1 second' where node_id = '${nodeId}'`,
    );
    const without = await agent(['heartbeat', '--json', '--event-log', 'none'], env);
    expect(without.code, without.stdout + without.stderr).toBe(5);
    expect(without.json).toMatchObject({
      ok: false,
      error: {
        code: 'API_REJECTED',
        details: {
          path: '/auth/heartbeat',
          status: 422,
          apiCode: 'ATTESTATION_INVALID',
          reason: 'EVENT_LOG_INVALID',
        },
      },
      exitCode: 5,
    });
  }, 60_000);

  it('register --event-log none (over NODERR_EVENT_LOG) on another TPM: exit 5, EVENT_LOG_INVALID', async () => {
    const r = await agent(['register', '--api-url', stack.api.url, '--json', '--event-log', 'none'], {
      NODERR_TPM: bare.tcti,
      NODERR_STATE_DIR: join(work, 'bare'),
      NODERR_INSTALL_TOKEN: await stack.issueToken('GUARDIAN'),
      NODERR_EVENT_LOG: logFile,
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
          reason: 'EVENT_LOG_INVALID',
        },
      },
      exitCode: 5,
    });
  });
});
