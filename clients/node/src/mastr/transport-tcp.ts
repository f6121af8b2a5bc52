import { connect, type Socket } from 'node:net';
import { MastrError } from './errors.ts';
import type { MastrLink } from './transport.ts';

/** The emulator's serial link over TCP (`emulate-token --listen`): the same bytes a USB CDC port carries. */
export class TcpLink implements MastrLink {
  private isClosed = false;
  private readonly closeListeners: ((e?: Error) => void)[] = [];
  private lastError: Error | undefined;

  constructor(
    private readonly socket: Socket,
    readonly description: string,
  ) {
    socket.setNoDelay(true);
    socket.on('error', (e) => {
      this.lastError = e;
    });
    socket.on('close', () => {
      this.isClosed = true;
      for (const l of this.closeListeners.splice(0)) l(this.lastError);
    });
  }

  get closed(): boolean {
    return this.isClosed;
  }

  onData(listener: (chunk: Uint8Array) => void): void {
    this.socket.on('data', (d: Buffer) => listener(new Uint8Array(d)));
  }

  onClose(listener: (e?: Error) => void): void {
    if (this.isClosed) listener(this.lastError);
    else this.closeListeners.push(listener);
  }

  write(bytes: Uint8Array): Promise<void> {
    if (this.isClosed)
      return Promise.reject(new MastrError('TRANSPORT_CLOSED', `${this.description} is closed`));
    return new Promise((resolve, reject) => {
      this.socket.write(bytes, (e) =>
        e ? reject(new MastrError('TRANSPORT_FAILED', `${this.description}: ${e.message}`)) : resolve(),
      );
    });
  }

  close(): Promise<void> {
    if (this.isClosed) return Promise.resolve();
    return new Promise((resolve) => {
      this.socket.once('close', () => resolve());
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 200).unref();
    });
  }
}

export function openTcpLink(host: string, port: number, timeoutMs = 5000): Promise<MastrLink> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new MastrError('TRANSPORT_FAILED', `tcp:${host}:${port}: no connection within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      resolve(new TcpLink(socket, `tcp:${host}:${port}`));
    });
    socket.once('error', (e) => {
      clearTimeout(timer);
      reject(new MastrError('TRANSPORT_FAILED', `tcp:${host}:${port}: ${e.message}`));
    });
  });
}
