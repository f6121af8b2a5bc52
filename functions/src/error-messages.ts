import type { ErrorCode } from '../../shared/api/error-codes.ts';

/** What a caller should do for each code, used when a lower layer (SQL, tpm2-ts) raised the code. */
export const DEFAULT_MESSAGES: Partial<Record<ErrorCode, string>> = {
  VALIDATION_FAILED: 'The request does not match the schema; see details.issues and /openapi.json.',
  INSTALL_TOKEN_INVALID:
    'The install token is unknown; copy it again from the welcome email or ask for a new one.',
  INSTALL_TOKEN_USED: 'This install token has already registered a node; ask the dApp admin for a new token.',
  INSTALL_TOKEN_EXPIRED: 'This install token has expired; ask the dApp admin for a new token.',
  INSTALL_TOKEN_REVOKED: 'This install token was revoked by an admin; ask the dApp admin for a new token.',
  CHALLENGE_INVALID:
    'The nonce is unknown, already used, or bound to another token or node; request a new challenge.',
  CHALLENGE_EXPIRED: 'The nonce has expired; request a new challenge and answer it promptly.',
  EK_ALREADY_REGISTERED: "This TPM's endorsement key already belongs to a node; revoke that node first.",
  ACTIVATION_NOT_FOUND: 'The activation is unknown or expired; register again to get a new one.',
  ACTIVATION_FAILED:
    'The secret does not match; run TPM2_ActivateCredential with this TPM and send what it returns.',
  CREDENTIALS_INVALID: 'The node id, API key or challenge signature is wrong.',
  NODE_NOT_FOUND: 'No node has this id; check the node id your installer stored.',
  NODE_SUSPENDED: 'This node is suspended; an admin must review and reactivate it.',
  NODE_REVOKED: 'This node was revoked; it cannot be used again — install with a new token.',
  NOT_FOUND: 'No such resource.',
  CONFLICT: 'The request conflicts with the current state of the resource.',
  ACTION_NOT_FOUND: 'No pending action has this id.',
  ACTION_EXPIRED: 'This action expired before its quorum was met; request it again.',
  ACTION_NOT_PENDING: 'This action was already executed.',
  APPROVAL_INVALID:
    'The approval was not accepted; sign the action’s own digest with your active security key.',
};
