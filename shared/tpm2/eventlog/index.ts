/**
 * Measured boot: parse and replay the TCG PC Client event log, then judge what booted
 * (ATTESTATION.md §3.11-3.12). Pipeline: parseEventLog → replayEventLog(log, verifiedQuote.pcrs) →
 * extractFacts → evaluateEventLogPolicy.
 */
export type { CertificateFact } from './certificate.ts';
export { EFI_GUID, formatGuid } from './efi-guid.ts';
export { type EfiSignature, parseEfiSignatureLists } from './efi-signature-list.ts';
export { type EfiVariable, parseEfiVariable } from './efi-variable.ts';
export { EV, type EventTypeName, eventTypeName } from './event-types.ts';
export { type BootApplication, type EventLogFacts, extractFacts } from './facts.ts';
export type { FileMeasurement, GrubFacts } from './grub.ts';
export { type EventLog, type LogEvent, parseEventLog } from './parse.ts';
export { type EventLogRule, type EventLogRules, evaluateEventLogPolicy } from './policy.ts';
export {
  type AuthenticatedEvent,
  type QuotedPcrs,
  type ReplayedEventLog,
  type ReplayOptions,
  replayEventLog,
} from './replay.ts';
export type { AuthorityFact, SecureBootFacts, SignatureDatabase } from './secure-boot.ts';
export type { SpecIdEvent } from './spec-id-event.ts';
