#!/usr/bin/env bash
# The whole test suite, as the README's test command runs it: installs the Debian packages the
# tests drive when they are missing, builds, runs every test, and ends with one summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
[[ -d node_modules ]] || npm ci
npm run --silent build
results=$(mktemp)
trap 'rm -f "$results"' EXIT
status=0
npx vitest run --reporter=default --reporter=json --outputFile.json="$results" "$@" || status=$?
node -e '
  const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const skipped = r.numPendingTests + r.numTodoTests;
  console.log(`tests: ${r.numPassedTests} passed, ${r.numFailedTests} failed` + (skipped ? `, ${skipped} skipped` : ""));
' "$results" || echo "tests: no results (vitest exit $status)"
# a whole run (no test files named) rewrites docs/reliability.md from its results
if [[ $# -eq 0 && -s "$results" ]]; then node scripts/reliability.mjs "$results"; fi
exit "$status"
