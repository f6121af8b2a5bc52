import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Swtpm, startSwtpm } from '../../../../scripts/lib/swtpm.ts';
import { tpm2 } from '../../../../scripts/lib/tpm2-tools.ts';
import { guardCommand } from '../../src/mastr/cli/guard.ts';
import { runMastr } from '../../src/mastr/cli/mastr-cli.ts';
import { FIRMWARE_TOKEN_TIMINGS, MSG, scaleTokenTimings, TOKEN_STATE } from '../../src/mastr/constants.ts';
import { TokenEmulator } from '../../src/mastr/emulator/token-emulator.ts';
import { decryptFrameBody } from '../../src/mastr/frame-crypto.ts';
import { decodeInnerFrame } from '../../src/mastr/framing.ts';
import { captureIo, LinkProxy, rawLink, sleep, waitFor } from './helpers.ts';

/**
 * The end-to-end scenarios: host key in a real swtpm, the software token over TCP, the CLI
 * in-process. Token timings are the firmware's × 0.1 (ACK 50 ms, ping 100 ms, re-attest 3 s, halt stream
 * 100 ms); host timings × 0.2 (heartbeat 1 s, ACK wait 400 ms), re-attest period told to the guard (3 s).
 */

const TOKEN_SCALE = 0.1;
const HOST = ['--time-scale', '0.2'];

let sw: Swtpm;
let dir: string;
let emu: TokenEmulator;
let integrityFile: string;
let tcp: string;
const tpmArgs = () => ['--tpm', sw.tcti];

async function mastr(args: string[], env: Record<string, string> = {}) {
  const c = captureIo(env);
  const code = await runMastr([...args, ...tpmArgs()], c.io);
  return { code, ...c };
}

beforeAll(async () => {
  sw = await startSwtpm();
  dir = mkdtempSync(join(tmpdir(), 'noderr-mastr-e2e-'));
  integrityFile = join(dir, 'vmlinuz');
  writeFileSync(integrityFile, 'a kernel image stand-in\n');
  emu = await TokenEmulator.start({
    serial: { host: '127.0.0.1', port: 0 },
    http: { host: '127.0.0.1', port: 0 },
    stateFile: join(dir, 'token.json'),
    timings: scaleTokenTimings(FIRMWARE_TOKEN_TIMINGS, TOKEN_SCALE),
    httpTaskMs: 20,
  });
  tcp = `tcp:127.0.0.1:${emu.serialAddress.port}`;
}, 60_000);

