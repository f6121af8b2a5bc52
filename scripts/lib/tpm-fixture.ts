import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Tpm2Runner, tpm2, tpm2Exclusive } from './tpm2-tools.ts';

/**
 * A node's TPM side, played with tpm2-tools against a real TPM (a swtpm from `startSwtpm`): EKs with
 * their certificates, AKs, a node key, certify, quote, sign, PCR extends and credential activation.
 *
 * Every function writes its files into the directory it is given and returns their paths together with
 * their bytes, in the formats tpm2-tools writes by default (`tss`): `TPM2B_PUBLIC` for public areas,
 * `TPMS_ATTEST` for quote/certify messages, `TPMT_SIGNATURE` for signatures. Keys are kept as context
 * files (`*.ctx`, ContextSave blobs), which later tools reload, so they survive the flush after every tool;
 * they stay valid until the TPM is reset, i.e. for the life of the swtpm process.
 *
 * Functions on the same TPM may be called concurrently: the runner serialises them.
 */

/** Anything with a TCTI: a `Swtpm`, or `{ tcti }`. */
export interface TpmTarget {
  tcti: string;
}

export type EkKind = 'rsa' | 'ecc';

/** A key kept as a context file, with its public area. */
export interface TpmKey {
  /** Context file (`tpm2_* -c`) that reloads the key. */
  ctx: string;
  /** `TPM2B_PUBLIC` file and bytes. */
  publicPath: string;
  public: Uint8Array;
  /** The key's Name (nameAlg id ‖ H(TPMT_PUBLIC)), file and bytes. */
  namePath: string;
  name: Uint8Array;
  /** The public key as PEM (SubjectPublicKeyInfo), for openssl and node:crypto. */
  pemPath: string;
  pem: string;
}

export interface Ek extends TpmKey {
  kind: EkKind;
  /** The EK certificate read from NV (DER as stored; RSA at 0x01c00002, ECC P-256 at 0x01c0000a). */
  certPath: string;
  cert: Uint8Array;
}

export type AkKind = 'ecc-ecdsa' | 'rsa-rsassa' | 'rsa-rsapss';

export interface Ak extends TpmKey {
  kind: AkKind;
  /** The EK context the AK was created under (needed to activate credentials for it). */
  ek: Ek;
}

/** PCR values as the API and the CLI take them: bank → PCR index → lowercase hex. */
export type PcrValues = Record<string, Record<string, string>>;

export interface Quote {
  /** `TPMS_ATTEST` (`tpm2_quote -m`). */
  messagePath: string;
  message: Uint8Array;
  /** `TPMT_SIGNATURE` (`tpm2_quote -s`). */
  signaturePath: string;
  signature: Uint8Array;
  /** tpm2-tools' own `-F serialized` PCR file: the only format `tpm2_checkquote -f` accepts. */
  pcrsSerializedPath: string;
  /** The quoted PCR values as JSON (`--pcrs` of the CLI), file and object. */
  pcrsJsonPath: string;
  pcrs: PcrValues;
  nonce: Uint8Array;
}

export interface Attestation {
  /** `TPMS_ATTEST` of a TPM2_Certify. */
  attestPath: string;
  attest: Uint8Array;
  /** `TPMT_SIGNATURE` by the AK. */
  signaturePath: string;
  signature: Uint8Array;
}

const EK_CERT_INDEX: Record<EkKind, string> = { rsa: '0x01c00002', ecc: '0x01c0000a' };

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

function read(path: string): Uint8Array {
  return new Uint8Array(readFileSync(path));
}

async function readPublicPem(run: Tpm2Runner, ctx: string, pemPath: string, cwd: string): Promise<string> {
  await run('tpm2_readpublic', ['-c', ctx, '-f', 'pem', '-o', pemPath], { cwd });
  return readFileSync(pemPath, 'utf8');
}

/**
 * Creates the default-template EK of `kind` (RSA-2048 or ECC P-256, the templates the EK certificates
 * at 0x01c00002 / 0x01c0000a are issued for) and reads its certificate from NV.
 * Files: `ek-<kind>.ctx`, `.pub` (TPM2B_PUBLIC), `.name`, `.pem`, `-cert.der`.
 */
