import { importSPKI } from 'jose';
import { nodeKeyThumbprint } from './node-sessions.ts';

/** RFC 7638 thumbprint of a node key given as SPKI PEM (the session's `cnf.jkt`). */
export async function nodeKeyJkt(publicKeyPem: string): Promise<string> {
  const key = await importSPKI(publicKeyPem, 'ES256', { extractable: true });
  return nodeKeyThumbprint(key as CryptoKey);
}
