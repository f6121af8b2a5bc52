/**
 * Sums every suite's results into the one line CI reads: `N passed, N failed`.
 * Inputs in .test-results/: vitest.json (vitest's JSON reporter), *.tap (bats), checks.txt
 * (one `ok <name>` / `not ok <name>` line per extra check such as lint and typecheck, from .ci/run).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const DIR = '.test-results';
let passed = 0;
let failed = 0;

const vitestFile = join(DIR, 'vitest.json');
if (existsSync(vitestFile)) {
  const r = JSON.parse(readFileSync(vitestFile, 'utf8')) as {
    numPassedTests: number;
    numFailedTests: number;
    numPendingTests: number;
    numTodoTests: number;
    numFailedTestSuites: number;
  };
  passed += r.numPassedTests;
  // A file that fails to load has no failed tests but must not pass silently; nor may skips.
  failed +=
    r.numFailedTests +
    r.numPendingTests +
    r.numTodoTests +
    (r.numFailedTests === 0 ? r.numFailedTestSuites : 0);
} else {
  console.error('no vitest results (.test-results/vitest.json): counted as one failure');
  failed += 1;
}

for (const f of existsSync(DIR) ? readdirSync(DIR) : []) {
  if (!f.endsWith('.tap') && f !== 'checks.txt') continue;
  for (const line of readFileSync(join(DIR, f), 'utf8').split('\n')) {
    if (/^not ok\b/.test(line)) failed++;
    else if (/^ok\b/.test(line)) {
      if (/#\s*skip/i.test(line)) failed++;
      else passed++;
    }
  }
}

console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
