/**
 * The API's stable error codes and their HTTP statuses (design/API.md, "Error codes").
 * Codes may be added, never renamed: installers, the agent and the dApp switch on them.
 */
export const ERROR_STATUS = {
  VALIDATION_FAILED: 400,
  INSTALL_TOKEN_INVALID: 401,
  INSTALL_TOKEN_USED: 409,
  INSTALL_TOKEN_EXPIRED: 410,
  INSTALL_TOKEN_REVOKED: 403,
  CHALLENGE_INVALID: 400,
  CHALLENGE_EXPIRED: 410,
  ATTESTATION_INVALID: 422,
  EK_ALREADY_REGISTERED: 409,
  ACTIVATION_NOT_FOUND: 404,
  ACTIVATION_FAILED: 401,
  CREDENTIALS_INVALID: 401,
  SESSION_INVALID: 401,
  SESSION_FORBIDDEN: 403,
  NODE_NOT_FOUND: 404,
  NODE_SUSPENDED: 403,
  NODE_REVOKED: 403,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  DATABASE_UNAVAILABLE: 503,
  /** No node-session signing key is active (the admin quorum has not approved one yet). */
  SESSION_KEY_UNAVAILABLE: 503,
  // Administrator hardware keys and the approval quorum (issue 12).
  WEBAUTHN_REGISTRATION_FAILED: 400,
  ACTION_NOT_FOUND: 404,
  ACTION_EXPIRED: 410,
  ACTION_NOT_PENDING: 409,
  APPROVAL_INVALID: 403,
  AUDIT_LOG_UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/** The one error body shape every failure has. */
export interface ErrorBody {
  error: {
    code: ErrorCode;
    message: string;
    requestId: string;
    details?: Record<string, unknown>;
  };
}
