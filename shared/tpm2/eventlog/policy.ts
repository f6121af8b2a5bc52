import { TpmError } from '../errors.ts';
import type { EventLogFacts } from './facts.ts';

/**
 * The `eventlog` policy mode: judgements on the FACTS of a replayed, quote-anchored log instead of raw
 * PCR values, so a tier keeps admitting nodes across firmware and kernel updates that keep these facts
 * (keylime's measured-boot reference state is the model). Every entry is lowercase or uppercase hex;
 * hashes are SHA-256. A violation throws `TpmError('PCR_POLICY_VIOLATION')` whose `details.rule` names
 * the failing rule; rules are checked in the order below, so the first failing one is reported.
 */
export interface EventLogRules {
  /** The SecureBoot variable in an explained PCR 7 is 1 (Secure Boot enforcing). */
  requireSecureBoot?: boolean;
  /**
   * Every kernel GRUB loaded has its file SHA-256 (= `sha256sum /boot/vmlinuz-…`, the MASTR golden hash)
   * in this list, authenticated in the sha256 bank, and at least one kernel was loaded.
   */
  kernelSha256Allowlist?: string[];
  /** Every initrd GRUB loaded has its file SHA-256 in this list (an initrd-less boot passes). */
  initrdSha256Allowlist?: string[];
  /** Every PCR 4 boot application (shim, GRUB, …) has its Authenticode SHA-256 in this list; at least one. */
  bootApplicationSha256Allowlist?: string[];
  /** db holds each of these: a certificate's SHA-256 fingerprint (of its DER) or a SHA-256 hash entry. */
  dbMustContain?: string[];
  /** dbx holds each of these (revoked hashes or certificate fingerprints). */
  dbxMustContain?: string[];
}

export type EventLogRule = keyof EventLogRules;

function violation(rule: EventLogRule, message: string): TpmError {
  return new TpmError('PCR_POLICY_VIOLATION', `eventLogRules.${rule}: ${message}`, { rule });
}

const norm = (list: readonly string[]) => new Set(list.map((h) => h.toLowerCase()));

function checkFiles(
  rule: EventLogRule,
  what: string,
  files: readonly { path: string; digests: Record<string, string> }[],
  allow: readonly string[],
  atLeastOne: boolean,
): void {
  if (atLeastOne && files.length === 0) throw violation(rule, `no ${what} in the explained PCRs of the log`);
  const allowed = norm(allow);
  for (const f of files) {
    const sha256 = f.digests.sha256;
    if (sha256 === undefined) {
      throw violation(
        rule,
        `${what} ${f.path || '(no path)'} has no authenticated sha256 digest (sha256 bank not quoted or not in the log)`,
      );
    }
    if (!allowed.has(sha256))
      throw violation(rule, `${what} ${f.path || '(no path)'} has SHA-256 ${sha256}, not in the allowlist`);
  }
}

function checkContains(
  rule: EventLogRule,
  name: string,
  db: { certificates: { sha256: string }[]; sha256: string[] } | undefined,
  required: readonly string[],
): void {
  if (!db) throw violation(rule, `${name} is not measured in an explained PCR 7`);
  const present = new Set([...db.certificates.map((c) => c.sha256), ...db.sha256]);
  for (const h of norm(required)) {
    if (!present.has(h)) throw violation(rule, `${name} does not contain ${h}`);
  }
}

/**
 * Applies `rules` to facts from `extractFacts`. Facts from an unanchored replay are refused outright
 * (`EVENT_LOG_MISMATCH`): a log not checked against a quote proves nothing.
 *
 * @example
 * evaluateEventLogPolicy(facts, { requireSecureBoot: true, kernelSha256Allowlist: [golden] });
 */
export function evaluateEventLogPolicy(facts: EventLogFacts, rules: EventLogRules): void {
  if (!facts.anchored) {
    throw new TpmError('EVENT_LOG_MISMATCH', 'the event log facts were not replayed against a quote', {
      check: 'anchored',
    });
  }
  if (rules.requireSecureBoot === true) {
    if (!facts.secureBoot)
      throw violation('requireSecureBoot', 'no SecureBoot variable in an explained PCR 7');
    if (!facts.secureBoot.enabled) throw violation('requireSecureBoot', 'Secure Boot is off');
  }
  if (rules.kernelSha256Allowlist) {
    checkFiles('kernelSha256Allowlist', 'kernel', facts.grub.kernels, rules.kernelSha256Allowlist, true);
  }
  if (rules.initrdSha256Allowlist) {
    checkFiles('initrdSha256Allowlist', 'initrd', facts.grub.initrds, rules.initrdSha256Allowlist, false);
  }
  if (rules.bootApplicationSha256Allowlist) {
    const apps = facts.bootApplications.map((a) => ({
      path: a.path ?? `event ${a.sequence}`,
      digests: a.digests,
    }));
    checkFiles(
      'bootApplicationSha256Allowlist',
      'boot application',
      apps,
      rules.bootApplicationSha256Allowlist,
      true,
    );
  }
  if (rules.dbMustContain) checkContains('dbMustContain', 'db', facts.secureBoot?.db, rules.dbMustContain);
  if (rules.dbxMustContain)
    checkContains('dbxMustContain', 'dbx', facts.secureBoot?.dbx, rules.dbxMustContain);
}
