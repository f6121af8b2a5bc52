/**
 * Event types this implementation adds, reverse-domain named as Provara's extension rules require. A
 * Profile A verifier treats them as unknown types: it checks their `sig` and chain and the reducer counts
 * them, so vaults that use them stay readable by Provara's Python tools.
 */
export const THRESHOLD_POLICY_TYPE = 'com.noderr.provara.threshold_policy';
export const POLICY_UPDATE_TYPE = 'com.noderr.provara.policy_update';
export const SESSION_GRANT_TYPE = 'com.noderr.provara.session_grant';
export const REDACTION_TYPE = 'com.provara.redaction';

/**
 * Operations that need `t` of `n` signatures once a threshold policy is in force: changing who holds keys,
 * and changing (loosening) policy — including the threshold policy itself.
 */
export const CRITICAL_TYPES = new Set([
  'KEY_PROMOTION',
  'KEY_REVOCATION',
  THRESHOLD_POLICY_TYPE,
  POLICY_UPDATE_TYPE,
]);

export const CORE_TYPES = new Set([
  'GENESIS',
  'OBSERVATION',
  'ASSERTION',
  'ATTESTATION',
  'RETRACTION',
  'KEY_REVOCATION',
  'KEY_PROMOTION',
  'REDUCER_EPOCH',
]);

/** Core, reverse-domain (`com.example.x`), or an upper-case name as Provara's `append --type` accepts. */
export function isValidEventType(t: string): boolean {
  return CORE_TYPES.has(t) || /^[a-z][a-z0-9-]*(\.[a-z0-9_-]+){2,}$/.test(t) || /^[A-Z][A-Z0-9_]*$/.test(t);
}
