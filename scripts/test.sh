#!/usr/bin/env bash
# The whole test suite, as the README's test command runs it: installs the Debian packages the
# tests drive when they are missing, builds, runs every test, and ends with one summary line.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-system-deps.sh
[[ -d node_modules ]] || npm ci
npm run --silent build
# the container image from the Dockerfile (its base made once and kept), and the reflector host
# with the systemd unit: before the tests, so that their builds do not load the machine while
# they run; container.test.ts and systemd.test.ts find them cached
if [[ $# -eq 0 ]]; then
  echo "building the container images (scripts/container-image.sh, test/fixtures/systemd-host)" >&2
  buildlog=$(mktemp)
  { bash scripts/container-image.sh && bash test/fixtures/systemd-host/build.sh; } >/dev/null 2>"$buildlog" ||
    { tail -40 "$buildlog" >&2; rm -f "$buildlog"; exit 1; }
  rm -f "$buildlog"
fi
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
