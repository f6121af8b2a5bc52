import { ByteReader } from '../../../../shared/tpm2/cursor.ts';
import {
  type AuthCommand,
  malformedAsTyped,
  marshalCommand,
  type ParsedResponse,
  parseResponse,
  TpmCommandError,
} from './framing.ts';

const RETRYABLE = new Set(['TPM_RC_RETRY', 'TPM_RC_YIELDED', 'TPM_RC_TESTING']);
const MAX_RETRIES = 10;

import type { TpmTransport } from './transport.ts';

/** One command as a typed function hands it to the TPM. */
export interface Command<T> {
  /** The Part 3 name without `TPM2_` (for messages): `Quote`, `CreatePrimary`. */
  name: string;
  code: number;
  handles?: readonly number[];
  /** One authorization per handle that needs one, in handle order. */
  sessions?: readonly AuthCommand[];
  params?: Uint8Array;
  /** How many handles the response carries before its parameters (0 or 1). */
  responseHandles?: number;
  /** Reads the response parameters; the reader must be consumed exactly (trailing bytes are rejected). */
  parse(r: ByteReader, handles: readonly number[]): T;
}

/**
 * A TPM reached through one transport. Commands are serialised (a TPM runs one at a time, and neither
 * swtpm's socket nor /dev/tpmrm0 accept a second command before the first response is read).
 */
export class Tpm {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly transport: TpmTransport) {}

  run<T>(c: Command<T>): Promise<T> {
    const job = this.queue.catch(() => undefined).then(() => this.execute(c));
    this.queue = job;
    return job;
  }

  private async execute<T>(c: Command<T>): Promise<T> {
    const command = marshalCommand({
      code: c.code,
      ...(c.handles ? { handles: c.handles } : {}),
      ...(c.sessions ? { sessions: c.sessions } : {}),
      ...(c.params ? { params: c.params } : {}),
    });
    let parsed: ParsedResponse;
    for (let attempt = 0; ; attempt++) {
      const response = await this.transport.send(command);
      try {
        parsed = parseResponse(response, {
          command: c.name,
          withSessions: (c.sessions?.length ?? 0) > 0,
          responseHandles: c.responseHandles ?? 0,
        });
        break;
      } catch (e) {
        // RETRY/YIELDED/TESTING say "send it again" (Part 2 §6.6.3); the TSS does so too, a bounded number of times.
        if (!(e instanceof TpmCommandError) || !RETRYABLE.has(e.rc.name) || attempt >= MAX_RETRIES) throw e;
        await new Promise((r) => setTimeout(r, 10 * (attempt + 1)));
      }
    }
    return malformedAsTyped(c.name, () => {
      const r = new ByteReader(parsed.params, `TPM2_${c.name} response parameters`);
      const out = c.parse(r, parsed.handles);
      r.end();
      return out;
    });
  }

  close(): Promise<void> {
    return this.transport.close();
  }
}
