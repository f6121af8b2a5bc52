import { createRequire } from 'node:module';
import { Stack, TpmNode } from '../../functions/test/node/stack.ts';
import { createNodeKey } from '../lib/tpm-fixture.ts';
import { cpuMs, findWorkerdPid } from './workerd-cpu.ts';

/**
 * The edge API under `wrangler dev` with PostgreSQL 15 and a swtpm node:
 * - CPU time inside workerd per request for install/config, register, activate, challenge, verify and
 *   heartbeat (the Free plan allows 10 ms per request);
 * - heartbeat throughput and latency from a local load generator (autocannon).
 */
interface AutocannonResult {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number; average: number };
  non2xx: number;
  errors: number;
}
type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;
const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;

const round = (x: number) => Math.round(x * 100) / 100;

export async function benchApi(
  options: { registrations?: number; beats?: number; loadSeconds?: number } = {},
) {
  const registrations = options.registrations ?? 6;
  const beats = options.beats ?? 50;
  const stack = await Stack.start({ HEARTBEAT_WRITE_INTERVAL_SECONDS: '300' });
  const node = await TpmNode.create();
  try {
    await stack.trustCa(node.tpm);
    const workerd = findWorkerdPid(stack.api.pid);
    const cpu: Record<string, number[]> = {};
    const measure = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
      const before = cpuMs(workerd);
      const out = await fn();
      cpu[name] = [...(cpu[name] ?? []), cpuMs(workerd) - before];
      return out;
    };
    // Warm up the isolate (module load, key import) so that it is not billed to the first request.
    await stack.call('GET', '/api/v1/health');

    for (let i = 0; i < registrations; i++) {
      if (i > 0) node.nodeKey = await createNodeKey(node.tpm, node.dir, `node-key-${i}`);
      const token = await stack.issueToken('ORACLE');
      const cfg = await measure('install/config', () => node.installConfig(stack, token));
      const body = await node.registrationBody(token, Buffer.from(cfg.body.challenge.nonce, 'base64'));
      const reg = await measure('register', () =>
        stack.call<{ activationId: string; credentialBlob: string; encryptedSecret: string }>(
          'POST',
          '/api/v1/auth/register',
          body,
        ),
      );
      if (reg.status !== 202) throw new Error(`register: ${JSON.stringify(reg.body)}`);
      const secret = await node.activate(reg.body.credentialBlob, reg.body.encryptedSecret, `bench-${i}`);
      const act = await measure('activate', () =>
        stack.call<{ nodeId: string; apiKey: string; jwtToken: string }>('POST', '/api/v1/auth/activate', {
          activationId: reg.body.activationId,
          secret: Buffer.from(secret).toString('base64'),
        }),
      );
      Object.assign(node, { nodeId: act.body.nodeId, apiKey: act.body.apiKey, jwt: act.body.jwtToken });
      // challenge + TPM2_Sign + verify; the CPU of both calls is measured separately below.
      const ch = await measure('challenge', () =>
        stack.call<{ nonce: string }>('POST', '/api/v1/auth/challenge', { nodeId: node.nodeId }),
      );
      const { sign } = await import('../lib/tpm-fixture.ts');
      const nonce = Buffer.from(ch.body.nonce, 'base64');
      const msg = Buffer.concat([Buffer.from(`noderr-verify-v1:${node.nodeId}:`), nonce]);
      const { signature } = await sign(node.tpm, node.dir, node.nodeKey, msg);
      const ver = await measure('verify', () =>
        stack.call<{ jwtToken: string }>('POST', '/api/v1/auth/verify', {
          nodeId: node.nodeId,
          apiKey: node.apiKey,
          challenge: ch.body.nonce,
          signature: Buffer.from(signature).toString('base64'),
        }),
      );
      node.jwt = ver.body.jwtToken;
      for (let b = 0; b < beats / registrations; b++) await measure('heartbeat', () => node.heartbeat(stack));
      if (i < registrations - 1) {
        await stack.admin('POST', `/api/v1/admin/nodes/${node.nodeId}/status`, {
          status: 'revoked',
          reason: 'bench',
        });
      }
    }

    const result: Record<string, number> = {};
    for (const [name, samples] of Object.entries(cpu)) {
      const sorted = [...samples].sort((a, b) => a - b);
      result[`cpu ms ${name} (mean)`] = round(samples.reduce((a, b) => a + b, 0) / samples.length);
      result[`cpu ms ${name} (max)`] = round(sorted[sorted.length - 1] ?? 0);
    }

    const load = await autocannon({
      url: `${stack.api.url}/api/v1/auth/heartbeat`,
      method: 'POST',
      connections: 16,
      duration: options.loadSeconds ?? 10,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${node.jwt}` },
      body: JSON.stringify({ nodeId: node.nodeId, metrics: { uptime: 1, version: '0.1.0' } }),
    });
    if (load.non2xx > 0 || load.errors > 0)
      throw new Error(`heartbeat load had ${load.non2xx} non-2xx and ${load.errors} errors`);
    result['heartbeat req/s (16 connections)'] = round(load.requests.average);
    result['heartbeat latency p50 ms'] = load.latency.p50;
    result['heartbeat latency p99 ms'] = load.latency.p99;
    return result;
  } finally {
    await node.stop();
    await stack.stop();
  }
}
