import { chmodSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { AgentError } from '../errors.ts';

/**
 * The agent's state directory. `state.json` holds what the node is (ids, key handles, public areas, the API
 * URL); `credentials.json` holds the secrets (API key, current session JWT). Both are written 0600 inside a
 * 0700 directory, atomically (write a temp file, then rename). On Windows POSIX modes do not apply: the
 * directory lives under %ProgramData% and the installer restricts its ACL to SYSTEM and Administrators
 * (README; DPAPI wrapping is not implemented yet).
 */

export interface AgentState {
  version: 1;
  apiUrl: string;
  nodeId: string;
  tier: string;
  /** The TPM location used at registration (`swtpm:…`, `device:/dev/tpmrm0`, `tbs`). */
  tpm: string;
  ekKind: 'rsa' | 'ecc';
  akHandle: number;
  nodeKeyHandle: number;
  /** TPM2B_PUBLIC, base64. */
  akPublic: string;
  nodeKeyPublic: string;
  publicKeyPem: string;
  /** The PCR selection of install/config, quoted again at each re-attestation. */
  pcrSelection: Record<string, number[]>;
  heartbeatIntervalSeconds: number;
  registeredAt: string;
}

export interface AgentCredentials {
  apiKey: string;
  jwt?: string;
  jwtExpiresAt?: string;
}

/** What `status` shows between runs: the daemon's last outcome (no secrets). */
export interface AgentStatus {
  lastHeartbeatAt?: string;
  lastAttestationAt?: string;
  lastError?: { code: string; message: string; at: string };
  nodeStatus?: string;
}

export function defaultStateDir(
  env: Readonly<Record<string, string | undefined>> = process.env,
  platform: NodeJS.Platform = process.platform,
): string {
  if (env.NODERR_STATE_DIR) return env.NODERR_STATE_DIR;
  if (platform === 'win32') return join(env.ProgramData ?? 'C:\\ProgramData', 'noderr-agent');
  if (process.getuid?.() === 0) return '/var/lib/noderr-agent';
  return join(env.XDG_STATE_HOME ?? join(homedir(), '.local', 'state'), 'noderr-agent');
}

function writePrivate(path: string, value: unknown): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o600 });
  chmodSync(tmp, 0o600); // the umask cannot widen it, but an existing temp file would keep its mode
  renameSync(tmp, path);
}

function readJson(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AgentError('STATE_INVALID', `cannot read ${what} ${path}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new AgentError('STATE_INVALID', `${what} ${path} is not valid JSON; re-register with --force`);
  }
}

export class StateStore {
  constructor(readonly dir: string) {}

  private path(name: string): string {
    return join(this.dir, name);
  }

  ensureDir(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    if (process.platform !== 'win32') chmodSync(this.dir, 0o700);
  }

  exists(): boolean {
    try {
      return statSync(this.path('state.json')).isFile();
    } catch {
      return false;
    }
  }

  readState(): AgentState | undefined {
    const v = readJson(this.path('state.json'), 'state') as AgentState | undefined;
    if (
      v !== undefined &&
      (v.version !== 1 || typeof v.nodeId !== 'string' || typeof v.akHandle !== 'number')
    ) {
      throw new AgentError(
        'STATE_INVALID',
        `state ${this.path('state.json')} is not an agent state; re-register with --force`,
      );
    }
    return v;
  }

  requireState(): AgentState {
    const s = this.readState();
    if (!s) {
      throw new AgentError(
        'NOT_REGISTERED',
        `no agent state in ${this.dir}: run \`noderr-agent register\` first`,
      );
    }
    return s;
  }

  writeState(s: AgentState): void {
    this.ensureDir();
    writePrivate(this.path('state.json'), s);
  }

  readCredentials(): AgentCredentials {
    const c = readJson(this.path('credentials.json'), 'credentials') as AgentCredentials | undefined;
    if (!c || typeof c.apiKey !== 'string') {
      throw new AgentError(
        'NOT_REGISTERED',
        `no credentials in ${this.dir}: run \`noderr-agent register\` first`,
      );
    }
    return c;
  }

  writeCredentials(c: AgentCredentials): void {
    this.ensureDir();
    writePrivate(this.path('credentials.json'), c);
  }

  readStatus(): AgentStatus {
    return (readJson(this.path('status.json'), 'status') as AgentStatus | undefined) ?? {};
  }

  updateStatus(patch: AgentStatus): void {
    this.ensureDir();
    writePrivate(this.path('status.json'), { ...this.readStatus(), ...patch });
  }
}
