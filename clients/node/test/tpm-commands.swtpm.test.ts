import { createPublicKey, verify as nodeVerify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Swtpm, startSwtpm } from '../../../scripts/lib/swtpm.ts';
import { tpm2 } from '../../../scripts/lib/tpm2-tools.ts';
import { toHex, utf8 } from '../../../shared/encoding/bytes.ts';
import { TPM_ALG } from '../../../shared/tpm2/constants.ts';
import { trustStoreFromPem, verifyEkCertificate } from '../../../shared/tpm2/ek-certificate.ts';
import { makeCredential } from '../../../shared/tpm2/make-credential.ts';
import { publicKeyToSpki } from '../../../shared/tpm2/public-key-spki.ts';
import { parseAttest } from '../../../shared/tpm2/structures/attest.ts';
import { pcrSelectionFromBanks } from '../../../shared/tpm2/structures/pcr-selection.ts';
import { computeName, marshalPublic2b, parsePublic2b } from '../../../shared/tpm2/structures/public.ts';
import { verifyCertify } from '../../../shared/tpm2/verify-certify.ts';
import { verifyQuote } from '../../../shared/tpm2/verify-quote.ts';
import { AgentError } from '../src/errors.ts';
import { activateCredential } from '../src/tpm/activation.ts';
import { certify, quote } from '../src/tpm/attestation.ts';
import { getHandles, tpmInfo } from '../src/tpm/capability.ts';
import { TPM_RH } from '../src/tpm/constants.ts';
import { createEk, readEkCertificate } from '../src/tpm/ek.ts';
import { TpmCommandError } from '../src/tpm/framing.ts';
import { nvReadPublic } from '../src/tpm/nv.ts';
import { create, createPrimary, evictControl, load, readPublic } from '../src/tpm/objects.ts';
import { pcrRead } from '../src/tpm/pcr.ts';
import { flushContext } from '../src/tpm/sessions.ts';
import { signMessage } from '../src/tpm/sign.ts';
import { akTemplate, nodeKeyTemplate, srkTemplate } from '../src/tpm/templates.ts';
import { Tpm } from '../src/tpm/tpm.ts';
import { SwtpmTransport } from '../src/tpm/transport-swtpm.ts';

/**
 * Every TPM command of the agent against a real swtpm, each checked from the other side by tpm2-tools
 * (an independent TPM stack) or by the shared verifiers the server runs. swtpm serves one connection at a
 * time, so each test opens its own transport and closes it before tpm2-tools talks to the TPM.
 */

let sw: Swtpm;
let dir: string;

async function withTpm<T>(fn: (tpm: Tpm) => Promise<T>): Promise<T> {
  const tpm = new Tpm(new SwtpmTransport('127.0.0.1', sw.port, { timeoutMs: 30_000 }));
  try {
    return await fn(tpm);
  } finally {
    await tpm.close();
  }
}

const AK_HANDLE = 0x81008001;
const NODE_KEY_HANDLE = 0x81008002;

beforeAll(async () => {
  sw = await startSwtpm();
  dir = mkdtempSync(join(tmpdir(), 'noderr-agent-tpm-'));
  // The agent's AK and node key, persisted, as `register` makes them.
  await withTpm(async (tpm) => {
    const srk = await createPrimary(tpm, TPM_RH.OWNER, srkTemplate());
    for (const [template, handle] of [
      [akTemplate(), AK_HANDLE],
      [nodeKeyTemplate(), NODE_KEY_HANDLE],
    ] as const) {
      const key = await create(tpm, srk.handle, template);
      const loaded = await load(tpm, srk.handle, key.private, key.publicArea);
      await evictControl(tpm, loaded.handle, handle);
      await flushContext(tpm, loaded.handle);
    }
    await flushContext(tpm, srk.handle);
  });
}, 90_000);

