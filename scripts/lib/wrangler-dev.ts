import { type ChildProcess, spawn } from 'node:child_process';
import { startDbGateway } from './db-gateway.ts';
import { generateAuditSigningKey, generateSigningKeySet } from './dev-secrets.ts';
import { freePort } from './free-port.ts';

/**
 * `wrangler dev` as a child process: the Worker exactly as `npm start` serves it, for end-to-end
 * tests and benchmarks. Vars are passed with `--var`; `.dev.vars` is not read (`--env-file` points at
 * an empty file) so tests never depend on a developer's local secrets.
 */
export interface WranglerDev {
  url: string;
  port: number;
  /** Process id of `wrangler dev` (workerd runs as its descendant). */
  pid: number;
  /** Everything wrangler and the Worker printed (Worker `console.log` lines included). */
  output(): string;
  stop(): Promise<void>;
}

const ROOT = new URL('../..', import.meta.url).pathname;

export async function startWranglerDev(options: {
  databaseUrl: string;
  vars?: Record<string, string>;
  timeoutMs?: number;
}): Promise<WranglerDev> {
  const port = await freePort();
  const inspector = await freePort();
  // A complete configuration even when a test names none: the Worker refuses to load without one.
  const vars = {
    ENVIRONMENT: 'test',
    JWT_ISSUER: 'https://noderr-trust.test',
    NODE_JWT_KEYS: await generateSigningKeySet(),
    SUPABASE_JWT_SECRET: `test-${crypto.randomUUID()}-${crypto.randomUUID()}`,
    AUDIT_SIGNING_KEY: generateAuditSigningKey(),
    ...options.vars,
  };
  const varArgs = Object.entries(vars).flatMap(([k, v]) => ['--var', `${k}:${v}`]);
  const gateway = await startDbGateway(options.databaseUrl);
  let out = '';
  const child: ChildProcess = spawn(
    `${ROOT}node_modules/.bin/wrangler`,
    [
      'dev',
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--inspector-port',
      String(inspector),
      '--show-interactive-dev-session=false',
      '--env-file',
      '/dev/null',
      ...varArgs,
    ],
    {
      cwd: ROOT,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        WRANGLER_SEND_METRICS: 'false',
        CLOUDFLARE_CF_FETCH_ENABLED: 'false',
        WRANGLER_LOG_PATH: '/tmp/noderr-wrangler-logs',
        CLOUDFLARE_HYPERDRIVE_LOCAL_CONNECTION_STRING_HYPERDRIVE: gateway.url,
      },
    },
  );
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  child.stderr?.on('data', (d: Buffer) => {
    out += d.toString();
  });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await gateway.stop();
    if (child.exitCode !== null || !child.pid) return;
    const exited = new Promise((r) => child.once('exit', r));
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {}
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {}
    }, 5000);
    await exited;
    clearTimeout(timer);
  };
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  while (!/Ready on http/.test(out)) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited early:\n${out}`);
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`wrangler dev did not start:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, port, pid: child.pid!, output: () => out, stop };
}
