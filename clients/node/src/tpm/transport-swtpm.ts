import { Socket } from 'node:net';
import { AgentError } from '../errors.ts';
import { ResponseReader } from './response-reader.ts';
import type { TpmTransport } from './transport.ts';

/**
 * swtpm's TCP server socket (`swtpm socket --server type=tcp,port=P`): the raw TPM command goes in, the raw
 * response comes back, with no framing of its own (unlike mssim). The TPM's state lives in swtpm, not in the
 * connection, so after any error the socket is dropped and the next command reconnects.
 * swtpm serves one connection at a time: close() this transport before another client (tpm2-tools) talks
 * to the same swtpm.
 */
export class SwtpmTransport implements TpmTransport {
  readonly description: string;
  private socket: Socket | undefined;
  private readonly timeoutMs: number;
  private onData: ((chunk: Buffer) => void) | undefined;
  private onGone: ((err?: Error) => void) | undefined;
  /** Bytes that arrived with no command outstanding: the stream is out of step. */
  private desync: AgentError | undefined;

  constructor(
    private readonly host: string,
    private readonly port: number,
    options: { timeoutMs?: number } = {},
  ) {
    this.description = `swtpm ${host}:${port}`;
    this.timeoutMs = options.timeoutMs ?? 120_000;
  }

  private connect(): Promise<Socket> {
    if (this.socket && !this.socket.destroyed) return Promise.resolve(this.socket);
    return new Promise((resolve, reject) => {
      const s = new Socket();
      const timer = setTimeout(() => {
        s.destroy();
        reject(
          new AgentError('TPM_TIMEOUT', `${this.description}: no connection within ${this.timeoutMs} ms`),
        );
      }, this.timeoutMs);
      s.once('error', (e) => {
        clearTimeout(timer);
        reject(
          new AgentError(
            'TPM_UNAVAILABLE',
            `${this.description}: cannot connect (${e.message}); is swtpm running?`,
          ),
        );
      });
      s.connect(this.port, this.host, () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        s.setNoDelay(true);
        s.on('data', (chunk: Buffer) => {
          if (this.onData) this.onData(chunk);
          else {
            this.desync = new AgentError(
              'TPM_RESPONSE_SIZE_MISMATCH',
              `${this.description}: ${chunk.length} bytes arrived after the response was complete`,
            );
            s.destroy();
          }
        });
        s.on('error', (e) => this.onGone?.(e));
        s.on('close', () => this.onGone?.());
        this.socket = s;
        resolve(s);
      });
    });
  }

  async send(command: Uint8Array): Promise<Uint8Array> {
    if (this.desync) {
      const e = this.desync;
      this.desync = undefined;
      throw e;
    }
    const s = await this.connect();
    return new Promise<Uint8Array>((resolve, reject) => {
      const reader = new ResponseReader();
      const finish = (err: Error | undefined, value?: Uint8Array) => {
        clearTimeout(timer);
        this.onData = undefined;
        this.onGone = undefined;
        if (err) {
          s.destroy();
          reject(err);
        } else resolve(value!);
      };
      const timer = setTimeout(
        () =>
          finish(
            new AgentError(
              'TPM_TIMEOUT',
              `${this.description}: no complete response within ${this.timeoutMs} ms (${reader.bytesReceived} bytes so far)`,
            ),
          ),
        this.timeoutMs,
      );
      this.onData = (chunk) => {
        try {
          const done = reader.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
          if (done) finish(undefined, done);
        } catch (e) {
          finish(e as Error);
        }
      };
      this.onGone = (e) =>
        finish(
          new AgentError(
            'TPM_RESPONSE_TRUNCATED',
            `${this.description}: connection ${e ? `failed (${e.message})` : 'closed'} after ${reader.bytesReceived} bytes of the response`,
          ),
        );
      s.write(command);
    });
  }

  async close(): Promise<void> {
    const s = this.socket;
    this.socket = undefined;
    if (!s || s.destroyed) return;
    await new Promise<void>((resolve) => {
      s.once('close', () => resolve());
      s.end();
      setTimeout(() => {
        s.destroy();
        resolve();
      }, 1000).unref();
    });
  }
}
