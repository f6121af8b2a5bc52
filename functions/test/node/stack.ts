import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  generateAuditSigningKey,
  generateSigningKeySet,
  signDevAdminToken,
} from '../../../scripts/lib/dev-secrets.ts';
import { applyMigrations } from '../../../scripts/lib/migrations.ts';
import { type PostgresServer, startPostgresServer } from '../../../scripts/lib/postgres-server.ts';
import { type Swtpm, startSwtpm } from '../../../scripts/lib/swtpm.ts';
import {
  type Ak,
  activateCredential,
  certify,
  createAk,
  createEk,
  createNodeKey,
  type Ek,
  quote,
  sign,
  type TpmKey,
} from '../../../scripts/lib/tpm-fixture.ts';
import { startWranglerDev, type WranglerDev } from '../../../scripts/lib/wrangler-dev.ts';
import { marshalTpm2ToolsCredential } from '../../../shared/tpm2/make-credential.ts';

/**
 * The end-to-end test bench: the real Worker under `wrangler dev`, a real PostgreSQL 15, and nodes
 * played by real swtpm instances driven with tpm2-tools. Nothing is mocked.
 */
export interface ApiResponse<T = Record<string, unknown>> {
  status: number;
  headers: Headers;
  body: T;
}

export class Stack {
  private constructor(
    readonly pg: PostgresServer,
    public api: WranglerDev,
    readonly adminToken: string,
    /** The Worker's SUPABASE_JWT_SECRET, to sign non-admin or expired Supabase-style tokens in tests. */
    readonly jwtSecret: string,
    private readonly vars: Record<string, string>,
  ) {}

  static async start(vars: Record<string, string> = {}): Promise<Stack> {
    const pg = await startPostgresServer();
    await applyMigrations(pg.url, { localPlatform: true });
    const secret = `e2e-${crypto.randomUUID()}-${crypto.randomUUID()}`;
    const all = {
      ENVIRONMENT: 'test',
      JWT_ISSUER: 'https://noderr-trust.e2e',
      DAPP_ORIGINS: 'https://dapp.e2e',
      NODE_JWT_KEYS: await generateSigningKeySet(),
      SUPABASE_JWT_SECRET: secret,
      AUDIT_SIGNING_KEY: generateAuditSigningKey(),
      HEARTBEAT_WRITE_INTERVAL_SECONDS: '0',
      ...vars,
    };
    const api = await startWranglerDev({ databaseUrl: pg.url, vars: all });
    return new Stack(pg, api, await signDevAdminToken(secret), secret, all);
  }

  /** A fresh Worker (new isolates, empty caches) on the same database and configuration. */
  async restartApi(): Promise<void> {
    await this.api.stop();
    this.api = await startWranglerDev({ databaseUrl: this.pg.url, vars: this.vars });
  }

  async stop(): Promise<void> {
    await this.api.stop();
    this.pg.stop();
  }

  async call<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<ApiResponse<T>> {
    const res = await fetch(`${this.api.url}${path}`, {
      method,
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : {}) as T };
  }

  admin<T = Record<string, unknown>>(method: string, path: string, body?: unknown) {
    return this.call<T>(method, path, body, { authorization: `Bearer ${this.adminToken}` });
  }

