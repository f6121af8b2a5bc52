import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from './free-port.ts';
import { tpm2 } from './tpm2-tools.ts';

/**
 * A real software TPM 2.0 (swtpm 0.7.1) for tests, on private ports and a private temp directory.
 *
 * Manufactured by `swtpm_setup` with a throw-away `swtpm_localca` whose files live in the temp
 * directory (nothing goes to /etc, /var/lib or $HOME). With EK certificates (the default) the TPM holds
 * - NV 0x01c00002: the RSA-2048 EK certificate (swtpm_setup's),
 * - NV 0x01c0000a: a P-256 EK certificate for the default low-range ECC EK (`tpm2_createek -G ecc`),
 *   issued by the same local CA here because swtpm 0.7.1 only certifies a P-384 EK (at 0x01c00016),
 * - NV 0x01c00016: swtpm's own P-384 EK certificate.
 * The CA chain is root (`caRootPem`) → issuer (`caIssuerPem`) → EK certificates.
 */
export interface Swtpm {
  /** TCTI string for tpm2-tools / tss2 (`swtpm:host=127.0.0.1,port=…`). */
  tcti: string;
  port: number;
  ctrlPort: number;
  /** The temp directory holding the TPM state, the local CA and swtpm's log; removed by `stop()`. */
  stateDir: string;
  /** The local CA's self-signed root (PEM): the trust anchor for this TPM's EK certificates. */
  caRootPem: string;
  /** The intermediate that signs the EK certificates (PEM). */
  caIssuerPem: string;
  /** Environment for spawning tpm2-tools directly. */
  env: { TPM2TOOLS_TCTI: string };
  /** Shuts swtpm down (control channel, then SIGKILL) and removes `stateDir`. Idempotent. */
  stop(): Promise<void>;
}

export interface StartSwtpmOptions {
  /** Provision EK certificates (RSA at 0x01c00002, P-256 at 0x01c0000a). Default true. */
  ekCerts?: boolean;
  /** Active PCR banks, comma-separated as `swtpm_setup --pcr-banks` takes them. Default `sha1,sha256`. */
  pcrBanks?: string;
}

/** NV indices of the EK certificates (TCG EK Credential Profile §2.2.1.5). */
export const EK_CERT_NV_INDEX = { rsa2048: 0x01c00002, eccP256: 0x01c0000a, eccP384: 0x01c00016 } as const;

