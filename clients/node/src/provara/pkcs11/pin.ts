import { readFile } from 'node:fs/promises';
import { ProvaraError } from '../../../../../shared/provara/errors.ts';

/**
 * Where a PKCS#11 user PIN comes from, in the order a PKCS#11 user expects: an explicit PIN file, the
 * environment (`NODERR_PKCS11_PIN`, for automation), the token's own PIN pad (the PIN never reaches this
 * process), or a prompt on the terminal. Never a command-line argument: other users can read `ps`.
 */
export type PinSource =
  | { kind: 'file'; path: string }
  | { kind: 'env'; value: string }
  | { kind: 'pinpad' }
  | { kind: 'prompt'; ask: (question: string) => Promise<string> };

export async function resolvePin(
  source: PinSource | undefined,
  tokenHasPinPad: boolean,
): Promise<string | undefined> {
  if (tokenHasPinPad && (!source || source.kind === 'pinpad')) return undefined;
  if (!source)
    throw new ProvaraError(
      'PIN_REQUIRED',
      'the token needs a PIN: set NODERR_PKCS11_PIN, --pin-file, or run on a terminal',
    );
  switch (source.kind) {
    case 'file':
      return (await readFile(source.path, 'utf8')).replace(/\r?\n$/, '');
    case 'env':
      return source.value;
    case 'pinpad':
      throw new ProvaraError('PIN_REQUIRED', 'the token has no PIN pad; give the PIN another way');
    case 'prompt':
      return source.ask('PKCS#11 user PIN: ');
  }
}
