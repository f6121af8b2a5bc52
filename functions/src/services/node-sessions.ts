import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  exportJWK,
  importJWK,
  type CryptoKey as JoseKey,
  type JSONWebKeySet,
  type JWK,
  jwtVerify,
  SignJWT,
} from 'jose';
import type { Config } from '../config.ts';
import { ApiError } from '../errors.ts';

/**
 * Node session JWTs (design/API.md "Node session JWT"): ES256 with a `kid`, `aud` "noderr-nodes",
 * `sub` node id, `tier`, `jti`, `cnf.jkt` (RFC 7638 thumbprint of the node key), at most one hour.
 *
 * Keys: `NODE_JWT_KEYS` is a JWK set of ES256 private keys, newest first. The first signs; all are
 * published in JWKS and accepted, so a rotation (prepend a new key, drop the oldest after the longest
 * session lifetime) never breaks a live session.
 */
export const NODE_SESSION_AUDIENCE = 'noderr-nodes';
export const MAX_SESSION_SECONDS = 3600;

export interface NodeSessionClaims {
  sub: string;
  tier: string;
  jti: string;
  cnf: { jkt: string };
  exp: number;
}

interface KeyRing {
  signingKey: JoseKey;
  kid: string;
  jwks: JSONWebKeySet;
  verifier: ReturnType<typeof createLocalJWKSet>;
}

const rings = new Map<string, Promise<KeyRing>>();

function publicJwk(jwk: JWK): JWK {
  const { d: _d, ...pub } = jwk;
  return { ...pub, alg: 'ES256', use: 'sig' };
}

async function buildRing(keys: Config['NODE_JWT_KEYS']['keys']): Promise<KeyRing> {
  const current = keys[0]!;
  const signingKey = (await importJWK({ ...current, alg: 'ES256' } as JWK, 'ES256')) as JoseKey;
  const jwks: JSONWebKeySet = { keys: keys.slice(0, 2).map((k) => publicJwk(k as JWK)) };
  return {
    signingKey,
    kid: current.kid,
    jwks,
    verifier: createLocalJWKSet({ keys: keys.map((k) => publicJwk(k as JWK)) }),
  };
}

function keyRing(config: Config): Promise<KeyRing> {
  const id = JSON.stringify(config.NODE_JWT_KEYS.keys.map((k) => k.kid));
  let ring = rings.get(id);
  if (!ring) {
    ring = buildRing(config.NODE_JWT_KEYS.keys);
    rings.set(id, ring);
  }
  return ring;
}

/** The public keys for `/.well-known/jwks.json`: the current and the previous signing key. */
export async function nodeSessionJwks(config: Config): Promise<JSONWebKeySet> {
  return (await keyRing(config)).jwks;
}

/** RFC 7638 thumbprint of an SPKI PEM public key (the `cnf.jkt` binding of a session to its node key). */
export async function nodeKeyThumbprint(spki: CryptoKey): Promise<string> {
  return calculateJwkThumbprint(await exportJWK(spki), 'sha256');
}

export async function mintNodeSession(
  config: Config,
  input: { nodeId: string; tier: string; jkt: string; ttlSeconds: number; now?: Date },
): Promise<{ jwt: string; expiresAt: Date }> {
  const ring = await keyRing(config);
  const iat = Math.floor((input.now ?? new Date()).getTime() / 1000);
  const exp = iat + Math.min(input.ttlSeconds, MAX_SESSION_SECONDS);
  const jwt = await new SignJWT({ tier: input.tier, cnf: { jkt: input.jkt } })
    .setProtectedHeader({ alg: 'ES256', kid: ring.kid, typ: 'JWT' })
    .setIssuer(config.JWT_ISSUER)
    .setAudience(NODE_SESSION_AUDIENCE)
    .setSubject(input.nodeId)
    .setIssuedAt(iat)
    .setExpirationTime(exp)
    .setJti(crypto.randomUUID())
    .sign(ring.signingKey);
  return { jwt, expiresAt: new Date(exp * 1000) };
}

/**
 * Verifies a node session: ES256 only (so `alg: none` and HS256-signed-with-the-public-key are refused
 * before any key is used), our issuer and audience, unexpired, and no longer than the maximum lifetime.
 */
export async function verifyNodeSession(config: Config, jwt: string): Promise<NodeSessionClaims> {
  const ring = await keyRing(config);
  try {
    const { payload } = await jwtVerify(jwt, ring.verifier, {
      algorithms: ['ES256'],
      issuer: config.JWT_ISSUER,
      audience: NODE_SESSION_AUDIENCE,
      requiredClaims: ['sub', 'exp', 'iat', 'jti'],
      maxTokenAge: `${MAX_SESSION_SECONDS + 60}s`,
    });
    const cnf = payload.cnf as { jkt?: unknown } | undefined;
    if (typeof payload.tier !== 'string' || typeof cnf?.jkt !== 'string') throw new Error('claims');
    return {
      sub: payload.sub!,
      tier: payload.tier,
      jti: payload.jti!,
      cnf: { jkt: cnf.jkt },
      exp: payload.exp!,
    };
  } catch {
    throw new ApiError(
      'SESSION_INVALID',
      'The session token is missing, malformed, expired or not ours; open a new session with auth/challenge and auth/verify.',
    );
  }
}
