import { concatBytes, utf8 } from '../../../../../../shared/encoding/bytes.ts';
import type { CoseAlgorithm } from '../../../../../../shared/provara/signature-proof.ts';
import { type CborMap, type CborValue, cborDecode, cborEncode } from '../cbor.ts';
import {
  BROADCAST_CID,
  CTAPHID_CBOR,
  CTAPHID_INIT,
  CTAPHID_KEEPALIVE,
  frame,
  type HidDevice,
  REPORT_SIZE,
} from '../ctaphid.ts';

/**
 * TEST DOUBLE: a software CTAP2 authenticator behind the HID report interface. No USB HID device can exist
 * on the machines this project is tested on (no /dev/uhid, and libfido2 has no software token), so the
 * CTAPHID framing, the CBOR commands and the assertion envelope are exercised against this instead. It
 * implements just enough of CTAP 2.1 — INIT, getInfo, makeCredential, getAssertion with user presence,
 * Ed25519 or ES256 credentials, a signature counter — and has knobs to misbehave for attack tests.
 */
export interface SoftAuthenticatorOptions {
  /** Algorithms it can create credentials for, in preference order (default: Ed25519 only). */
  algorithms?: CoseAlgorithm[];
  /** The user's touch: false = denied / timed out (CTAP2_ERR_OPERATION_DENIED). */
  presence?: () => boolean;
  /** Misbehaviour: sign without setting the UP flag. */
  omitUserPresenceFlag?: boolean;
}

interface Cred {
  rpId: string;
  alg: CoseAlgorithm;
  privateKey: CryptoKey;
}

export class SoftAuthenticator implements HidDevice {
  readonly aaguid = new Uint8Array(16).fill(0x5a);
  private readonly out: Uint8Array[] = [];
  private waiter: (() => void) | undefined;
  private pending: { cid: number; cmd: number; total: number; data: number[]; seq: number } | undefined;
  private nextCid = 1;
  private readonly creds = new Map<string, Cred>();
  /** The signature counter; tests may set it back to simulate a clone. */
  counter = 0;
  touches = 0;

  constructor(readonly options: SoftAuthenticatorOptions = {}) {}

  async write(report: Uint8Array): Promise<void> {
    if (report.length !== REPORT_SIZE) throw new Error('reports are 64 bytes');
    const dv = new DataView(report.buffer, report.byteOffset, report.byteLength);
    const cid = dv.getUint32(0);
    const b4 = report[4] as number;
    if (b4 & 0x80) {
      const total = dv.getUint16(5);
      this.pending = { cid, cmd: b4, total, data: [...report.subarray(7, 7 + Math.min(total, 57))], seq: 0 };
    } else if (this.pending && this.pending.cid === cid && b4 === this.pending.seq) {
      this.pending.seq++;
      this.pending.data.push(
        ...report.subarray(5, 5 + Math.min(59, this.pending.total - this.pending.data.length)),
      );
    } else throw new Error('unexpected continuation packet');
    const p = this.pending;
    if (p && p.data.length >= p.total) {
      this.pending = undefined;
      await this.handle(p.cid, p.cmd, Uint8Array.from(p.data));
    }
  }

