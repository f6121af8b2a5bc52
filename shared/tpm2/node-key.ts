import { TPMA_OBJECT } from './constants.ts';
import { requireAttributes } from './object-attributes.ts';
import type { TpmtPublic } from './structures/public.ts';

/**
 * What a node key certified by the AK must be (ATTESTATION.md §3.8; go-attestation
 * `CertificationParameters.Verify`): generated inside this TPM and unable to leave it, and an ordinary
 * signing key. `restricted` is forbidden because the node key signs arbitrary application data, and a
 * restricted key would make the fleet's keys indistinguishable from AKs; `decrypt` because one key must
 * not both sign and decrypt.
 */
export const NODE_KEY_REQUIRED_ATTRIBUTES =
  TPMA_OBJECT.fixedTPM | TPMA_OBJECT.fixedParent | TPMA_OBJECT.sensitiveDataOrigin | TPMA_OBJECT.sign;

export const NODE_KEY_FORBIDDEN_ATTRIBUTES = TPMA_OBJECT.restricted | TPMA_OBJECT.decrypt;

/** Throws NODE_KEY_ATTRIBUTES_INVALID unless the certified key has the node-key attributes. */
export function requireNodeKeyAttributes(key: TpmtPublic): void {
  requireAttributes(key.objectAttributes, {
    required: NODE_KEY_REQUIRED_ATTRIBUTES,
    forbidden: NODE_KEY_FORBIDDEN_ATTRIBUTES,
    reason: 'NODE_KEY_ATTRIBUTES_INVALID',
    what: 'node key',
  });
}
