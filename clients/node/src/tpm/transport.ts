import { AgentError } from '../errors.ts';

/**
 * The one thing a TPM transport does: carry a marshalled command to the TPM and bring back its response.
 * One file per platform implements it (transport-tpmrm.ts, transport-swtpm.ts, transport-tbs.ts); callers
 * never send two commands at once (the Tpm class serialises them).
 */
export interface TpmTransport {
  /** What the transport talks to, for messages (`swtpm 127.0.0.1:2321`, `/dev/tpmrm0`, `Windows TBS`). */
  readonly description: string;
  send(command: Uint8Array): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** Where the TPM is: what `--tpm` / `NODERR_TPM` say, parsed. */
export type TpmSpec =
  | { kind: 'swtpm'; host: string; port: number }
  | { kind: 'device'; path: string }
  | { kind: 'tbs' };

const DEFAULT_SWTPM_PORT = 2321;

/**
 * Parses a TPM location. Accepts the TCTI syntax tpm2-tools uses — `swtpm:host=H,port=P` (both optional,
 * defaults localhost:2321), `device:/dev/tpmrm0` — plus a bare device path and `tbs` (Windows).
 * `mssim` is refused: its framing differs from swtpm's raw socket protocol.
 */
export function parseTpmSpec(spec: string): TpmSpec {
  const s = spec.trim();
  const colon = s.indexOf(':');
  const name = colon < 0 ? s : s.slice(0, colon);
  const conf = colon < 0 ? '' : s.slice(colon + 1);
  if (name === 'swtpm') {
    let host = 'localhost';
    let port = DEFAULT_SWTPM_PORT;
    for (const part of conf.split(',').filter(Boolean)) {
      const eq = part.indexOf('=');
      const key = eq < 0 ? '' : part.slice(0, eq);
      const value = eq < 0 ? '' : part.slice(eq + 1);
      if (key === 'host' && value) host = value;
      else if (key === 'port' && /^\d{1,5}$/.test(value) && Number(value) > 0 && Number(value) < 65536)
        port = Number(value);
      else
        throw new AgentError(
          'TPM_SPEC_INVALID',
          `swtpm TCTI option '${part}' is not host=NAME or port=1..65535 (e.g. swtpm:host=127.0.0.1,port=2321)`,
        );
    }
    return { kind: 'swtpm', host, port };
  }
  if (name === 'device') {
    if (!conf.startsWith('/'))
      throw new AgentError('TPM_SPEC_INVALID', `device TCTI needs an absolute path (device:/dev/tpmrm0)`);
    return { kind: 'device', path: conf };
  }
  if (s.startsWith('/')) return { kind: 'device', path: s };
  if (s === 'tbs') return { kind: 'tbs' };
  throw new AgentError(
    'TPM_SPEC_INVALID',
    `unknown TPM '${spec}': use swtpm:host=H,port=P, device:/dev/tpmrm0 (or a path), or tbs (Windows)`,
  );
}

/** The platform default: the kernel resource manager on Linux, TBS on Windows. */
export function defaultTpmSpec(platform: NodeJS.Platform = process.platform): string {
  return platform === 'win32' ? 'tbs' : 'device:/dev/tpmrm0';
}

/** `--tpm`, else `NODERR_TPM`, else the platform default. */
export function resolveTpmSpec(
  flag: string | undefined,
  env: Readonly<Record<string, string | undefined>> = process.env,
  platform: NodeJS.Platform = process.platform,
): TpmSpec {
  return parseTpmSpec(flag ?? env.NODERR_TPM ?? defaultTpmSpec(platform));
}

/** Opens the transport for a spec; each platform's module is loaded only when asked for. */
export async function openTransport(
  spec: TpmSpec,
  options: { timeoutMs?: number } = {},
): Promise<TpmTransport> {
  switch (spec.kind) {
    case 'swtpm': {
      const { SwtpmTransport } = await import('./transport-swtpm.ts');
      return new SwtpmTransport(spec.host, spec.port, options);
    }
    case 'device': {
      const { openTpmrm } = await import('./transport-tpmrm.ts');
      return openTpmrm(spec.path);
    }
    case 'tbs': {
      const { openTbs } = await import('./transport-tbs.ts');
      return openTbs();
    }
  }
}
