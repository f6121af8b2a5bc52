import { MastrError } from './errors.ts';

/**
 * The byte link to a token: USB CDC serial (a real token) or TCP (the emulator). Frames are written whole
 * (SOF, stuffed bytes, EOF in one write, MASTR.md §8); reads arrive in whatever pieces the link gives.
 */
export interface MastrLink {
  readonly description: string;
  write(bytes: Uint8Array): Promise<void>;
  /** Every chunk the link receives, in order. */
  onData(listener: (chunk: Uint8Array) => void): void;
  /** Called once when the link goes away (unplugged token, emulator stopped, close()). */
  onClose(listener: (error?: Error) => void): void;
  readonly closed: boolean;
  close(): Promise<void>;
}

export type LinkSpec = { kind: 'tcp'; host: string; port: number } | { kind: 'serial'; path: string };

/** `--port`: a device path (`/dev/ttyACM0`) or `tcp:HOST:PORT` (the emulator). */
export function parseLinkSpec(spec: string): LinkSpec {
  const tcp = /^tcp:(?:\/\/)?(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(spec.trim());
  if (tcp) {
    const port = Number(tcp[2]);
    if (port < 1 || port > 65535) throw new MastrError('USAGE', `--port ${spec}: port must be 1..65535`);
    return { kind: 'tcp', host: tcp[1]!.replace(/^\[|\]$/g, ''), port };
  }
  if (spec.startsWith('/')) return { kind: 'serial', path: spec };
  throw new MastrError('USAGE', `--port ${spec}: use a device path (/dev/ttyACM0) or tcp:HOST:PORT`);
}

export async function openLink(spec: LinkSpec, options: { baudRate?: number } = {}): Promise<MastrLink> {
  if (spec.kind === 'tcp') {
    const { openTcpLink } = await import('./transport-tcp.ts');
    return openTcpLink(spec.host, spec.port);
  }
  const { openSerialLink } = await import('./transport-serial.ts');
  return openSerialLink(spec.path, options.baudRate === undefined ? {} : { baudRate: options.baudRate });
}
