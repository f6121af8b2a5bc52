import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Swtpm, startSwtpm } from '../../scripts/lib/swtpm.ts';
import {
  type Ak,
  type AkKind,
  certify,
  createAk,
  createEk,
  createNodeKey,
  pcrExtend,
  type Quote,
  quote,
} from '../../scripts/lib/tpm-fixture.ts';
import { runCli, runTool, spawnCli } from './testing.ts';

/**
 * verify-quote against tpm2_checkquote on quotes a real TPM (swtpm) makes during the test: both tools get
 * the same files and must agree, accepting and rejecting.
 */

const SELECTION = 'sha1:0,1,2+sha256:0,1,2,7';
const KINDS: readonly AkKind[] = ['ecc-ecdsa', 'rsa-rsassa', 'rsa-rsapss'];

let tpm: Swtpm;
let dir: string;
const aks = new Map<AkKind, Ak>();
const quotes = new Map<AkKind, Quote>();
let otherAk: Ak;
let nonce: Uint8Array;

function the<T>(v: T | undefined): T {
  if (v === undefined) throw new Error('fixture missing');
  return v;
}

function args(q: Quote, ak: Ak, overrides: Record<string, string> = {}): string[] {
  const a: Record<string, string> = {
    ak: ak.publicPath,
    quote: q.messagePath,
    signature: q.signaturePath,
    pcrs: q.pcrsJsonPath,
    nonce: Buffer.from(q.nonce).toString('hex'),
    ...overrides,
  };
  return ['verify-quote', ...Object.entries(a).flatMap(([k, v]) => [`--${k}`, v])];
}

function checkquote(q: Quote, ak: Ak, pcrsSerialized = q.pcrsSerializedPath, nonceHex?: string) {
  return runTool('tpm2_checkquote', [
    ...['-u', ak.publicPath, '-m', q.messagePath, '-s', q.signaturePath, '-f', pcrsSerialized],
    ...['-g', 'sha256', '-q', nonceHex ?? Buffer.from(q.nonce).toString('hex')],
  ]);
}

/** A file in the test directory. */
function file(name: string, content: Uint8Array | string): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

beforeAll(async () => {
  tpm = await startSwtpm();
  dir = mkdtempSync(join(tmpdir(), 'noderr-verify-quote-'));
  // Measurements so that no quoted PCR is all-zero (a tampered value must be findable in the files).
  for (const pcr of [0, 1, 2, 7]) await pcrExtend(tpm, pcr, `firmware-measurement-${pcr}`);
  const [ekRsa, ekEcc] = await Promise.all([createEk(tpm, dir, 'rsa'), createEk(tpm, dir, 'ecc')]);
  nonce = new Uint8Array(randomBytes(32));
  for (const kind of KINDS) {
    const ak = await createAk(tpm, dir, kind === 'rsa-rsassa' ? ekEcc : ekRsa, kind);
    aks.set(kind, ak);
    quotes.set(kind, await quote(tpm, dir, ak, nonce, SELECTION, `quote-${kind}`));
  }
  otherAk = await createAk(tpm, dir, ekRsa, 'ecc-ecdsa', 'ak-other');
}, 60_000);

