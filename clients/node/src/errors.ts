/**
 * Every failure the agent reports has a stable machine `code` (scripts and the daemon switch on it) and a
 * message that says what to do. Codes may be added, never renamed.
 */
export const AGENT_ERROR_CODES = [
  // ── the TPM and the way to it ──
  'TPM_SPEC_INVALID',
  'TPM_UNAVAILABLE',
  'TPM_TIMEOUT',
  'TPM_TRANSPORT_CLOSED',
  'TPM_RESPONSE_TRUNCATED',
  'TPM_RESPONSE_BAD_TAG',
  'TPM_RESPONSE_SIZE_MISMATCH',
  'TPM_RESPONSE_MALFORMED',
  'TPM_COMMAND_FAILED',
  'TBS_FAILED',
  'EK_CERT_NOT_FOUND',
  // ── the agent's own state ──
  'NOT_REGISTERED',
  'ALREADY_REGISTERED',
  'STATE_INVALID',
  'HANDLE_OCCUPIED',
  'REGISTRATION_LOST',
  // ── the API ──
  'API_UNREACHABLE',
  'API_REJECTED',
  'API_RESPONSE_INVALID',
  'NODE_REVOKED',
  'NODE_SUSPENDED',
  // ── the operator ──
  'USAGE',
] as const;

export type AgentErrorCode = (typeof AGENT_ERROR_CODES)[number];

export class AgentError extends Error {
  readonly code: AgentErrorCode;
  /** Extra machine-readable facts (never secrets), printed under `details` with `--json`. */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: AgentErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'AgentError';
    this.code = code;
    this.details = details;
  }
}

export function isAgentError(e: unknown): e is AgentError {
  return e instanceof AgentError;
}