function run(file: string, args: readonly string[], env?: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} failed (${err.code ?? err.signal}): ${stderr || stdout}`));
      else resolve(stdout);
    });
  });
}

const live = new Set<() => void>();
// A crashed or interrupted test run must not leave swtpm processes or key material behind.
process.once('exit', () => {
  for (const kill of live) kill();
});

async function manufacture(dir: string, ekCerts: boolean, pcrBanks: string): Promise<void> {
  const ca = join(dir, 'localca');
  mkdirSync(join(dir, 'tpm'));
  mkdirSync(ca);
  mkdirSync(join(dir, 'tmp'));
  writeFileSync(
    join(dir, 'swtpm_setup.conf'),
    [
      'create_certs_tool = /usr/bin/swtpm_localca',
      `create_certs_tool_config = ${join(dir, 'swtpm-localca.conf')}`,
      `create_certs_tool_options = ${join(dir, 'swtpm-localca.options')}`,
      `active_pcr_banks = ${pcrBanks}`,
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'swtpm-localca.conf'),
    [
      `statedir = ${ca}`,
      `signingkey = ${join(ca, 'signkey.pem')}`,
      `issuercert = ${join(ca, 'issuercert.pem')}`,
      `certserial = ${join(ca, 'certserial')}`,
      '',
    ].join('\n'),
  );
  writeFileSync(
    join(dir, 'swtpm-localca.options'),
    '--platform-manufacturer Noderr\n--platform-version 2.1\n--platform-model swtpm-test\n',
  );
  const args = ['--tpm2', '--tpmstate', join(dir, 'tpm'), '--pcr-banks', pcrBanks];
  args.push('--config', join(dir, 'swtpm_setup.conf'), '--overwrite');
  if (ekCerts) args.push('--create-ek-cert');
  // swtpm_setup stages certificates in $TMPDIR: keep that inside our directory too.
  await run('swtpm_setup', args, { TMPDIR: join(dir, 'tmp') });
}

interface Running {
  child: ChildProcess;
  port: number;
  ctrlPort: number;
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A free port P whose neighbour P + 1 is free too. */
async function freePortPair(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = await freePort();
    if (port < 65535 && (await canBind(port + 1))) return port;
  }
  throw new Error('no two adjacent free TCP ports on 127.0.0.1');
}

async function launch(dir: string): Promise<Running> {
  let lastError: unknown;
  // freePort() is only "free a moment ago": another process may take it before swtpm binds, so retry.
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePortPair();
    // tss2's swtpm TCTI always talks to the control channel on port + 1.
    const ctrlPort = port + 1;
    const child = spawn(
      'swtpm',
      [
        'socket',
        '--tpm2',
        '--tpmstate',
        `dir=${join(dir, 'tpm')}`,
        '--server',
        `type=tcp,port=${port},bindaddr=127.0.0.1`,
        '--ctrl',
        `type=tcp,port=${ctrlPort},bindaddr=127.0.0.1`,
        // Without a resource manager nobody sends TPM2_Startup: let swtpm do it.
        '--flags',
        'not-need-init,startup-clear',
        '--log',
        `file=${join(dir, 'swtpm.log')}`,
      ],
      { stdio: 'ignore' },
    );
    const exited = new Promise<never>((_, reject) => {
      child.once('exit', (code, signal) => reject(new Error(`swtpm exited early (${code ?? signal})`)));
      child.once('error', reject);
    });
    try {
      await Promise.race([waitForPort(port, '127.0.0.1', 10_000), exited]);
      await Promise.race([waitForPort(ctrlPort, '127.0.0.1', 10_000), exited]);
      exited.catch(() => undefined);
      return { child, port, ctrlPort };
    } catch (e) {
      exited.catch(() => undefined);
      child.kill('SIGKILL');
      lastError = e;
    }
  }
  throw new Error(`swtpm did not start: ${String(lastError)}`);
}

function hexOfBase64Url(s: string | undefined): string {
  if (!s) throw new Error('EC public key without coordinates');
  return Buffer.from(s, 'base64url').toString('hex');
}

/**
 * swtpm 0.7.1 certifies only a P-384 ECC EK; issue a P-256 EK certificate with the same local CA for the
 * default ECC EK template and store it where a TPM vendor would (0x01c0000a, platform-written).
 */
async function provisionP256EkCert(dir: string, tcti: string): Promise<void> {
  const tmp = join(dir, 'tmp');
  const ca = join(dir, 'localca');
  await tpm2(tcti, 'tpm2_createek', ['-G', 'ecc', '-c', 'ek-ecc.ctx', '-u', 'ek-ecc.pem', '-f', 'pem'], {
    cwd: tmp,
  });
  const jwk = createPublicKey(readFileSync(join(tmp, 'ek-ecc.pem'))).export({ format: 'jwk' });
  const certPath = join(tmp, 'ek-ecc256-cert.der');
  await run('swtpm_cert', [
    '--tpm2',
    '--type',
    'ek',
    '--ecc-x',
    hexOfBase64Url(jwk.x),
    '--ecc-y',
    hexOfBase64Url(jwk.y),
    '--ecc-curveid',
    'secp256r1',
    '--signkey',
    join(ca, 'signkey.pem'),
    '--issuercert',
    join(ca, 'issuercert.pem'),
    '--out-cert',
    certPath,
    '--serial',
    '100',
    '--days',
    '-1',
    '--subject',
    'CN=unknown',
    '--tpm-manufacturer',
    'id:00001014',
    '--tpm-model',
    'swtpm',
    '--tpm-version',
    'id:20191023',
    '--tpm-spec-family',
    '2.0',
    '--tpm-spec-level',
    '0',
    '--tpm-spec-revision',
    '164',
  ]);
  const index = `0x${EK_CERT_NV_INDEX.eccP256.toString(16).padStart(8, '0')}`;
  await tpm2(tcti, 'tpm2_nvdefine', [
    index,
    '-C',
    'p',
    '-s',
    String(statSync(certPath).size),
    '-a',
    'ppwrite|ppread|ownerread|authread|no_da|platformcreate',
  ]);
  await tpm2(tcti, 'tpm2_nvwrite', [index, '-C', 'p', '-i', certPath]);
  rmSync(join(tmp, 'ek-ecc.ctx'), { force: true });
}

/**
 * Starts a freshly manufactured swtpm. Always `stop()` it (afterAll), which also deletes its files.
 *
 * @example
 *   const tpm = await startSwtpm();
 *   await tpm2(tpm.tcti, 'tpm2_nvread', ['0x01c0000a', '-C', 'o', '-o', 'ek.der']);
 *   await tpm.stop();
 */
export async function startSwtpm(options: StartSwtpmOptions = {}): Promise<Swtpm> {
  const ekCerts = options.ekCerts ?? true;
  const pcrBanks = options.pcrBanks ?? 'sha1,sha256';
  const dir = mkdtempSync(join(tmpdir(), 'noderr-swtpm-'));
  let running: Running | undefined;
  let stopped = false;
  const killNow = () => {
    running?.child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  };
  live.add(killNow);

  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    live.delete(killNow);
    const r = running;
    try {
      if (r && r.child.exitCode === null && r.child.signalCode === null) {
        const gone = new Promise<void>((resolve) => r.child.once('exit', () => resolve()));
        await run('swtpm_ioctl', ['--tcp', `127.0.0.1:${r.ctrlPort}`, '-s']).catch(() => undefined);
        const timeout = new Promise<'timeout'>((resolve) =>
          setTimeout(() => resolve('timeout'), 3000).unref(),
        );
        if ((await Promise.race([gone, timeout])) === 'timeout') {
          r.child.kill('SIGKILL');
          await gone;
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  try {
    await manufacture(dir, ekCerts, pcrBanks);
    running = await launch(dir);
    const tcti = `swtpm:host=127.0.0.1,port=${running.port}`;
    if (ekCerts) await provisionP256EkCert(dir, tcti);
    const readCa = (name: string) => (ekCerts ? readFileSync(join(dir, 'localca', name), 'utf8') : '');
    return {
      tcti,
      port: running.port,
      ctrlPort: running.ctrlPort,
      stateDir: dir,
      caRootPem: readCa('swtpm-localca-rootca-cert.pem'),
      caIssuerPem: readCa('issuercert.pem'),
      env: { TPM2TOOLS_TCTI: tcti },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