afterAll(async () => {
  await emu?.stop();
  await sw?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const url = () => `http://127.0.0.1:${emu.httpAddress?.port}`;
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

async function bootstrap(extra: string[] = []) {
  return mastr([
    'bootstrap',
    '--port',
    tcp,
    '--integrity-file',
    integrityFile,
    '--handoff',
    join(dir, 'handoff.json'),
    ...HOST,
    '--json',
    ...extra,
  ]);
}

async function startGuard(port: string, shutdownReasons: string[], signal: AbortSignal) {
  const c = captureIo();
  const exit = guardCommand(
    [
      '--port',
      port,
      '--handoff',
      join(dir, 'handoff.json'),
      '--integrity-file',
      integrityFile,
      '--reattest-period',
      '3',
      ...HOST,
      '--json',
      ...tpmArgs(),
    ],
    { io: c.io, signal },
    async (reason) => {
      shutdownReasons.push(reason);
    },
  );
  const events = () => c.lines().map((l) => String(l.event ?? (l.ok === false ? 'failure' : 'result')));
  return { exit, c, events };
}

describe('provisioning: host key in the TPM, token over its HTTP API', () => {
  let firstKey = '';

  it('status reports both keys missing on a fresh TPM', async () => {
    const r = await mastr(['provision', '--json']);
    expect(r.code).toBe(0);
    expect(r.last()).toMatchObject({ ok: true, hostKey: null, tokenPubkey: null });
  });

  it('--regenerate makes a key at 0x81000080, and again a different one', async () => {
    const a = await mastr(['provision', '--regenerate']);
    expect(a.code).toBe(0);
    firstKey = /\n([0-9a-f]{128})\n/.exec(a.out())?.[1] ?? '';
    expect(firstKey).toMatch(/^[0-9a-f]{128}$/);
    const b = await mastr(['provision', '--regenerate', '--json']);
    expect(b.code).toBe(0);
    const second = String(b.last().hostPubkey);
    expect(second).toMatch(/^[0-9a-f]{128}$/);
    expect(second).not.toBe(firstKey);
    const show = await mastr(['provision', '--show-pubkey']);
    expect(show.out().trim()).toBe(second);
    // tpm2-tools sees the persistent ECC signing key with the seed's attributes.
    const rp = await tpm2(sw.tcti, 'tpm2_readpublic', ['-c', '0x81000080']);
    expect(rp.stdout).toMatch(/type:\s+\n?\s*value: ecc/);
    expect(rp.stdout).toMatch(/fixedtpm\|fixedparent\|sensitivedataorigin\|userwithauth\|sign/);
  });

  it('--verify fails while the token key is not stored', async () => {
    const r = await mastr(['provision', '--verify']);
    expect(r.code).toBe(1);
    expect(r.err()).toContain('✓ Host keypair exists (TPM2 0x81000080)');
    expect(r.err()).toContain('✗ Token pubkey missing (TPM2 NV 0x01000080)');
  });

  it('token-provision on an unclaimed token asks for --claim, then claims it', async () => {
    const noClaim = await mastr(['token-provision', '--url', url(), '--golden-hash', sha256('x')]);
    expect(noClaim.code).toBe(5);
    expect(noClaim.err()).toContain(
      'HTTP_REJECTED: the token is unclaimed (open AP): run again with --claim',
    );
    const r = await mastr(['token-provision', '--url', url(), '--claim', '--json']);
    expect(r.code).toBe(0);
    expect(r.last()).toMatchObject({ ok: true, stage: 'claimed', ssid: 'MASTR-Token' });
    expect(String(r.last().psk)).toMatch(/^[A-Za-z0-9]{16}$/);
    await sleep(60); // the PSK write is queued on the token
    await emu.powerCycle();
    expect(emu.api?.bootState).toBe('S2');
  });

  it('token-provision writes host key and golden hash, and stores the token key in the TPM', async () => {
    const golden = sha256('a kernel image stand-in\n');
    const r = await mastr([
      'token-provision',
      '--url',
      url(),
      '--file',
      integrityFile,
      '--store-token-pubkey',
      '--poll-ms',
      '20',
      '--json',
    ]);
    expect(r.code).toBe(0);
    const hostPub = (await mastr(['provision', '--show-pubkey'])).out().trim();
    expect(r.last()).toMatchObject({
      ok: true,
      stage: 'provisioned',
      hostPub,
      goldenHash: golden,
      tokenPub: Buffer.from(emu.atecc.tokenPub).toString('hex'),
      tokenPubkeyStored: true,
    });
    expect(Buffer.from(emu.atecc.hostPub).toString('hex')).toBe(hostPub);
    expect(Buffer.from(emu.atecc.block(2)).toString('hex')).toBe(golden);
    // Owner-range index with the seed's attributes; the RSA EK certificate at 0x01c00002 is untouched.
    const nv = await tpm2(sw.tcti, 'tpm2_nvreadpublic', ['0x01000080']);
    expect(nv.stdout).toMatch(/friendly: ownerwrite\|ownerread\|authread/);
    expect(nv.stdout).toMatch(/size: 64/);
    const ek = await tpm2(sw.tcti, 'tpm2_nvreadpublic', ['0x01c00002']);
    expect(ek.stdout).toMatch(/size: (\d{3,4})/);
    const shown = await mastr(['provision', '--show-token-pubkey']);
    expect(shown.out().trim()).toBe(Buffer.from(emu.atecc.tokenPub).toString('hex'));
  });

  it('a second generate-token in the same token boot needs the saved bearer', async () => {
    const r = await mastr([
      'token-provision',
      '--url',
      url(),
      '--golden-hash',
      sha256('x'),
      '--host-pubkey',
      '00'.repeat(64),
    ]);
    expect(r.code).toBe(5);
    expect(r.err()).toContain('the token already issued its bearer token this boot: pass --bearer HEX');
  });

  it('--legacy-nv-index reads 0x01c00002 and reports the EK certificate there, not a token key', async () => {
    const r = await mastr(['provision', '--show-token-pubkey', '--legacy-nv-index']);
    expect(r.code).toBe(3);
    expect(r.err()).toMatch(
      /TOKEN_PUBKEY_MISSING: NV index 0x01c00002 holds \d+ bytes, not a 64-byte token key \(probably the TPM’s RSA EK certificate\)/,
    );
  });

  it('--verify prints the seed guide’s lines', async () => {
    const r = await mastr(['provision', '--verify']);
    expect(r.code).toBe(0);
    expect(r.out()).toContain('✓ Host keypair exists (TPM2 0x81000080)');
    expect(r.out()).toContain('✓ Token pubkey stored (TPM2 NV 0x01000080)');
    expect(r.out()).toContain('Provisioning Complete!');
  });
});

describe('boot gate and runtime guard against the emulated token', () => {
  it('bootstrap succeeds after the token is power-cycled, and hands the session key over 0600', async () => {
    await emu.powerCycle();
    expect(emu.firmware.state).toBe(TOKEN_STATE.WAIT_ECDH);
    const r = await bootstrap();
    expect(r.code, r.out()).toBe(0);
    expect(r.last()).toMatchObject({ ok: true, boot: true });
    expect(emu.firmware.state).toBe(TOKEN_STATE.RUNTIME);
    expect(statSync(join(dir, 'handoff.json')).mode & 0o777).toBe(0o600);
  });

  it('guard survives two token-initiated re-attestations', async () => {
    const ac = new AbortController();
    const reasons: string[] = [];
    const g = await startGuard(tcp, reasons, ac.signal);
    await waitFor(
      () => g.events().filter((e) => e === 'reattested').length >= 2,
      20_000,
      'two re-attestations',
    );
    expect(emu.firmware.stats.reattestations).toBeGreaterThanOrEqual(2);
    await sleep(1200); // at least one heartbeat under the newest key
    ac.abort();
    expect(await g.exit).toBe(0);
    expect(reasons).toEqual([]);
    const ev = g.events();
    expect(ev.filter((e) => e === 'heartbeat-ack').length).toBeGreaterThanOrEqual(3);
    expect(ev.lastIndexOf('heartbeat-ack')).toBeGreaterThan(ev.lastIndexOf('reattested'));
    expect(ev).not.toContain('token-lost');
  }, 30_000);

  it('a corrupted frame on the link does not shut the host down', async () => {
    await emu.powerCycle();
    expect((await bootstrap()).code).toBe(0);
    const proxy = new LinkProxy(emu.serialAddress);
    await proxy.listen();
    let corrupted = false;
    proxy.hostToToken = (body, i) => {
      if (i !== 1) return body; // the second heartbeat
      const out = body.slice();
      out[20]! ^= 0x01; // inside the GCM ciphertext
      corrupted = true;
      return out;
    };
    const ac = new AbortController();
    const reasons: string[] = [];
    const g = await startGuard(`tcp:127.0.0.1:${proxy.port}`, reasons, ac.signal);
    await waitFor(() => g.events().includes('token-rejected-frame'), 10_000, 'the token’s single 0x33');
    const at = g.events().length;
    await waitFor(
      () =>
        g
          .events()
          .slice(at)
          .filter((e) => e === 'heartbeat-ack').length >= 2,
      10_000,
      'two more ACKs',
    );
    ac.abort();
    expect(await g.exit).toBe(0);
    expect(corrupted).toBe(true);
    expect(emu.firmware.stats.failHaltOnce).toBe(1);
    expect(emu.firmware.state).toBe(TOKEN_STATE.RUNTIME);
    expect(reasons).toEqual([]);
    await proxy.close();
  }, 30_000);

  it('a replayed heartbeat ACK does not keep the guard alive after the token disappears', async () => {
    await emu.powerCycle();
    expect((await bootstrap()).code).toBe(0);
    const proxy = new LinkProxy(emu.serialAddress);
    await proxy.listen();
    const ac = new AbortController();
    const reasons: string[] = [];
    const started = Date.now();
    const g = await startGuard(`tcp:127.0.0.1:${proxy.port}`, reasons, ac.signal);
    await waitFor(() => g.events().includes('heartbeat-ack'), 10_000, 'a real ACK');
    // The attacker picks out the ACK (test oracle: the token's key; on a real link: 32-byte frame, 500 ms after a heartbeat).
    const key = emu.firmware.currentKey!;
    const ack = proxy.tokenFrames.find(
      (f) => decodeInnerFrame(decryptFrameBody(key, f)).type === MSG.T2H_HEARTBEAT_ACK,
    );
    expect(ack).toBeDefined();
    proxy.startReplay(ack!);
    const acksBefore = g.events().filter((e) => e === 'heartbeat-ack').length;
    const code = await g.exit;
    expect(code).toBe(1);
    const ev = g.events();
    expect(ev.filter((e) => e === 'heartbeat-ack').length).toBeGreaterThan(acksBefore + 1); // the replay was accepted…
    expect(ev).not.toContain('heartbeat-missed'); // …so heartbeats alone would never notice
    const lost = g.c.lines().find((l) => l.event === 'token-lost');
    expect(lost).toMatchObject({ code: 'TOKEN_GONE', shutdown: true });
    expect(String(lost?.reason)).toMatch(
      /^no re-attestation for \d+ ms \(the token re-attests every 3000 ms; limit 6000 ms\)/,
    );
    expect(reasons).toHaveLength(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(5000);
    await proxy.close();
  }, 30_000);

  it('a wrong golden hash halts the boot, and the token then streams 0x33', async () => {
    await emu.powerCycle();
    writeFileSync(integrityFile, 'a tampered kernel\n');
    const r = await bootstrap();
    writeFileSync(integrityFile, 'a kernel image stand-in\n');
    expect(r.code).toBe(1);
    expect(r.last()).toMatchObject({ ok: false, error: { code: 'TOKEN_HALTED' }, exitCode: 1 });
    expect(String((r.last().error as { message: string }).message)).toContain(
      'it rejected the integrity response',
    );
    expect(emu.firmware.state).toBe(TOKEN_STATE.HALT);
    const key = emu.firmware.currentKey!;
    const raw = await rawLink(emu.serialAddress.port);
    await sleep(450); // halt period 100 ms
    raw.socket.destroy();
    expect(raw.frames.length).toBeGreaterThanOrEqual(3);
    for (const f of raw.frames)
      expect(decodeInnerFrame(decryptFrameBody(key, f))).toEqual({ type: 0x33, payload: new Uint8Array(0) });
    // Halted for good: a fresh bootstrap gets nowhere until a power cycle.
    const again = await bootstrap();
    expect(again.code).toBe(1);
    expect(['TOKEN_HALTED', 'TOKEN_FAIL_HALT', 'FRAME_DECRYPT_FAILED', 'TIMEOUT']).toContain(
      (again.last().error as { code: string }).code,
    );
  }, 30_000);

  it('bootstrap refuses a DEBUG firmware’s DEBUG_MSG frames by default, tolerates them on request', async () => {
    await emu.stop();
    emu = await TokenEmulator.start({
      serial: { host: '127.0.0.1', port: 0 },
      stateFile: join(dir, 'token.json'),
      timings: scaleTokenTimings(FIRMWARE_TOKEN_TIMINGS, TOKEN_SCALE),
      debugBuild: true,
    });
    tcp = `tcp:127.0.0.1:${emu.serialAddress.port}`;
    const refused = await bootstrap();
    expect(refused.code).toBe(1);
    expect(refused.last()).toMatchObject({ ok: false, error: { code: 'DEBUG_FRAME_REFUSED' } });
    await emu.powerCycle();
    const tolerated = await bootstrap(['--debug-frames', 'tolerate']);
    expect(tolerated.code, tolerated.out()).toBe(0);
    expect(tolerated.lines().some((l) => l.event === 'token-debug')).toBe(true);
  }, 30_000);
});