afterAll(async () => {
  await sw?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('TPM2_GetCapability', () => {
  it('reports the manufacturer, firmware and PCR banks that tpm2_getcap reports', async () => {
    const info = await withTpm(tpmInfo);
    const { stdout } = await tpm2(sw.tcti, 'tpm2_getcap', ['properties-fixed']);
    const raw = (name: string) =>
      Number(new RegExp(`${name}:\\s*\\n?\\s*raw: (0x[0-9A-Fa-f]+)`).exec(stdout)?.[1]);
    expect(info.manufacturer).toBe('IBM');
    const fw1 = raw('TPM2_PT_FIRMWARE_VERSION_1');
    const fw2 = raw('TPM2_PT_FIRMWARE_VERSION_2');
    expect(info.firmwareVersion).toBe([fw1 >>> 16, fw1 & 0xffff, fw2 >>> 16, fw2 & 0xffff].join('.'));
    expect(info.nvBufferMax).toBe(raw('TPM2_PT_NV_BUFFER_MAX'));
    expect(info.family).toBe('2.0');
    const all24 = Array.from({ length: 24 }, (_, i) => i);
    expect(info.pcrBanks).toEqual([
      { bank: 'sha1', pcrs: all24 },
      { bank: 'sha256', pcrs: all24 },
    ]);
  });

  it('lists the persistent handles the agent created', async () => {
    const handles = await withTpm((tpm) => getHandles(tpm, 0x81000000));
    expect(handles).toEqual(expect.arrayContaining([AK_HANDLE, NODE_KEY_HANDLE]));
    const { stdout } = await tpm2(sw.tcti, 'tpm2_getcap', ['handles-persistent']);
    expect(stdout).toContain('0x81008001');
  });
});

describe('TPM2_PCR_Read', () => {
  it('reads all 48 PCRs of two banks in rounds of 8, equal to tpm2_pcrread', async () => {
    await tpm2(sw.tcti, 'tpm2_pcrextend', [`16:sha256=${'ab'.repeat(32)}`]);
    const all = Array.from({ length: 24 }, (_, i) => i);
    const values = await withTpm((tpm) => pcrRead(tpm, pcrSelectionFromBanks({ sha1: all, sha256: all })));
    const { stdout } = await tpm2(sw.tcti, 'tpm2_pcrread', ['sha1:all+sha256:all']);
    for (const bank of ['sha1', 'sha256'] as const) {
      const section = stdout.split(`${bank}:`)[1]!.split(/\n\s*sha\d+:/)[0]!;
      for (const i of all) {
        const m = new RegExp(`\\n\\s*${i}\\s*: 0x([0-9A-F]+)`).exec(section);
        expect(toHex(values[bank]![i]!)).toBe(m![1]!.toLowerCase());
      }
    }
    expect(toHex(values.sha256![16]!)).not.toBe('00'.repeat(32));
  });

  it('fails with TPM_COMMAND_FAILED for a bank the TPM does not allocate', async () => {
    const err = await withTpm((tpm) => pcrRead(tpm, pcrSelectionFromBanks({ sha384: [0] }))).catch((e) => e);
    expect(err).toBeInstanceOf(AgentError);
    expect(err.code).toBe('TPM_COMMAND_FAILED');
  });
});

describe('EK: TPM2_CreatePrimary with the TCG templates, TPM2_NV_ReadPublic/NV_Read', () => {
  for (const kind of ['rsa', 'ecc'] as const) {
    it(`creates the ${kind.toUpperCase()} EK that tpm2_createek creates, certified by the NV certificate`, async () => {
      const { ek, cert, certSmallChunks } = await withTpm(async (tpm) => {
        const ek = await createEk(tpm, kind);
        await flushContext(tpm, ek.handle);
        return {
          ek,
          cert: await readEkCertificate(tpm, kind),
          certSmallChunks: await readEkCertificate(tpm, kind, 97),
        };
      });
      await tpm2(sw.tcti, 'tpm2_createek', ['-G', kind, '-c', '-', '-u', `ek-${kind}.pub`, '-f', 'tss'], {
        cwd: dir,
      });
      const theirs = new Uint8Array(readFileSync(join(dir, `ek-${kind}.pub`)));
      expect(toHex(marshalPublic2b(ek.public))).toBe(toHex(theirs));
      expect(toHex(ek.name)).toBe(toHex(await computeName(parsePublic2b(theirs))));
      expect(cert).toBeDefined();
      expect(toHex(certSmallChunks!)).toBe(toHex(cert!));
      const info = await verifyEkCertificate({
        certificate: cert!,
        ekPublic: ek.public,
        trustAnchors: trustStoreFromPem(sw.caRootPem, sw.caIssuerPem),
      });
      expect(info.subject).toBeDefined();
    });
  }

  it('reads the NV index public area the way tpm2_nvreadpublic does', async () => {
    const pub = await withTpm((tpm) => nvReadPublic(tpm, 0x01c00002));
    const { stdout } = await tpm2(sw.tcti, 'tpm2_nvreadpublic', ['0x1c00002']);
    expect(stdout).toContain(`size: ${pub.dataSize}`);
    expect(stdout.toLowerCase()).toContain(`name: ${toHex(pub.name)}`);
  });

  it('says an absent EK certificate index is absent (undefined), not an error', async () => {
    const sw2 = await startSwtpm({ ekCerts: false });
    try {
      const tpm = new Tpm(new SwtpmTransport('127.0.0.1', sw2.port));
      expect(await readEkCertificate(tpm, 'ecc')).toBeUndefined();
      await tpm.close();
    } finally {
      await sw2.stop();
    }
  });
});

describe('TPM2_Create/Load/EvictControl/ReadPublic', () => {
  it('persists an AK and node key that tpm2_readpublic reads back with the same Name and public area', async () => {
    const ours = await withTpm(async (tpm) => ({
      ak: await readPublic(tpm, AK_HANDLE),
      nodeKey: await readPublic(tpm, NODE_KEY_HANDLE),
    }));
    for (const [handle, r] of [
      [AK_HANDLE, ours.ak],
      [NODE_KEY_HANDLE, ours.nodeKey],
    ] as const) {
      const file = `pub-${handle.toString(16)}`;
      const { stdout } = await tpm2(
        sw.tcti,
        'tpm2_readpublic',
        ['-c', `0x${handle.toString(16)}`, '-o', file, '-f', 'tss'],
        {
          cwd: dir,
        },
      );
      expect(stdout).toContain(`name: ${toHex(r.name)}`);
      expect(toHex(new Uint8Array(readFileSync(join(dir, file))))).toBe(toHex(marshalPublic2b(r.public)));
    }
    expect(ours.ak.public.objectAttributes).toBe(0x00050072);
    expect(ours.nodeKey.public.objectAttributes).toBe(0x00040072);
  });

  it('removes a persistent key with EvictControl(persistent, persistent)', async () => {
    const handle = 0x81008077;
    await withTpm(async (tpm) => {
      const srk = await createPrimary(tpm, TPM_RH.OWNER, srkTemplate());
      const key = await create(tpm, srk.handle, nodeKeyTemplate());
      const loaded = await load(tpm, srk.handle, key.private, key.publicArea);
      await evictControl(tpm, loaded.handle, handle);
      await flushContext(tpm, loaded.handle);
      await flushContext(tpm, srk.handle);
      expect(await getHandles(tpm, 0x81000000)).toContain(handle);
      await evictControl(tpm, handle, handle);
      expect(await getHandles(tpm, 0x81000000)).not.toContain(handle);
    });
  });

  it('reports a flushed transient handle as the warning TPM_RC_REFERENCE_H0', async () => {
    const err = await withTpm(async (tpm) => {
      const srk = await createPrimary(tpm, TPM_RH.OWNER, srkTemplate());
      await flushContext(tpm, srk.handle);
      return readPublic(tpm, srk.handle).catch((e) => e);
    });
    expect(err).toBeInstanceOf(TpmCommandError);
    expect(err.code).toBe('TPM_COMMAND_FAILED');
    expect(err.rc.name).toBe('TPM_RC_REFERENCE_H0');
    expect(err.rc.kind).toBe('warning');
  });

  it('reports an unused persistent handle as TPM_RC_HANDLE on handle 1', async () => {
    const err = await withTpm((tpm) => readPublic(tpm, 0x81008099).catch((e) => e));
    expect(err).toBeInstanceOf(TpmCommandError);
    expect(err.rc.name).toBe('TPM_RC_HANDLE');
    expect(err.rc.handle).toBe(1);
    expect(err.message).toContain('TPM2_ReadPublic failed: TPM_RC_HANDLE (handle 1)');
  });
});

describe('TPM2_Quote, TPM2_Certify, TPM2_Sign', () => {
  it('quotes PCRs with the nonce as extraData; tpm2_checkquote and the server verifier accept it', async () => {
    const nonce = crypto.getRandomValues(new Uint8Array(32));
    const selection = pcrSelectionFromBanks({ sha256: [0, 1, 2, 3, 4, 5, 6, 7] });
    const { q, pcrs, ak } = await withTpm(async (tpm) => ({
      q: await quote(tpm, AK_HANDLE, nonce, selection),
      pcrs: await pcrRead(tpm, selection),
      ak: await readPublic(tpm, AK_HANDLE),
    }));
    const pcrValues = {
      sha256: Object.fromEntries(Object.entries(pcrs.sha256!).map(([i, v]) => [i, toHex(v)])),
    };
    const verified = await verifyQuote({
      akPublic: ak.public,
      quote: q.attest,
      signature: q.signature,
      pcrValues,
      nonce,
    });
    expect(verified.pcrSelection).toEqual({ sha256: [0, 1, 2, 3, 4, 5, 6, 7] });

    // tpm2-tools: the AK as PEM, the message and signature as written, PCRs as its own serialized file.
    const akPem = createPublicKey({
      key: Buffer.from(await publicKeyToSpki(ak.public)),
      format: 'der',
      type: 'spki',
    })
      .export({ format: 'pem', type: 'spki' })
      .toString();
    writeFileSync(join(dir, 'ak.pem'), akPem);
    writeFileSync(join(dir, 'quote.msg'), q.attest);
    writeFileSync(join(dir, 'quote.sig'), q.signature);
    await tpm2(sw.tcti, 'tpm2_pcrread', ['sha256:0,1,2,3,4,5,6,7', '-o', 'pcrs.bin', '-F', 'serialized'], {
      cwd: dir,
    });
    const { stdout, stderr } = await tpm2(
      sw.tcti,
      'tpm2_checkquote',
      [
        '-u',
        'ak.pem',
        '-m',
        'quote.msg',
        '-s',
        'quote.sig',
        '-f',
        'pcrs.bin',
        '-F',
        'serialized',
        '-g',
        'sha256',
        '-q',
        toHex(nonce),
      ],
      { cwd: dir },
    );
    expect(`${stdout}${stderr}`).not.toMatch(/ERROR/);
  });

  it('certifies the node key by the AK with the nonce as qualifying data', async () => {
    const nonce = crypto.getRandomValues(new Uint8Array(32));
    const { c, ak, nk } = await withTpm(async (tpm) => ({
      c: await certify(tpm, NODE_KEY_HANDLE, AK_HANDLE, nonce),
      ak: await readPublic(tpm, AK_HANDLE),
      nk: await readPublic(tpm, NODE_KEY_HANDLE),
    }));
    const v = await verifyCertify({
      akPublic: ak.public,
      certifyInfo: c.attest,
      signature: c.signature,
      certifiedPublic: nk.public,
      nonce,
    });
    expect(toHex(v.extraData)).toBe(toHex(nonce));
    const attest = parseAttest(c.attest);
    expect(attest.attested.type).toBe(0x8017);
  });

  it('signs the verify message with the node key: ECDSA P-256 SHA-256 that node:crypto verifies', async () => {
    const message = utf8.encode('noderr-verify-v1:0xabc:nonce');
    const { sig, nk } = await withTpm(async (tpm) => ({
      sig: await signMessage(tpm, NODE_KEY_HANDLE, message),
      nk: await readPublic(tpm, NODE_KEY_HANDLE),
    }));
    expect(sig.parsed.sigAlg).toBe(TPM_ALG.ECDSA);
    if (sig.parsed.sigAlg !== TPM_ALG.ECDSA) return;
    const pad = (b: Uint8Array) => Buffer.concat([Buffer.alloc(32 - b.length), Buffer.from(b)]);
    const key = createPublicKey({
      key: Buffer.from(await publicKeyToSpki(nk.public)),
      format: 'der',
      type: 'spki',
    });
    const ok = nodeVerify(
      'sha256',
      message,
      { key, dsaEncoding: 'ieee-p1363' },
      Buffer.concat([pad(sig.parsed.r), pad(sig.parsed.s)]),
    );
    expect(ok).toBe(true);
  });
});

describe('TPM2_ActivateCredential with a PolicySecret(endorsement) session', () => {
  for (const kind of ['ecc', 'rsa'] as const) {
    it(`recovers the secret the server wrapped for the ${kind.toUpperCase()} EK and the AK's Name`, async () => {
      const secret = crypto.getRandomValues(new Uint8Array(32));
      const recovered = await withTpm(async (tpm) => {
        const ek = await createEk(tpm, kind);
        const ak = await readPublic(tpm, AK_HANDLE);
        const cred = await makeCredential({ ekPublic: ek.public, objectName: ak.name, secret });
        try {
          return await activateCredential(tpm, {
            akHandle: AK_HANDLE,
            ekHandle: ek.handle,
            credentialBlob: cred.credentialBlob,
            encryptedSecret: cred.encryptedSecret,
          });
        } finally {
          await flushContext(tpm, ek.handle);
        }
      });
      expect(toHex(recovered)).toBe(toHex(secret));
    });
  }

  it('refuses a credential made for another key Name: TPM_RC_INTEGRITY, and leaves no session behind', async () => {
    const err = await withTpm(async (tpm) => {
      const ek = await createEk(tpm, 'ecc');
      const nk = await readPublic(tpm, NODE_KEY_HANDLE);
      const cred = await makeCredential({
        ekPublic: ek.public,
        objectName: nk.name,
        secret: new Uint8Array(32),
      });
      try {
        return await activateCredential(tpm, {
          akHandle: AK_HANDLE,
          ekHandle: ek.handle,
          credentialBlob: cred.credentialBlob,
          encryptedSecret: cred.encryptedSecret,
        }).catch((e) => e);
      } finally {
        await flushContext(tpm, ek.handle);
        expect(await getHandles(tpm, 0x03000000)).toEqual([]);
      }
    });
    expect(err).toBeInstanceOf(TpmCommandError);
    expect(err.rc.name).toBe('TPM_RC_INTEGRITY');
  });
});
