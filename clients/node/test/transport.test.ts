import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ByteWriter } from '../../../shared/tpm2/cursor.ts';
import { AgentError } from '../src/errors.ts';
import { getTpmProperties } from '../src/tpm/capability.ts';
import { TPM_CC } from '../src/tpm/constants.ts';
import { marshalCommand, TpmCommandError } from '../src/tpm/framing.ts';
import { readPublic } from '../src/tpm/objects.ts';
import { Tpm } from '../src/tpm/tpm.ts';
import { parseTpmSpec, resolveTpmSpec, type TpmTransport } from '../src/tpm/transport.ts';
import { SwtpmTransport } from '../src/tpm/transport-swtpm.ts';
import { type DeviceHandle, openTpmrm, TpmrmTransport } from '../src/tpm/transport-tpmrm.ts';

/**
 * Malformed TPM responses through the transport interface. A scripted transport (test double) and a fake
 * swtpm TCP server (test double) answer with broken bytes; every case must end in a typed error, promptly.
 */

function header(tag: number, size: number, rc: number): ByteWriter {
  return new ByteWriter().u16(tag).u32(size).u32(rc);
}

/** A transport double that answers every command with the next scripted response. */
class ScriptedTransport implements TpmTransport {
  readonly description = 'scripted transport (test double)';
  readonly sent: Uint8Array[] = [];
  constructor(private readonly responses: Uint8Array[]) {}
  async send(command: Uint8Array): Promise<Uint8Array> {
    this.sent.push(command);
    const r = this.responses.shift();
    if (!r) throw new Error('no scripted response left');
    return r;
  }
  async close(): Promise<void> {}
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(AgentError);
  return (e as AgentError).code;
}

/** A valid GetCapability(TPM_PROPERTIES) response with one property. */
function capabilityResponse(extra = new Uint8Array(0)): Uint8Array {
  const params = new ByteWriter().u8(0).u32(6).u32(1).u32(0x105).u32(0x49424d00).bytes(extra).finish();
  return header(0x8001, 10 + params.length, 0)
    .bytes(params)
    .finish();
}

