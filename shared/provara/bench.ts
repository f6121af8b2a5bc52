import { startSession } from './session.ts';
import type { Signer } from './signature-proof.ts';
import { ephemeralSigner } from './software-signer.ts';
import { type EventDraft, Vault } from './vault.ts';
import { MemoryVaultFiles } from './vault-files.ts';
import { verifyVault } from './verify.ts';

const draft = (i: number): EventDraft => ({
  type: 'OBSERVATION',
  actor: 'sensor',
  payload: { subject: `sensor-${i % 50}`, predicate: 'reading', value: i },
});

async function freshVault(root: Signer): Promise<Vault> {
  return Vault.init(new MemoryVaultFiles(), { signer: root, uid: 'bench' });
}

async function timeBatch(vault: Vault, signer: Signer, n: number): Promise<number> {
  const t0 = performance.now();
  await vault.appendBatch(
    Array.from({ length: n }, (_, i) => draft(i)),
    signer,
  );
  return n / ((performance.now() - t0) / 1000);
}

/**
 * `npm run bench` figures for Provara vaults (in memory, so the numbers are crypto + canonicalization):
 * events/s signed by a software Ed25519 key, through a session (one authority signature, then the session
 * key), and by any extra signers the caller passes (the agent passes a SoftHSM2 PKCS#11 token); events/s
 * verified, and the time to verify a whole 10,000-event vault.
 */
export async function benchProvara(
  options: { events?: number; extraSigners?: Record<string, { signer: Signer; events?: number }> } = {},
): Promise<Record<string, number>> {
  const n = options.events ?? 2000;
  const round = (x: number) => Math.round(x);
  const out: Record<string, number> = {};

  const root = await ephemeralSigner();
  out['software Ed25519: events signed /s'] = round(await timeBatch(await freshVault(root), root, n));

  const sv = await freshVault(root);
  const t0 = performance.now();
  const session = await startSession(sv, root, {
    types: ['OBSERVATION'],
    actors: ['sensor'],
    ttlSeconds: 3600,
    maxEvents: n,
  });
  await sv.appendBatch(
    Array.from({ length: n }, (_, i) => draft(i)),
    session.signer,
  );
  out['session path (grant + batch): events signed /s'] = round(n / ((performance.now() - t0) / 1000));

  for (const [name, { signer, events }] of Object.entries(options.extraSigners ?? {})) {
    const v = await Vault.init(new MemoryVaultFiles(), { signer, uid: 'bench' });
    out[`${name}: events signed /s`] = round(await timeBatch(v, signer, events ?? 200));
  }

  const files = new MemoryVaultFiles();
  const big = await Vault.init(files, { signer: root, uid: 'bench-10k' });
  await big.appendBatch(
    Array.from({ length: 10_000 - 2 }, (_, i) => draft(i)),
    root,
  );
  await big.flush();
  const v0 = performance.now();
  const report = await verifyVault(files);
  const ms = performance.now() - v0;
  if (!report.ok) throw new Error(`bench vault does not verify: ${report.errors[0]?.code}`);
  out['verify 10,000-event vault: ms'] = round(ms);
  out['verify: events /s'] = round(10_000 / (ms / 1000));
  return out;
}
