/**
 * End to end: installers/linux/install.sh against the real stack — the Worker under wrangler dev with
 * PostgreSQL 15 — and real swtpm TPMs whose EK certificates come from a local CA that the API trusts
 * through the admin ek-anchors API. Every "host" is its own swtpm plus its own config/install dirs.
 *
 * The only test doubles are installers/linux/test/stubs/{docker,systemctl} (no Docker engine or systemd
 * here): they record their calls, which the tests assert.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Swtpm } from '../../../scripts/lib/swtpm.ts';
import { startSwtpm } from '../../../scripts/lib/swtpm.ts';
import { tpm2 } from '../../../scripts/lib/tpm2-tools.ts';
import { type Stack, startStack, trustedSwtpm } from './helpers/stack.ts';

const ROOT = new URL('../../..', import.meta.url).pathname;
const INSTALLER = join(ROOT, 'installers/linux/install.sh');
const STUBS = join(ROOT, 'installers/linux/test/stubs');
const LOW = ['--min-cpu', '1', '--min-ram-gb', '1', '--min-disk-gb', '1'];

interface Host {
  tpm: Swtpm;
  dir: string;
  env: Record<string, string>;
  /** Common options: API, TPM, hardware minimums. */
  args: string[];
}

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

let stack: Stack;
const hosts: Host[] = [];
const timings: Record<string, number> = {};

function newHost(tpm: Swtpm): Host {
  const dir = mkdtempSync(join(tmpdir(), 'noderr-host-'));
  const host: Host = {
    tpm,
    dir,
    env: {
      PATH: `${STUBS}:${process.env.PATH}`,
      NODERR_CONFIG_DIR: join(dir, 'etc'),
      NODERR_INSTALL_DIR: join(dir, 'opt'),
      NODERR_LOG_FILE: join(dir, 'install.log'),
      NODERR_SYSTEMD_DIR: join(dir, 'systemd'),
      NODERR_CRON_DIR: join(dir, 'cron'),
      NODERR_INIT_SYSTEM: 'systemd',
      NODERR_STUB_LOG: join(dir, 'stub-calls.log'),
      // The installer's work directory lives under the host's folder, so a run the tests SIGKILL (no
      // EXIT trap runs then) leaves nothing behind in /tmp.
      TMPDIR: join(dir, 'tmp'),
    },
    args: ['--api-url', stack.url, '--tcti', tpm.tcti, ...LOW],
  };
  writeFileSync(host.env.NODERR_STUB_LOG!, '');
  mkdirSync(host.env.TMPDIR!, { recursive: true });
  hosts.push(host);
  return host;
}

function run(file: string, args: string[], env: Record<string, string>, input?: string): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, ms: Date.now() - started }));
    child.stdin.end(input ?? '');
  });
}

function install(host: Host, extra: string[], env: Record<string, string> = {}): Promise<Run> {
  return run('bash', [INSTALLER, '--yes', ...host.args, ...extra], { ...host.env, ...env });
}

function tokenFile(host: Host, token: string): string {
  const f = join(host.dir, `token-${Math.random().toString(36).slice(2)}`);
  writeFileSync(f, token, { mode: 0o600 });
  return f;
}

async function persistentHandles(tpm: Swtpm): Promise<string[]> {
  const { stdout } = await tpm2(tpm.tcti, 'tpm2_getcap', ['handles-persistent']);
  return stdout
    .split('\n')
    .map((l) => l.replace(/^- /, '').trim().toLowerCase())
    .filter(Boolean);
}

function stubCalls(host: Host): string[] {
  return readFileSync(host.env.NODERR_STUB_LOG!, 'utf8').split('\n').filter(Boolean);
}

function credentials(host: Host): { nodeId: string; apiKey: string } {
  return JSON.parse(readFileSync(join(host.env.NODERR_CONFIG_DIR!, 'credentials.json'), 'utf8'));
}

function stepTimings(host: Host): string {
  const log = readFileSync(host.env.NODERR_LOG_FILE!, 'utf8');
  return [...log.matchAll(/timing: step (\d) took (\d+) ms/g)].map((m) => `${m[1]}:${m[2]}ms`).join(' ');
}

