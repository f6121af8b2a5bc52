import { toBase64 } from '../../../../../shared/encoding/bytes.ts';
import { type JsonObject, toJson } from '../../../../../shared/provara/json-value.ts';
import { keyIdFromPublicKey } from '../../../../../shared/provara/key-id.ts';
import type { Signer } from '../../../../../shared/provara/signature-proof.ts';
import { type Credential, getAssertion } from './ctap2.ts';
import type { CtapHidChannel } from './ctaphid.ts';

/** The relying-party id Provara credentials are made for; stored per key in keys.json. */
export const PROVARA_RP_ID = 'provara.vault';

/**
 * A FIDO2 credential as a Signer producing the `webauthn.v1` envelope: `clientDataHash = SHA-256(message)`,
 * one touch per signature (`onTouch` tells the user when the device waits). The event's `sig` is then the
 * assertion signature over authenticatorData ‖ clientDataHash — verifiable by our verifier (rpIdHash, UP
 * flag, signature, counter), not by a Profile A one; PKCS#11 is the route to plain Profile A.
 */
export async function fido2Signer(
  ch: CtapHidChannel,
  cred: Credential,
  opts: { rpId?: string; onTouch?: () => void } = {},
): Promise<Signer> {
  const rpId = opts.rpId ?? PROVARA_RP_ID;
  const extras = toJson({
    fido2: { rp_id: rpId, credential_id_b64: toBase64(cred.credentialId) },
  }) as JsonObject;
  return {
    keyId: await keyIdFromPublicKey(cred.publicKey),
    publicKey: cred.publicKey,
    algorithm: cred.alg === -8 ? 'Ed25519' : 'ES256',
    format: 'webauthn.v1',
    keyRecordExtras: extras,
    sign: async (message) => {
      const clientDataHash = new Uint8Array(
        await crypto.subtle.digest('SHA-256', message as Uint8Array<ArrayBuffer>),
      );
      let told = false;
      const a = await getAssertion(ch, {
        rpId,
        clientDataHash,
        credentialId: cred.credentialId,
        onKeepalive: (s) => {
          if (s === 2 && !told) {
            told = true;
            opts.onTouch?.();
          }
        },
      });
      return {
        format: 'webauthn.v1',
        signature: a.signature,
        authenticatorData: a.authenticatorData,
        credentialId: a.credentialId,
        alg: cred.alg,
      };
    },
  };
}