afterAll(async () => {
  await tpm?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('verify-quote agrees with tpm2_checkquote', () => {
  for (const kind of ['ecc-ecdsa', 'rsa-rsassa'] as const) {
    it(`accepts the ${kind} sha1+sha256 quote that tpm2_checkquote accepts`, async () => {
      const q = the(quotes.get(kind));
      const ak = the(aks.get(kind));
      expect((await checkquote(q, ak)).status).toBe(0);
      const out = await runCli(args(q, ak));
      expect(out.status, out.stderr).toBe(0);
      expect(out.json).toMatchObject({
        ok: true,
        akName: Buffer.from(ak.name).toString('hex'),
        signature: { sigAlg: kind === 'ecc-ecdsa' ? 'ECDSA' : 'RSASSA', hashAlg: 'SHA256' },
        pcrSelection: { sha1: [0, 1, 2], sha256: [0, 1, 2, 7] },
        pcrs: q.pcrs,
      });
    });
  }

  it('accepts an RSAPSS quote (salt = digest length) that openssl verifies and tpm2_checkquote 5.4 rejects', async () => {
    const q = the(quotes.get('rsa-rsapss'));
    const ak = the(aks.get('rsa-rsapss'));
    // tpm2_checkquote 5.4 verifies PSS with the maximum salt length only, while swtpm (like TPMs with
    // the FIPS rule) signs with salt = digest length; openssl with an auto-detected salt is the referee.
    const check = await checkquote(q, ak);
    expect(check.status, check.output).not.toBe(0);
    expect(check.output).toMatch(/Verify signature failed/);
    const rawSig = file('pss.sig.raw', q.signature.subarray(6)); // TPMT_SIGNATURE: alg, hash, u16 size
    const verify = (saltlen: string) =>
      runTool('openssl', [
        ...['dgst', '-sha256', '-verify', ak.pemPath, '-sigopt', 'rsa_padding_mode:pss'],
        ...['-sigopt', `rsa_pss_saltlen:${saltlen}`, '-signature', rawSig, q.messagePath],
      ]);
    expect((await verify('auto')).status).toBe(0);
    expect((await verify('digest')).status).toBe(0);
    expect((await verify('max')).status).not.toBe(0);
    const out = await runCli(args(q, ak));
    expect(out.status, out.stderr).toBe(0);
    expect(out.json).toMatchObject({ ok: true, signature: { sigAlg: 'RSAPSS', hashAlg: 'SHA256' } });
  });

  for (const kind of KINDS) {
    it(`rejects a tampered sha256 PCR 7 value of the ${kind} quote with PCR_DIGEST_MISMATCH, as tpm2_checkquote does`, async () => {
      const q = the(quotes.get(kind));
      const ak = the(aks.get(kind));
      const value = Buffer.from(the(q.pcrs.sha256?.['7']), 'hex');
      const flipped = Buffer.from(value);
      flipped[0] = (flipped[0] ?? 0) ^ 0x01;
      // The same tampering in tpm2-tools' serialized PCR file and in our JSON.
      const serialized = readFileSync(q.pcrsSerializedPath);
      const at = serialized.indexOf(value);
      expect(at).toBeGreaterThan(0);
      flipped.copy(serialized, at);
      const tamperedSerialized = file(`tampered-${kind}.pcrs`, serialized);
      const pcrs = structuredClone(q.pcrs);
      the(pcrs.sha256)['7'] = flipped.toString('hex');
      const tamperedJson = file(`tampered-${kind}.json`, JSON.stringify(pcrs));

      if (kind !== 'rsa-rsapss') {
        // (for RSAPSS tpm2_checkquote already fails on the signature, see above)
        const check = await checkquote(q, ak, tamperedSerialized);
        expect(check.status, check.output).not.toBe(0);
        expect(check.output).toMatch(/PCR values failed to match/);
      }
      const out = await runCli(args(q, ak, { pcrs: tamperedJson }));
      expect(out.status, out.stderr).toBe(1);
      expect(out.json).toMatchObject({ ok: false, reason: 'PCR_DIGEST_MISMATCH' });
    });
  }

  it('rejects a wrong nonce with NONCE_MISMATCH, as tpm2_checkquote does', async () => {
    const q = the(quotes.get('ecc-ecdsa'));
    const ak = the(aks.get('ecc-ecdsa'));
    const wrong = Buffer.from(randomBytes(32)).toString('hex');
    const check = await checkquote(q, ak, q.pcrsSerializedPath, wrong);
    expect(check.status, check.output).not.toBe(0);
    const out = await runCli(args(q, ak, { nonce: wrong }));
    expect(out.status, out.stderr).toBe(1);
    expect(out.json).toMatchObject({ ok: false, reason: 'NONCE_MISMATCH' });
  });

  it('rejects a quote checked against another AK with SIGNATURE_INVALID, as tpm2_checkquote does', async () => {
    const q = the(quotes.get('ecc-ecdsa'));
    expect((await checkquote(q, otherAk)).status).not.toBe(0);
    const out = await runCli(args(q, otherAk));
    expect(out.status, out.stderr).toBe(1);
    expect(out.json).toMatchObject({ ok: false, reason: 'SIGNATURE_INVALID' });
  });
});

describe('verify-quote PCR sets and input formats', () => {
  it('rejects a missing quoted PCR value with PCR_SELECTION_MISMATCH', async () => {
    const q = the(quotes.get('ecc-ecdsa'));
    const pcrs = structuredClone(q.pcrs);
    delete the(pcrs.sha1)['2'];
    const out = await runCli(
      args(q, the(aks.get('ecc-ecdsa')), { pcrs: file('missing.json', JSON.stringify(pcrs)) }),
    );
    expect(out.status, out.stderr).toBe(1);
    expect(out.json).toMatchObject({ ok: false, reason: 'PCR_SELECTION_MISMATCH' });
  });

  it('rejects an extra, unquoted PCR value with PCR_SELECTION_MISMATCH', async () => {
    const q = the(quotes.get('ecc-ecdsa'));
    const pcrs = structuredClone(q.pcrs);
    the(pcrs.sha256)['8'] = '00'.repeat(32);
    const out = await runCli(
      args(q, the(aks.get('ecc-ecdsa')), { pcrs: file('extra.json', JSON.stringify(pcrs)) }),
    );
    expect(out.status, out.stderr).toBe(1);
    expect(out.json).toMatchObject({ ok: false, reason: 'PCR_SELECTION_MISMATCH' });
  });

  it('accepts the quote as TPM2B_ATTEST and the AK as TPMT_PUBLIC', async () => {
    const q = the(quotes.get('rsa-rsassa'));
    const ak = the(aks.get('rsa-rsassa'));
    const size = Buffer.alloc(2);
    size.writeUInt16BE(q.message.length);
    const attest2b = file('quote.tpm2b', Buffer.concat([size, q.message]));
    const tpmtPublic = file('ak.tpmt', ak.public.subarray(2));
    const out = await runCli(args(q, ak, { quote: attest2b, ak: tpmtPublic }));
    expect(out.status, out.stderr).toBe(0);
    expect(out.json).toMatchObject({ ok: true });
  });

  it('rejects a certify attestation presented as a quote with WRONG_ATTEST_TYPE', async () => {
    const ak = the(aks.get('ecc-ecdsa'));
    const key = await createNodeKey(tpm, dir);
    const c = await certify(tpm, dir, key, ak);
    const q = the(quotes.get('ecc-ecdsa'));
    const out = await runCli(args(q, ak, { quote: c.attestPath, signature: c.signaturePath }));
    expect(out.status, out.stderr).toBe(1);
    expect(out.json).toMatchObject({ ok: false, reason: 'WRONG_ATTEST_TYPE' });
  });
});

describe('verify-quote on the real command line', () => {
  it('exits 0 and prints one JSON object for a valid quote (npm run --silent tpm2)', async () => {
    const out = await spawnCli(args(the(quotes.get('ecc-ecdsa')), the(aks.get('ecc-ecdsa'))), 'npm');
    expect(out.status, out.stderr).toBe(0);
    expect(out.stdout.trim().split('\n')).toHaveLength(1);
    expect(out.json).toMatchObject({ ok: true, pcrSelection: { sha1: [0, 1, 2], sha256: [0, 1, 2, 7] } });
  });

  it('exits 1 with the reason code for a rejected quote (npx tsx main.ts)', async () => {
    const q = the(quotes.get('ecc-ecdsa'));
    const out = await spawnCli(args(q, the(aks.get('ecc-ecdsa')), { nonce: '00'.repeat(32) }), 'tsx');
    expect(out.status, out.stderr).toBe(1);
    expect(out.json).toMatchObject({ ok: false, reason: 'NONCE_MISMATCH' });
  });

  it('exits 2 with reason USAGE for an unknown option', async () => {
    const q = the(quotes.get('ecc-ecdsa'));
    const out = await spawnCli([...args(q, the(aks.get('ecc-ecdsa'))), '--frobnicate', 'x'], 'npm');
    expect(out.status, out.stderr).toBe(2);
    expect(out.json).toMatchObject({ ok: false, reason: 'USAGE' });
    expect(String(out.json?.message)).toMatch(/frobnicate/);
  });

  it('exits 2 with reason USAGE for a missing file, bad nonce hex, a missing option and bad --pcrs JSON', async () => {
    const q = the(quotes.get('ecc-ecdsa'));
    const ak = the(aks.get('ecc-ecdsa'));
    const cases: Array<[string[], RegExp]> = [
      [args(q, ak, { quote: join(dir, 'no-such-file') }), /--quote: cannot read .*ENOENT/],
      [args(q, ak, { nonce: 'xyz1' }), /--nonce: 'xyz1' is not hex/],
      [args(q, ak, { nonce: 'abc' }), /--nonce: 'abc' is not hex/],
      [args(q, ak).slice(0, -2), /--nonce is required/],
      [args(q, ak, { pcrs: file('not-json.json', '{"sha256": ') }), /--pcrs: .* is not JSON/],
      [args(q, ak, { pcrs: file('bad-shape.json', '{"sha256": ["00"]}') }), /--pcrs: .* must be/],
    ];
    for (const [argv, message] of cases) {
      const out = await runCli(argv);
      expect(out.status, argv.join(' ')).toBe(2);
      expect(out.json).toMatchObject({ ok: false, reason: 'USAGE' });
      expect(String(out.json?.message)).toMatch(message);
    }
    const spawned = await spawnCli(args(q, ak, { signature: join(dir, 'no-such-sig') }), 'tsx');
    expect(spawned.status, spawned.stderr).toBe(2);
    expect(spawned.json).toMatchObject({ ok: false, reason: 'USAGE' });
  });

  it('--help prints the usage text and exits 0', async () => {
    const out = await runCli(['verify-quote', '--help']);
    expect(out.status, out.stderr).toBe(0);
    expect(out.stdout).toMatch(
      /^Usage: tpm2 verify-quote --ak FILE --quote FILE --signature FILE --pcrs FILE --nonce HEX/,
    );
    expect(out.stdout).toMatch(/Exit status: 0 valid, 1 rejected, 2 usage error/);
  });
});
