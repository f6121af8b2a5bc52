import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toHex } from '../encoding/bytes.ts';
import { TPM_ALG } from './constants.ts';
import { ByteReader } from './cursor.ts';
import { makeCredential, marshalTpm2ToolsCredential } from './make-credential.ts';
import type { TpmtPublic } from './structures/public.ts';
import { computeName, parsePublic2b } from './structures/public.ts';

/**
 * Live cross-check against a real TPM 2.0 implementation: swtpm (libtpms) driven by tpm2-tools 5.4.
 * Proves that TPM2_ActivateCredential inside a TPM recovers the secret our software MakeCredential
 * produced, for the default RSA-2048 and ECC P-256 EK templates.
 */

let dir = '';
let port = 0;
let swtpm: ChildProcess | undefined;

function listenOnce(p: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(undefined));
    s.listen(p, '127.0.0.1', () => {
      const a = s.address();
      const got = typeof a === 'object' && a ? a.port : undefined;
      s.close(() => resolve(got));
    });
  });
}

/** Two consecutive free ports (server + control channel). */
async function freePortPair(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const p = await listenOnce(0);
    if (p !== undefined && p < 65535 && (await listenOnce(p + 1)) !== undefined) return p;
  }
  throw new Error('no free port pair');
}

function canConnect(p: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection({ port: p, host: '127.0.0.1' });
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

function tool(cmd: string, ...args: string[]): Buffer {
  return execFileSync(cmd, args, {
    cwd: dir,
    env: { ...process.env, TPM2TOOLS_TCTI: `swtpm:host=127.0.0.1,port=${port}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** No resource manager sits in front of swtpm: flush transient objects and sessions after every tool. */
function flush(): void {
  tool('tpm2_flushcontext', '-t');
  tool('tpm2_flushcontext', '-s');
}

/** TPM2_ActivateCredential with the EK authorised by PolicySecret(TPM_RH_ENDORSEMENT), as the EK policy demands. */
function activate(ekCtx: string, credFile: string, outFile: string): void {
  try {
    tool('tpm2_startauthsession', '--policy-session', '-S', 'session.ctx');
    tool('tpm2_policysecret', '-S', 'session.ctx', '-c', 'e');
    tool(
      'tpm2_activatecredential',
      '-c',
      'ak.ctx',
      '-C',
      ekCtx,
      '-i',
      credFile,
      '-o',
      outFile,
      '-P',
      'session:session.ctx',
    );
  } finally {
    flush();
  }
}

/** The TPM's error text of a failed activation (tpm2-tools prints the decoded TPM_RC to stderr). */
function activationError(ekCtx: string, credFile: string): string {
  try {
    activate(ekCtx, credFile, 'never.out');
  } catch (e) {
    return String((e as { stderr?: Buffer }).stderr ?? e);
  }
  return 'activation succeeded';
}

let ekRsa: TpmtPublic;
let ekEcc: TpmtPublic;
let akName: Uint8Array;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tpm2ts-mkcred-'));
  mkdirSync(join(dir, 'state'));
  port = await freePortPair();
  swtpm = spawn(
    'swtpm',
    [
      'socket',
      '--tpm2',
      '--tpmstate',
      `dir=${join(dir, 'state')}`,
      '--server',
      `type=tcp,port=${port},bindaddr=127.0.0.1`,
      '--ctrl',
      `type=tcp,port=${port + 1},bindaddr=127.0.0.1`,
      '--flags',
      'not-need-init,startup-clear',
    ],
    { stdio: 'ignore' },
  );
  for (let i = 0; i < 100 && !(await canConnect(port)); i++) await new Promise((r) => setTimeout(r, 50));

  tool('tpm2_createek', '-c', 'ek_rsa.ctx', '-G', 'rsa', '-u', 'ek_rsa.pub');
  flush();
  tool('tpm2_createek', '-c', 'ek_ecc.ctx', '-G', 'ecc', '-u', 'ek_ecc.pub');
  flush();
  tool(
    'tpm2_createak',
    '-C',
    'ek_rsa.ctx',
    '-c',
    'ak.ctx',
    '-G',
    'ecc',
    '-g',
    'sha256',
    '-s',
    'ecdsa',
    '-u',
    'ak.pub',
    '-n',
    'ak.name',
  );
  flush();
  ekRsa = parsePublic2b(readFileSync(join(dir, 'ek_rsa.pub')));
  ekEcc = parsePublic2b(readFileSync(join(dir, 'ek_ecc.pub')));
  akName = await computeName(parsePublic2b(readFileSync(join(dir, 'ak.pub'))));
}, 60_000);

afterAll(async () => {
  if (swtpm && swtpm.exitCode === null) {
    try {
      execFileSync('swtpm_ioctl', ['--tcp', `127.0.0.1:${port + 1}`, '-s'], { stdio: 'ignore' });
    } catch {
      swtpm.kill();
    }
    await new Promise((r) => setTimeout(r, 50));
    if (swtpm.exitCode === null) swtpm.kill();
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('makeCredential against TPM2_ActivateCredential on swtpm (tpm2-tools 5.4)', () => {
  it('binds to the AK Name the TPM reports (our Name computation equals tpm2_createak -n)', () => {
    expect(toHex(akName)).toBe(toHex(readFileSync(join(dir, 'ak.name'))));
  });

  it('the swtpm EKs are the default templates: RSA-2048 and ECC P-256, AES-128-CFB, SHA-256', () => {
    expect(ekRsa.type).toBe(TPM_ALG.RSA);
    expect(ekEcc.type).toBe(TPM_ALG.ECC);
    for (const ek of [ekRsa, ekEcc]) {
      expect(ek.nameAlg).toBe(TPM_ALG.SHA256);
      expect(ek.symmetric).toEqual({ algorithm: TPM_ALG.AES, keyBits: 128, mode: TPM_ALG.CFB });
    }
  });

  it('a credential made for the RSA EK is recovered by tpm2_activatecredential', async () => {
    const secret = crypto.getRandomValues(new Uint8Array(32));
    const out = await makeCredential({ ekPublic: ekRsa, objectName: akName, secret });
    writeFileSync(
      join(dir, 'cred_rsa.bin'),
      marshalTpm2ToolsCredential(out.credentialBlob, out.encryptedSecret),
    );
    activate('ek_rsa.ctx', 'cred_rsa.bin', 'secret_rsa.out');
    expect(toHex(readFileSync(join(dir, 'secret_rsa.out')))).toBe(toHex(secret));
  });

  it('a credential made for the ECC P-256 EK is recovered by tpm2_activatecredential', async () => {
    const secret = crypto.getRandomValues(new Uint8Array(32));
    const out = await makeCredential({ ekPublic: ekEcc, objectName: akName, secret });
    writeFileSync(
      join(dir, 'cred_ecc.bin'),
      marshalTpm2ToolsCredential(out.credentialBlob, out.encryptedSecret),
    );
    activate('ek_ecc.ctx', 'cred_ecc.bin', 'secret_ecc.out');
    expect(toHex(readFileSync(join(dir, 'secret_ecc.out')))).toBe(toHex(secret));
  });

  it('the TPM refuses to activate a credential bound to another object Name', async () => {
    const otherName = akName.slice();
    otherName[10] = (otherName[10] ?? 0) ^ 0xff;
    const out = await makeCredential({
      ekPublic: ekRsa,
      objectName: otherName,
      secret: new Uint8Array(32).fill(9),
    });
    writeFileSync(
      join(dir, 'cred_other.bin'),
      marshalTpm2ToolsCredential(out.credentialBlob, out.encryptedSecret),
    );
    // TPM_RC_INTEGRITY (0x1DF): the outer HMAC covers the Name, so the TPM detects the substitution.
    expect(activationError('ek_rsa.ctx', 'cred_other.bin')).toMatch(
      /Esys_ActivateCredential\(0x1DF\).*integrity check failed/,
    );
  });

  it('the TPM refuses a credential encrypted to another RSA key of the same template', async () => {
    const pair = await crypto.subtle.generateKey(
      { name: 'RSA-OAEP', modulusLength: 2048, publicExponent: Uint8Array.of(1, 0, 1), hash: 'SHA-256' },
      true,
      ['encrypt', 'decrypt'],
    );
    const n = Buffer.from((await crypto.subtle.exportKey('jwk', pair.publicKey)).n ?? '', 'base64url');
    if (ekRsa.type !== TPM_ALG.RSA) throw new Error('not RSA');
    const stranger: TpmtPublic = { ...ekRsa, modulus: new Uint8Array(n) };
    const out = await makeCredential({
      ekPublic: stranger,
      objectName: akName,
      secret: new Uint8Array(32).fill(3),
    });
    writeFileSync(
      join(dir, 'cred_wrong_ek.bin'),
      marshalTpm2ToolsCredential(out.credentialBlob, out.encryptedSecret),
    );
    // The EK cannot OAEP-decrypt a seed made for another modulus: activation fails inside the TPM.
    expect(activationError('ek_rsa.ctx', 'cred_wrong_ek.bin')).toMatch(
      /Esys_ActivateCredential\(0x[0-9A-F]+\)/,
    );
  });

  it('our tpm2-tools credential file has the layout of `tpm2_makecredential -T none` output', async () => {
    for (const [ek, pubFile] of [
      [ekRsa, 'ek_rsa.pub'],
      [ekEcc, 'ek_ecc.pub'],
    ] as const) {
      writeFileSync(join(dir, 'secret.bin'), new Uint8Array(32).fill(5));
      execFileSync(
        'tpm2_makecredential',
        ['-T', 'none', '-u', pubFile, '-s', 'secret.bin', '-n', toHex(akName), '-o', 'tools.cred'],
        {
          cwd: dir,
          stdio: 'ignore',
        },
      );
      const theirs = new Uint8Array(readFileSync(join(dir, 'tools.cred')));
      const out = await makeCredential({
        ekPublic: ek,
        objectName: akName,
        secret: new Uint8Array(32).fill(5),
      });
      const ours = marshalTpm2ToolsCredential(out.credentialBlob, out.encryptedSecret);
      const layout = (b: Uint8Array) => {
        const r = new ByteReader(b, 'tpm2-tools credential');
        const head = [r.u32('magic'), r.u32('version')];
        const sizes = [r.tpm2b('idObject').length, r.tpm2b('encSecret').length];
        r.end();
        return { head, sizes };
      };
      expect(layout(ours)).toEqual(layout(theirs));
      expect(layout(ours).head).toEqual([0xbadcc0de, 1]);
    }
  });
});
