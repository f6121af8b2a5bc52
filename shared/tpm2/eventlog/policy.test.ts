import { describe, expect, it } from 'vitest';
import { EventLogRules as EventLogRulesSchema } from '../../api/eventlog-policy.ts';
import { TpmError } from '../errors.ts';
import { type EventLogFacts, extractFacts } from './facts.ts';
import { parseEventLog } from './parse.ts';
import { type EventLogRule, type EventLogRules, evaluateEventLogPolicy } from './policy.ts';
import { replayEventLog } from './replay.ts';
import type { SyntheticLogOptions } from './testing/build-log.ts';
import { BOOT_APP, INITRD, KERNEL, sha256Hex, syntheticBoot } from './testing/synthetic.ts';

/** Facts of a synthetic boot, anchored to its own replayed values in `banks`. */
async function facts(overrides: Partial<SyntheticLogOptions> = {}, banks = ['sha1', 'sha256']) {
  const boot = await syntheticBoot(overrides);
  const log = parseEventLog(boot.log.bytes);
  const own = (await replayEventLog(log)).replayed;
  const quoted = Object.fromEntries(banks.map((b) => [b, own[b] ?? {}]));
  return { facts: await extractFacts(await replayEventLog(log, quoted)), boot };
}

function violates(f: EventLogFacts, rules: EventLogRules, rule: EventLogRule, message: RegExp): void {
  let err: unknown;
  try {
    evaluateEventLogPolicy(f, rules);
  } catch (e) {
    err = e;
  }
  expect(err, `expected PCR_POLICY_VIOLATION ${rule}`).toBeInstanceOf(TpmError);
  expect((err as TpmError).reason).toBe('PCR_POLICY_VIOLATION');
  expect((err as TpmError).details).toEqual({ rule });
  expect((err as TpmError).message).toMatch(message);
}

const other = 'ab'.repeat(32);

describe('evaluateEventLogPolicy', () => {
  it('passes a boot that satisfies every rule (hashes in either case)', async () => {
    const { facts: f, boot } = await facts();
    const rules: EventLogRules = {
      requireSecureBoot: true,
      kernelSha256Allowlist: [other, (await sha256Hex(KERNEL.contents)).toUpperCase()],
      initrdSha256Allowlist: [await sha256Hex(INITRD.contents)],
      bootApplicationSha256Allowlist: [await sha256Hex(BOOT_APP.image)],
      dbMustContain: [boot.dbCertSha256],
      dbxMustContain: ['db'.repeat(32)],
    };
    expect(() => evaluateEventLogPolicy(f, rules)).not.toThrow();
    expect(() => evaluateEventLogPolicy(f, {})).not.toThrow();
  });

  it('requireSecureBoot: Secure Boot off fails naming the rule', async () => {
    violates(
      (await facts({ secureBoot: false })).facts,
      { requireSecureBoot: true },
      'requireSecureBoot',
      /Secure Boot is off/,
    );
  });

  it('requireSecureBoot: no SecureBoot variable in an explained PCR 7 fails', async () => {
    const { facts: f } = await facts();
    violates(
      { ...f, secureBoot: undefined },
      { requireSecureBoot: true },
      'requireSecureBoot',
      /no SecureBoot variable/,
    );
  });

  it('kernelSha256Allowlist: a kernel not in the allowlist fails naming the rule and the kernel', async () => {
    violates(
      (await facts()).facts,
      { kernelSha256Allowlist: [other] },
      'kernelSha256Allowlist',
      /kernel \/boot\/vmlinuz-6\.8\.0-noderr has SHA-256 [0-9a-f]{64}, not in the allowlist/,
    );
  });

  it('kernelSha256Allowlist: no GRUB-measured kernel fails', async () => {
    const { facts: f } = await facts();
    violates(
      { ...f, grub: { ...f.grub, kernels: [] } },
      { kernelSha256Allowlist: [other] },
      'kernelSha256Allowlist',
      /no kernel/,
    );
  });

  it('kernelSha256Allowlist: a kernel authenticated only in the sha1 bank fails', async () => {
    const { facts: f } = await facts({}, ['sha1']);
    violates(
      f,
      { kernelSha256Allowlist: [await sha256Hex(KERNEL.contents)] },
      'kernelSha256Allowlist',
      /no authenticated sha256 digest/,
    );
  });

  it('initrdSha256Allowlist: an initrd not in the allowlist fails; an initrd-less boot passes', async () => {
    violates((await facts()).facts, { initrdSha256Allowlist: [other] }, 'initrdSha256Allowlist', /initrd/);
    const { facts: f } = await facts({ initrd: undefined });
    expect(() => evaluateEventLogPolicy(f, { initrdSha256Allowlist: [other] })).not.toThrow();
  });

  it('bootApplicationSha256Allowlist: an unlisted boot application fails, and so does having none', async () => {
    violates(
      (await facts()).facts,
      { bootApplicationSha256Allowlist: [other] },
      'bootApplicationSha256Allowlist',
      /BOOTX64/,
    );
    violates(
      (await facts({ bootApplication: undefined })).facts,
      { bootApplicationSha256Allowlist: [other] },
      'bootApplicationSha256Allowlist',
      /no boot application/,
    );
  });

  it('dbMustContain / dbxMustContain: a missing entry fails naming the rule', async () => {
    const { facts: f } = await facts();
    violates(f, { dbMustContain: [other] }, 'dbMustContain', /db does not contain/);
    violates(f, { dbxMustContain: [other] }, 'dbxMustContain', /dbx does not contain/);
    violates({ ...f, secureBoot: undefined }, { dbMustContain: [other] }, 'dbMustContain', /not measured/);
  });

  it('the first failing rule in rule order is the one reported', async () => {
    violates(
      (await facts({ secureBoot: false })).facts,
      { dbMustContain: [other], requireSecureBoot: true },
      'requireSecureBoot',
      /off/,
    );
  });

  it('facts of an unanchored replay are refused as EVENT_LOG_MISMATCH', async () => {
    const boot = await syntheticBoot();
    const f = await extractFacts(await replayEventLog(parseEventLog(boot.log.bytes)));
    let err: unknown;
    try {
      evaluateEventLogPolicy(f, {});
    } catch (e) {
      err = e;
    }
    expect((err as TpmError).reason).toBe('EVENT_LOG_MISMATCH');
    expect((err as TpmError).details).toEqual({ check: 'anchored' });
  });
});

describe('the eventLogRules API schema', () => {
  it('accepts every rule and rejects unknown keys, non-hex and empty lists', () => {
    const ok = EventLogRulesSchema.safeParse({
      requireSecureBoot: true,
      kernelSha256Allowlist: ['AB'.repeat(32)],
      dbMustContain: [other],
    });
    expect(ok.success).toBe(true);
    expect(EventLogRulesSchema.safeParse({ kernelSha256Allowlist: ['xyz'] }).success).toBe(false);
    expect(EventLogRulesSchema.safeParse({ kernelSha256Allowlist: [] }).success).toBe(false);
    expect(EventLogRulesSchema.safeParse({ requireSecureboot: true }).success).toBe(false);
  });
});
