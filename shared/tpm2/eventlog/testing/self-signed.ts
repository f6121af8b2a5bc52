import 'reflect-metadata';
import { X509CertificateGenerator } from '@peculiar/x509';

/** A throw-away self-signed P-256 certificate (DER) standing in for a PK/KEK/db certificate in tests. */
export async function selfSignedDer(cn: string): Promise<Uint8Array> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
  const keys = (await crypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
  const cert = await X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: `CN=${cn}`,
    notBefore: new Date('2026-01-01T00:00:00Z'),
    notAfter: new Date('2036-01-01T00:00:00Z'),
    keys,
    signingAlgorithm: alg,
  });
  return new Uint8Array(cert.rawData);
}
