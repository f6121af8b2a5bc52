import { constants } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { join } from 'node:path';
import { ProvaraError } from '../../../../../shared/provara/errors.ts';
import { type HidDevice, REPORT_SIZE } from './ctaphid.ts';

/**
 * A FIDO2 authenticator behind a Linux `/dev/hidrawN` node, with plain `node:fs` (no native addon).
 *
 * The hidraw report-id convention (Linux `Documentation/hid/hidraw.rst`):
 * - `write()`: the first byte of the buffer is the report number; a device that does not use numbered
 *   reports — every FIDO authenticator, whose report descriptor declares none — takes `0x00` there, and the
 *   kernel strips that byte before sending the output report. So a 64-byte CTAPHID packet is written as
 *   65 bytes, `0x00 ‖ packet`. Forgetting the prefix makes the kernel eat the packet's first CID byte.
 * - `read()`: for a device without numbered reports the data starts at the first byte, no prefix: one
 *   `read()` returns one whole 64-byte input report (a device with numbered reports would prepend its id).
 *
 * Reads: the node is opened `O_NONBLOCK` and a pump reads it into a queue, sleeping `pollMs` whenever the
 * kernel says EAGAIN. A blocking read would park a libuv thread-pool thread inside the kernel until the
 * authenticator spoke again — and a FIDO device never speaks unasked, so `close()` (and the process exit)
 * would wait forever. The queue is what makes a timed-out `read()` harmless: a report that arrives after
 * the deadline stays queued for the next `read()`; the kernel buffers more behind it.
 */

/** How long the pump sleeps after EAGAIN: ≤ 4 ms of latency per report, ~250 cheap syscalls a second. */
const DEFAULT_POLL_MS = 4;
/** Stop reading ahead past this many queued reports (the kernel keeps buffering behind us). */
const MAX_QUEUED = 256;

/**
 * TEST SEAM. With `NODERR_FIDO2_HIDRAW_STANDIN=fifo-pair` the device path names a directory holding two
 * FIFOs — `to-device` (our 65-byte writes) and `from-device` (64-byte input reports) — standing in for the
 * character device, which cannot exist on a machine without `/dev/uhid`. Everything after `open()` — the
 * report-id prefix, the non-blocking read pump, the timeouts — is the same code either way. Never set it
 * outside tests.
 */
export const HIDRAW_STANDIN_ENV = 'NODERR_FIDO2_HIDRAW_STANDIN';

export interface HidrawPaths {
  /** Where input reports are read. */
  readPath: string;
  /** Where output reports are written; the same node as `readPath` for a real device. */
  writePath: string;
}

/** The paths `HidrawDevice.open` uses for a device argument, honouring the test seam. */
export function hidrawPaths(device: string, env: Readonly<Record<string, string | undefined>>): HidrawPaths {
  const standIn = env[HIDRAW_STANDIN_ENV];
  if (standIn === undefined || standIn === '') return { readPath: device, writePath: device };
  if (standIn !== 'fifo-pair')
    throw new ProvaraError('HARDWARE_UNAVAILABLE', `${HIDRAW_STANDIN_ENV} must be 'fifo-pair'`);
  return { readPath: join(device, 'from-device'), writePath: join(device, 'to-device') };
}

const errno = (e: unknown): string | undefined =>
  e && typeof e === 'object' && 'code' in e && typeof e.code === 'string' ? e.code : undefined;

const sleep = (ms: number) =>
  new Promise<void>((resolve) => {
    // unref: an idle open device must not keep the process alive; a waiting read() holds its own timer
    setTimeout(resolve, ms).unref();
  });

async function openNode(path: string): Promise<FileHandle> {
  try {
    // O_RDWR on a FIFO never blocks and never sees EOF (Linux); on hidraw it is what writing needs anyway.
    // (libuv adds O_CLOEXEC to every open.)
    return await open(path, constants.O_RDWR | constants.O_NONBLOCK);
  } catch (e) {
    const code = errno(e);
    const hint =
      code === 'EACCES' || code === 'EPERM'
        ? ' (permission denied: install a udev rule giving your user access to FIDO hidraw nodes, e.g. the uaccess tag)'
        : code === 'ENOENT'
          ? ' (no such device: is the security key plugged in? `noderr-agent provara keys detect` lists them)'
          : '';
    throw new ProvaraError('HARDWARE_UNAVAILABLE', `cannot open ${path}: ${code ?? String(e)}${hint}`, {
      path,
      errno: code,
    });
  }
}

interface Waiter {
  resolve(report: Uint8Array): void;
  reject(e: ProvaraError): void;
}

