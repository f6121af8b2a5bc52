import { connect, createServer, type Server, type Socket } from 'node:net';
import type { CliIo } from '../../src/cli/output.ts';
import { FrameReceiver, wrapFrame } from '../../src/mastr/framing.ts';

/** In-process CLI I/O that records what a command prints. */
export function captureIo(env: Record<string, string> = {}) {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: (t) => {
      stdout += t;
    },
    stderr: (t) => {
      stderr += t;
    },
    readStdin: async () => '',
    env,
  };
  return {
    io,
    out: () => stdout,
    err: () => stderr,
    /** Every JSON line on stdout (events and the final result). */
    lines: () =>
      stdout
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    last: () => JSON.parse(stdout.trim().split('\n').at(-1) ?? '{}') as Record<string, unknown>,
  };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/**
 * A man in the middle on the USB link (the attacker of MASTR.md §7.4), between the host and the emulator.
 * Frames are split with the protocol's own receiver; hooks may alter or drop host→token frames. In
 * `replay` mode the token is cut off and every host frame is answered with a recorded token frame.
 */
export class LinkProxy {
  readonly tokenFrames: Uint8Array[] = [];
  hostToToken: ((frameBody: Uint8Array, index: number) => Uint8Array) | null = null;
  private server: Server;
  private upstream: Socket | null = null;
  private hostSocket: Socket | null = null;
  private replayFrame: Uint8Array | null = null;
  private hostFrames = 0;
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {
    this.server = createServer((host) => this.onHost(host));
  }

  async listen(): Promise<number> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', () => r()));
    const a = this.server.address();
    this.port = typeof a === 'object' && a ? a.port : 0;
    return this.port;
  }

  private onHost(host: Socket): void {
    this.hostSocket = host;
    const up = connect(this.target);
    this.upstream = up;
    const fromHost = new FrameReceiver();
    const fromToken = new FrameReceiver();
    host.on('data', (d: Buffer) => {
      for (const ev of fromHost.push(new Uint8Array(d))) {
        if (ev.kind !== 'frame') continue;
        const i = this.hostFrames++;
        if (this.replayFrame) {
          const reply = this.replayFrame;
          setTimeout(() => host.write(wrapFrame(reply)), 50);
          continue;
        }
        const body = this.hostToToken ? this.hostToToken(ev.body, i) : ev.body;
        if (!up.destroyed) up.write(wrapFrame(body));
      }
    });
    up.on('data', (d: Buffer) => {
      for (const ev of fromToken.push(new Uint8Array(d)))
        if (ev.kind === 'frame') this.tokenFrames.push(ev.body);
      if (!this.replayFrame) host.write(d);
    });
    host.on('error', () => undefined);
    up.on('error', () => undefined);
    host.on('close', () => up.destroy());
  }

  /** The token vanishes; the host keeps getting `frame` back for everything it sends. */
  startReplay(frame: Uint8Array): void {
    this.replayFrame = frame;
    this.upstream?.destroy();
  }

  close(): Promise<void> {
    this.hostSocket?.destroy();
    this.upstream?.destroy();
    return new Promise((r) => this.server.close(() => r()));
  }
}

/** A raw TCP client on the emulator's serial port that collects frame bodies. */
export async function rawLink(port: number): Promise<{ socket: Socket; frames: Uint8Array[] }> {
  const socket = connect({ host: '127.0.0.1', port });
  await new Promise<void>((r) => socket.once('connect', () => r()));
  const frames: Uint8Array[] = [];
  const rx = new FrameReceiver();
  socket.on('data', (d: Buffer) => {
    for (const ev of rx.push(new Uint8Array(d))) if (ev.kind === 'frame') frames.push(ev.body);
  });
  socket.on('error', () => undefined);
  return { socket, frames };
}