describe('malformed responses through the Tpm command layer', () => {
  const getCap = (responses: Uint8Array[]) =>
    getTpmProperties(new Tpm(new ScriptedTransport(responses)), 0x105, 1);

  it('accepts a well-formed response (the baseline of the cases below)', async () => {
    expect((await getCap([capabilityResponse()])).get(0x105)).toBe(0x49424d00);
  });

  it('rejects a response shorter than the header: TPM_RESPONSE_TRUNCATED', async () => {
    expect(await codeOf(getCap([Uint8Array.of(0x80, 0x01, 0, 0, 0)]))).toBe('TPM_RESPONSE_TRUNCATED');
    expect(await codeOf(getCap([new Uint8Array(0)]))).toBe('TPM_RESPONSE_TRUNCATED');
  });

  it('rejects an unknown tag: TPM_RESPONSE_BAD_TAG', async () => {
    const bad = capabilityResponse();
    bad[0] = 0x12;
    expect(await codeOf(getCap([bad]))).toBe('TPM_RESPONSE_BAD_TAG');
  });

  it('rejects a SESSIONS tag on a command sent without sessions: TPM_RESPONSE_BAD_TAG', async () => {
    const bad = capabilityResponse();
    bad[1] = 0x02;
    expect(await codeOf(getCap([bad]))).toBe('TPM_RESPONSE_BAD_TAG');
  });

  it('rejects a size field that disagrees with the bytes received: TPM_RESPONSE_SIZE_MISMATCH', async () => {
    const good = capabilityResponse();
    expect(await codeOf(getCap([good.subarray(0, good.length - 3)]))).toBe('TPM_RESPONSE_SIZE_MISMATCH');
    const padded = new Uint8Array(good.length + 1);
    padded.set(good);
    expect(await codeOf(getCap([padded]))).toBe('TPM_RESPONSE_SIZE_MISMATCH');
  });

  it('rejects an error response with a body: TPM_RESPONSE_SIZE_MISMATCH', async () => {
    const bad = header(0x8001, 12, 0x18b).u16(0).finish();
    expect(await codeOf(getCap([bad]))).toBe('TPM_RESPONSE_SIZE_MISMATCH');
  });

  it('turns a failure code into TpmCommandError with the decoded name', async () => {
    const e = await getCap([header(0x8001, 10, 0x1c4).finish()]).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TpmCommandError);
    expect((e as TpmCommandError).rc).toMatchObject({ name: 'TPM_RC_VALUE', parameter: 1 });
    expect((e as TpmCommandError).details).toMatchObject({ command: 'GetCapability', name: 'TPM_RC_VALUE' });
  });

  it('accepts a TPM 1.2-style BAD_TAG answer (tag 0x00c4) as a decoded failure', async () => {
    const e = await getCap([header(0x00c4, 10, 0x1e).finish()]).catch((x: unknown) => x);
    expect((e as TpmCommandError).rc.name).toBe('TPM_RC_BAD_TAG');
  });

  it('rejects trailing bytes after the parameters: TPM_RESPONSE_MALFORMED', async () => {
    expect(await codeOf(getCap([capabilityResponse(Uint8Array.of(0))]))).toBe('TPM_RESPONSE_MALFORMED');
  });

  it('rejects parameters cut short (size field consistent): TPM_RESPONSE_MALFORMED', async () => {
    const params = new ByteWriter().u8(0).u32(6).u32(2).u32(0x105).u32(1).finish();
    const r = header(0x8001, 10 + params.length, 0)
      .bytes(params)
      .finish();
    expect(await codeOf(getCap([r]))).toBe('TPM_RESPONSE_MALFORMED');
  });

  it('rejects an answer for another capability: TPM_RESPONSE_MALFORMED', async () => {
    const params = new ByteWriter().u8(0).u32(5).u32(0).finish();
    expect(
      await codeOf(
        getCap([
          header(0x8001, 10 + params.length, 0)
            .bytes(params)
            .finish(),
        ]),
      ),
    ).toBe('TPM_RESPONSE_MALFORMED');
  });

  it('rejects a parameterSize larger than the sessions response: TPM_RESPONSE_SIZE_MISMATCH', async () => {
    // A command that carries a password session, so the response must have a parameterSize.
    const tpm = new Tpm(new ScriptedTransport([header(0x8002, 14, 0).u32(100).finish()]));
    const p = tpm.run({
      name: 'Test',
      code: TPM_CC.Sign,
      handles: [0x81000001],
      sessions: [{ handle: 0x40000009, nonce: new Uint8Array(0), attributes: 0, hmac: new Uint8Array(0) }],
      parse: () => undefined,
    });
    expect(await codeOf(p)).toBe('TPM_RESPONSE_SIZE_MISMATCH');
  });

  it('rejects a truncated authorization area: TPM_RESPONSE_MALFORMED', async () => {
    const tpm = new Tpm(new ScriptedTransport([header(0x8002, 17, 0).u32(0).u16(0).u8(1).finish()]));
    const p = tpm.run({
      name: 'Test',
      code: TPM_CC.Sign,
      handles: [0x81000001],
      sessions: [{ handle: 0x40000009, nonce: new Uint8Array(0), attributes: 0, hmac: new Uint8Array(0) }],
      parse: () => undefined,
    });
    expect(await codeOf(p)).toBe('TPM_RESPONSE_MALFORMED');
  });

  it('rejects a public area the shared codec cannot parse: TPM_RESPONSE_MALFORMED', async () => {
    const params = new ByteWriter().u16(4).u16(0x0025).u16(0x000b).u16(0).u16(0).finish();
    const r = header(0x8001, 10 + params.length, 0)
      .bytes(params)
      .finish();
    expect(await codeOf(readPublic(new Tpm(new ScriptedTransport([r])), 0x81000001))).toBe(
      'TPM_RESPONSE_MALFORMED',
    );
  });

  it('retries TPM_RC_RETRY and then succeeds', async () => {
    const t = new ScriptedTransport([header(0x8001, 10, 0x922).finish(), capabilityResponse()]);
    expect((await getTpmProperties(new Tpm(t), 0x105, 1)).get(0x105)).toBe(0x49424d00);
    expect(t.sent).toHaveLength(2);
  });

  it('marshals commands with the size field covering the whole command', () => {
    const c = marshalCommand({ code: TPM_CC.GetCapability, params: Uint8Array.of(1, 2, 3) });
    expect(Array.from(c)).toEqual([0x80, 0x01, 0, 0, 0, 13, 0, 0, 0x01, 0x7a, 1, 2, 3]);
  });
});

