import { open } from 'node:fs/promises';
import { AgentError } from '../errors.ts';
import { MAX_RESPONSE_SIZE } from './constants.ts';
import type { TpmTransport } from './transport.ts';

/**
 * The Linux kernel's TPM resource manager, `/dev/tpmrm0`: write one command, read one response (the kernel
 * returns it whole in one read). The resource manager virtualises transient handles and sessions per open
 * file, so objects the agent leaves loaded vanish when it closes the device.
 */

/** The part of a Node FileHandle the transport uses (a real device, or a test double of one). */
export interface DeviceHandle {
  write(buffer: Uint8Array): Promise<{ bytesWritten: number }>;
  read(buffer: Uint8Array, offset: number, length: number, position: null): Promise<{ bytesRead: number }>;
  close(): Promise<void>;
}

export class TpmrmTransport implements TpmTransport {
  private busy = false;
  constructor(
    readonly description: string,
    private readonly device: DeviceHandle,
    private readonly timeoutMs = 120_000,
  ) {}

  async send(command: Uint8Array): Promise<Uint8Array> {
    if (this.busy)
      throw new AgentError('TPM_UNAVAILABLE', `${this.description}: a command is already in flight`);
    this.busy = true;
    let timer: NodeJS.Timeout | undefined;
    try {
      const io = (async () => {
        const { bytesWritten } = await this.device.write(command);
        if (bytesWritten !== command.length) {
          throw new AgentError(
            'TPM_UNAVAILABLE',
            `${this.description}: wrote ${bytesWritten} of ${command.length} command bytes`,
          );
        }
        const buf = new Uint8Array(MAX_RESPONSE_SIZE);
        const { bytesRead } = await this.device.read(buf, 0, buf.length, null);
        return buf.slice(0, bytesRead);
      })();
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(
          () =>
            reject(
              new AgentError('TPM_TIMEOUT', `${this.description}: no response within ${this.timeoutMs} ms`),
            ),
          this.timeoutMs,
        );
      });
      return await Promise.race([io, timeout]);
    } catch (e) {
      if (e instanceof AgentError) throw e;
      throw new AgentError('TPM_UNAVAILABLE', `${this.description}: I/O failed (${(e as Error).message})`);
    } finally {
      clearTimeout(timer);
      this.busy = false;
    }
  }

  close(): Promise<void> {
    return this.device.close();
  }
}

/** Opens the device read-write; missing device or permissions become TPM_UNAVAILABLE with the fix. */
export async function openTpmrm(path: string): Promise<TpmrmTransport> {
  try {
    return new TpmrmTransport(path, await open(path, 'r+'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const hint =
      code === 'ENOENT'
        ? 'no TPM resource manager device: is there a TPM 2.0 and is the tpm_tis/tpm_crb driver loaded?'
        : code === 'EACCES' || code === 'EPERM'
          ? 'permission denied: run as root or add the user to the tss group'
          : (e as Error).message;
    throw new AgentError('TPM_UNAVAILABLE', `${path}: ${hint}`, { errno: code });
  }
}
