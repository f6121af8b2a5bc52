import { Tpm } from '../tpm/tpm.ts';
import { openTransport, parseTpmSpec } from '../tpm/transport.ts';
import { ApiClient } from './api-client.ts';
import type { StateStore } from './state.ts';

/** What every agent operation works with: the state store, a way to reach the TPM, the API, progress output. */
export interface AgentContext {
  store: StateStore;
  /** The TPM location (`swtpm:…`, `device:…`, `tbs`). */
  tpmSpec: string;
  api: ApiClient;
  /** One line per step of multi-step work, for people (the CLI prints it to stderr unless --json). */
  progress(step: string): void;
  /** Something the operator should know although the command goes on (the CLI: always shown). */
  warn?(message: string): void;
  /** `--event-log` / `NODERR_EVENT_LOG` for this run, over what the state recorded (heartbeat, run). */
  eventLog?: string;
}

/** The context's warning channel; progress when it has none. */
export function warnOf(ctx: Pick<AgentContext, 'warn' | 'progress'>): (message: string) => void {
  return (m) => (ctx.warn ? ctx.warn(m) : ctx.progress(`warning: ${m}`));
}

/** Opens the TPM for one operation and always closes it (swtpm serves one connection at a time). */
export async function withTpm<T>(
  ctx: Pick<AgentContext, 'tpmSpec'>,
  fn: (tpm: Tpm) => Promise<T>,
): Promise<T> {
  const tpm = new Tpm(await openTransport(parseTpmSpec(ctx.tpmSpec)));
  try {
    return await fn(tpm);
  } finally {
    await tpm.close();
  }
}

export function apiClient(baseUrl: string): ApiClient {
  return new ApiClient({ baseUrl });
}