export async function createEk(tpm: TpmTarget, dir: string, kind: EkKind): Promise<Ek> {
  const base = join(dir, `ek-${kind}`);
  const ek = {
    ctx: `${base}.ctx`,
    publicPath: `${base}.pub`,
    namePath: `${base}.name`,
    pemPath: `${base}.pem`,
    certPath: `${base}-cert.der`,
  };
  return tpm2Exclusive(tpm.tcti, async (run) => {
    await run('tpm2_createek', ['-G', kind, '-c', ek.ctx, '-u', ek.publicPath, '-f', 'tss'], { cwd: dir });
    await run('tpm2_readpublic', ['-c', ek.ctx, '-n', ek.namePath], { cwd: dir });
    const pem = await readPublicPem(run, ek.ctx, ek.pemPath, dir);
    await run('tpm2_nvread', [EK_CERT_INDEX[kind], '-C', 'o', '-o', ek.certPath], { cwd: dir });
    return {
      ...ek,
      kind,
      public: read(ek.publicPath),
      name: read(ek.namePath),
      pem,
      cert: read(ek.certPath),
    };
  });
}

/**
 * The AK's signing scheme as tpm2_quote/tpm2_certify `--scheme` takes it: without it tpm2-tools asks for
 * RSASSA for any RSA key, and the TPM refuses that for an RSAPSS AK (TPM_RC_SCHEME).
 */
const AK_SCHEME: Record<AkKind, string> = {
  'ecc-ecdsa': 'ecdsa',
  'rsa-rsassa': 'rsassa',
  'rsa-rsapss': 'rsapss',
};

const AK_ARGS: Record<AkKind, string[]> = {
  'ecc-ecdsa': ['-G', 'ecc', '-g', 'sha256', '-s', 'ecdsa'],
  'rsa-rsassa': ['-G', 'rsa', '-g', 'sha256', '-s', 'rsassa'],
  'rsa-rsapss': ['-G', 'rsa', '-g', 'sha256', '-s', 'rsapss'],
};

/**
 * Creates a restricted signing AK under `ek` with tpm2_createak (which runs the EK's PolicySecret
 * session itself). Files: `<label>.ctx`, `.pub` (TPM2B_PUBLIC), `.name`, `.pem`.
 */
export async function createAk(
  tpm: TpmTarget,
  dir: string,
  ek: Ek,
  kind: AkKind,
  label = `ak-${kind}`,
): Promise<Ak> {
  const base = join(dir, label);
  const ak = {
    ctx: `${base}.ctx`,
    publicPath: `${base}.pub`,
    namePath: `${base}.name`,
    pemPath: `${base}.pem`,
  };
  return tpm2Exclusive(tpm.tcti, async (run) => {
    await run(
      'tpm2_createak',
      ['-C', ek.ctx, '-c', ak.ctx, ...AK_ARGS[kind], '-u', ak.publicPath, '-f', 'tss', '-n', ak.namePath],
      { cwd: dir },
    );
    const pem = await readPublicPem(run, ak.ctx, ak.pemPath, dir);
    return { ...ak, kind, ek, public: read(ak.publicPath), name: read(ak.namePath), pem };
  });
}

/**
 * Creates the node key: ECC P-256, ECDSA-SHA256, non-restricted signing, fixedTPM|fixedParent|
 * sensitiveDataOrigin|userWithAuth, as a child of an ECC storage primary in the owner hierarchy
 * (an ECC primary because swtpm generates RSA primaries slowly), and loads it.
 * Files: `<label>.ctx`, `.pub` (TPM2B_PUBLIC), `.priv` (TPM2B_PRIVATE), `.name`, `.pem`, `<label>-srk.ctx`.
 */
export async function createNodeKey(tpm: TpmTarget, dir: string, label = 'node-key'): Promise<TpmKey> {
  const base = join(dir, label);
  const key = {
    ctx: `${base}.ctx`,
    publicPath: `${base}.pub`,
    namePath: `${base}.name`,
    pemPath: `${base}.pem`,
  };
  const srk = `${base}-srk.ctx`;
  return tpm2Exclusive(tpm.tcti, async (run) => {
    await run('tpm2_createprimary', ['-C', 'o', '-g', 'sha256', '-G', 'ecc256:aes128cfb', '-c', srk], {
      cwd: dir,
    });
    await run(
      'tpm2_create',
      [
        '-C',
        srk,
        '-g',
        'sha256',
        '-G',
        'ecc256:ecdsa-sha256',
        '-a',
        'fixedtpm|fixedparent|sensitivedataorigin|userwithauth|sign',
        '-u',
        key.publicPath,
        '-r',
        `${base}.priv`,
      ],
      { cwd: dir },
    );
    await run(
      'tpm2_load',
      ['-C', srk, '-u', key.publicPath, '-r', `${base}.priv`, '-c', key.ctx, '-n', key.namePath],
      {
        cwd: dir,
      },
    );
    const pem = await readPublicPem(run, key.ctx, key.pemPath, dir);
    return { ...key, public: read(key.publicPath), name: read(key.namePath), pem };
  });
}

