/**
 * The local stack the Linux installer's end-to-end tests run against: a real PostgreSQL 15 with the
 * migrations, the real Worker under `wrangler dev`, and an admin client for the admin API.
 *
 * As a program it starts the stack plus one swtpm (EK certificates from a local CA registered as EK
 * trust anchors), prints one JSON line `{url, adminToken, databaseUrl, tcti, token}` with a fresh ALL-tier
 * install token, and keeps running until SIGTERM/SIGINT or until stdin closes — for trying the installer
 * by hand:
 *
 *   npx tsx installers/linux/test/helpers/stack.ts
 */
import { randomUUID } from 'node:crypto';
import { generateSigningKeySet, signDevAdminToken } from '../../../../scripts/lib/dev-secrets.ts';
import { applyMigrations } from '../../../../scripts/lib/migrations.ts';
import { type PostgresServer, startPostgresServer } from '../../../../scripts/lib/postgres-server.ts';
import { type Swtpm, startSwtpm } from '../../../../scripts/lib/swtpm.ts';
import { startWranglerDev, type WranglerDev } from '../../../../scripts/lib/wrangler-dev.ts';

export type Tier = 'ALL' | 'ORACLE' | 'GUARDIAN';

export interface Stack {
  url: string;
  adminToken: string;
  databaseUrl: string;
  worker: WranglerDev;
  admin: AdminClient;
  stop(): Promise<void>;
}

/** What the tests read of GET /api/v1/admin/nodes items. */
export interface NodeItem {
  nodeId: string;
  tier: string;
  status: string;
  [key: string]: unknown;
}

// biome-ignore lint/suspicious/noExplicitAny: parsed JSON of the admin API, read field by field in tests
type Json = any;

export interface AdminClient {
  /** Any admin call; resolves with status and parsed JSON body (or null). */
  call(method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }>;
  createToken(tier?: Tier): Promise<{ id: string; token: string }>;
  revokeToken(id: string): Promise<void>;
  nodes(): Promise<NodeItem[]>;
  node(nodeId: string): Promise<NodeItem | undefined>;
  addEkAnchor(label: string, pem: string): Promise<string>;
  deleteEkAnchor(id: string): Promise<void>;
  setPolicy(tier: Tier, patch: Record<string, unknown>): Promise<void>;
}

function adminClient(url: string, adminToken: string): AdminClient {
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${url}/api/v1/admin${path}`, {
      method,
      headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : null };
  };
  const must = async (method: string, path: string, body: unknown, expected: number) => {
    const r = await call(method, path, body);
    if (r.status !== expected) throw new Error(`${method} ${path} → ${r.status}: ${JSON.stringify(r.body)}`);
    return r.body;
  };
  return {
    call,
    async createToken(tier = 'ALL') {
      const b = await must(
        'POST',
        '/install-tokens',
        { applicationId: randomUUID(), tier, os: 'linux', expiresInDays: 1 },
        201,
      );
      return { id: b.id, token: b.token };
    },
    async revokeToken(id) {
      await must('POST', `/install-tokens/${id}/revoke`, undefined, 200);
    },
    async nodes() {
      return (await must('GET', '/nodes', undefined, 200)).items;
    },
    async node(nodeId) {
      const items = (await must('GET', '/nodes', undefined, 200)).items as NodeItem[];
      return items.find((n) => n.nodeId === nodeId);
    },
    async addEkAnchor(label, pem) {
      return (await must('POST', '/ek-anchors', { label, pem }, 201)).id;
    },
    async deleteEkAnchor(id) {
      await must('DELETE', `/ek-anchors/${id}`, undefined, 204);
    },
    async setPolicy(tier, patch) {
      const current = await must('GET', `/policies/${tier}`, undefined, 200);
      const allowed = [
        'requireEkCertificate',
        'pcrSelection',
        'pcrMode',
        'allowedPcrValues',
        'reattestationIntervalSeconds',
        'sessionTtlSeconds',
      ];
      const body: Record<string, unknown> = {};
      for (const k of allowed) if (current[k] !== undefined && current[k] !== null) body[k] = current[k];
      await must('PUT', `/policies/${tier}`, { ...body, ...patch }, 200);
    },
  };
}

export async function startStack(): Promise<Stack> {
  let pg: PostgresServer | undefined;
  let worker: WranglerDev | undefined;
  try {
    pg = await startPostgresServer();
    await applyMigrations(pg.url, { localPlatform: true });
    const secret = `e2e-${randomUUID()}-${randomUUID()}`;
    worker = await startWranglerDev({
      databaseUrl: pg.url,
      vars: {
        NODE_JWT_KEYS: await generateSigningKeySet(),
        SUPABASE_JWT_SECRET: secret,
        JWT_ISSUER: 'https://noderr-trust.test',
        ENVIRONMENT: 'test',
        DOCKER_REGISTRY: 'registry.noderr.test',
        DOCKER_IMAGE: 'noderr/node:e2e',
      },
      timeoutMs: 60_000,
    });
    const adminToken = await signDevAdminToken(secret);
    const url = worker.url;
    const p = pg;
    const w = worker;
    return {
      url,
      adminToken,
      databaseUrl: p.url,
      worker: w,
      admin: adminClient(url, adminToken),
      async stop() {
        await w.stop();
        p.stop();
      },
    };
  } catch (e) {
    await worker?.stop();
    pg?.stop();
    throw e;
  }
}

/** A swtpm whose EK CA (root, and the issuer as an intermediate) the stack trusts. */
export async function trustedSwtpm(
  stack: Stack,
  ekCerts = true,
): Promise<{ tpm: Swtpm; anchorIds: string[] }> {
  const tpm = await startSwtpm({ ekCerts });
  const anchorIds: string[] = [];
  if (ekCerts) {
    anchorIds.push(await stack.admin.addEkAnchor(`swtpm root ${tpm.port}`, tpm.caRootPem));
    anchorIds.push(await stack.admin.addEkAnchor(`swtpm issuer ${tpm.port}`, tpm.caIssuerPem));
  }
  return { tpm, anchorIds };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const stack = await startStack();
  const { tpm } = await trustedSwtpm(stack);
  const { token } = await stack.admin.createToken('ALL');
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await tpm.stop();
    await stack.stop();
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.stdin.on('end', stop);
  process.stdin.resume();
  process.stdout.write(
    `${JSON.stringify({ url: stack.url, adminToken: stack.adminToken, databaseUrl: stack.databaseUrl, tcti: tpm.tcti, tpmPort: tpm.port, token })}\n`,
  );
}
