/**
 * Starts a real swtpm (scripts/lib/swtpm.ts) for the bats tests and shell experiments, prints one JSON
 * line `{"tcti", "port", "ctrlPort", "caRootPem", "caIssuerPem"}` and keeps it running until SIGTERM/SIGINT
 * or until stdin closes; then stops it and removes its files.
 *
 *   npx tsx installers/linux/test/helpers/swtpm-session.ts [--no-ek-certs]
 */
import { startSwtpm } from '../../../../scripts/lib/swtpm.ts';

const tpm = await startSwtpm({ ekCerts: !process.argv.includes('--no-ek-certs') });
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await tpm.stop();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();
process.stdout.write(
  `${JSON.stringify({ tcti: tpm.tcti, port: tpm.port, ctrlPort: tpm.ctrlPort, caRootPem: tpm.caRootPem, caIssuerPem: tpm.caIssuerPem })}\n`,
);