/**
 * TPM2_Certify of `key` by `ak` with tpm2_certify. tpm2-tools 5.4 has no option for qualifying data and
 * always sends the constant 00ff55aa (extraData of the result); use `certifyWithQualifyingData` to bind a nonce.
 * Files: `<label>.attest` (TPMS_ATTEST), `<label>.sig` (TPMT_SIGNATURE).
 */
export async function certify(
  tpm: TpmTarget,
  dir: string,
  key: TpmKey,
  ak: Ak,
  label = 'certify',
): Promise<Attestation> {
  const attestPath = join(dir, `${label}.attest`);
  const signaturePath = join(dir, `${label}.sig`);
  await tpm2(
    tpm.tcti,
    'tpm2_certify',
    [
      ...['-c', key.ctx, '-C', ak.ctx, '-g', 'sha256', '--scheme', AK_SCHEME[ak.kind]],
      ...['-o', attestPath, '-s', signaturePath, '-f', 'tss'],
    ],
    { cwd: dir },
  );
  return { attestPath, attest: read(attestPath), signaturePath, signature: read(signaturePath) };
}

const TPM_ST_SESSIONS = 0x8002;
const TPM_CC_CERTIFY = 0x00000148;
const TPM_RS_PW = 0x40000009;
const TPM_ALG_NULL = 0x0010;
/** Owner-hierarchy persistent handles borrowed for the length of one certify (then evicted again). */
const BORROWED_HANDLES = ['0x81000f01', '0x81000f02'] as const;

