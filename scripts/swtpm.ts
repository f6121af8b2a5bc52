/**
 * `npm run swtpm`: a software TPM for trying the stack by hand — swtpm with EK certificates from a
 * private local CA, on a free port. Prints the TCTI for tpm2-tools, the agent and the installer, and
 * writes the CA certificates to .local/swtpm/ so they can be added as EK trust anchors. Ctrl-C stops it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSwtpm } from './lib/swtpm.ts';

const dir = join(new URL('..', import.meta.url).pathname, '.local', 'swtpm');
mkdirSync(dir, { recursive: true });
const tpm = await startSwtpm({ ekCerts: true });
writeFileSync(join(dir, 'ca-root.pem'), tpm.caRootPem);
writeFileSync(join(dir, 'ca-issuer.pem'), tpm.caIssuerPem);
writeFileSync(join(dir, 'tcti'), `${tpm.tcti}\n`);
console.log(`swtpm is running
  TCTI         ${tpm.tcti}   (also in .local/swtpm/tcti)
  EK CA        .local/swtpm/ca-root.pem and .local/swtpm/ca-issuer.pem
Ctrl-C stops it (its state is discarded).`);
const stop = async () => {
  await tpm.stop();
  process.exit(0);
};
process.on('SIGINT', () => void stop());
process.on('SIGTERM', () => void stop());
setInterval(() => {}, 1 << 30);
