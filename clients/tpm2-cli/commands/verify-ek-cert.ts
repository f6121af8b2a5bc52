import type { Command } from '../command.ts';
import { UsageError } from '../io.ts';

// PLACEHOLDER until shared/tpm2/ek-certificate.ts lands.
export const verifyEkCertCommand: Command = {
  name: 'verify-ek-cert',
  summary: 'verify an EK certificate against the manufacturer roots',
  help: 'Usage: tpm2 verify-ek-cert --cert FILE [--ek FILE] [--anchors PEMFILE]\n',
  options: { cert: { type: 'string' }, ek: { type: 'string' }, anchors: { type: 'string' } },
  async execute() {
    throw new UsageError('not yet available');
  },
};