/** TPM2_Certify command bytes: both handles authorised with an empty password (TPM_RS_PW). */
function certifyCommand(objectHandle: number, signHandle: number, qualifyingData: Uint8Array): Uint8Array {
  const bytes: number[] = [];
  const u16 = (n: number) => bytes.push((n >>> 8) & 0xff, n & 0xff);
  const u32 = (n: number) => bytes.push((n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  const passwordAuth = () => {
    u32(TPM_RS_PW);
    u16(0); // nonceCaller
    bytes.push(0); // sessionAttributes
    u16(0); // hmac = the (empty) auth value
  };
  u16(TPM_ST_SESSIONS);
  u32(0); // commandSize, patched below
  u32(TPM_CC_CERTIFY);
  u32(objectHandle);
  u32(signHandle);
  u32(2 * 9); // authorizationSize
  passwordAuth();
  passwordAuth();
  u16(qualifyingData.length);
  bytes.push(...qualifyingData);
  u16(TPM_ALG_NULL); // inScheme: the AK's own scheme
  const out = new Uint8Array(bytes);
  new DataView(out.buffer).setUint32(2, out.length);
  return out;
}

/** Splits a TPM2_Certify response into certifyInfo (TPMS_ATTEST) and signature (TPMT_SIGNATURE). */
function parseCertifyResponse(rsp: Uint8Array): { attest: Uint8Array; signature: Uint8Array } {
  const v = new DataView(rsp.buffer, rsp.byteOffset, rsp.byteLength);
  const rc = v.getUint32(6);
  if (rc !== 0) throw new Error(`TPM2_Certify failed: TPM_RC 0x${rc.toString(16)}`);
  const parameterSize = v.getUint32(10);
  const params = rsp.subarray(14, 14 + parameterSize);
  const attestSize = new DataView(params.buffer, params.byteOffset).getUint16(0);
  return { attest: params.slice(2, 2 + attestSize), signature: params.slice(2 + attestSize) };
}

/**
 * TPM2_Certify of `key` by `ak` with qualifying data (the registration nonce), which tpm2_certify 5.4
 * cannot do: the keys are made persistent for a moment and the raw command goes through tpm2_send.
 * Files: `<label>.attest` (TPMS_ATTEST), `<label>.sig` (TPMT_SIGNATURE).
 */
export async function certifyWithQualifyingData(
  tpm: TpmTarget,
  dir: string,
  key: TpmKey,
  ak: Ak,
  qualifyingData: Uint8Array,
  label = 'certify-qualified',
): Promise<Attestation> {
  const attestPath = join(dir, `${label}.attest`);
  const signaturePath = join(dir, `${label}.sig`);
  const [keyHandle, akHandle] = BORROWED_HANDLES;
  return tpm2Exclusive(tpm.tcti, async (run) => {
    await run('tpm2_evictcontrol', ['-C', 'o', '-c', key.ctx, keyHandle], { cwd: dir });
    try {
      await run('tpm2_evictcontrol', ['-C', 'o', '-c', ak.ctx, akHandle], { cwd: dir });
      try {
        const cmd = certifyCommand(Number(keyHandle), Number(akHandle), qualifyingData);
        const cmdPath = join(dir, `${label}.cmd`);
        const rspPath = join(dir, `${label}.rsp`);
        writeFileSync(cmdPath, cmd);
        await run('tpm2_send', ['-o', rspPath, cmdPath], { cwd: dir });
        const { attest, signature } = parseCertifyResponse(read(rspPath));
        writeFileSync(attestPath, attest);
        writeFileSync(signaturePath, signature);
        return { attestPath, attest, signaturePath, signature };
      } finally {
        await run('tpm2_evictcontrol', ['-C', 'o', '-c', akHandle], { cwd: dir });
      }
    } finally {
      await run('tpm2_evictcontrol', ['-C', 'o', '-c', keyHandle], { cwd: dir });
    }
  });
}

/** Parses the `pcrs:` block of tpm2_quote / tpm2_pcrread YAML into `PcrValues`. */
export function parsePcrYaml(yaml: string): PcrValues {
  const out: PcrValues = {};
  let lines = yaml.split('\n');
  // tpm2_quote nests the banks under `pcrs:`, followed by other top-level keys (`calcDigest:`);
  // tpm2_pcrread prints only the (indented) banks.
  const at = lines.findIndex((l) => /^pcrs:\s*$/.test(l));
  if (at >= 0) {
    lines = lines.slice(at + 1);
    const end = lines.findIndex((l) => /^\S/.test(l));
    if (end >= 0) lines = lines.slice(0, end);
  }
  let bank: Record<string, string> | undefined;
  for (const line of lines) {
    const b = /^\s*(sha1|sha256|sha384|sha512|sm3_256):\s*$/.exec(line);
    if (b?.[1]) {
      bank = {};
      out[b[1]] = bank;
      continue;
    }
    const p = /^\s+(\d+)\s*:\s*0x([0-9A-Fa-f]+)\s*$/.exec(line);
    if (p?.[1] && p[2] && bank) bank[p[1]] = p[2].toLowerCase();
  }
  return out;
}

/**
 * tpm2_quote reads the PCRs it prints separately from the quote itself: make sure the values hash (SHA-256,
 * the signing hash, in selection order) to the quote's pcrDigest, the last field of a TPMS_ATTEST of a
 * quote, so a test never feeds the verifier values that were not the quoted ones.
 */
function assertPcrsMatchQuote(message: Uint8Array, pcrs: PcrValues): void {
  const h = createHash('sha256');
  for (const bank of Object.values(pcrs)) {
    for (const index of Object.keys(bank).sort((a, b) => Number(a) - Number(b))) {
      h.update(Buffer.from(bank[index] ?? '', 'hex'));
    }
  }
  const digest = h.digest();
  const quoted = message.subarray(message.length - 32);
  if (!digest.equals(quoted)) throw new Error('the PCR values tpm2_quote printed are not the quoted ones');
}

/**
 * tpm2_quote by `ak` over `selection` (tpm2-tools syntax, e.g. `sha1:0,1,2+sha256:0,1,2,7`) with
 * `nonce` as qualifying data, signed with SHA-256. The PCR values returned are the ones tpm2_quote read
 * and checked against the quote's pcrDigest itself (its `calcDigest`), so they are the quoted values.
 * Files: `<label>.msg` (TPMS_ATTEST), `.sig` (TPMT_SIGNATURE), `.pcrs` (serialized), `.pcrs.json`.
 */
export async function quote(
  tpm: TpmTarget,
  dir: string,
  ak: Ak,
  nonce: Uint8Array,
  selection: string,
  label = 'quote',
): Promise<Quote> {
  const base = join(dir, label);
  const q = {
    messagePath: `${base}.msg`,
    signaturePath: `${base}.sig`,
    pcrsSerializedPath: `${base}.pcrs`,
    pcrsJsonPath: `${base}.pcrs.json`,
  };
  const { stdout } = await tpm2(
    tpm.tcti,
    'tpm2_quote',
    [
      '-c',
      ak.ctx,
      '-l',
      selection,
      '-q',
      hex(nonce),
      '-g',
      'sha256',
      '--scheme',
      AK_SCHEME[ak.kind],
      '-m',
      q.messagePath,
      '-s',
      q.signaturePath,
      '-o',
      q.pcrsSerializedPath,
      '-F',
      'serialized',
    ],
    { cwd: dir },
  );
  const pcrs = parsePcrYaml(stdout);
  const message = read(q.messagePath);
  assertPcrsMatchQuote(message, pcrs);
  writeFileSync(q.pcrsJsonPath, `${JSON.stringify(pcrs, null, 2)}\n`);
  return { ...q, message, signature: read(q.signaturePath), pcrs, nonce };
}

/** Reads PCRs (tpm2-tools selection syntax) as `PcrValues`. */
export async function readPcrs(tpm: TpmTarget, selection: string): Promise<PcrValues> {
  const { stdout } = await tpm2(tpm.tcti, 'tpm2_pcrread', [selection]);
  return parsePcrYaml(stdout);
}

/** Extends PCR `index` in each bank with the bank's hash of `measurement` (what firmware would do). */
export async function pcrExtend(
  tpm: TpmTarget,
  index: number,
  measurement: Uint8Array | string,
  banks: readonly string[] = ['sha1', 'sha256'],
): Promise<void> {
  const digests = banks.map((b) => `${b}=${createHash(b).update(measurement).digest('hex')}`);
  await tpm2(tpm.tcti, 'tpm2_pcrextend', [`${index}:${digests.join(',')}`]);
}

/**
 * Signs `message` with the node key (tpm2_sign hashes it with SHA-256; the key is not restricted, so no
 * ticket is needed). Returns the `TPMT_SIGNATURE` (`format: 'tss'`) or a DER ECDSA-Sig-Value (`'der'`).
 * Files: `<label>.msg`, `<label>.sig`.
 */
export async function sign(
  tpm: TpmTarget,
  dir: string,
  key: TpmKey,
  message: Uint8Array,
  format: 'tss' | 'der' = 'tss',
  label = 'sign',
): Promise<{ signaturePath: string; signature: Uint8Array }> {
  const msgPath = join(dir, `${label}.msg`);
  const signaturePath = join(dir, `${label}.sig`);
  writeFileSync(msgPath, message);
  await tpm2(
    tpm.tcti,
    'tpm2_sign',
    [
      '-c',
      key.ctx,
      '-g',
      'sha256',
      '-s',
      'ecdsa',
      '-f',
      format === 'der' ? 'plain' : 'tss',
      '-o',
      signaturePath,
      msgPath,
    ],
    { cwd: dir },
  );
  return { signaturePath, signature: read(signaturePath) };
}

/**
 * TPM2_ActivateCredential: recovers the secret from a credential file in tpm2-tools' format
 * (`0xBADCC0DE` header, what `tpm2_makecredential -o` and our `make-credential --out-tpm2-tools` write)
 * for `ak` under its EK. The EK's policy (PolicySecret on the endorsement hierarchy) needs a policy
 * session that tpm2_activatecredential does not start by itself; sessions must survive between the
 * tools, so only transient objects are flushed until the end.
 * Files: `<label>.session.ctx`, `<label>.secret`.
 */
export async function activateCredential(
  tpm: TpmTarget,
  dir: string,
  ak: Ak,
  credentialPath: string,
  label = 'activate',
): Promise<Uint8Array> {
  const session = join(dir, `${label}.session.ctx`);
  const secretPath = join(dir, `${label}.secret`);
  return tpm2Exclusive(tpm.tcti, async (run) => {
    await run('tpm2_startauthsession', ['--policy-session', '-S', session], { cwd: dir, flush: 'transient' });
    await run('tpm2_policysecret', ['-S', session, '-c', 'e'], { cwd: dir, flush: 'transient' });
    await run(
      'tpm2_activatecredential',
      ['-c', ak.ctx, '-C', ak.ek.ctx, '-i', credentialPath, '-o', secretPath, '-P', `session:${session}`],
      { cwd: dir },
    );
    return read(secretPath);
  });
}