  async read(timeoutMs: number): Promise<Uint8Array> {
    if (this.out.length === 0) {
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error('HID read timed out')), timeoutMs);
        this.waiter = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    return this.out.shift() as Uint8Array;
  }

  async close(): Promise<void> {}

  private send(cid: number, cmd: number, data: Uint8Array) {
    this.out.push(...frame(cid, cmd, data));
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }

  private async handle(cid: number, cmd: number, data: Uint8Array) {
    if (cmd === CTAPHID_INIT && cid === BROADCAST_CID) {
      const r = new Uint8Array(17);
      r.set(data.subarray(0, 8));
      new DataView(r.buffer).setUint32(8, this.nextCid++);
      r.set([2, 1, 0, 0, 0x04 | 0x08], 12); // protocol 2, version 1.0.0, CBOR + NMSG
      this.send(BROADCAST_CID, CTAPHID_INIT, r);
      return;
    }
    if (cmd !== CTAPHID_CBOR) {
      this.send(cid, 0xbf, Uint8Array.of(0x01)); // ERR_INVALID_CMD
      return;
    }
    const status = (s: number, body?: CborMap) =>
      this.send(
        cid,
        CTAPHID_CBOR,
        concatBytes(Uint8Array.of(s), body ? cborEncode(body) : new Uint8Array(0)),
      );
    const params = data.length > 1 ? (cborDecode(data.subarray(1)).value as CborMap) : new Map();
    const algs = this.options.algorithms ?? [-8];
    switch (data[0]) {
      case 0x04:
        return status(
          0,
          new Map<number | string, CborValue>([
            [1, ['FIDO_2_0', 'FIDO_2_1']],
            [3, this.aaguid],
            [
              0x0a,
              algs.map(
                (a) =>
                  new Map<number | string, CborValue>([
                    ['type', 'public-key'],
                    ['alg', a],
                  ]),
              ),
            ],
          ]),
        );
      case 0x01: {
        const wanted = ((params.get(4) as CborMap[]) ?? []).map((p) => p.get('alg'));
        const alg = algs.find((a) => wanted.includes(a));
        if (alg === undefined) return status(0x26);
        if (!this.touch(cid)) return status(0x27);
        const rpId = (params.get(2) as CborMap).get('id') as string;
        const kp = (
          alg === -8
            ? await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])
            : await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, [
                'sign',
                'verify',
              ])
        ) as CryptoKeyPair;
        const raw = new Uint8Array(await crypto.subtle.exportKey('raw', kp.publicKey));
        const cose: CborMap =
          alg === -8
            ? new Map<number | string, CborValue>([
                [1, 1],
                [3, -8],
                [-1, 6],
                [-2, raw],
              ])
            : new Map<number | string, CborValue>([
                [1, 2],
                [3, -7],
                [-1, 1],
                [-2, raw.slice(1, 33)],
                [-3, raw.slice(33)],
              ]);
        const credId = crypto.getRandomValues(new Uint8Array(32));
        this.creds.set(hex(credId), { rpId, alg, privateKey: kp.privateKey });
        const len = new Uint8Array(2);
        new DataView(len.buffer).setUint16(0, credId.length);
        const authData = concatBytes(
          await sha256(utf8.encode(rpId)),
          Uint8Array.of(0x41),
          this.counterBytes(),
          this.aaguid,
          len,
          credId,
          cborEncode(cose),
        );
        return status(
          0,
          new Map<number | string, CborValue>([
            [1, 'none'],
            [2, authData],
            [3, new Map()],
          ]),
        );
      }
      case 0x02: {
        const rpId = params.get(1) as string;
        const allow = (params.get(3) as CborMap[] | undefined) ?? [];
        const hit = allow
          .map((d) => d.get('id') as Uint8Array)
          .find((id) => this.creds.get(hex(id))?.rpId === rpId);
        if (!hit) return status(0x2e);
        const cred = this.creds.get(hex(hit)) as Cred;
        if (!this.touch(cid)) return status(0x27);
        this.counter++;
        const flags = this.options.omitUserPresenceFlag ? 0x00 : 0x01;
        const authData = concatBytes(
          await sha256(utf8.encode(rpId)),
          Uint8Array.of(flags),
          this.counterBytes(),
        );
        const signed = concatBytes(authData, params.get(2) as Uint8Array);
        const sig =
          cred.alg === -8
            ? new Uint8Array(
                await crypto.subtle.sign('Ed25519', cred.privateKey, signed as Uint8Array<ArrayBuffer>),
              )
            : p1363ToDer(
                new Uint8Array(
                  await crypto.subtle.sign(
                    { name: 'ECDSA', hash: 'SHA-256' },
                    cred.privateKey,
                    signed as Uint8Array<ArrayBuffer>,
                  ),
                ),
              );
        return status(
          0,
          new Map<number | string, CborValue>([
            [
              1,
              new Map<number | string, CborValue>([
                ['type', 'public-key'],
                ['id', hit],
              ]),
            ],
            [2, authData],
            [3, sig],
          ]),
        );
      }
      default:
        return status(0x01);
    }
  }

  /** Sends KEEPALIVE(UPNEEDED), then asks the "user". */
  private touch(cid: number): boolean {
    const k = new Uint8Array(1);
    k[0] = 2;
    this.out.push(...frame(cid, CTAPHID_KEEPALIVE & 0x7f, k));
    const ok = this.options.presence ? this.options.presence() : true;
    if (ok) this.touches++;
    return ok;
  }

  private counterBytes(): Uint8Array {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, this.counter);
    return b;
  }
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const sha256 = async (b: Uint8Array) =>
  new Uint8Array(await crypto.subtle.digest('SHA-256', b as Uint8Array<ArrayBuffer>));

function p1363ToDer(rs: Uint8Array): Uint8Array {
  const int = (x: Uint8Array) => {
    let i = 0;
    while (i < x.length - 1 && x[i] === 0) i++;
    const v = x.subarray(i);
    return (v[0] as number) & 0x80
      ? concatBytes(Uint8Array.of(0x02, v.length + 1, 0), v)
      : concatBytes(Uint8Array.of(0x02, v.length), v);
  };
  const body = concatBytes(int(rs.subarray(0, 32)), int(rs.subarray(32)));
  return concatBytes(Uint8Array.of(0x30, body.length), body);
}
