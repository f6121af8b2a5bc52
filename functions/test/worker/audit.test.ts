import { SELF } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { fromBase64 } from '../../../shared/encoding/bytes.ts';
import { ed25519Verify } from '../../../shared/provara/ed25519.ts';
import { EVENTS_PATH } from '../../../shared/provara/event-log.ts';
import { parseJson } from '../../../shared/provara/json-parse.ts';
import type { JsonObject } from '../../../shared/provara/json-value.ts';
import { keyIdFromPublicKey } from '../../../shared/provara/key-id.ts';
import { writeManifest } from '../../../shared/provara/manifest.ts';
import { signaturePreimage } from '../../../shared/provara/signed-object.ts';
import { MemoryVaultFiles } from '../../../shared/provara/vault-files.ts';
import { verifyVault } from '../../../shared/provara/verify.ts';
import { readTar } from '../../src/services/tar.ts';
import { admin, BASE, call, dashboardSql, errorOf, issueToken, supabaseToken } from './helpers.ts';

interface Exported {
  files: MemoryVaultFiles;
  headers: Headers;
  lines: string[];
}

async function exportVault(): Promise<Exported> {
  const res = await SELF.fetch(`${BASE}/api/v1/admin/audit/export`, {
    headers: { authorization: `Bearer ${await supabaseToken()}` },
  });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/x-tar');
  const files = new MemoryVaultFiles();
  for (const e of readTar(new Uint8Array(await res.arrayBuffer()))) {
    if (e.data) await files.write(e.path, e.data);
    else await files.mkdir(e.path);
  }
  const text = new TextDecoder().decode(await files.read(EVENTS_PATH));
  return { files, headers: res.headers, lines: text.split('\n').filter(Boolean) };
}

const payloadOf = (line: string) => JSON.parse(line).payload as Record<string, unknown>;

async function withLines(
  files: MemoryVaultFiles,
  lines: string[],
  regenerateManifest: boolean,
): Promise<MemoryVaultFiles> {
  const copy = new MemoryVaultFiles();
  for (const [p, d] of files.files) await copy.write(p, d);
  for (const d of files.dirs) await copy.mkdir(d);
  await copy.write(EVENTS_PATH, new TextEncoder().encode(lines.map((l) => `${l}\n`).join('')));
  // An attacker who rewrites the log can also rewrite the manifest and root; only signatures, chains
  // and the pinned head are left to catch them.
  if (regenerateManifest) await writeManifest(copy, '2026-11-23T00:00:00.000000+00:00');
  return copy;
}

const codes = (r: Awaited<ReturnType<typeof verifyVault>>) => r.errors.map((e) => e.code);

