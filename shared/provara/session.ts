import { toBase64 } from '../encoding/bytes.ts';
import { ProvaraError } from './errors.ts';
import { SESSION_GRANT_TYPE } from './extension-types.ts';
import { type JsonObject, toJson } from './json-value.ts';
import { newKeyRecord } from './keys-file.ts';
import type { Signer } from './signature-proof.ts';
import { ephemeralSigner } from './software-signer.ts';
import { pythonUtcNow } from './timestamp.ts';
import type { Vault } from './vault.ts';

export interface Session {
  signer: Signer;
  grantEventId: string;
  expiresAt: Date;
}

/**
 * Opens a signing session (session-grant.ts explains the rules): a fresh non-extractable Ed25519 key —
 * WebCrypto will not export it, so it dies with the process — is granted by one signature of `authority`
 * (typically a hardware key: one touch), then signs up to `maxEvents` events of the given types and actors
 * until `ttlSeconds` have passed.
 *
 * @example const s = await startSession(vault, token, { types: ['OBSERVATION'], actors: ['sensor'], ttlSeconds: 600, maxEvents: 10_000 });
 *          await vault.appendBatch(drafts, s.signer);
 */
export async function startSession(
  vault: Vault,
  authority: Signer,
  scope: { types: string[]; actors: string[]; ttlSeconds: number; maxEvents: number; actor?: string },
): Promise<Session> {
  const auth = vault.key(authority.keyId);
  if (auth?.status !== 'active' || auth.roles.includes('session')) {
    throw new ProvaraError(
      'SESSION_INVALID',
      `${authority.keyId} cannot grant sessions (unknown, revoked, or itself a session key)`,
    );
  }
  if (
    !(scope.ttlSeconds > 0) ||
    !(scope.maxEvents >= 1) ||
    scope.types.length === 0 ||
    scope.actors.length === 0
  ) {
    throw new ProvaraError(
      'SESSION_INVALID',
      'a session needs a positive lifetime, a positive event limit, and non-empty scopes',
    );
  }
  const signer = await ephemeralSigner();
  const now = new Date();
  const expiresAt = new Date(now.getTime() + scope.ttlSeconds * 1000);
  const grant = await vault.append(
    {
      type: SESSION_GRANT_TYPE,
      actor: scope.actor ?? 'session_authority',
      namespace: 'canonical',
      payload: {
        session_key_id: signer.keyId,
        session_public_key_b64: toBase64(signer.publicKey),
        not_before_utc: pythonUtcNow(now),
        expires_at_utc: pythonUtcNow(expiresAt),
        scope: { types: scope.types, actors: scope.actors },
        max_events: scope.maxEvents,
      },
      timestampUtc: pythonUtcNow(now),
    },
    authority,
  );
  const grantEventId = grant.get('event_id') as string;
  vault.keys.keys.push(
    newKeyRecord({
      keyId: signer.keyId,
      algorithm: 'Ed25519',
      publicKey: signer.publicKey,
      roles: ['session'],
      scopes: scope.types,
      createdAt: pythonUtcNow(now),
      extras: toJson({
        session: { grant_event_id: grantEventId, expires_at_utc: pythonUtcNow(expiresAt) },
      }) as JsonObject,
    }),
  );
  await vault.saveKeys();
  return { signer, grantEventId, expiresAt };
}
