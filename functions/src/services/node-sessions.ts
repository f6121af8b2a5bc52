import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  decodeProtectedHeader,
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
import type { Storage } from '../storage/port.ts';
import type { SessionSigningKey } from '../storage/types.ts';

/**
 * Node session JWTs (design/API.md "Node session JWT"): ES256 with a `kid`, `aud` "noderr-nodes",
 * `sub` node id, `tier`, `jti`, `cnf.jkt` (RFC 7638 thumbprint of the node key), at most one hour.
 *
 * Keys: `NODE_JWT_KEYS` is a JWK set of ES256 private keys, newest first. The Worker cannot change its
 * secrets, so which key may sign is decided in the database (`session_signing_keys`, migration
 * 20261123002200): every key of the secret is registered there as `pending`; the Worker signs only with
 * the `active` key (same kid AND same RFC 7638 thumbprint as approved), and publishes in JWKS — and itself
 * accepts — only the active and the previously active key. Activating a pending key weakens security
 * (whoever holds it could mint sessions), so it needs the approval quorum
 * (`POST /api/v1/admin/session-keys/{kid}/activate`); while the quorum is not in force (bootstrap) one
 * admin may, and the very first key is activated automatically on first use, so a fresh deployment and
 * `npm start` need no manual step.
 *
 * Cost: the key state comes from one `sync_session_keys` call, cached per isolate for
 * SESSION_KEY_CACHE_SECONDS (30 s). auth/verify thus stays at its two round trips (challenge + verify)
 * except for at most one extra call per isolate every 30 s, and heartbeats stay at one; JWKS and
 * heartbeat verification share the same cache. A new activation reaches other isolates within 30 s;
 * meanwhile they sign with the previous key, which stays published and accepted, so nothing breaks. A
 * token whose kid is in the secret but not accepted by the cached state triggers one early refresh (at
 * most every 5 s per isolate), so a session signed by an isolate that already switched verifies here too.
 */
export const NODE_SESSION_AUDIENCE = 'noderr-nodes';
export const MAX_SESSION_SECONDS = 3600;
export const SESSION_KEY_CACHE_SECONDS = 30;
const FORCED_REFRESH_MS = 5_000;

export interface NodeSessionClaims {
  sub: string;
  tier: string;
  jti: string;
  cnf: { jkt: string };
  exp: number;
}

/** A key of the secret: its public parts (what the database and JWKS see) and its private JWK. */
export interface SecretSessionKey {
  kid: string;
  thumbprint: string;
  publicJwk: JWK;
  privateJwk: JWK;
}

interface Secret {
  id: string;
  keys: SecretSessionKey[];
}

export interface SessionKeyState {
  loadedAt: number;
  /** Every key the database knows, newest first. */
  keys: SessionSigningKey[];
  /** The secret's keys that match the database rows (same kid and thumbprint). */
  secret: SecretSessionKey[];
  signing: { kid: string; key: JoseKey } | null;
  /** Active, then previously active (each only when the secret holds it). */
  published: SecretSessionKey[];
  jwks: JSONWebKeySet;
  verifier: ReturnType<typeof createLocalJWKSet>;
}

const secrets = new Map<string, Promise<Secret>>();
const states = new Map<string, { startedAt: number; state: Promise<SessionKeyState> }>();

function publicJwk(jwk: JWK): JWK {
  const { d: _d, ...pub } = jwk;
  return { ...pub, alg: 'ES256', use: 'sig' };
}

async function loadSecret(keys: Config['NODE_JWT_KEYS']['keys'], id: string): Promise<Secret> {
  return {
    id,
    keys: await Promise.all(
      keys.map(async (k) => {
        const pub = publicJwk(k as JWK);
        return {
          kid: k.kid,
          thumbprint: await calculateJwkThumbprint(pub, 'sha256'),
          publicJwk: pub,
          privateJwk: { ...(k as JWK), alg: 'ES256' },
        };
      }),
    ),
  };
}

function secretOf(config: Config): Promise<Secret> {
  const keys = config.NODE_JWT_KEYS.keys;
  const id = JSON.stringify(keys.map((k) => [k.kid, (k as { x?: unknown }).x]));
  let secret = secrets.get(id);
  if (!secret) {
    secret = loadSecret(keys, id);
    secrets.set(id, secret);
  }
  return secret;
}

