import { describe, expect, it } from 'vitest';
import { generateAuditSigningKey, generateSigningKeySet } from '../../../scripts/lib/dev-secrets.ts';
import { ConfigError, loadConfig } from '../../src/config.ts';

const base = async () => ({
  JWT_ISSUER: 'https://noderr.example',
  NODE_JWT_KEYS: await generateSigningKeySet(),
  SUPABASE_JWT_SECRET: 'x'.repeat(40),
  // Required in production (the default ENVIRONMENT) since the signed audit log (issue 12).
  AUDIT_SIGNING_KEY: generateAuditSigningKey(),
});

describe('Worker configuration', () => {
  it('accepts a complete configuration and applies the documented defaults', async () => {
    const config = loadConfig({ ...(await base()), DAPP_ORIGINS: 'https://a.example, https://b.example' });
    expect(config.STORAGE).toBe('postgres');
    expect(config.HEARTBEAT_WRITE_INTERVAL_SECONDS).toBe(300);
    expect(config.dappOrigins).toEqual(['https://a.example', 'https://b.example']);
  });

  it('fails loudly without signing keys, naming the setting but not any value', async () => {
    const { NODE_JWT_KEYS: _k, ...rest } = await base();
    expect(() => loadConfig(rest)).toThrow(ConfigError);
    expect(() => loadConfig(rest)).toThrow(/NODE_JWT_KEYS/);
  });

  it('refuses signing keys that are not ES256 private JWKs without echoing them', async () => {
    const env = {
      ...(await base()),
      NODE_JWT_KEYS: JSON.stringify({ keys: [{ kty: 'oct', k: 'c2VjcmV0LXZhbHVl' }] }),
    };
    let message = '';
    try {
      loadConfig(env);
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/NODE_JWT_KEYS/);
    expect(message).not.toContain('c2VjcmV0LXZhbHVl');
  });

  it('requires AUDIT_SIGNING_KEY in production but not in development, naming it without a value', async () => {
    const { AUDIT_SIGNING_KEY: _a, ...rest } = await base();
    expect(() => loadConfig(rest)).toThrow(/AUDIT_SIGNING_KEY/);
    expect(loadConfig({ ...rest, ENVIRONMENT: 'development' }).AUDIT_SIGNING_KEY).toBeUndefined();
    let message = '';
    try {
      loadConfig({ ...rest, AUDIT_SIGNING_KEY: 'not-a-seed' });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/AUDIT_SIGNING_KEY/);
    expect(message).not.toContain('not-a-seed');
  });

  it('defaults the approval quorum to 2 and the WebAuthn rp id to the first dApp origin host', async () => {
    const config = loadConfig({
      ...(await base()),
      DAPP_ORIGINS: 'https://admin.example:8443,https://b.example',
    });
    expect(config.ADMIN_APPROVAL_THRESHOLD).toBe(2);
    expect(config.webauthnRpId).toBe('admin.example');
  });

  it('requires a way to verify admin tokens', async () => {
    const { SUPABASE_JWT_SECRET: _s, ...rest } = await base();
    expect(() => loadConfig(rest)).toThrow(/SUPABASE_URL.*SUPABASE_JWT_SECRET/);
  });

  it('requires the service-role key when STORAGE=supabase', async () => {
    const env = { ...(await base()), STORAGE: 'supabase', SUPABASE_URL: 'https://p.supabase.co' };
    expect(() => loadConfig(env)).toThrow(/SUPABASE_SERVICE_ROLE_KEY/);
    expect(loadConfig({ ...env, SUPABASE_SERVICE_ROLE_KEY: 'service-role' }).STORAGE).toBe('supabase');
  });
});