describe('SwtpmTransport against a fake swtpm server (test double)', () => {
  let server: Server | undefined;
  afterEach(async () => {
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    server = undefined;
  });

  async function fakeSwtpm(onCommand: (sock: Socket, cmd: Buffer) => void): Promise<number> {
    server = createServer((sock) => sock.on('data', (d) => onCommand(sock, d)));
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    const addr = server.address();
    if (!addr || typeof addr === 'string') throw new Error('no port');
    return addr.port;
  }

  it('reassembles a response that arrives one byte at a time', async () => {
    const response = capabilityResponse();
    const port = await fakeSwtpm((sock) => {
      let i = 0;
      const tick = () => {
        if (i < response.length) {
          sock.write(response.subarray(i, ++i));
          setImmediate(tick);
        }
      };
      tick();
    });
    const t = new SwtpmTransport('127.0.0.1', port, { timeoutMs: 2000 });
    expect(Array.from(await t.send(Uint8Array.of(1)))).toEqual(Array.from(response));
    await t.close();
  });

  it('connection closed mid-response: TPM_RESPONSE_TRUNCATED', async () => {
    const port = await fakeSwtpm((sock) => sock.end(capabilityResponse().subarray(0, 12)));
    const t = new SwtpmTransport('127.0.0.1', port, { timeoutMs: 2000 });
    expect(await codeOf(t.send(Uint8Array.of(1)))).toBe('TPM_RESPONSE_TRUNCATED');
    await t.close();
  });

  it('a size field of 4 GiB fails at once instead of waiting: TPM_RESPONSE_SIZE_MISMATCH', async () => {
    const port = await fakeSwtpm((sock) => sock.write(header(0x8001, 0xffffffff, 0).finish()));
    const t = new SwtpmTransport('127.0.0.1', port, { timeoutMs: 5000 });
    const started = Date.now();
    expect(await codeOf(t.send(Uint8Array.of(1)))).toBe('TPM_RESPONSE_SIZE_MISMATCH');
    expect(Date.now() - started).toBeLessThan(1000);
    await t.close();
  });

  it('a size field below the header: TPM_RESPONSE_SIZE_MISMATCH', async () => {
    const port = await fakeSwtpm((sock) => sock.write(header(0x8001, 4, 0).finish()));
    const t = new SwtpmTransport('127.0.0.1', port, { timeoutMs: 2000 });
    expect(await codeOf(t.send(Uint8Array.of(1)))).toBe('TPM_RESPONSE_SIZE_MISMATCH');
    await t.close();
  });

  it('more bytes than the size field says: TPM_RESPONSE_SIZE_MISMATCH', async () => {
    const port = await fakeSwtpm((sock) =>
      sock.write(Buffer.concat([capabilityResponse(), Buffer.from([1, 2])])),
    );
    const t = new SwtpmTransport('127.0.0.1', port, { timeoutMs: 2000 });
    expect(await codeOf(t.send(Uint8Array.of(1)))).toBe('TPM_RESPONSE_SIZE_MISMATCH');
    await t.close();
  });

  it('a silent TPM: TPM_TIMEOUT after the configured time, not a hang', async () => {
    const port = await fakeSwtpm(() => undefined);
    const t = new SwtpmTransport('127.0.0.1', port, { timeoutMs: 150 });
    expect(await codeOf(t.send(Uint8Array.of(1)))).toBe('TPM_TIMEOUT');
    await t.close();
  });

  it('nothing listening: TPM_UNAVAILABLE', async () => {
    const port = await fakeSwtpm(() => undefined);
    await new Promise<void>((r) => server!.close(() => r()));
    server = undefined;
    const t = new SwtpmTransport('127.0.0.1', port, { timeoutMs: 2000 });
    expect(await codeOf(t.send(Uint8Array.of(1)))).toBe('TPM_UNAVAILABLE');
  });

  it('reconnects after an error (the TPM state lives in swtpm, not the connection)', async () => {
    let n = 0;
    const port = await fakeSwtpm((sock) => {
      if (n++ === 0) sock.destroy();
      else sock.write(capabilityResponse());
    });
    const t = new SwtpmTransport('127.0.0.1', port, { timeoutMs: 2000 });
    expect(await codeOf(t.send(Uint8Array.of(1)))).toBe('TPM_RESPONSE_TRUNCATED');
    expect((await t.send(Uint8Array.of(1))).length).toBe(capabilityResponse().length);
    await t.close();
  });
});