async function loadState(config: Config, storage: Storage, secret: Secret): Promise<SessionKeyState> {
  const keys = await storage.syncSessionKeys({
    keys: secret.keys.map((k) => ({
      kid: k.kid,
      thumbprint: k.thumbprint,
      publicJwk: k.publicJwk as Record<string, unknown>,
    })),
    threshold: config.ADMIN_APPROVAL_THRESHOLD,
  });
  const held = (row: SessionSigningKey | undefined) =>
    row ? secret.keys.find((k) => k.kid === row.kid && k.thumbprint === row.thumbprint) : undefined;
  const active = keys.find((k) => k.status === 'active');
  const previous = keys
    .filter((k) => k.status === 'retired')
    .sort((a, b) => Date.parse(b.retiredAt ?? '') - Date.parse(a.retiredAt ?? ''))[0];
  const signingKey = held(active);
  const published = [signingKey, held(previous)].filter((k): k is SecretSessionKey => k !== undefined);
  const jwks: JSONWebKeySet = { keys: published.map((k) => k.publicJwk) };
  return {
    loadedAt: Date.now(),
    keys,
    secret: keys.map(held).filter((k): k is SecretSessionKey => k !== undefined),
    signing: signingKey
      ? { kid: signingKey.kid, key: (await importJWK(signingKey.privateJwk, 'ES256')) as JoseKey }
      : null,
    published,
    jwks,
    verifier: createLocalJWKSet(jwks),
  };
}

/**
 * The signing-key state, from this isolate's cache when it is younger than `maxAgeMs` (default
 * SESSION_KEY_CACHE_SECONDS), else one `sync_session_keys` call shared by concurrent requests.
 */
export async function sessionKeyState(
  config: Config,
  storage: Storage,
  maxAgeMs = SESSION_KEY_CACHE_SECONDS * 1000,
): Promise<SessionKeyState> {
  const secret = await secretOf(config);
  const cached = states.get(secret.id);
  if (cached && Date.now() - cached.startedAt < maxAgeMs) return cached.state;
  const entry = { startedAt: Date.now(), state: loadState(config, storage, secret) };
  states.set(secret.id, entry);
  entry.state.catch(() => {
    if (states.get(secret.id) === entry) states.delete(secret.id);
  });
  return entry.state;
}

/** Forgets the cached state (after an activation in this isolate: the switch is immediate here). */
export function forgetSessionKeyState(): void {
  states.clear();
}

/** The secret's key with this kid (public parts and thumbprint), if any. */
export async function secretSessionKey(config: Config, kid: string): Promise<SecretSessionKey | undefined> {
  return (await secretOf(config)).keys.find((k) => k.kid === kid);
}

/** The kids of NODE_JWT_KEYS, newest first. */
export async function secretSessionKeys(config: Config): Promise<SecretSessionKey[]> {
  return (await secretOf(config)).keys;
}

/** The public keys for `/.well-known/jwks.json`: the active and the previously active signing key. */
export async function nodeSessionJwks(config: Config, storage: Storage): Promise<JSONWebKeySet> {
  return (await sessionKeyState(config, storage)).jwks;
}

/** RFC 7638 thumbprint of an SPKI PEM public key (the `cnf.jkt` binding of a session to its node key). */
export async function nodeKeyThumbprint(spki: CryptoKey): Promise<string> {
  return calculateJwkThumbprint(await exportJWK(spki), 'sha256');
}

export async function mintNodeSession(
  config: Config,
  storage: Storage,
  input: { nodeId: string; tier: string; jkt: string; ttlSeconds: number; now?: Date },
): Promise<{ jwt: string; expiresAt: Date }> {
  const ring = (await sessionKeyState(config, storage)).signing;
  if (!ring) {
    // The quorum is in force and no key of NODE_JWT_KEYS is active (or the active one left the secret).
    throw new ApiError(
      'SESSION_KEY_UNAVAILABLE',
      'No node-session signing key is active: an administrator must activate one of NODE_JWT_KEYS (POST /api/v1/admin/session-keys/{kid}/activate).',
    );
  }
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
    .sign(ring.key);
  return { jwt, expiresAt: new Date(exp * 1000) };
}

/**
 * Verifies a node session: ES256 only (so `alg: none` and HS256-signed-with-the-public-key are refused
 * before any key is used), our issuer and audience, unexpired, and no longer than the maximum lifetime.
 */
export async function verifyNodeSession(
  config: Config,
  storage: Storage,
  jwt: string,
): Promise<NodeSessionClaims> {
  let state = await sessionKeyState(config, storage);
  let kid: string | undefined;
  try {
    kid = decodeProtectedHeader(jwt).kid;
  } catch {}
  // A kid of our secret that the cached state does not accept may have been activated by another isolate.
  if (
    kid !== undefined &&
    !state.published.some((k) => k.kid === kid) &&
    (await secretSessionKey(config, kid)) !== undefined
  ) {
    state = await sessionKeyState(config, storage, FORCED_REFRESH_MS);
  }
  try {
    const { payload } = await jwtVerify(jwt, state.verifier, {
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
