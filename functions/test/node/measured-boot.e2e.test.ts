import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tpm2 } from '../../../scripts/lib/tpm2-tools.ts';
import { toHex } from '../../../shared/encoding/bytes.ts';
import { encodeEventLog } from '../../../shared/tpm2/eventlog/testing/build-log.ts';
import {
  KERNEL,
  type SyntheticBoot,
  sha256Hex,
  syntheticBoot,
} from '../../../shared/tpm2/eventlog/testing/synthetic.ts';
import { Stack, TpmNode } from './stack.ts';

// Measured boot through the API: a synthetic crypto-agile boot log whose events are also extended into
// a real swtpm's PCRs, quoted at registration, replayed by the Worker and judged by the tier's
// event-log rules (the kernel allowlist holds the MASTR golden hash: sha256sum of the kernel file).
describe('registration under an event-log policy', () => {
  let stack: Stack;
  let node: TpmNode;
  let boot: SyntheticBoot;
  let golden: string;

  const policy = (rules: Record<string, unknown>) => ({
    requireEkCertificate: true,
    pcrSelection: { sha256: [0, 4, 5, 7, 8, 9] },
    pcrMode: 'none',
    reattestationIntervalSeconds: 3600,
    sessionTtlSeconds: 900,
    eventLogRules: rules,
  });

  beforeAll(async () => {
    [stack, node] = await Promise.all([Stack.start(), TpmNode.create()]);
    await stack.trustCa(node.tpm);
    boot = await syntheticBoot({ secureBoot: true });
    for (const e of boot.log.events) {
      await tpm2(node.tpm.tcti, 'tpm2_pcrextend', [
        `${e.pcr}:sha1=${toHex(e.digests.sha1!)},sha256=${toHex(e.digests.sha256!)}`,
      ]);
    }
    node.pcrs = 'sha256:0,4,5,7,8,9';
    golden = await sha256Hex(KERNEL.contents);
  }, 120_000);

  afterAll(async () => {
    await node?.stop();
    await stack?.stop();
  });

  async function registerUnder(rules: Record<string, unknown>, eventLog: Uint8Array | undefined) {
    const put = await stack.admin('PUT', '/api/v1/admin/policies/GUARDIAN', policy(rules));
    expect(put.status).toBe(200);
    node.eventLog = eventLog ? Buffer.from(eventLog).toString('base64') : undefined;
    return node.register(stack, await stack.issueToken('GUARDIAN'));
  }

  it('stores the rules with the policy and returns them', async () => {
    const put = await stack.admin(
      'PUT',
      '/api/v1/admin/policies/GUARDIAN',
      policy({ requireSecureBoot: true }),
    );
    expect(put.body).toMatchObject({ eventLogRules: { requireSecureBoot: true } });
    expect((await stack.admin('GET', '/api/v1/admin/policies/GUARDIAN')).body).toMatchObject({
      eventLogRules: { requireSecureBoot: true },
    });
  });

  it('refuses a kernel that is not in the allowlist, naming the rule', async () => {
    const res = await registerUnder(
      { requireSecureBoot: true, kernelSha256Allowlist: ['ab'.repeat(32)] },
      boot.log.bytes,
    );
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({
      error: {
        code: 'ATTESTATION_INVALID',
        details: { reason: 'PCR_POLICY_VIOLATION', rule: 'kernelSha256Allowlist' },
      },
    });
  });

  it('refuses a registration without the event log when the tier judges it', async () => {
    const res = await registerUnder({ requireSecureBoot: true }, undefined);
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ error: { details: { reason: 'EVENT_LOG_INVALID' } } });
  });

  it('refuses a log edited after the fact: it no longer replays to the quoted PCRs', async () => {
    const events = boot.log.events.map((e) => ({ ...e }));
    const kernel = events.findIndex((e) => e.pcr === 9);
    const forged = {
      ...events[kernel]!,
      digests: { sha1: new Uint8Array(20).fill(1), sha256: new Uint8Array(32).fill(1) },
    };
    events[kernel] = forged;
    const res = await registerUnder(
      { kernelSha256Allowlist: [golden] },
      encodeEventLog(boot.log.banks, events),
    );
    expect(res.status).toBe(422);
    expect(res.body).toMatchObject({ error: { details: { reason: 'EVENT_LOG_MISMATCH' } } });
  });

  it('admits the node whose GRUB-measured kernel is the golden hash and Secure Boot is on', async () => {
    const res = await registerUnder(
      { requireSecureBoot: true, kernelSha256Allowlist: [golden] },
      boot.log.bytes,
    );
    expect(res.status).toBe(201);
  });
});