export class HidrawDevice implements HidDevice {
  private readonly queue: Uint8Array[] = [];
  private readonly waiters: Waiter[] = [];
  /** Set once the stream has ended: closed by us, EOF, or a read error (e.g. ENODEV on unplug). */
  private ended: ProvaraError | undefined;
  private pumping: Promise<void> | undefined;
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    readonly path: string,
    private readonly readFh: FileHandle,
    private readonly writeFh: FileHandle,
    private readonly pollMs: number,
  ) {}

  /** Opens a hidraw node (one `O_RDWR` descriptor), or the two stand-in paths under the test seam. */
  static async open(paths: HidrawPaths | string, opts: { pollMs?: number } = {}): Promise<HidrawDevice> {
    const p = typeof paths === 'string' ? { readPath: paths, writePath: paths } : paths;
    const readFh = await openNode(p.readPath);
    let writeFh = readFh;
    if (p.writePath !== p.readPath) {
      try {
        writeFh = await openNode(p.writePath);
      } catch (e) {
        await readFh.close();
        throw e;
      }
    }
    const dev = new HidrawDevice(p.readPath, readFh, writeFh, opts.pollMs ?? DEFAULT_POLL_MS);
    dev.startPump();
    return dev;
  }

  /** Writes one 64-byte output report as `0x00 ‖ report` (see the report-id convention above). */
  async write(report: Uint8Array): Promise<void> {
    if (report.length !== REPORT_SIZE)
      throw new ProvaraError(
        'CTAPHID_FRAMING',
        `output reports are ${REPORT_SIZE} bytes, not ${report.length}`,
      );
    if (this.ended) throw this.ended;
    const buf = new Uint8Array(REPORT_SIZE + 1);
    buf[0] = 0x00; // report id: FIDO devices have no numbered reports
    buf.set(report, 1);
    // one write() per report, in order, even when callers do not await each other
    const done = this.writing.then(() => this.writeAll(buf));
    this.writing = done.catch(() => {});
    return done;
  }

  private async writeAll(buf: Uint8Array): Promise<void> {
    for (;;) {
      try {
        const { bytesWritten } = await this.writeFh.write(buf, 0, buf.length, null);
        if (bytesWritten !== buf.length)
          throw new ProvaraError(
            'HARDWARE_UNAVAILABLE',
            `short write to ${this.path}: ${bytesWritten} of ${buf.length} bytes`,
          );
        return;
      } catch (e) {
        if (e instanceof ProvaraError) throw e;
        const code = errno(e);
        if (code === 'EAGAIN' || code === 'EWOULDBLOCK') {
          await sleep(this.pollMs);
          continue;
        }
        throw new ProvaraError('HARDWARE_UNAVAILABLE', `writing to ${this.path}: ${code ?? String(e)}`, {
          errno: code,
        });
      }
    }
  }

  /**
   * The next input report. Rejects with `HARDWARE_UNAVAILABLE` (`details.reason` `'timeout'`) when none
   * arrives within `timeoutMs` — a report arriving later is kept for the next call — or `'closed'` once the
   * device is closed, unplugged or at EOF.
   */
  read(timeoutMs: number): Promise<Uint8Array> {
    const next = this.queue.shift();
    if (next) {
      this.startPump(); // the queue may have been full
      return Promise.resolve(next);
    }
    if (this.ended) return Promise.reject(this.ended);
    return new Promise<Uint8Array>((resolve, reject) => {
      const w: Waiter = {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(
          new ProvaraError('HARDWARE_UNAVAILABLE', `no report from ${this.path} within ${timeoutMs} ms`, {
            reason: 'timeout',
            timeoutMs,
          }),
        );
      }, timeoutMs);
      this.waiters.push(w);
    });
  }

  /** Ends the stream: pending reads reject (`reason: 'closed'`), the pump stops, the descriptors close. */
  async close(): Promise<void> {
    if (!this.ended)
      this.end(new ProvaraError('HARDWARE_UNAVAILABLE', `${this.path} is closed`, { reason: 'closed' }));
    await this.pumping;
    await this.writing;
    await this.readFh.close().catch(() => {});
    if (this.writeFh !== this.readFh) await this.writeFh.close().catch(() => {});
  }

  private end(e: ProvaraError) {
    this.ended = e;
    for (const w of this.waiters.splice(0)) w.reject(e);
  }

  private deliver(report: Uint8Array) {
    const w = this.waiters.shift();
    if (w) w.resolve(report);
    else this.queue.push(report);
  }

  private startPump() {
    if (this.pumping || this.ended) return;
    this.pumping = this.pump().finally(() => {
      this.pumping = undefined;
    });
  }

  private async pump(): Promise<void> {
    while (!this.ended && this.queue.length < MAX_QUEUED) {
      // a fresh buffer per report: the queue keeps references to delivered reports
      const buf = new Uint8Array(REPORT_SIZE);
      let n: number;
      try {
        n = (await this.readFh.read(buf, 0, REPORT_SIZE, null)).bytesRead;
      } catch (e) {
        const code = errno(e);
        if (code === 'EAGAIN' || code === 'EWOULDBLOCK') {
          await sleep(this.pollMs);
          continue;
        }
        if (!this.ended)
          this.end(
            new ProvaraError('HARDWARE_UNAVAILABLE', `reading ${this.path}: ${code ?? String(e)}`, {
              reason: 'closed',
              errno: code,
            }),
          );
        return;
      }
      if (this.ended) return; // closed while the read was in flight: drop it, as the kernel would
      if (n === 0) {
        this.end(
          new ProvaraError('HARDWARE_UNAVAILABLE', `${this.path} reached end of file`, { reason: 'closed' }),
        );
        return;
      }
      // a short report is delivered as read; the CTAPHID layer rejects it with CTAPHID_FRAMING
      this.deliver(n === REPORT_SIZE ? buf : buf.slice(0, n));
    }
  }
}

/** Opens the FIDO2 device a CLI user named, honouring the `HIDRAW_STANDIN_ENV` test seam. */
export function openHidraw(
  device: string,
  env: Readonly<Record<string, string | undefined>>,
  opts: { pollMs?: number } = {},
): Promise<HidrawDevice> {
  return HidrawDevice.open(hidrawPaths(device, env), opts);
}
