import { z } from 'zod';

/**
 * `eventLogRules` of a tier policy (`PUT /policies/{tier}`): the `eventlog` mode judged on the facts of
 * a replayed boot event log (shared/tpm2/eventlog/policy.ts). Optional and additive: a policy body
 * without it is unchanged, and every rule is optional. Entries are SHA-256 hex (either case).
 */
const Sha256Hex = z.string().regex(/^[0-9a-fA-F]{64}$/, 'a SHA-256 digest as 64 hex characters');
const Sha256List = z.array(Sha256Hex).min(1).max(1024);

export const EventLogRules = z
  .strictObject({
    requireSecureBoot: z.boolean().optional(),
    kernelSha256Allowlist: Sha256List.optional(),
    initrdSha256Allowlist: Sha256List.optional(),
    bootApplicationSha256Allowlist: Sha256List.optional(),
    dbMustContain: Sha256List.optional(),
    dbxMustContain: Sha256List.optional(),
  })
  .meta({ id: 'EventLogRules' });

export type EventLogRulesBody = z.infer<typeof EventLogRules>;
