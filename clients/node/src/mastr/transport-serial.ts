import { execFile } from 'node:child_process';
import { constants, openSync } from 'node:fs';
import { ReadStream } from 'node:tty';
import { MastrError } from './errors.ts';
import type { MastrLink } from './transport.ts';

/**
 * The token's USB CDC-ACM port (`/dev/ttyACM0`), without a native serial library: npm here runs no install
 * scripts, and the initramfs should carry nothing but node and the bundle. The port is configured with
 * `stty` (coreutils, or busybox in the initramfs) and then read and written as a tty file descriptor.
 *
 * Baud does nothing on CDC, but the pico-sdk treats a line coding of **1200 baud** as "reboot into
 * BOOTSEL" (MASTR.md §1.1): 1200 is refused here whatever the caller asks. Default 115200 as the seed.
 * Raw mode, 8N1, no flow control, no echo; `-hupcl` keeps DTR up after close so the token's unsolicited
 * frames are not lost while bootstrap hands over to the guard (§7.7) — unverified without a real token.
 */

export const DEFAULT_BAUD_RATE = 115200;
/** The pico-sdk's PICO_STDIO_USB_RESET_MAGIC_BAUD_RATE. */
export const FORBIDDEN_BAUD_RATE = 1200;
const TERMIOS_SPEEDS = new Set([
  9600, 19200, 38400, 57600, 115200, 230400, 460800, 500000, 576000, 921600, 1000000, 1152000, 1500000,
  2000000,
]);

/** The `stty` arguments for the port. Throws SERIAL_CONFIG_REFUSED for 1200 or a non-termios speed. */
export function sttyArguments(path: string, baudRate = DEFAULT_BAUD_RATE): string[] {
  if (baudRate === FORBIDDEN_BAUD_RATE) {
    throw new MastrError(
      'SERIAL_CONFIG_REFUSED',
      'refusing 1200 baud: on a Pico that line coding reboots the token into its USB bootloader (BOOTSEL)',
    );
  }
  if (!TERMIOS_SPEEDS.has(baudRate)) {
    throw new MastrError(
      'SERIAL_CONFIG_REFUSED',
      `baud rate ${baudRate} is not one of ${[...TERMIOS_SPEEDS].join(', ')}`,
    );
  }
  return [
    '-F',
    path,
    String(baudRate),
    'raw',
    'cs8',
    '-cstopb',
    '-parenb',
    '-ixon',
    '-ixoff',
    '-crtscts',
    'clocal',
    'cread',
    '-hupcl',
    '-echo',
    '-echoe',
    '-echok',
    '-echonl',
    '-icanon',
    '-isig',
    '-iexten',
    'min',
    '1',
    'time',
    '0',
  ];
}

/** An open port as the OS gives it: the outermost edge, replaced by a double in unit tests. */
export interface SerialPortHandle {
  write(bytes: Uint8Array): Promise<void>;
  onData(listener: (chunk: Uint8Array) => void): void;
  onClose(listener: (error?: Error) => void): void;
  close(): Promise<void>;
}

/** How the transport reaches the OS. */
export interface SerialLayer {
  stty(args: readonly string[]): Promise<void>;
  open(path: string): Promise<SerialPortHandle>;
}

export const systemSerialLayer: SerialLayer = {
  stty: (args) =>
    new Promise((resolve, reject) => {
      execFile('stty', [...args], (err, _stdout, stderr) =>
        err
          ? reject(
              new MastrError('TRANSPORT_FAILED', `stty ${args.join(' ')} failed: ${stderr || err.message}`),
            )
          : resolve(),
      );
    }),
  async open(path) {
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDWR | constants.O_NOCTTY | constants.O_NONBLOCK);
    } catch (e) {
      throw new MastrError('TRANSPORT_FAILED', `cannot open ${path}: ${(e as Error).message}`);
    }
    // A tty fd becomes a libuv TTY stream: non-blocking reads and writes without a threadpool thread.
    const stream = new ReadStream(fd);
    let lastError: Error | undefined;
    stream.on('error', (e) => {
      lastError = e;
    });
    return {
      write: (bytes) =>
        new Promise((resolve, reject) =>
          stream.write(bytes, (e) =>
            e ? reject(new MastrError('TRANSPORT_FAILED', `${path}: ${e.message}`)) : resolve(),
          ),
        ),
      onData: (l) => void stream.on('data', (d: Buffer) => l(new Uint8Array(d))),
      onClose: (l) => void stream.once('close', () => l(lastError)),
      close: () =>
        new Promise((resolve) => {
          if (stream.destroyed) return resolve();
          stream.once('close', () => resolve());
          stream.destroy();
        }),
    };
  },
};

export class SerialLink implements MastrLink {
  private isClosed = false;

  constructor(
    private readonly port: SerialPortHandle,
    readonly description: string,
  ) {
    port.onClose(() => {
      this.isClosed = true;
    });
  }

  get closed(): boolean {
    return this.isClosed;
  }

  write(bytes: Uint8Array): Promise<void> {
    if (this.isClosed)
      return Promise.reject(new MastrError('TRANSPORT_CLOSED', `${this.description} is closed`));
    return this.port.write(bytes);
  }

  onData(listener: (chunk: Uint8Array) => void): void {
    this.port.onData(listener);
  }

  onClose(listener: (error?: Error) => void): void {
    this.port.onClose(listener);
  }

  async close(): Promise<void> {
    if (this.isClosed) return;
    this.isClosed = true;
    await this.port.close();
  }
}

/** Configures (stty) and opens the port; the configuration is checked before anything touches the device. */
export async function openSerialLink(
  path: string,
  options: { baudRate?: number; layer?: SerialLayer } = {},
): Promise<MastrLink> {
  const args = sttyArguments(path, options.baudRate ?? DEFAULT_BAUD_RATE);
  const layer = options.layer ?? systemSerialLayer;
  await layer.stty(args);
  return new SerialLink(await layer.open(path), path);
}
