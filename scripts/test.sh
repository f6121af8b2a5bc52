#!/usr/bin/env bash
# npm test: the whole suite — vitest (projects unit, db, worker) and bats (installers).
# With arguments, runs only vitest with them: `npm test -- shared/tpm2/verify-quote.test.ts`.
# Results land in .test-results/; the last line is `N passed, N failed` over every suite.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
bash scripts/ensure-system-packages.sh || exit 1
mkdir -p .test-results
rm -f .test-results/*.json .test-results/*.tap .test-results/checks.txt

npx vitest run --reporter=default --reporter=json --outputFile.json=.test-results/vitest.json "$@"
status=$?

if [ $# -eq 0 ]; then
  mapfile -t suites < <(find installers -name '*.bats' -not -path '*/node_modules/*' | sort)
  if [ ${#suites[@]} -gt 0 ]; then
    bats --tap "${suites[@]}" | tee .test-results/bats.tap
    [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  fi
fi

npx tsx scripts/test-summary.ts || status=1
exit $status
