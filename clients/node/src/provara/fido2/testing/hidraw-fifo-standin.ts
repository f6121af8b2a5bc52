import { execFileSync } from 'node:child_process';
import { constants, openSync } from 'node:fs';
import { type FileHandle, mkdtemp, open, rm } from 'node:fs/promises';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HidDevice } from '../ctaphid.ts';
import { REPORT_SIZE } from '../ctaphid.ts';

/**
 * TEST DOUBLE: a FIFO pair standing in for a `/dev/hidrawN` character device. No hidraw node can be made
 * on a machine without `/dev/uhid`, so the outermost edge is replaced instead: a directory with
 * `to-device` (the host's writes) and `from-device` (the input reports) FIFOs, opened by the production
 * `HidrawDevice` under the `NODERR_FIDO2_HIDRAW_STANDIN=fifo-pair` seam. The "device side" here does what
 * the kernel and the USB authenticator would: it takes 65-byte writes, checks and strips the 0x00 report id,
 * hands the 64-byte report to a `HidDevice` behind it (the software authenticator), and writes its output
 * reports, 64 bytes each without a prefix, to `from-device`.
 */
export class HidrawFifoStandIn {
  /** Every raw write the host made, as received (65 bytes each when the host is right). */
  readonly rawWrites: Uint8Array[] = [];
  /** Writes whose first byte was not 0x00: a real kernel would have sent the wrong bytes. */
  badReportIds = 0;
  private pending = new Uint8Array(0);
  private delivering: Promise<void> = Promise.resolve();
  private closed = false;
  private pumpDone: Promise<void> | undefined;

  private constructor(
    readonly dir: string,
    private readonly toDevice: Socket,
    private readonly fromDevice: FileHandle,
    readonly device: HidDevice | undefined,
  ) {}

  /** Creates the FIFO pair; `device` (e.g. a SoftAuthenticator) answers, or none to script reports by hand. */
  static async create(device?: HidDevice): Promise<HidrawFifoStandIn> {
    const dir = await mkdtemp(join(tmpdir(), 'hidraw-standin-'));
    execFileSync('mkfifo', ['-m', '0600', join(dir, 'to-device'), join(dir, 'from-device')]);
    // O_RDWR keeps both FIFOs open across host opens and closes, like a device node that stays put
    const flags = constants.O_RDWR | constants.O_NONBLOCK;
    const fromDevice = await open(join(dir, 'from-device'), flags);
    // the socket owns this descriptor and closes it on destroy()
    const sock = new Socket({ fd: openSync(join(dir, 'to-device'), flags), readable: true, writable: false });
    const s = new HidrawFifoStandIn(dir, sock, fromDevice, device);
    sock.on('data', (chunk: Buffer) => s.onData(new Uint8Array(chunk)));
    if (device) s.pumpDone = s.pump(device);
    return s;
  }

  /** The path to pass as `--fido2` / `HidrawDevice` device under the stand-in seam. */
  get path(): string {
    return this.dir;
  }

  /** Sends one raw input report to the host, as the device would. */
  async sendReport(report: Uint8Array): Promise<void> {
    await this.fromDevice.write(report, 0, report.length, null);
  }

  /** Reads whatever the host wrote and has not been consumed (for tests without a device behind). */
  takeWrites(): Uint8Array[] {
    return this.rawWrites.splice(0);
  }

  private onData(chunk: Uint8Array) {
    const buf = new Uint8Array(this.pending.length + chunk.length);
    buf.set(this.pending);
    buf.set(chunk, this.pending.length);
    let off = 0;
    // writes of 65 bytes are atomic on a pipe (< PIPE_BUF), so the stream splits cleanly into them
    for (; buf.length - off >= REPORT_SIZE + 1; off += REPORT_SIZE + 1) {
      const w = buf.slice(off, off + REPORT_SIZE + 1);
      this.rawWrites.push(w);
      if (w[0] !== 0x00) {
        this.badReportIds++;
        continue;
      }
      const dev = this.device;
      if (dev) this.delivering = this.delivering.then(() => dev.write(w.subarray(1))).catch(() => {});
    }
    this.pending = buf.slice(off);
  }

  private async pump(device: HidDevice): Promise<void> {
    while (!this.closed) {
      let report: Uint8Array;
      try {
        report = await device.read(100);
      } catch {
        continue; // nothing to send yet
      }
      await this.sendReport(report);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    this.toDevice.destroy();
    await this.pumpDone;
    await this.fromDevice.close().catch(() => {});
    await rm(this.dir, { recursive: true, force: true });
  }
}
