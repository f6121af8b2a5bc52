import { ProvaraError } from '../../../../../shared/provara/errors.ts';
import { keyIdFromPublicKey } from '../../../../../shared/provara/key-id.ts';
import type { Signer } from '../../../../../shared/provara/signature-proof.ts';
import { type PinSource, resolvePin } from './pin.ts';
import { CKA_EC_POINT, CKA_ID, CKA_LABEL, CKO_PRIVATE_KEY, CKO_PUBLIC_KEY } from './pkcs11-constants.ts';
import { ecPointToRaw, Pkcs11Module, type TokenInfo } from './pkcs11-module.ts';

export interface Pkcs11Selection {
  /** Path of the PKCS#11 module, e.g. /usr/lib/softhsm/libsofthsm2.so or opensc-pkcs11.so. */
  modulePath: string;
  /** The token label (`pkcs11-tool -L`) or slot id; the first token with an Ed25519 key otherwise. */
  tokenLabel?: string;
  slot?: number;
  /** The key's CKA_LABEL; the only Ed25519 private key on the token otherwise. */
  keyLabel?: string;
  pin?: PinSource;
}

export interface Pkcs11Signer extends Signer {
  token: TokenInfo;
  keyLabel: string;
  close(): void;
}

function pickToken(m: Pkcs11Module, sel: Pkcs11Selection): TokenInfo {
  const tokens = m.tokens().filter((t) => t.initialized);
  const t = tokens.find((x) =>
    sel.slot !== undefined
      ? x.slot === sel.slot
      : sel.tokenLabel !== undefined
        ? x.label === sel.tokenLabel
        : true,
  );
  if (!t) {
    throw new ProvaraError(
      'TOKEN_NOT_FOUND',
      `no token ${sel.tokenLabel ?? sel.slot ?? ''} in ${sel.modulePath} (present: ${tokens.map((x) => x.label).join(', ') || 'none'})`,
    );
  }
  return t;
}

/**
 * A token-resident Ed25519 key as a Profile A signer: `CKM_EDDSA` over the full canonical bytes gives
 * exactly the `sig` Python's verifier checks. Provara's hardware spec says to send the token the event
 * *hash*; that produces a different signature that no Profile A verifier accepts (PROVARA.md §5.2).
 */
export async function openPkcs11Signer(sel: Pkcs11Selection): Promise<Pkcs11Signer> {
  const m = Pkcs11Module.load(sel.modulePath);
  const token = pickToken(m, sel);
  const session = m.openSession(token.slot, false);
  try {
    m.login(session, await resolvePin(sel.pin, token.pinPad));
    const keys = m.findEd25519Keys(session, CKO_PRIVATE_KEY, sel.keyLabel);
    if (keys.length !== 1) {
      throw new ProvaraError(
        'KEY_NOT_FOUND_ON_TOKEN',
        keys.length
          ? `token ${token.label} has ${keys.length} Ed25519 keys: choose one with --key-label`
          : `no Ed25519 private key${sel.keyLabel ? ` labelled ${sel.keyLabel}` : ''} on token ${token.label}`,
      );
    }
    const priv = keys[0] as number;
    const label = new TextDecoder().decode(m.attribute(session, priv, CKA_LABEL));
    const id = m.attribute(session, priv, CKA_ID);
    const pubs = m
      .findEd25519Keys(session, CKO_PUBLIC_KEY, label)
      .filter((h) => sameBytes(m.attribute(session, h, CKA_ID), id));
    const publicKey =
      pubs[0] === undefined ? undefined : ecPointToRaw(m.attribute(session, pubs[0], CKA_EC_POINT));
    if (!publicKey)
      throw new ProvaraError('KEY_NOT_FOUND_ON_TOKEN', `the public half of ${label} is not on the token`);
    const keyId = await keyIdFromPublicKey(publicKey);
    return {
      keyId,
      publicKey,
      algorithm: 'Ed25519',
      format: 'ed25519',
      token,
      keyLabel: label,
      keyRecordExtras: new Map([
        [
          'hardware',
          new Map([
            ['kind', 'pkcs11'],
            ['token_label', token.label],
            ['key_label', label],
          ]),
        ],
      ]),
      sign: async (message) => ({ format: 'ed25519', signature: m.signEdDSA(session, priv, message) }),
      close: () => m.closeSession(session),
    };
  } catch (e) {
    m.closeSession(session);
    throw e;
  }
}

/** Generates an Ed25519 key on the token (non-extractable, sensitive) and returns its public key. */
export async function generatePkcs11Key(
  sel: Pkcs11Selection & { keyLabel: string },
): Promise<{ publicKey: Uint8Array; keyId: string }> {
  const m = Pkcs11Module.load(sel.modulePath);
  const token = pickToken(m, sel);
  const session = m.openSession(token.slot, true);
  try {
    m.login(session, await resolvePin(sel.pin, token.pinPad));
    const [pub] = m.generateEd25519(session, sel.keyLabel, crypto.getRandomValues(new Uint8Array(8)));
    const publicKey = ecPointToRaw(m.attribute(session, pub, CKA_EC_POINT));
    if (!publicKey) throw new ProvaraError('TOKEN_ERROR', 'the token returned an unexpected CKA_EC_POINT');
    return { publicKey, keyId: await keyIdFromPublicKey(publicKey) };
  } finally {
    m.closeSession(session);
  }
}

/** Tokens and their Ed25519 public keys (no login: public objects only) for `keys detect`. */
export async function detectPkcs11Keys(
  modulePath: string,
): Promise<{ token: TokenInfo; keys: { label: string; keyId: string }[] }[]> {
  const m = Pkcs11Module.load(modulePath);
  const out = [];
  for (const token of m.tokens().filter((t) => t.initialized)) {
    const session = m.openSession(token.slot, false);
    try {
      const keys = [];
      for (const h of m.findEd25519Keys(session, CKO_PUBLIC_KEY)) {
        const raw = ecPointToRaw(m.attribute(session, h, CKA_EC_POINT));
        if (raw)
          keys.push({
            label: new TextDecoder().decode(m.attribute(session, h, CKA_LABEL)),
            keyId: await keyIdFromPublicKey(raw),
          });
      }
      out.push({ token, keys });
    } finally {
      m.closeSession(session);
    }
  }
  return out;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
