import type { Signer } from '../signature-proof.ts';
import { ephemeralSigner } from '../software-signer.ts';
import { Vault } from '../vault.ts';
import { MemoryVaultFiles } from '../vault-files.ts';

/** A fresh in-memory vault with a software root key, for tests and benches. */
export async function memoryVault(): Promise<{ files: MemoryVaultFiles; vault: Vault; root: Signer }> {
  const files = new MemoryVaultFiles();
  const root = await ephemeralSigner();
  const vault = await Vault.init(files, { signer: root, uid: 'test-vault-0001' });
  return { files, vault, root };
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** The event lines of events.ndjson (without the trailing newline). */
export function eventLines(files: MemoryVaultFiles): string[] {
  return dec.decode(files.files.get('events/events.ndjson')).trimEnd().split('\n');
}

export function setEventLines(files: MemoryVaultFiles, lines: string[]): void {
  files.files.set('events/events.ndjson', enc.encode(`${lines.join('\n')}\n`));
}