beforeAll(async () => {
  stack = await startStack();
}, 120_000);

afterAll(async () => {
  for (const h of hosts) {
    await h.tpm.stop();
    rmSync(h.dir, { recursive: true, force: true });
  }
  await stack?.stop();
  if (Object.keys(timings).length) console.log('installer wall times (ms):', JSON.stringify(timings));
}, 60_000);

describe('Linux installer end to end (--no-docker, systemd via the systemctl test double)', () => {
  let host: Host;
  let token: string;
  let nodeId: string;
  let straceOut: string;

  it('registers and activates the node: the admin API lists it active', async () => {
    const { tpm } = await trustedSwtpm(stack);
    host = newHost(tpm);
    ({ token } = await stack.admin.createToken('ORACLE'));
    straceOut = join(host.dir, 'strace.out');
    // strace records every program the installer starts with its full argv and environment.
    const r = await run(
      'strace',
      [
        '-f',
        '-qq',
        '-e',
        'trace=execve',
        '-v',
        '-s',
        '100000',
        '-o',
        straceOut,
        'bash',
        INSTALLER,
        '--yes',
        '--no-docker',
        ...host.args,
        '--token-file',
        tokenFile(host, token),
      ],
      host.env,
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
    for (let n = 1; n <= 8; n++) expect(r.stdout).toContain(`[${n}/8]`);
    expect(r.stdout).toContain('✓ Endorsement key (ecc) with its certificate from the TPM NV 0x01c0000a');
    expect(r.stdout).toContain('✓ First heartbeat accepted');
    expect(r.stdout).toContain('noderr node installed.');
    nodeId = credentials(host).nodeId;
    expect(nodeId).toMatch(/^0x[0-9a-f]{64}$/);
    expect(r.stdout).toContain(`Node id:      ${nodeId}`);
    const node = await stack.admin.node(nodeId);
    expect(node?.status).toBe('active');
    expect(node?.tier).toBe('ORACLE');
    // Root-only credentials, our keys persisted at the documented handles.
    const st = statSync(join(host.env.NODERR_CONFIG_DIR!, 'credentials.json'));
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.uid).toBe(0);
    expect(await persistentHandles(tpm)).toEqual(expect.arrayContaining(['0x81010002', '0x81010003']));
    // systemd (test double): timer enabled, no Docker calls with --no-docker.
    expect(stubCalls(host)).toEqual([
      'systemctl daemon-reload',
      'systemctl enable --now noderr-heartbeat.timer',
    ]);
    expect(readFileSync(join(host.env.NODERR_SYSTEMD_DIR!, 'noderr-heartbeat.timer'), 'utf8')).toContain(
      'OnUnitActiveSec=60s',
    );
    timings.firstInstallUnderStrace = r.ms;
    console.log(`first install: ${r.ms} ms (under strace); steps ${stepTimings(host)}`);
  }, 90_000);

  it('no credential appears in the log or in the arguments or environment of any process it started', async () => {
    const secrets = {
      installToken: token,
      apiKey: credentials(host).apiKey,
      sessionJwt: readFileSync(join(host.env.NODERR_CONFIG_DIR!, 'session.jwt'), 'utf8').trim(),
    };
    expect(secrets.apiKey).toMatch(/^ndr_live_[0-9a-f]{64}$/);
    expect(secrets.sessionJwt.split('.')).toHaveLength(3);
    const log = readFileSync(host.env.NODERR_LOG_FILE!, 'utf8');
    for (const [name, value] of Object.entries(secrets))
      expect(log.includes(value), `${name} in the log`).toBe(false);
    // tpm2_activatecredential prints the recovered secret as `certinfodata:`; it must not reach the log.
    expect(log).not.toContain('certinfodata');
    const execs = readFileSync(straceOut, 'utf8')
      .split('\n')
      .filter((l) => /execve\(/.test(l) && !/= -1 ENOENT/.test(l));
    // The first execve is the installer itself (strace's child); everything after it was started by it.
    const started = execs.slice(1);
    expect(started.length).toBeGreaterThan(100);
    const programs = new Set(started.map((l) => /execve\("([^"]+)"/.exec(l)?.[1]));
    for (const p of [
      '/usr/bin/curl',
      '/usr/bin/jq',
      '/usr/bin/tpm2_activatecredential',
      '/usr/bin/tpm2_sign',
    ]) {
      expect(programs.has(p), p).toBe(true);
    }
    for (const line of started) {
      for (const [name, value] of Object.entries(secrets)) {
        expect(line.includes(value), `${name} in: ${line.slice(0, 200)}`).toBe(false);
      }
    }
  });

  it('noderr-heartbeat succeeds, and answers a re-attestation with a fresh quote', async () => {
    const hb = join(host.env.NODERR_INSTALL_DIR!, 'bin/noderr-heartbeat');
    let r = await run(hb, [], { NODERR_CONFIG_DIR: host.env.NODERR_CONFIG_DIR! });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(`noderr-heartbeat: ok (node ${nodeId})`);
    timings.heartbeat = r.ms;
    // Make the re-attestation due now: the next heartbeat's answer carries a nonce.
    const sql = postgres(stack.databaseUrl, { max: 1, onnotice: () => undefined });
    try {
      await sql`update public.node_identities set attestation_due_at = now() - interval '1 second' where node_id = ${nodeId}`;
      r = await run(hb, [], { NODERR_CONFIG_DIR: host.env.NODERR_CONFIG_DIR! });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe(`noderr-heartbeat: ok (node ${nodeId}, re-attested)`);
      timings.heartbeatWithReattestation = r.ms;
      const rows =
        await sql`select kind, result from public.attestations where node_id = ${nodeId} order by created_at`;
      expect(rows.map((x) => `${x.kind}:${x.result}`)).toContain('reattestation:passed');
      const [node] =
        await sql`select status, attestation_due_at > now() as due_later from public.node_identities where node_id = ${nodeId}`;
      expect(node).toMatchObject({ status: 'active', due_later: true });
    } finally {
      await sql.end();
    }
    expect(existsSync(join(host.env.NODERR_CONFIG_DIR!, 'reattestation.nonce'))).toBe(false);
  }, 60_000);

  it('a second run is a no-op: says it is installed, exits 0, changes nothing', async () => {
    const conf = readFileSync(join(host.env.NODERR_CONFIG_DIR!, 'node.conf'), 'utf8');
    const handles = await persistentHandles(host.tpm);
    const calls = stubCalls(host).length;
    const r = await install(host, ['--no-docker']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`✓ noderr is already installed on this host: node ${nodeId}`);
    expect(r.stdout).not.toContain('[2/8]');
    expect(readFileSync(join(host.env.NODERR_CONFIG_DIR!, 'node.conf'), 'utf8')).toBe(conf);
    expect(await persistentHandles(host.tpm)).toEqual(handles);
    expect(stubCalls(host)).toHaveLength(calls);
    timings.secondRunNoop = r.ms;
  }, 30_000);

  it('--uninstall removes the service, files and our TPM keys, keeps the rest and says so', async () => {
    const before = await persistentHandles(host.tpm);
    const r = await install(host, ['--uninstall']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('  - TPM key 0x81010002');
    expect(r.stdout).toContain('  - TPM key 0x81010003');
    expect(r.stdout).toContain(
      "  - the TPM's endorsement key and everything else in the TPM (never touched)",
    );
    expect(r.stdout).toContain(`  - the node's registration ${nodeId} at the API`);
    const after = await persistentHandles(host.tpm);
    expect(after).not.toContain('0x81010002');
    expect(after).not.toContain('0x81010003');
    // swtpm_setup's own EKs stay.
    expect(after).toEqual(before.filter((h) => h !== '0x81010002' && h !== '0x81010003'));
    expect(after.length).toBeGreaterThan(0);
    expect(existsSync(host.env.NODERR_CONFIG_DIR!)).toBe(false);
    expect(existsSync(host.env.NODERR_INSTALL_DIR!)).toBe(false);
    expect(existsSync(join(host.env.NODERR_SYSTEMD_DIR!, 'noderr-heartbeat.timer'))).toBe(false);
    expect(stubCalls(host)).toEqual(
      expect.arrayContaining([
        'systemctl disable --now noderr-heartbeat.timer',
        'systemctl disable --now noderr-node.service',
      ]),
    );
  }, 30_000);
});

describe('Linux installer failure behaviour', () => {
  it('a run killed after registration resumes without a token and finishes', async () => {
    const { tpm } = await trustedSwtpm(stack);
    const host = newHost(tpm);
    const { token } = await stack.admin.createToken('ALL');
    // The systemctl test double SIGKILLs the installer when it enables the timer (after activation).
    const killed = await install(host, ['--no-docker', '--token-file', tokenFile(host, token)], {
      NODERR_STUB_KILL_ON: 'enable --now noderr-heartbeat.timer',
    });
    expect(killed.signal ?? killed.code).toBe('SIGKILL');
    const { nodeId } = credentials(host);
    expect((await stack.admin.node(nodeId))?.status).toBe('active');
    const r = await install(host, ['--no-docker']);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(
      `✓ Continuing the unfinished installation of node ${nodeId} (no token needed)`,
    );
    expect(r.stdout).toContain(`✓ Already registered as node ${nodeId} (resumed; no token needed)`);
    expect(r.stdout).toContain('✓ First heartbeat accepted');
    expect(credentials(host).nodeId).toBe(nodeId);
    timings.resumeAfterKill = r.ms;
  }, 90_000);

  it('a run that fails before activation cleans up and leaves the token usable', async () => {
    // This swtpm's EK CA is not a trust anchor yet: the ORACLE tier rejects its EK certificate.
    const tpm = await startSwtpm();
    const host = newHost(tpm);
    const { token } = await stack.admin.createToken('ORACLE');
    const file = tokenFile(host, token);
    const before = await persistentHandles(tpm);
    const failed = await install(host, ['--no-docker', '--token-file', file]);
    expect(failed.code).toBe(8);
    expect(failed.stderr).toContain(
      "✗ The TPM's endorsement key certificate is not from a manufacturer the API trusts [ATTESTATION_INVALID/EK_CERT_UNTRUSTED]",
    );
    expect(failed.stderr).toContain('removed TPM key 0x81010002 created by this run');
    expect(failed.stderr).toContain('The install token was not used up');
    expect(await persistentHandles(tpm)).toEqual(before);
    expect(existsSync(host.env.NODERR_CONFIG_DIR!)).toBe(false);
    expect(existsSync(host.env.NODERR_INSTALL_DIR!)).toBe(false);
    // Trust the CA and run again with the same token.
    await stack.admin.addEkAnchor(`late root ${tpm.port}`, tpm.caRootPem);
    await stack.admin.addEkAnchor(`late issuer ${tpm.port}`, tpm.caIssuerPem);
    const r = await install(host, ['--no-docker', '--token-file', file]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect((await stack.admin.node(credentials(host).nodeId))?.status).toBe('active');
  }, 90_000);
});

describe('the installer served by the Worker', () => {
  it('GET /install/linux is install.sh with the serving origin as default API URL, and works piped into bash -s --', async () => {
    const res = await fetch(`${stack.url}/install/linux`);
    expect(res.status).toBe(200);
    const served = await res.text();
    const original = readFileSync(INSTALLER, 'utf8');
    const marker = /^NODERR_DEFAULT_API_URL=.*$/m;
    expect(served.replace(marker, '')).toBe(original.replace(marker, ''));
    expect(served.match(marker)?.[0]).toBe(
      `NODERR_DEFAULT_API_URL="${stack.url}"  # replaced when served by the API`,
    );

    // curl -fsSL <api>/install/linux | bash -s -- <TOKEN>, with Docker (test double) this time.
    const { tpm } = await trustedSwtpm(stack);
    const host = newHost(tpm);
    const { token } = await stack.admin.createToken('ALL');
    const r = await run(
      'bash',
      [
        '-c',
        `curl -fsSL "$1/install/linux" | bash -s -- --yes --tcti "$2" ${LOW.join(' ')} "$3"`,
        '_',
        stack.url,
        tpm.tcti,
        token,
      ],
      host.env,
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`✓ API reachable: ${stack.url}`);
    const { nodeId } = credentials(host);
    expect((await stack.admin.node(nodeId))?.status).toBe('active');
    const image = 'registry.noderr.test/noderr/node:e2e';
    expect(stubCalls(host)).toEqual([
      `docker pull ${image}`,
      'docker network inspect noderr',
      'docker network create noderr',
      'systemctl daemon-reload',
      'systemctl enable --now noderr-heartbeat.timer',
      'systemctl enable --now noderr-node.service',
      'docker inspect -f {{.State.Running}} noderr-node',
    ]);
    const unit = readFileSync(join(host.env.NODERR_SYSTEMD_DIR!, 'noderr-node.service'), 'utf8');
    expect(unit).toContain('Restart=always');
    expect(unit).toContain(`--env-file ${host.env.NODERR_CONFIG_DIR}/node.env`);
    expect(unit).toContain(image);
    const envFile = readFileSync(join(host.env.NODERR_CONFIG_DIR!, 'node.env'), 'utf8');
    expect(envFile).toContain(`NODERR_NODE_ID=${nodeId}`);
    expect(envFile).not.toContain(credentials(host).apiKey);
    timings.pipedWithDocker = r.ms;
    console.log(`piped install with Docker (test double): ${r.ms} ms; steps ${stepTimings(host)}`);
  }, 90_000);
});

describe('measured boot: the installer and noderr-heartbeat send the boot event log', () => {
  it('registers under an event-log policy and re-attests with the log', async () => {
    const { toHex } = await import('../../../shared/encoding/bytes.ts');
    const { KERNEL, sha256Hex, syntheticBoot } = await import(
      '../../../shared/tpm2/eventlog/testing/synthetic.ts'
    );
    const { tpm } = await trustedSwtpm(stack);
    const host = newHost(tpm);
    // A boot whose every measurement is also extended into this TPM, as firmware and GRUB would do.
    const boot = await syntheticBoot({ secureBoot: true });
    for (const e of boot.log.events) {
      await tpm2(tpm.tcti, 'tpm2_pcrextend', [
        `${e.pcr}:sha1=${toHex(e.digests.sha1!)},sha256=${toHex(e.digests.sha256!)}`,
      ]);
    }
    const logFile = join(host.dir, 'binary_bios_measurements');
    writeFileSync(logFile, boot.log.bytes);
    await stack.admin.setPolicy('GUARDIAN', {
      pcrSelection: { sha256: [0, 4, 5, 7, 8, 9] },
      pcrMode: 'none',
      eventLogRules: { requireSecureBoot: true, kernelSha256Allowlist: [await sha256Hex(KERNEL.contents)] },
    });
    const { token } = await stack.admin.createToken('GUARDIAN');
    const r = await run('bash', [INSTALLER, ...host.args, '--no-docker', '--yes', '--event-log', logFile], {
      ...host.env,
      NODERR_INSTALL_TOKEN: token,
    });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const { nodeId } = credentials(host);
    expect((await stack.admin.node(nodeId))?.status).toBe('active');
    expect(readFileSync(host.env.NODERR_LOG_FILE!, 'utf8')).toContain(
      `sending the boot event log from ${logFile}`,
    );

    const sql = postgres(stack.databaseUrl, { max: 1, onnotice: () => undefined });
    try {
      await sql`update public.node_identities set attestation_due_at = now() - interval '1 second' where node_id = ${nodeId}`;
      const hb = join(host.env.NODERR_INSTALL_DIR!, 'bin/noderr-heartbeat');
      const beat = await run(hb, [], { NODERR_CONFIG_DIR: host.env.NODERR_CONFIG_DIR! });
      expect(beat.code, beat.stderr).toBe(0);
      expect(beat.stdout.trim()).toBe(`noderr-heartbeat: ok (node ${nodeId}, re-attested)`);
    } finally {
      await sql.end();
    }
  }, 90_000);
});
