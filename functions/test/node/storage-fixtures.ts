import { createHash, randomBytes } from 'node:crypto';
import type { Storage } from '../../src/storage/port.ts';
import type { ClockInfo, PcrValues, RegisteredNode, Tier } from '../../src/storage/types.ts';

/** Test data for the storage tests: random secrets and their hashes, as the Worker would make them. */

export const sha256 = (value: string): string => createHash('sha256').update(value).digest('hex');
export const randomHex = (bytes = 32): string => randomBytes(bytes).toString('hex');
export const randomHash = (): string => sha256(randomHex());

export const APPLICATION_ID = '5b2f8d0e-4c1a-4f3e-9a77-1d2c3b4a5f60';
export const ADMIN = 'admin@example.test';
export const PUBLIC_KEY =
  '-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE\n-----END PUBLIC KEY-----\n';
export const AK_PUBLIC = 'AAEACwAFBHIAAAAQ';
export const PCR_BASELINE: PcrValues = { sha256: { '0': 'aa'.repeat(32), '7': 'bb'.repeat(32) } };
export const CLOCK: ClockInfo = { clock: 1_234_567, resetCount: 3, restartCount: 0, safe: true };

export interface IssuedToken {
  id: string;
  token: string;
  tokenHash: string;
}

export async function issueToken(
  storage: Storage,
  tier: Tier = 'ORACLE',
  expiresInDays = 7,
): Promise<IssuedToken> {
  const token = `ndr_install_${randomHex()}`;
  const tokenHash = sha256(token);
  const record = await storage.issueInstallToken({
    tokenHash,
    applicationId: APPLICATION_ID,
    tier,
    os: 'linux',
    expiresInDays,
    actor: ADMIN,
  });
  return { id: record.id, token, tokenHash };
}

export interface Pending {
  token: IssuedToken;
  activationId: string;
  secretHash: string;
  nodeId: string;
  ekFingerprint: string;
}

/** install/config → register (nonce consumed) → pending activation, as the Worker does it. */
export async function pendingRegistration(
  storage: Storage,
  options: { token?: IssuedToken; ekFingerprint?: string; tier?: Tier } = {},
): Promise<Pending> {
  const token = options.token ?? (await issueToken(storage, options.tier));
  const nonceHash = randomHash();
  await storage.beginInstall({ tokenHash: token.tokenHash, nonceHash });
  await storage.consumeChallenge({ purpose: 'install', nonceHash, installTokenHash: token.tokenHash });
  const nodeId = `0x${randomHex()}`;
  const ekFingerprint = options.ekFingerprint ?? randomHash();
  const secretHash = randomHash();
  const pending = await storage.storePendingActivation({
    installTokenHash: token.tokenHash,
    nodeId,
    publicKey: PUBLIC_KEY,
    ekFingerprint,
    akPublic: AK_PUBLIC,
    akName: `000b${randomHex()}`,
    pcrBaseline: PCR_BASELINE,
    attestationData: { systemInfo: { hostname: 'node-1', cpuCores: 8 } },
    policyVersion: 1,
    clockInfo: CLOCK,
    secretHash,
  });
  return { token, activationId: pending.activationId, secretHash, nodeId, ekFingerprint };
}

export interface Registered extends RegisteredNode {
  token: IssuedToken;
  apiKeyHash: string;
  ekFingerprint: string;
}

export async function registerNode(
  storage: Storage,
  options: { ekFingerprint?: string; tier?: Tier } = {},
): Promise<Registered> {
  const p = await pendingRegistration(storage, options);
  const apiKeyHash = sha256(`ndr_live_${randomHex()}`);
  const node = await storage.completeRegistration({
    activationId: p.activationId,
    secretHash: p.secretHash,
    apiKeyHash,
  });
  return { ...node, token: p.token, apiKeyHash, ekFingerprint: p.ekFingerprint };
}
