import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Swtpm, startSwtpm } from '../../../scripts/lib/swtpm.ts';
import { createAk, createEk, quote } from '../../../scripts/lib/tpm-fixture.ts';
import { tpm2 } from '../../../scripts/lib/tpm2-tools.ts';
import { toHex } from '../../encoding/bytes.ts';
import { TpmError } from '../errors.ts';
import { type VerifiedQuote, verifyQuote } from '../verify-quote.ts';
import { extractFacts } from './facts.ts';
import { parseEventLog } from './parse.ts';
import { evaluateEventLogPolicy } from './policy.ts';
import { replayEventLog } from './replay.ts';
import { buildSyntheticLog, type SyntheticLog } from './testing/build-log.ts';
import { KERNEL, type SyntheticBoot, sha256Hex, syntheticBoot } from './testing/synthetic.ts';

/**
 * End to end on a real TPM (swtpm): a synthetic crypto-agile log whose every event is also extended into
 * swtpm's sha1 and sha256 PCRs, quoted by an AK, the quote verified, the log replayed against the
 * verified PCRs, the facts judged. One TPM boots with Secure Boot on, another with it off (PCRs 0-15
 * cannot be reset, so each boot needs its own TPM).
 */

interface Booted {
  tpm: Swtpm;
  dir: string;
  boot: SyntheticBoot;
  verified: VerifiedQuote;
}

async function bootAndQuote(secureBoot: boolean): Promise<Booted> {
  const tpm = await startSwtpm({ pcrBanks: 'sha1,sha256' });
  const dir = mkdtempSync(join(tmpdir(), 'noderr-eventlog-'));
  const boot = await syntheticBoot({ secureBoot });
  for (const e of boot.log.events) {
    const d = `sha1=${toHex(e.digests.sha1!)},sha256=${toHex(e.digests.sha256!)}`;
    await tpm2(tpm.tcti, 'tpm2_pcrextend', [`${e.pcr}:${d}`]);
  }
  const ek = await createEk(tpm, dir, 'ecc');
  const ak = await createAk(tpm, dir, ek, 'ecc-ecdsa');
  const nonce = crypto.getRandomValues(new Uint8Array(16));
  const q = await quote(tpm, dir, ak, nonce, 'sha1:0,4,5,7,8,9+sha256:0,4,5,7,8,9');
  const verified = await verifyQuote({
    akPublic: ak.public,
    quote: q.message,
    signature: q.signature,
    pcrValues: q.pcrs,
    nonce,
  });
  return { tpm, dir, boot, verified };
}

async function judge(
  log: SyntheticLog | Uint8Array,
  verified: VerifiedQuote,
  rules: Parameters<typeof evaluateEventLogPolicy>[1],
) {
  const bytes = log instanceof Uint8Array ? log : log.bytes;
  const facts = await extractFacts(await replayEventLog(parseEventLog(bytes), verified.pcrs));
  evaluateEventLogPolicy(facts, rules);
  return facts;
}

async function refused(p: Promise<unknown>): Promise<TpmError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(TpmError);
  return err as TpmError;
}

let on: Booted;
let off: Booted;
let golden: string;

beforeAll(async () => {
  golden = await sha256Hex(KERNEL.contents);
  on = await bootAndQuote(true);
  off = await bootAndQuote(false);
}, 120_000);

afterAll(async () => {
  for (const b of [on, off]) {
    if (!b) continue;
    await b.tpm.stop();
    rmSync(b.dir, { recursive: true, force: true });
  }
});

describe('measured boot on swtpm', () => {
  it('the synthetic log explains every quoted PCR of the real TPM in both banks', async () => {
    const r = await replayEventLog(parseEventLog(on.boot.log.bytes), on.verified.pcrs);
    expect(r.explained).toEqual({ sha1: [0, 4, 5, 7, 8, 9], sha256: [0, 4, 5, 7, 8, 9] });
    expect(r.workarounds).toEqual([]);
  });

  it('an allowed kernel hash (sha256sum of the kernel file) passes, with Secure Boot required', async () => {
    const facts = await judge(on.boot.log, on.verified, {
      requireSecureBoot: true,
      kernelSha256Allowlist: [golden],
      dbMustContain: [on.boot.dbCertSha256],
    });
    expect(facts.grub.kernels.map((k) => k.digests.sha256)).toEqual([golden]);
  });

  it('a kernel hash not in the allowlist is refused naming kernelSha256Allowlist', async () => {
    const err = await refused(judge(on.boot.log, on.verified, { kernelSha256Allowlist: ['00'.repeat(32)] }));
    expect(err.reason).toBe('PCR_POLICY_VIOLATION');
    expect(err.details).toEqual({ rule: 'kernelSha256Allowlist' });
  });

  it('a log edited after the fact (another kernel claimed) fails replay naming the bank and PCR 9', async () => {
    // The attacker rebuilds the log as if an allowed-looking kernel had booted; the TPM saw the real one.
    const edited = await buildSyntheticLog({
      ...on.boot.options,
      kernel: { ...KERNEL, contents: new TextEncoder().encode('evil') },
    });
    const err = await refused(judge(edited, on.verified, { kernelSha256Allowlist: [golden] }));
    expect(err.reason).toBe('EVENT_LOG_MISMATCH');
    expect(err.details).toEqual({ bank: 'sha1', pcr: 9 });
  });

  it('Secure Boot off is refused under requireSecureBoot naming the rule', async () => {
    const err = await refused(judge(off.boot.log, off.verified, { requireSecureBoot: true }));
    expect(err.reason).toBe('PCR_POLICY_VIOLATION');
    expect(err.details).toEqual({ rule: 'requireSecureBoot' });
    // The same boot passes a policy that does not require it.
    await judge(off.boot.log, off.verified, { kernelSha256Allowlist: [golden] });
  });

  it('the Secure Boot-on log does not replay against the Secure Boot-off TPM (PCR 7 differs)', async () => {
    const err = await refused(judge(on.boot.log, off.verified, {}));
    expect(err.details).toEqual({ bank: 'sha1', pcr: 7 });
  });
});
