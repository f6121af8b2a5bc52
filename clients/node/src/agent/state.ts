import {
  chmodSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmdirSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
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
  /**
   * Where the boot event log comes from (event-log.ts): `default`, `none` or an absolute file. Absent in
   * states written before it existed: `default`.
   */
  eventLog?: string;
  registeredAt: string;
}

export interface AgentCredentials {
  /** The node these credentials belong to (absent in files written before 0.2: then unknown). */
  nodeId?: string;
  apiKey: string;
  jwt?: string;
  jwtExpiresAt?: string;
}

/**
 * `keys.json`: the persistent TPM objects this agent created, recorded as soon as they exist (before the
 * API is asked anything), so a later `register` or `unregister` can tell its own keys from another
 * program's by their Name, even when a registration failed half-way and `state.json` was never written.
 */
export interface AgentKeyRecord {
  version: 1;
  tpm: string;
  createdAt: string;
  keys: { role: 'ak' | 'nodeKey'; handle: number /** TPM Name, hex. */; name: string }[];
}

/**
 * `pending-activation.json`: written (0600) after TPM2_ActivateCredential recovered the secret and before
 * `/auth/activate` is called, deleted once the credentials and the state are on disk. If the agent dies in
 * between, the next `register` finishes the activation from it. The secret is single-use and only ever
 * valid for this activation (bound to this TPM's EK and AK), but it is a secret all the same.
 */
export interface PendingActivation {
  version: 1;
  activationId: string;
  /** The secret ActivateCredential released, base64. */
  secret: string;
  expiresAt: string;
  ekCertificate: 'nv' | 'manufacturer' | 'none';
  /** What state.json will say once activation succeeded (registeredAt is set then). */
  state: Omit<AgentState, 'registeredAt'>;
}

/** The files the agent owns in its state directory (what `unregister` removes). */
export const STATE_FILES = [
  'credentials.json',
  'pending-activation.json',
  'state.json',
  'status.json',
  'keys.json',
] as const;

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

function removeIfPresent(path: string): boolean {
  try {
    unlinkSync(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new AgentError('STATE_INVALID', `cannot remove ${path}: ${(e as Error).message}`);
  }
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
        { stateDir: this.dir },
      );
    }
    return s;
  }

  writeState(s: AgentState): void {
    this.ensureDir();
    writePrivate(this.path('state.json'), s);
  }

  /** The credentials if there are any (undefined when the file is absent or holds no API key). */
  peekCredentials(): AgentCredentials | undefined {
    const c = readJson(this.path('credentials.json'), 'credentials') as AgentCredentials | undefined;
    return c && typeof c.apiKey === 'string' ? c : undefined;
  }

  readCredentials(): AgentCredentials {
    const c = this.peekCredentials();
    if (!c) {
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

  readKeys(): AgentKeyRecord | undefined {
    const v = readJson(this.path('keys.json'), 'key record') as AgentKeyRecord | undefined;
    if (v !== undefined && (v.version !== 1 || !Array.isArray(v.keys))) {
      throw new AgentError('STATE_INVALID', `${this.path('keys.json')} is not an agent key record`);
    }
    return v;
  }

  writeKeys(k: AgentKeyRecord): void {
    this.ensureDir();
    writePrivate(this.path('keys.json'), k);
  }

  readPending(): PendingActivation | undefined {
    const v = readJson(this.path('pending-activation.json'), 'pending activation') as
      | PendingActivation
      | undefined;
    if (
      v !== undefined &&
      (v.version !== 1 ||
        typeof v.activationId !== 'string' ||
        typeof v.secret !== 'string' ||
        typeof v.state?.nodeId !== 'string')
    ) {
      throw new AgentError(
        'STATE_INVALID',
        `${this.path('pending-activation.json')} is not a pending activation; remove it (noderr-agent unregister)`,
      );
    }
    return v;
  }

  writePending(p: PendingActivation): void {
    this.ensureDir();
    writePrivate(this.path('pending-activation.json'), p);
  }

  deletePending(): void {
    removeIfPresent(this.path('pending-activation.json'));
  }

  /**
   * Removes the agent's files (STATE_FILES and its own leftover temp files) and then the directory if it
   * is empty; anything else in it is left alone. Returns the names of the files removed.
   */
  removeAll(): { removed: string[]; directoryRemoved: boolean } {
    const removed: string[] = STATE_FILES.filter((f) => removeIfPresent(this.path(f)));
    let entries: string[];
    try {
      entries = readdirSync(this.dir);
    } catch {
      return { removed, directoryRemoved: false };
    }
    const ours = new RegExp(`^(${STATE_FILES.map((f) => f.replace('.', '\\.')).join('|')})\\.\\d+\\.tmp$`);
    for (const f of entries) if (ours.test(f) && removeIfPresent(this.path(f))) removed.push(f);
    try {
      if (readdirSync(this.dir).length > 0) return { removed, directoryRemoved: false };
      rmdirSync(this.dir);
      return { removed, directoryRemoved: true };
    } catch {
      return { removed, directoryRemoved: false };
    }
  }

  readStatus(): AgentStatus {
    return (readJson(this.path('status.json'), 'status') as AgentStatus | undefined) ?? {};
  }

  updateStatus(patch: AgentStatus): void {
    this.ensureDir();
    writePrivate(this.path('status.json'), { ...this.readStatus(), ...patch });
  }
}