  async issueToken(tier: 'ALL' | 'ORACLE' | 'GUARDIAN' = 'ORACLE'): Promise<string> {
    const res = await this.admin<{ token: string }>('POST', '/api/v1/admin/install-tokens', {
      applicationId: '6f1c1d2e-0000-4000-8000-00000000e2e0',
      tier,
      os: 'linux',
      expiresInDays: 1,
    });
    if (res.status !== 201) throw new Error(`issue token: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.token;
  }

  async trustCa(tpm: Swtpm): Promise<void> {
    for (const [label, pem] of [
      ['swtpm root', tpm.caRootPem],
      ['swtpm issuer', tpm.caIssuerPem],
    ] as const) {
      const res = await this.admin('POST', '/api/v1/admin/ek-anchors', { label, pem });
      if (res.status !== 201 && res.status !== 409)
        throw new Error(`anchor: ${res.status} ${JSON.stringify(res.body)}`);
    }
  }

  /** Direct SQL as the dashboard's `postgres` role. */
  async sql(query: string): Promise<void> {
    const { default: postgres } = await import('postgres');
    const db = postgres(this.pg.url, { max: 1, onnotice: () => {} });
    try {
      await db.unsafe(query);
    } finally {
      await db.end();
    }
  }
}

export const PCRS = 'sha256:0,1,2,3,4,5,6,7';
const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

/** A node: a swtpm with an EK (+ certificate), an AK and a node key, registered through the API. */
export class TpmNode {
  nodeId = '';
  apiKey = '';
  jwt = '';
  /** PCRs quoted at registration and re-attestation (tpm2-tools selection syntax). */
  pcrs = PCRS;
  /** The boot event log sent with registration and re-attestation (base64), if any. */
  eventLog: string | undefined;

  private constructor(
    readonly tpm: Swtpm,
    readonly dir: string,
    readonly ek: Ek,
    readonly ak: Ak,
    public nodeKey: TpmKey,
  ) {}

  static async create(ekKind: 'rsa' | 'ecc' = 'rsa'): Promise<TpmNode> {
    const tpm = await startSwtpm({ ekCerts: true });
    const dir = mkdtempSync(join(tmpdir(), 'noderr-node-'));
    const ek = await createEk(tpm, dir, ekKind);
    const ak = await createAk(tpm, dir, ek, 'ecc-ecdsa');
    const nodeKey = await createNodeKey(tpm, dir);
    return new TpmNode(tpm, dir, ek, ak, nodeKey);
  }

  async stop(): Promise<void> {
    await this.tpm.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  async installConfig(stack: Stack, installToken: string) {
    return stack.call<{
      challenge: { nonce: string };
      attestation: { pcrSelection: Record<string, number[]> };
    }>('POST', '/api/v1/install/config', { installToken });
  }

  /** The register body for `nonce`, with overrides for attack tests. */
  async registrationBody(
    installToken: string,
    nonce: Uint8Array,
    options: { ak?: Ak | TpmKey; label?: string } = {},
  ) {
    const signer = (options.ak ?? this.ak) as Ak;
    const q = await quote(this.tpm, this.dir, signer, nonce, this.pcrs, options.label ?? 'reg-quote');
    const c = await certify(this.tpm, this.dir, this.nodeKey, this.ak);
    return {
      installToken,
      publicKey: this.nodeKey.pem,
      attestation: {
        nonce: b64(nonce),
        ekPublic: b64(this.ek.public),
        ekCertificate: b64(this.ek.cert),
        akPublic: b64(this.ak.public),
        quote: b64(q.message),
        signature: b64(q.signature),
        pcrValues: q.pcrs,
        nodeKeyCertification: {
          publicArea: b64(this.nodeKey.public),
          certifyInfo: b64(c.attest),
          signature: b64(c.signature),
        },
        ...(this.eventLog ? { eventLog: this.eventLog } : {}),
      },
      systemInfo: { hostname: 'swtpm-node', cpuCores: 4, memoryGB: 8, diskGB: 100, os: 'linux' },
    };
  }

  async activate(credentialBlob: string, encryptedSecret: string, label = 'activate'): Promise<Uint8Array> {
    const path = join(this.dir, `${label}.cred`);
    writeFileSync(
      path,
      marshalTpm2ToolsCredential(
        Buffer.from(credentialBlob, 'base64'),
        Buffer.from(encryptedSecret, 'base64'),
      ),
    );
    return activateCredential(this.tpm, this.dir, this.ak, path, label);
  }

  /** install/config → register → ActivateCredential → activate. */
  async register(stack: Stack, installToken: string): Promise<ApiResponse> {
    const cfg = await this.installConfig(stack, installToken);
    if (cfg.status !== 200) return cfg as unknown as ApiResponse;
    const nonce = Buffer.from(cfg.body.challenge.nonce, 'base64');
    const reg = await stack.call<{ activationId: string; credentialBlob: string; encryptedSecret: string }>(
      'POST',
      '/api/v1/auth/register',
      await this.registrationBody(installToken, nonce),
    );
    if (reg.status !== 202) return reg as unknown as ApiResponse;
    const secret = await this.activate(reg.body.credentialBlob, reg.body.encryptedSecret);
    const act = await stack.call<{ nodeId: string; apiKey: string; jwtToken: string }>(
      'POST',
      '/api/v1/auth/activate',
      {
        activationId: reg.body.activationId,
        secret: b64(secret),
      },
    );
    if (act.status === 201) {
      this.nodeId = act.body.nodeId;
      this.apiKey = act.body.apiKey;
      this.jwt = act.body.jwtToken;
    }
    return act as unknown as ApiResponse;
  }

  /** auth/challenge → tpm2_sign → auth/verify. */
  async verify(stack: Stack, format: 'tss' | 'der' = 'tss'): Promise<ApiResponse> {
    const ch = await stack.call<{ nonce: string }>('POST', '/api/v1/auth/challenge', { nodeId: this.nodeId });
    if (ch.status !== 200) return ch as unknown as ApiResponse;
    const nonce = Buffer.from(ch.body.nonce, 'base64');
    const message = Buffer.concat([Buffer.from(`noderr-verify-v1:${this.nodeId}:`), nonce]);
    const { signature } = await sign(this.tpm, this.dir, this.nodeKey, message, format);
    const res = await stack.call<{ jwtToken: string }>('POST', '/api/v1/auth/verify', {
      nodeId: this.nodeId,
      apiKey: this.apiKey,
      challenge: ch.body.nonce,
      signature: b64(signature),
    });
    if (res.status === 200) this.jwt = res.body.jwtToken;
    return res as unknown as ApiResponse;
  }

  async heartbeat(stack: Stack, attestationNonce?: string, label = 'hb-quote'): Promise<ApiResponse> {
    let attestation: Record<string, unknown> | undefined;
    if (attestationNonce) {
      const q = await quote(
        this.tpm,
        this.dir,
        this.ak,
        Buffer.from(attestationNonce, 'base64'),
        this.pcrs,
        label,
      );
      attestation = {
        nonce: attestationNonce,
        quote: b64(q.message),
        signature: b64(q.signature),
        pcrValues: q.pcrs,
        ...(this.eventLog ? { eventLog: this.eventLog } : {}),
      };
    }
    return stack.call(
      'POST',
      '/api/v1/auth/heartbeat',
      {
        nodeId: this.nodeId,
        metrics: { uptime: 10, cpu: 1.5, memory: 20, version: '0.1.0' },
        ...(attestation ? { attestation } : {}),
      },
      { authorization: `Bearer ${this.jwt}` },
    );
  }
}
