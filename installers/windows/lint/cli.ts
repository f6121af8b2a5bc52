import { readFileSync } from 'node:fs';
import { lintPowerShell } from './ps-lint.ts';

/** `npx tsx installers/windows/lint/cli.ts [file.ps1 …]`: prints findings, exits 1 when there are any. */
const files = process.argv.slice(2);
if (files.length === 0) files.push(new URL('../install.ps1', import.meta.url).pathname);
let total = 0;
for (const file of files) {
  for (const f of await lintPowerShell(readFileSync(file, 'utf8'))) {
    total++;
    process.stdout.write(`${file}:${f.line}: [${f.rule}] ${f.message}\n`);
  }
}
process.stdout.write(`${total} finding(s) in ${files.length} file(s)\n`);
process.exit(total > 0 ? 1 : 0);