describe('TpmrmTransport', () => {
  /** A device-file double: records writes, answers reads from a script. */
  function device(answers: Uint8Array[]): DeviceHandle & { written: Uint8Array[] } {
    const written: Uint8Array[] = [];
    return {
      written,
      async write(b) {
        written.push(b.slice());
        return { bytesWritten: b.length };
      },
      async read(buf) {
        const a = answers.shift() ?? new Uint8Array(0);
        buf.set(a);
        return { bytesRead: a.length };
      },
      async close() {},
    };
  }

  it('writes the command and returns exactly the bytes read', async () => {
    const d = device([capabilityResponse()]);
    const tpm = new Tpm(new TpmrmTransport('/dev/tpmrm0 (double)', d));
    expect((await getTpmProperties(tpm, 0x105, 1)).get(0x105)).toBe(0x49424d00);
    expect(d.written).toHaveLength(1);
  });

  it('an empty read: TPM_RESPONSE_TRUNCATED', async () => {
    const tpm = new Tpm(new TpmrmTransport('/dev/tpmrm0 (double)', device([new Uint8Array(0)])));
    expect(await codeOf(getTpmProperties(tpm, 0x105, 1))).toBe('TPM_RESPONSE_TRUNCATED');
  });

  it('a read that never returns: TPM_TIMEOUT', async () => {
    const d = device([]);
    d.read = () => new Promise(() => undefined);
    const t = new TpmrmTransport('/dev/tpmrm0 (double)', d, 100);
    expect(await codeOf(t.send(Uint8Array.of(1)))).toBe('TPM_TIMEOUT');
  });

  it('a missing device: TPM_UNAVAILABLE naming the driver', async () => {
    const e = await openTpmrm('/dev/noderr-no-such-tpmrm').catch((x: unknown) => x);
    expect((e as AgentError).code).toBe('TPM_UNAVAILABLE');
    expect((e as AgentError).message).toMatch(/tpm_tis|tpm_crb/);
  });
});

describe('TPM location (--tpm, NODERR_TPM, TCTI syntax)', () => {
  it('parses the swtpm TCTI as tpm2-tools writes it', () => {
    expect(parseTpmSpec('swtpm:host=127.0.0.1,port=2331')).toEqual({
      kind: 'swtpm',
      host: '127.0.0.1',
      port: 2331,
    });
    expect(parseTpmSpec('swtpm:port=5000')).toEqual({ kind: 'swtpm', host: 'localhost', port: 5000 });
    expect(parseTpmSpec('swtpm')).toEqual({ kind: 'swtpm', host: 'localhost', port: 2321 });
  });

  it('parses device paths and tbs', () => {
    expect(parseTpmSpec('device:/dev/tpmrm0')).toEqual({ kind: 'device', path: '/dev/tpmrm0' });
    expect(parseTpmSpec('/dev/tpm0')).toEqual({ kind: 'device', path: '/dev/tpm0' });
    expect(parseTpmSpec('tbs')).toEqual({ kind: 'tbs' });
  });

  it('rejects bad options, mssim and unknown names: TPM_SPEC_INVALID', () => {
    for (const bad of [
      'swtpm:port=0',
      'swtpm:port=70000',
      'swtpm:bogus=1',
      'mssim:port=2321',
      'device:tpmrm0',
      'x',
    ]) {
      expect(() => parseTpmSpec(bad), bad).toThrow(expect.objectContaining({ code: 'TPM_SPEC_INVALID' }));
    }
  });

  it('takes --tpm over NODERR_TPM over the platform default', () => {
    expect(resolveTpmSpec('swtpm:port=1', { NODERR_TPM: 'tbs' }, 'linux')).toMatchObject({ port: 1 });
    expect(resolveTpmSpec(undefined, { NODERR_TPM: 'swtpm:port=2' }, 'linux')).toMatchObject({ port: 2 });
    expect(resolveTpmSpec(undefined, {}, 'linux')).toEqual({ kind: 'device', path: '/dev/tpmrm0' });
    expect(resolveTpmSpec(undefined, {}, 'win32')).toEqual({ kind: 'tbs' });
  });
});
