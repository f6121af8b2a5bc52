import { defaultIntegrityFile, hashIntegrityFile } from '../integrity.ts';
import { toHex } from '../p256.ts';
import { type MastrCommandContext, parse, result, usage } from './common.ts';

/** `golden-hash [--file PATH]`: SHA-256 of the integrity file as 64 hex, to paste into the token. */
export async function goldenHashCommand(args: string[], ctx: MastrCommandContext): Promise<number> {
  const { values, positionals } = parse(args, { file: { type: 'string' } });
  if (positionals.length) throw usage('golden-hash takes no arguments');
  const file = values.file ?? defaultIntegrityFile();
  const hash = toHex(hashIntegrityFile(file));
  result(ctx.io, values.json === true, { file, goldenHash: hash }, hash);
  return 0;
}
