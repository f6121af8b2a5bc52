import { describe, expect, it } from 'vitest';
import { MastrError } from '../../src/mastr/errors.ts';
import { parseLinkSpec } from '../../src/mastr/transport.ts';
import {
  openSerialLink,
  type SerialLayer,
  type SerialPortHandle,
  sttyArguments,
} from '../../src/mastr/transport-serial.ts';

/** The serial transport's configuration, with the OS layer (stty + the tty fd) as the replaced edge. */

function layerDouble() {
  const calls: string[] = [];
  const written: Uint8Array[] = [];
  let data: ((c: Uint8Array) => void) | undefined;
  const port: SerialPortHandle = {
    write: async (b) => void written.push(b),
    onData: (l) => {
      data = l;
    },
    onClose: () => undefined,
    close: async () => void calls.push('close'),
  };
  const layer: SerialLayer = {
    stty: async (args) => void calls.push(`stty ${args.join(' ')}`),
    open: async (path) => {
      calls.push(`open ${path}`);
      return port;
    },
  };
  return { layer, calls, written, feed: (c: Uint8Array) => data?.(c) };
}

function refusal(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (e) {
    if (e instanceof MastrError) return { code: e.code, message: e.message };
  }
  throw new Error('not refused');
}

describe('serial configuration', () => {
  it('defaults to 115200 raw 8N1 with no flow control and no echo', () => {
    const a = sttyArguments('/dev/ttyACM0');
    expect(a.slice(0, 4)).toEqual(['-F', '/dev/ttyACM0', '115200', 'raw']);
    for (const f of [
      'cs8',
      '-cstopb',
      '-parenb',
      '-ixon',
      '-ixoff',
      '-crtscts',
      'clocal',
      '-echo',
      '-icanon',
    ])
      expect(a).toContain(f);
    expect(a.join(' ')).toContain('min 1 time 0');
  });
  it('never configures 1200 baud (the Pico’s reboot-to-BOOTSEL line coding)', () => {
    expect(refusal(() => sttyArguments('/dev/ttyACM0', 1200))).toEqual({
      code: 'SERIAL_CONFIG_REFUSED',
      message:
        'refusing 1200 baud: on a Pico that line coding reboots the token into its USB bootloader (BOOTSEL)',
    });
  });
  it('refuses a speed termios does not have', () => {
    expect(refusal(() => sttyArguments('/dev/ttyACM0', 12345)).code).toBe('SERIAL_CONFIG_REFUSED');
  });
  it('configures with stty before opening, and a refused speed never touches the device', async () => {
    const d = layerDouble();
    const link = await openSerialLink('/dev/ttyACM0', { layer: d.layer });
    expect(d.calls).toEqual([`stty ${sttyArguments('/dev/ttyACM0').join(' ')}`, 'open /dev/ttyACM0']);
    const other = layerDouble();
    await expect(
      openSerialLink('/dev/ttyACM0', { baudRate: 1200, layer: other.layer }),
    ).rejects.toMatchObject({ code: 'SERIAL_CONFIG_REFUSED' });
    expect(other.calls).toEqual([]);
    await link.close();
  });
  it('writes frames whole and delivers what the port reads', async () => {
    const d = layerDouble();
    const link = await openSerialLink('/dev/ttyACM0', { layer: d.layer });
    const got: Uint8Array[] = [];
    link.onData((c) => got.push(c));
    await link.write(Uint8Array.of(0x7f, 0x32, 0, 0, 0x32, 0x7e));
    d.feed(Uint8Array.of(1, 2));
    expect(d.written).toEqual([Uint8Array.of(0x7f, 0x32, 0, 0, 0x32, 0x7e)]);
    expect(got).toEqual([Uint8Array.of(1, 2)]);
    await link.close();
    await expect(link.write(Uint8Array.of(1))).rejects.toMatchObject({
      code: 'TRANSPORT_CLOSED',
      message: '/dev/ttyACM0 is closed',
    });
  });
});

describe('--port', () => {
  it('takes a device path or tcp:HOST:PORT', () => {
    expect(parseLinkSpec('/dev/ttyACM0')).toEqual({ kind: 'serial', path: '/dev/ttyACM0' });
    expect(parseLinkSpec('tcp:127.0.0.1:7000')).toEqual({ kind: 'tcp', host: '127.0.0.1', port: 7000 });
    expect(refusal(() => parseLinkSpec('COM3'))).toEqual({
      code: 'USAGE',
      message: '--port COM3: use a device path (/dev/ttyACM0) or tcp:HOST:PORT',
    });
  });
});
