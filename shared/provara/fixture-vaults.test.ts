import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MemoryVaultFiles } from './vault-files.ts';
import { verifyVault } from './verify.ts';
import type { VerifyReason } from './verify-report.ts';

const VAULTS = '../shared/vectors/provara/vaults';

/** Loads a fixture directory into memory (the fixtures are read-only and git drops empty directories). */
function loadVault(name: string, extraDirs: string[] = []): MemoryVaultFiles {
  const files = new MemoryVaultFiles();
  const walk = (rel: string) => {
    for (const n of readdirSync(join(VAULTS, name, rel))) {
      const r = rel ? `${rel}/${n}` : n;
      if (statSync(join(VAULTS, name, r)).isDirectory()) {
        files.dirs.add(r);
        walk(r);
      } else files.files.set(r, new Uint8Array(readFileSync(join(VAULTS, name, r))));
    }
  };
  walk('');
  for (const d of extraDirs) files.dirs.add(d);
  return files;
}

const codes = (r: { errors: { code: VerifyReason }[] }) => r.errors.map((e) => e.code);

describe('upstream fixture vaults', () => {
  it('reference_backpack verifies, state hash 67ff6338…f5ac, stale manifest.sig only warned', async () => {
    const r = await verifyVault(loadVault('reference_backpack'));
    expect(r.errors).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.stateHash).toBe('67ff63382bb287bca5aece455fbab8daba6cd892b40908bd0295200dd7fef5ac');
    expect(r.eventIdVariants).toEqual({ A: 2, B: 0 });
    expect(r.warnings.map((w) => w.code)).toEqual(['MANIFEST_SIG_STALE']);
    expect(r.merkleRoot).toBe('adf472c6529d7c6e9fb99c49242896917d053dae4f50e7de477fcdf1f9097370');
  });

  it('Demo_Backpack verifies with its empty state/ and artifacts/cas/ restored, state hash 408a89a6…6cce', async () => {
    const r = await verifyVault(loadVault('Demo_Backpack', ['state', 'artifacts', 'artifacts/cas']));
    expect(r.errors).toEqual([]);
    expect(r.stateHash).toBe('408a89a6982562c1f7250d78dc85e9a4f4853f80c3012b6484a1d8294eac6cce');
    expect(r.signatures.ed25519).toBe(5);
    expect(r.warnings).toEqual([]);
  });

  it('Demo_Backpack as git stores it (no empty directories) fails the structure check only', async () => {
    const r = await verifyVault(loadVault('Demo_Backpack'));
    expect(new Set(codes(r))).toEqual(new Set(['VAULT_STRUCTURE_INVALID']));
  });

  it('Genesis_Vault_NEGATIVE fails: 7 of 8 actor chains, stale manifest; signatures valid; ids A×2 + B×11', async () => {
    const r = await verifyVault(loadVault('Genesis_Vault_NEGATIVE', ['state', 'artifacts', 'artifacts/cas']));
    expect(r.ok).toBe(false);
    expect(r.stateHash).toBe('fe69bbce2b0dcf0710ddd195612a48feb495ab45c700546d8459d90712788f21');
    expect(r.eventIdVariants).toEqual({ A: 2, B: 11 });
    expect(r.signatures.ed25519).toBe(13);
    expect(r.warnings.filter((w) => w.code === 'EVENT_ID_LEGACY_VARIANT_B')).toHaveLength(11);
    const chainActors = new Set(
      r.errors
        .filter((e) =>
          ['FIRST_EVENT_PREV_NOT_NULL', 'CROSS_ACTOR_CHAIN_REFERENCE', 'BROKEN_CAUSAL_CHAIN'].includes(
            e.code,
          ),
        )
        .map((e) => e.message.match(/actor (\S+)/)?.[1]),
    );
    expect(chainActors.size).toBe(7);
    expect(chainActors.has('Gemini_CRO')).toBe(false);
    expect(codes(r).filter((c) => c === 'MANIFEST_SIZE_MISMATCH')).toHaveLength(7);
    expect(codes(r).filter((c) => c === 'MANIFEST_HASH_MISMATCH')).toHaveLength(7);
    expect(new Set(codes(r))).toEqual(
      new Set([
        'FIRST_EVENT_PREV_NOT_NULL',
        'CROSS_ACTOR_CHAIN_REFERENCE',
        'MANIFEST_SIZE_MISMATCH',
        'MANIFEST_HASH_MISMATCH',
      ]),
    );
  });
});
