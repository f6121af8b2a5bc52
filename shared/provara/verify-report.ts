/**
 * What the verifier says about a vault. Every failed check is a finding with a stable reason `code`; where
 * Provara's `errors.json` has a code for the same failure it is given as `provaraCode`, so reports line up
 * with Provara's taxonomy (docs/ERROR_CODES.md).
 */
export const VERIFY_REASONS = {
  // structure and files
  VAULT_STRUCTURE_INVALID: 'PROVARA_E302',
  VAULT_FILE_INVALID: undefined,
  SPEC_VERSION_MISMATCH: 'PROVARA_E303',
  MANIFEST_FILE_MISSING: 'PROVARA_E010',
  MANIFEST_SIZE_MISMATCH: 'PROVARA_E011',
  MANIFEST_HASH_MISMATCH: 'PROVARA_E012',
  MANIFEST_PHANTOM_FILE: undefined,
  MERKLE_ROOT_MISMATCH: 'PROVARA_E008',
  MANIFEST_SIG_INVALID: 'PROVARA_E003',
  MANIFEST_SIG_STALE: undefined,
  // keys
  KEY_ID_FORMAT: 'PROVARA_E102',
  KEY_ID_MISMATCH: 'PROVARA_E001',
  DUPLICATE_KEY_ID: undefined,
  GENESIS_ROOT_KEY_UNKNOWN: 'PROVARA_E204',
  GENESIS_MISMATCH: undefined,
  ROOT_KEY_NOT_PINNED: undefined,
  KEY_NOT_FOUND: 'PROVARA_E204',
  KEY_NOT_AUTHORIZED: undefined,
  KEY_REVOKED: undefined,
  KEYS_FILE_REVOCATION_MISSING: undefined,
  KEY_PROMOTION_MISMATCH: undefined,
  KEY_PROMOTION_MISSING: undefined,
  KEY_ROTATION_SELF_SIGN: 'PROVARA_E200',
  KEY_ROTATION_INVALID_SIGNER: 'PROVARA_E202',
  KEY_ROTATION_BOUNDARY_MISSING: 'PROVARA_E203',
  TRUST_BOUNDARY_INVALID: undefined,
  // events
  MALFORMED_EVENT_LINE: 'PROVARA_E104',
  REQUIRED_FIELD_MISSING: 'PROVARA_E300',
  INVALID_EVENT_TYPE: 'PROVARA_E301',
  EVENT_ID_FORMAT: 'PROVARA_E101',
  EVENT_ID_MISMATCH: 'PROVARA_E004',
  EVENT_ID_LEGACY_VARIANT_B: undefined,
  DUPLICATE_EVENT_ID: 'PROVARA_E007',
  SIGNATURE_MISSING: 'PROVARA_E003',
  SIGNATURE_FORMAT: 'PROVARA_E103',
  SIG_FORMAT_UNKNOWN: 'PROVARA_E103',
  SIGNATURE_INVALID: 'PROVARA_E003',
  KEY_ALGORITHM_UNSUPPORTED: 'PROVARA_E003',
  REDACTED_EVENT_UNVERIFIED: undefined,
  // chain
  FIRST_EVENT_PREV_NOT_NULL: 'PROVARA_E013',
  BROKEN_CAUSAL_CHAIN: 'PROVARA_E002',
  CROSS_ACTOR_CHAIN_REFERENCE: 'PROVARA_E005',
  ORPHAN_CHAIN_REFERENCE: 'PROVARA_E006',
  // FIDO2 envelope
  WEBAUTHN_KEY_NOT_FIDO2: 'PROVARA_E003',
  WEBAUTHN_CREDENTIAL_MISMATCH: 'PROVARA_E003',
  WEBAUTHN_AUTH_DATA_MALFORMED: 'PROVARA_E003',
  WEBAUTHN_RP_ID_MISMATCH: 'PROVARA_E003',
  WEBAUTHN_USER_NOT_PRESENT: 'PROVARA_E003',
  WEBAUTHN_SIGNATURE_INVALID: 'PROVARA_E003',
  WEBAUTHN_COUNTER_REGRESSION: undefined,
  // threshold
  THRESHOLD_POLICY_INVALID: undefined,
  MULTISIG_REQUIRED: undefined,
  MULTISIG_POLICY_MISMATCH: undefined,
  MULTISIG_MALFORMED: undefined,
  MULTISIG_DUPLICATE_SIGNER: undefined,
  MULTISIG_UNKNOWN_KEY: undefined,
  MULTISIG_SIGNER_NOT_IN_POLICY: undefined,
  MULTISIG_BAD_SIGNATURE: undefined,
  MULTISIG_THRESHOLD_NOT_MET: undefined,
  MULTISIG_COMMITTER_NOT_IN_POLICY: undefined,
  // sessions
  SESSION_GRANT_INVALID: undefined,
  SESSION_GRANT_BY_SESSION_KEY: undefined,
  SESSION_KEY_NOT_GRANTED: undefined,
  SESSION_KEY_MISMATCH: undefined,
  SESSION_NOT_YET_VALID: undefined,
  SESSION_EXPIRED: undefined,
  SESSION_SCOPE_TYPE: undefined,
  SESSION_SCOPE_ACTOR: undefined,
  SESSION_EVENT_LIMIT: undefined,
  // state
  REDUCER_FAILED: undefined,
} as const satisfies Record<string, `PROVARA_E${number}` | undefined>;

export type VerifyReason = keyof typeof VERIFY_REASONS;

export interface Finding {
  code: VerifyReason;
  provaraCode: string | undefined;
  message: string;
  line?: number;
  eventId?: string;
  path?: string;
  keyId?: string;
}

export interface VerifyReport {
  ok: boolean;
  /** Failed checks: any of them makes the vault invalid. */
  errors: Finding[];
  /** Accepted but noteworthy (legacy event ids, a stale manifest.sig, unverifiable redactions). */
  warnings: Finding[];
  eventCount: number;
  eventIdVariants: { A: number; B: number };
  /** Events by signature kind: Profile A Ed25519, FIDO2 envelope, session key, multisig. */
  signatures: { ed25519: number; webauthn: number; session: number; multisig: number };
  stateHash: string | undefined;
  merkleRoot: string | undefined;
  rootKeyId: string | undefined;
}

export function finding(
  code: VerifyReason,
  message: string,
  at: Omit<Finding, 'code' | 'provaraCode' | 'message'> = {},
): Finding {
  return { code, provaraCode: VERIFY_REASONS[code], message, ...at };
}
