import {
  type AuthenticationResponseJSON,
  type AuthenticatorTransport,
  generateAuthenticationOptions,
  generateRegistrationOptions,
  type RegistrationResponseJSON,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from '@simplewebauthn/server';
import {
  decodeClientDataJSON,
  decodeCredentialPublicKey,
  isoBase64URL,
} from '@simplewebauthn/server/helpers';
import { fromHex } from '../../../shared/encoding/bytes.ts';
import { keyIdFromPublicKey } from '../../../shared/provara/key-id.ts';
import type { Config } from '../config.ts';
import { ApiError } from '../errors.ts';
import type { AdminCredentialKey, PendingAction } from '../storage/types.ts';

/**
 * WebAuthn ceremonies for administrators' security keys, verified with @simplewebauthn/server on the
 * Worker's WebCrypto. Relying party: WEBAUTHN_RP_ID (default: host of the first DAPP_ORIGINS entry);
 * accepted origins: DAPP_ORIGINS. Keys must be EdDSA (-8) or ES256 (-7), the algorithms a Provara `bp1_`
 * id is defined for. User presence is required (the touch); user verification is preferred, not required.
 */
export const RP_NAME = 'noderr-trust';

function rp(config: Config): { rpID: string; origins: string[] } {
  if (!config.webauthnRpId || config.dappOrigins.length === 0) {
    throw new ApiError(
      'FORBIDDEN',
      'Security keys need DAPP_ORIGINS (and optionally WEBAUTHN_RP_ID) to be configured.',
    );
  }
  return { rpID: config.webauthnRpId, origins: config.dappOrigins };
}

export async function registrationOptions(
  config: Config,
  admin: { userId: string; email: string | undefined },
  existing: AdminCredentialKey[],
) {
  const { rpID } = rp(config);
  return generateRegistrationOptions({
    rpName: RP_NAME,
    rpID,
    userName: admin.email ?? admin.userId,
    userID: new TextEncoder().encode(admin.userId) as Uint8Array<ArrayBuffer>,
    attestationType: 'none',
    excludeCredentials: existing
      .filter((k) => k.adminUserId === admin.userId)
      .map((k) => ({ id: k.credentialId })),
    authenticatorSelection: { residentKey: 'discouraged', userVerification: 'preferred' },
    supportedAlgorithmIDs: [-8, -7],
  });
}

/** The challenge a response claims (checked against the stored one by the database). */
export function claimedChallenge(response: { response?: { clientDataJSON?: unknown } }): string {
  const cd = response.response?.clientDataJSON;
  if (typeof cd !== 'string') throw invalidRegistration('clientDataJSON is missing');
  try {
    return decodeClientDataJSON(cd).challenge;
  } catch {
    throw invalidRegistration('clientDataJSON is not readable');
  }
}

function invalidRegistration(reason: string): ApiError {
  return new ApiError(
    'WEBAUTHN_REGISTRATION_FAILED',
    `The security key registration was not accepted: ${reason}.`,
    {
      details: { reason },
    },
  );
}

/** The raw public key Provara ids are taken over: the 32-byte OKP x, or the 65-byte uncompressed P-256 point. */
function rawPublicKey(cose: Uint8Array): Uint8Array {
  const key = decodeCredentialPublicKey(cose as Uint8Array<ArrayBuffer>) as unknown as Map<number, unknown>;
  const kty = key.get(1);
  const x = key.get(-2);
  if (kty === 1 && x instanceof Uint8Array && x.length === 32) return x;
  const y = key.get(-3);
  if (kty === 2 && x instanceof Uint8Array && y instanceof Uint8Array && x.length === 32 && y.length === 32) {
    const out = new Uint8Array(65);
    out[0] = 4;
    out.set(x, 1);
    out.set(y, 33);
    return out;
  }
  throw invalidRegistration('the key is neither Ed25519 nor P-256');
}

export async function verifyRegistration(
  config: Config,
  response: RegistrationResponseJSON,
  challenge: string,
) {
  const { rpID, origins } = rp(config);
  let result: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
  try {
    result = await verifyRegistrationResponse({
      response,
      expectedChallenge: challenge,
      expectedOrigin: origins,
      expectedRPID: rpID,
      requireUserVerification: false,
      supportedAlgorithmIDs: [-8, -7],
    });
  } catch (e) {
    throw invalidRegistration(e instanceof Error ? e.message : 'verification failed');
  }
  if (!result.verified) throw invalidRegistration('verification failed');
  const { credential } = result.registrationInfo;
  const raw = rawPublicKey(credential.publicKey);
  const alg = (decodeCredentialPublicKey(credential.publicKey) as unknown as Map<number, unknown>).get(3);
  return {
    credentialId: credential.id,
    publicKeyCose: isoBase64URL.fromBuffer(credential.publicKey),
    keyId: await keyIdFromPublicKey(raw),
    algorithm: typeof alg === 'number' ? alg : -7,
    signCount: credential.counter,
    transports: credential.transports ?? response.response.transports ?? [],
  };
}

/** The challenge of an action: the 32 bytes of its digest, base64url (what clientDataJSON.challenge carries). */
export function actionChallenge(action: Pick<PendingAction, 'digest'>): string {
  return isoBase64URL.fromBuffer(fromHex(action.digest) as Uint8Array<ArrayBuffer>);
}

export async function assertionOptions(config: Config, action: PendingAction, keys: AdminCredentialKey[]) {
  const { rpID } = rp(config);
  return generateAuthenticationOptions({
    rpID,
    challenge: fromHex(action.digest) as Uint8Array<ArrayBuffer>,
    allowCredentials: keys
      .filter((k) => k.status === 'active')
      .map((k) => ({ id: k.credentialId, transports: k.transports as AuthenticatorTransport[] })),
    userVerification: 'preferred',
    timeout: 120_000,
  });
}

function invalidApproval(reason: string): ApiError {
  return new ApiError('APPROVAL_INVALID', `The approval was not accepted: ${reason}.`, {
    details: { reason },
  });
}

/**
 * Verifies an approval assertion against the action's digest and the key's stored public key and
 * counter. Returns the evidence written to the signed log (everything needed to re-verify it offline).
 */
export async function verifyApproval(
  config: Config,
  action: PendingAction,
  key: AdminCredentialKey,
  response: AuthenticationResponseJSON,
) {
  const { rpID, origins } = rp(config);
  let claimed: string;
  try {
    claimed = decodeClientDataJSON(response.response.clientDataJSON).challenge;
  } catch {
    throw invalidApproval('clientDataJSON is not readable');
  }
  const expected = actionChallenge(action);
  if (claimed !== expected) throw invalidApproval('the assertion signs another action’s digest');
  let result: Awaited<ReturnType<typeof verifyAuthenticationResponse>>;
  try {
    result = await verifyAuthenticationResponse({
      response,
      expectedChallenge: expected,
      expectedOrigin: origins,
      expectedRPID: rpID,
      credential: {
        id: key.credentialId,
        publicKey: isoBase64URL.toBuffer(key.publicKeyCose),
        counter: key.signCount,
        transports: key.transports as AuthenticatorTransport[],
      },
      requireUserVerification: false,
    });
  } catch (e) {
    throw invalidApproval(e instanceof Error ? e.message : 'verification failed');
  }
  if (!result.verified) throw invalidApproval('the signature does not verify');
  const info = result.authenticationInfo;
  return {
    signCount: info.newCounter,
    evidence: {
      admin_user_id: key.adminUserId,
      admin_label: key.adminLabel,
      credential_id: key.credentialId,
      key_id: key.keyId,
      algorithm: key.algorithm,
      public_key_cose: key.publicKeyCose,
      authenticator_data: response.response.authenticatorData,
      client_data_json: response.response.clientDataJSON,
      signature: response.response.signature,
      sign_count: info.newCounter,
      user_verified: info.userVerified,
      rp_id: rpID,
      origin: info.origin,
    },
  };
}