describe('signed audit log', () => {
  it('refuses export and head without an admin token (UNAUTHORIZED)', async () => {
    for (const path of ['/api/v1/admin/audit/export', '/api/v1/admin/audit/head']) {
      const res = await call('GET', path);
      expect(res.status).toBe(401);
      expect(errorOf(res.body).code).toBe('UNAUTHORIZED');
    }
  });

  it('exports a vault that verifies, signed by the published service key, with the admin change in it', async () => {
    const { id } = await issueToken();
    const { files, headers, lines } = await exportVault();
    const report = await verifyVault(files);
    expect(report.errors).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.merkleRoot).toBe(headers.get('x-audit-merkle-root'));
    expect(report.eventCount).toBe(lines.length);
    expect(String(report.eventCount)).toBe(headers.get('x-audit-event-count'));
    const keys = JSON.parse(new TextDecoder().decode(await files.read('identity/keys.json'))) as {
      keys: { key_id: string; public_key_b64: string }[];
    };
    expect(keys.keys).toHaveLength(1);
    const key = keys.keys[0]!;
    expect(await keyIdFromPublicKey(fromBase64(key.public_key_b64)!)).toBe(key.key_id);
    expect(report.rootKeyId).toBe(key.key_id);
    expect(headers.get('x-audit-key-id')).toBe(key.key_id);
    const issued = lines.find(
      (l) => payloadOf(l).install_token_id === id && payloadOf(l).action === 'install_token.issued',
    );
    expect(issued).toBeDefined();
    const ev = JSON.parse(issued!) as Record<string, unknown>;
    expect(ev.type).toBe('com.noderr.trust.audit_event');
    expect(ev.actor).toBe(`admin_api:admin@noderr.test (00000000-0000-4000-8000-0000000000a1)`);
    expect(ev.actor_key_id).toBe(key.key_id);
  });

  it('signs a dashboard-style SQL status edit into the exported log', async () => {
    const { id } = await issueToken();
    await dashboardSql(
      (sql) => sql`update public.install_tokens set revoked_at = now() where id = ${id} returning id`,
    );
    const { files, lines } = await exportVault();
    const revoked = lines.find(
      (l) => payloadOf(l).install_token_id === id && payloadOf(l).action === 'install_token.revoked',
    );
    expect(revoked).toBeDefined();
    const p = payloadOf(revoked!);
    expect(p.source).toBe('dashboard');
    expect(p.old_status).toBe('active');
    expect(p.new_status).toBe('revoked');
    expect(JSON.parse(revoked!).actor).toBe(`dashboard:${p.db_role}`);
    expect((await verifyVault(files)).ok).toBe(true);
  });

  it('returns a signed head that matches the export and verifies under the published key', async () => {
    await issueToken();
    const res = await admin('GET', '/api/v1/admin/audit/head');
    expect(res.status).toBe(200);
    const { head, publicKeyB64 } = res.body as { head: Record<string, unknown>; publicKeyB64: string };
    const pub = fromBase64(publicKeyB64)!;
    expect(head.key_id).toBe(await keyIdFromPublicKey(pub));
    const obj = parseJson(JSON.stringify(head)) as JsonObject;
    expect(await ed25519Verify(pub, fromBase64(String(head.sig))!, signaturePreimage(obj))).toBe(true);
    // A forged count does not verify.
    obj.set('event_count', BigInt(Number(head.event_count) + 1));
    expect(await ed25519Verify(pub, fromBase64(String(head.sig))!, signaturePreimage(obj))).toBe(false);
    // Nothing changed in between (this test file's writes are folded already): the export extends the head.
    const { files, lines } = await exportVault();
    expect(lines.length).toBeGreaterThanOrEqual(Number(head.event_count));
    expect(lines.map((l) => JSON.parse(l).event_id)).toContain(head.last_event_id);
    expect((await verifyVault(files)).ok).toBe(true);
  });

  it('serves the lines after a position as NDJSON (since=N)', async () => {
    const before = await exportVault();
    await issueToken();
    const res = await SELF.fetch(`${BASE}/api/v1/admin/audit/export?since=${before.lines.length}`, {
      headers: { authorization: `Bearer ${await supabaseToken()}` },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-ndjson');
    const delta = (await res.text()).split('\n').filter(Boolean);
    expect(delta.length).toBeGreaterThanOrEqual(1);
    const all = [...before.lines, ...delta];
    expect(all.length).toBe(Number(res.headers.get('x-audit-event-count')));
    const rebuilt = await withLines(before.files, all, true);
    const report = await verifyVault(rebuilt);
    expect(report.ok).toBe(true);
    expect(report.merkleRoot).toBe(res.headers.get('x-audit-merkle-root'));
  });

  it('detects a modified event, even with the manifest recomputed', async () => {
    const { id } = await issueToken('GUARDIAN');
    const { files, lines } = await exportVault();
    const i = lines.findIndex((l) => payloadOf(l).install_token_id === id);
    expect(i).toBeGreaterThan(0);
    const tampered = [...lines];
    tampered[i] = lines[i]!.replace('"tier":"GUARDIAN"', '"tier":"ALL"');
    expect(tampered[i]).not.toBe(lines[i]);
    const naive = await verifyVault(await withLines(files, tampered, false));
    expect(codes(naive)).toContain('MANIFEST_HASH_MISMATCH');
    const careful = await verifyVault(await withLines(files, tampered, true));
    expect(careful.ok).toBe(false);
    expect(codes(careful)).toEqual(expect.arrayContaining(['EVENT_ID_MISMATCH', 'SIGNATURE_INVALID']));
  });

  it('detects a removed event: mid-chain by the chain, at the tail by the signed root', async () => {
    // Two events by the same actor (this admin), then cut the first.
    const a = await issueToken();
    const b = await issueToken();
    const { files, lines, headers } = await exportVault();
    const ia = lines.findIndex((l) => payloadOf(l).install_token_id === a.id);
    const ib = lines.findIndex((l) => payloadOf(l).install_token_id === b.id);
    expect(ia).toBeGreaterThan(0);
    expect(ib).toBeGreaterThan(ia);
    const midCut = await verifyVault(
      await withLines(
        files,
        lines.filter((_, k) => k !== ia),
        true,
      ),
    );
    expect(codes(midCut)).toContain('ORPHAN_CHAIN_REFERENCE');
    // The newest event has no successor to break; the root the service signed (manifest.sig, the head)
    // no longer matches, which the verifier reports and a pinned head exposes.
    const tailCut = await verifyVault(await withLines(files, lines.slice(0, -1), true));
    expect(tailCut.merkleRoot).not.toBe(headers.get('x-audit-merkle-root'));
    expect(tailCut.warnings.map((w) => w.code)).toContain('MANIFEST_SIG_STALE');
    const full = await verifyVault(files);
    expect(full.merkleRoot).toBe(headers.get('x-audit-merkle-root'));
    expect(full.warnings.map((w) => w.code)).not.toContain('MANIFEST_SIG_STALE');
  });

  it('detects reordered events of one actor', async () => {
    const a = await issueToken();
    const b = await issueToken();
    const { files, lines } = await exportVault();
    const ia = lines.findIndex((l) => payloadOf(l).install_token_id === a.id);
    const ib = lines.findIndex((l) => payloadOf(l).install_token_id === b.id);
    const swapped = [...lines];
    swapped[ia] = lines[ib]!;
    swapped[ib] = lines[ia]!;
    const report = await verifyVault(await withLines(files, swapped, true));
    expect(report.ok).toBe(false);
    expect(codes(report)).toContain('BROKEN_CAUSAL_CHAIN');
  });
});
