import { messageName } from './constants.ts';
import { Ephemeral } from './ephemeral.ts';
import { MastrError } from './errors.ts';
import type { HostSigner } from './host-key.ts';
import { type DebugFramePolicy, type HostOutput, HostStateMachine } from './host-state-machine.ts';
import { integritySignedBytes } from './messages.ts';
import type { MastrLink } from './transport.ts';

/** One line of what happened, for logs (`--json` prints these as JSON events). */
export type HostEvent = { event: string } & Record<string, unknown>;

export interface HostSessionOptions {
  link: MastrLink;
  signer: HostSigner;
  tokenPub: Uint8Array;
  /** SHA-256 of the integrity file, computed when the token asks (so the file is read at attestation time). */
  integrityHash(): Uint8Array;
  debugFrames: DebugFramePolicy;
  /** Start in RUNTIME with this key (the guard, after bootstrap's handoff). */
  sessionKey?: Uint8Array;
  log(e: HostEvent): void;
}

/**
 * Drives the pure HostStateMachine over a link: writes its frames in order, answers its `need-*` requests
 * with the TPM (fresh ephemeral + signature each handshake; the integrity signature over hash ‖ nonce), and
 * hands every other output to listeners (bootstrap.ts, guard.ts), which own the clocks.
 */
export class HostSession {
  readonly sm: HostStateMachine;
  private readonly listeners = new Set<(o: HostOutput) => void>();
  private writes: Promise<void> = Promise.resolve();

  constructor(private readonly o: HostSessionOptions) {
    this.sm = new HostStateMachine({
      tokenPub: o.tokenPub,
      debugFrames: o.debugFrames,
      ...(o.sessionKey ? { sessionKey: o.sessionKey } : {}),
    });
    o.link.onData((chunk) => this.handle(this.sm.receive(chunk)));
  }

  get link(): MastrLink {
    return this.o.link;
  }

  on(listener: (o: HostOutput) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The first handshake's opening move: a fresh ephemeral, signed by the TPM key, in plaintext. */
  async start(): Promise<void> {
    const eph = new Ephemeral();
    const sig = await this.o.signer.sign(eph.publicRaw);
    this.handle(this.sm.start(eph, sig));
  }

  /** Resolves when every frame handed to the link so far has been written (rejects if one failed). */
  flush(): Promise<void> {
    return this.writes;
  }

  heartbeat(): Promise<void> {
    this.handle(this.sm.heartbeat());
    return this.writes;
  }

  private emit(o: HostOutput): void {
    for (const l of [...this.listeners]) l(o);
  }

  private handle(outputs: HostOutput[]): void {
    for (const o of outputs) {
      switch (o.kind) {
        case 'write': {
          const bytes = o.bytes;
          this.writes = this.writes.catch(() => undefined).then(() => this.o.link.write(bytes));
          this.writes.catch((e: unknown) =>
            this.o.log({ event: 'write-failed', type: messageName(o.type), error: String(e) }),
          );
          break;
        }
        case 'need-integrity':
          void this.answer(async () => {
            const hash = this.o.integrityHash();
            const sig = await this.o.signer.sign(integritySignedBytes(hash, o.nonce));
            return this.sm.respondIntegrity(hash, sig);
          });
          break;
        case 'need-reattest-share':
          this.o.log({ event: 'reattestation-started' });
          void this.answer(async () => {
            const eph = new Ephemeral(); // fresh every handshake (§7.3)
            const sig = await this.o.signer.sign(eph.publicRaw);
            return this.sm.answerReattest(eph, sig);
          });
          break;
        case 'frame-error':
          this.o.log({ event: 'frame-error', code: o.error.code, message: o.error.message });
          break;
        case 'unexpected':
          this.o.log({ event: 'unexpected-message', type: messageName(o.type), phase: o.phase });
          break;
        case 'debug-text':
          this.o.log({ event: 'token-debug', text: o.text });
          break;
        default:
          break;
      }
      this.emit(o);
    }
  }

  private async answer(fn: () => Promise<HostOutput[]>): Promise<void> {
    try {
      this.handle(await fn());
    } catch (e) {
      const error =
        e instanceof MastrError ? e : new MastrError('HOST_KEY_MISSING', `TPM signing failed: ${String(e)}`);
      this.emit({ kind: 'failed', error });
    }
  }
}
