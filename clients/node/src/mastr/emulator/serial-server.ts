import { createServer, type Server, type Socket } from 'node:net';

/**
 * The token's USB CDC port, offered over TCP. One host at a time, like a tty that one process has open: a
 * new connection replaces the previous one (bootstrap exits, the guard opens the port). Bytes the token
 * sends while nobody is connected are lost, as they are when no process reads the port.
 */
export class SerialServer {
  private current: Socket | null = null;
  private readonly server: Server;

  constructor(private readonly onBytes: (chunk: Uint8Array) => void) {
    this.server = createServer((socket) => {
      socket.setNoDelay(true);
      const previous = this.current;
      this.current = socket;
      previous?.destroy();
      socket.on('data', (d: Buffer) => {
        if (this.current === socket) this.onBytes(new Uint8Array(d));
      });
      socket.on('error', () => undefined);
      socket.on('close', () => {
        if (this.current === socket) this.current = null;
      });
    });
  }

  get connected(): boolean {
    return this.current !== null;
  }

  send(bytes: Uint8Array): void {
    this.current?.write(bytes);
  }

  listen(port: number, host: string): Promise<{ host: string; port: number }> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        const a = this.server.address();
        resolve({ host, port: typeof a === 'object' && a ? a.port : port });
      });
    });
  }

  /** Drops the host's connection (a USB unplug as the host sees it). */
  disconnect(): void {
    this.current?.destroy();
    this.current = null;
  }

  close(): Promise<void> {
    this.disconnect();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
