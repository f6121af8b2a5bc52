import { TPM_ALG } from '../../../../shared/tpm2/constants.ts';
import { ByteWriter } from '../../../../shared/tpm2/cursor.ts';
import { TPM_CC, TPM_RH, TPM_SE } from './constants.ts';
import type { AuthCommand } from './framing.ts';
import type { Tpm } from './tpm.ts';

/**
 * Authorization sessions (Part 1 §19). The agent needs two kinds: the password session (TPM_RS_PW, the
 * auth value in clear — its keys and hierarchies have empty auth values) and a policy session satisfying
 * PolicySecret(TPM_RH_ENDORSEMENT), the authPolicy of the TCG default EK templates, which
 * TPM2_ActivateCredential needs to use the EK.
 */

const EMPTY = new Uint8Array(0);

/** A password authorization (`TPM_RS_PW`); `password` empty for the agent's own keys and hierarchies. */
export function passwordAuth(password: Uint8Array = EMPTY): AuthCommand {
  return { handle: TPM_RH.PW, nonce: EMPTY, attributes: 0, hmac: password };
}

/**
 * A policy session used as an authorization. Unbound and unsalted, with no PolicyAuthValue/Password in its
 * policy, the session key and auth value are empty, so no HMAC is required (Part 1 §19.6.13).
 * continueSession is clear: the TPM flushes the session after the command.
 */
export function policyAuth(sessionHandle: number): AuthCommand {
  return { handle: sessionHandle, nonce: EMPTY, attributes: 0, hmac: EMPTY };
}

export interface StartedSession {
  handle: number;
  nonceTpm: Uint8Array;
}

/** TPM2_StartAuthSession: an unbound, unsalted session with no parameter encryption, SHA-256. */
export function startAuthSession(tpm: Tpm, type: number = TPM_SE.POLICY): Promise<StartedSession> {
  const nonceCaller = crypto.getRandomValues(new Uint8Array(32));
  const params = new ByteWriter()
    .tpm2b(nonceCaller)
    .tpm2b(EMPTY) // encryptedSalt: unsalted
    .u8(type)
    .u16(TPM_ALG.NULL) // symmetric: no parameter encryption
    .u16(TPM_ALG.SHA256)
    .finish();
  return tpm.run({
    name: 'StartAuthSession',
    code: TPM_CC.StartAuthSession,
    handles: [TPM_RH.NULL, TPM_RH.NULL], // tpmKey, bind
    params,
    responseHandles: 1,
    parse: (r, handles) => ({ handle: handles[0]!, nonceTpm: r.tpm2b('nonceTPM', 64) }),
  });
}

/**
 * TPM2_PolicySecret(authHandle, policySession): extends the session's policy digest with the proof that the
 * caller knows authHandle's auth value (empty for the endorsement hierarchy on an unprovisioned TPM).
 */
export function policySecret(
  tpm: Tpm,
  authHandle: number,
  session: StartedSession,
  authValue: Uint8Array = EMPTY,
): Promise<void> {
  const params = new ByteWriter()
    .tpm2b(session.nonceTpm)
    .tpm2b(EMPTY) // cpHashA
    .tpm2b(EMPTY) // policyRef
    .u32(0) // expiration: none, and no ticket wanted
    .finish();
  return tpm.run({
    name: 'PolicySecret',
    code: TPM_CC.PolicySecret,
    handles: [authHandle, session.handle],
    sessions: [passwordAuth(authValue)],
    params,
    parse: (r) => {
      r.tpm2b('timeout', 64);
      // TPMT_TK_AUTH: tag, hierarchy, digest (a NULL ticket when expiration is 0).
      r.u16('policyTicket.tag');
      r.u32('policyTicket.hierarchy');
      r.tpm2b('policyTicket.digest', 64);
    },
  });
}

/** TPM2_FlushContext: frees a transient object or session (the handle is a parameter, not a handle). */
export function flushContext(tpm: Tpm, handle: number): Promise<void> {
  return tpm.run({
    name: 'FlushContext',
    code: TPM_CC.FlushContext,
    params: new ByteWriter().u32(handle).finish(),
    parse: () => undefined,
  });
}
