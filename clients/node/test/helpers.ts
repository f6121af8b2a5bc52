import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type Server, Socket } from 'node:net';
import { join } from 'node:path';

const BIN = join(import.meta.dirname, '..', 'bin', 'noderr-agent.mjs');

export interface CliRun {
  code: number | null;
  /** The signal that ended the process (a test-only kill point: SIGKILL), else null. */
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  json: Record<string, unknown>;
}

/**
 * Runs the real CLI (`bin/noderr-agent.mjs`) as a child process. Secrets go through the environment, never
 * argv (NODERR_INSTALL_TOKEN).
 */
export function agent(args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: 'pipe' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      let json: Record<string, unknown> = {};
      try {
        json = JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}');
      } catch {}
      resolve({ code, signal, stdout, stderr, json });
    });
  });
}

/** `noderr-agent run --json` as a long-running child: its JSON events as they arrive. */
export class Daemon {
  readonly events: Record<string, unknown>[] = [];
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;
  stderr = '';

  constructor(args: string[], env: Record<string, string> = {}) {
    this.child = spawn(process.execPath, [BIN, 'run', '--json', ...args], {
      env: { ...process.env, ...env },
      stdio: 'pipe',
    });
    let buf = '';
    this.child.stdout?.on('data', (d) => {
      buf += d;
      let i = buf.indexOf('\n');
      while (i >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          this.events.push(JSON.parse(line));
        } catch {}
        i = buf.indexOf('\n');
      }
    });
    this.child.stderr?.on('data', (d) => (this.stderr += d));
    this.exited = new Promise((r) => this.child.on('exit', (code) => r(code)));
  }

  async waitFor(
    pred: (e: Record<string, unknown>) => boolean,
    timeoutMs = 30_000,
    from = 0,
  ): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.events.findIndex((e, n) => n >= from && pred(e));
      if (i >= 0) return i;
      if (Date.now() > deadline) {
        throw new Error(`timed out waiting for an event; got ${JSON.stringify(this.events)}\n${this.stderr}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  signal(sig: NodeJS.Signals): void {
    this.child.kill(sig);
  }
}

/**
 * A plain TCP forwarder in front of the API, so a test can make the API unreachable (connections refused)
 * and bring it back on the same address — what a node sees when its API goes down and returns.
 */
export class Forwarder {
  private server: Server | undefined;
  private sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly targetPort: number) {}

  async start(): Promise<void> {
    const server = createServer((client) => {
      const upstream = new Socket();
      this.sockets.add(client).add(upstream);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        this.sockets.delete(client);
        this.sockets.delete(upstream);
      };
      upstream.connect(this.targetPort, '127.0.0.1');
      client.pipe(upstream).pipe(client);
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    const a = server.address();
    if (a && typeof a !== 'string') this.port = a.port;
    this.server = server;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    const s = this.server;
    this.server = undefined;
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }
}
