import { describe, expect, it } from 'vitest';
import { runCli } from './testing.ts';

describe('tpm2 CLI dispatch', () => {
  it('--help lists every command and the exit statuses, exit 0', async () => {
    const out = await runCli(['--help']);
    expect(out.status).toBe(0);
    for (const c of ['verify-quote', 'verify-certify', 'make-credential', 'verify-ek-cert']) {
      expect(out.stdout).toContain(`  ${c}`);
    }
    expect(out.stdout).toMatch(/Exit status: 0 ok, 1 rejected .*, 2 usage error, 3 internal error/);
  });

  it('no command: USAGE, exit 2', async () => {
    const out = await runCli([]);
    expect(out.status).toBe(2);
    expect(out.json).toMatchObject({
      ok: false,
      reason: 'USAGE',
      message: expect.stringMatching(/^no command given/),
    });
  });

  it('unknown command: USAGE naming the known commands, exit 2', async () => {
    const out = await runCli(['verify-everything']);
    expect(out.status).toBe(2);
    expect(out.json).toMatchObject({ ok: false, reason: 'USAGE' });
    expect(String(out.json?.message)).toMatch(
      /unknown command 'verify-everything'; commands: verify-quote, /,
    );
  });

  it('an option without its value: USAGE, exit 2', async () => {
    const out = await runCli(['verify-quote', '--ak']);
    expect(out.status).toBe(2);
    expect(out.json).toMatchObject({ ok: false, reason: 'USAGE', message: expect.stringMatching(/--ak/) });
  });
});
