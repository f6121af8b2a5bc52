import { describe, expect, it } from 'vitest';
import linuxInstaller from '../../../installers/linux/install.sh';
import { withDefaultApiUrl } from '../../src/routes/installers.ts';
import { call } from './helpers.ts';

describe('GET /install/linux', () => {
  it('serves the repository installer with the serving origin as its default API URL', async () => {
    const res = await call('GET', '/install/linux');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/x-shellscript/);
    const served = String(res.body);
    expect(served).toContain('NODERR_DEFAULT_API_URL="https://api.test"');
    // Everything else is the file in the repository, byte for byte.
    expect(served.replace('NODERR_DEFAULT_API_URL="https://api.test"', 'X')).toBe(
      linuxInstaller.replace(/NODERR_DEFAULT_API_URL="[^"]*"/, 'X'),
    );
    const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(served));
    const hex = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('');
    expect(res.headers.get('x-content-sha256')).toBe(hex);
  });

  it('refuses to embed an origin that could break out of the shell string', () => {
    expect(() => withDefaultApiUrl(linuxInstaller, 'https://x";rm -rf /;"')).toThrow();
  });
});

describe('GET /install/windows.ps1', () => {
  it('serves the repository PowerShell installer with the serving origin as its default API URL', async () => {
    const { default: windowsInstaller } = await import('../../../installers/windows/install.ps1');
    const res = await call('GET', '/install/windows.ps1');
    expect(res.status).toBe(200);
    const served = String(res.body);
    expect(served).toContain("$NoderrDefaultApiUrl = 'https://api.test'");
    expect(served.replace("$NoderrDefaultApiUrl = 'https://api.test'", 'X')).toBe(
      windowsInstaller.replace(/\$NoderrDefaultApiUrl = '[^']*'/, 'X'),
    );
    expect(res.headers.get('x-content-sha256')).toMatch(/^[0-9a-f]{64}$/);
  });
});
