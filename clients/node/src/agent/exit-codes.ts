import type { AgentErrorCode } from '../errors.ts';

/** The CLI's exit codes: its contract with installers, systemd units and scripts (README). */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  notRegistered: 3,
  tpm: 4,
  apiRejected: 5,
  apiUnreachable: 6,
  /** A persistent handle the agent wants holds an object it did not create (register: use --force). */
  handleOccupied: 7,
  /** The API activated the node but the agent lost its credentials: an admin must revoke it. */
  registrationLost: 8,
  revoked: 10,
  suspended: 11,
} as const;

export function exitCodeFor(code: AgentErrorCode): number {
  switch (code) {
    case 'USAGE':
    case 'TPM_SPEC_INVALID':
      return EXIT.usage;
    case 'NOT_REGISTERED':
    case 'STATE_INVALID':
    case 'ALREADY_REGISTERED':
      return EXIT.notRegistered;
    case 'HANDLE_OCCUPIED':
      return EXIT.handleOccupied;
    case 'REGISTRATION_LOST':
      return EXIT.registrationLost;
    case 'NODE_REVOKED':
      return EXIT.revoked;
    case 'NODE_SUSPENDED':
      return EXIT.suspended;
    case 'API_REJECTED':
    case 'API_RESPONSE_INVALID':
      return EXIT.apiRejected;
    case 'API_UNREACHABLE':
      return EXIT.apiUnreachable;
    case 'TPM_UNAVAILABLE':
    case 'TPM_TIMEOUT':
    case 'TPM_TRANSPORT_CLOSED':
    case 'TPM_RESPONSE_TRUNCATED':
    case 'TPM_RESPONSE_BAD_TAG':
    case 'TPM_RESPONSE_SIZE_MISMATCH':
    case 'TPM_RESPONSE_MALFORMED':
    case 'TPM_COMMAND_FAILED':
    case 'TBS_FAILED':
    case 'EK_CERT_NOT_FOUND':
      return EXIT.tpm;
  }
}
