#!/usr/bin/env bash
# Sets up everything the tests need (virtualenvs from the requirements files) and runs every test.
# Extra arguments go to pytest, e.g. ./scripts/test.sh -k cursor
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: ./scripts/test.sh [-h|--help] [PYTEST_ARGS...]
Creates .venv (app + test requirements), .venv-tools (SAM CLI, cfn-lint, shellcheck, AWS CLI)
and .venv-checkov with uv when missing or out of date, installs DynamoDB Local (npm), the web
client's npm packages (clients/web, npm ci) and Chromium for the browser tests (as root, with
apt-get) when missing, all side by side, then runs the whole
suite with pytest on two workers (TEST_WORKERS=N for another number, -n 0 for none).
USAGE
}
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  usage
  exit 0
fi

# The tests that need DynamoDB Local fail saying what is missing when it cannot be installed.
optional_dynamodb_local() { ensure_dynamodb_local || true; }
# So do the web client's (tests/infra/test_web_client.py) when its packages cannot be installed.
optional_web_client() { ensure_web_client || true; }
ensure_uv # once, before the virtualenvs that use it are made side by side
in_parallel ensure_dev_venv ensure_tools_venv ensure_checkov_venv optional_dynamodb_local optional_web_client ensure_chromium ||
  die "setting up the tests failed (see above)"
cd "$ECHOES_ROOT"
export PATH="$ECHOES_ROOT/.venv-tools/bin:$PATH"
# DynamoDB Local (Java) starts several times a run (per worker, in the local stacks, the freeze test
# and the benchmark), each for a short life: with the client compiler only, a start takes about
# half the CPU time, and requests are served as fast. Only the java launcher reads this variable.
export JDK_JAVA_OPTIONS="-XX:TieredStopAtLevel=1${JDK_JAVA_OPTIONS:+ $JDK_JAVA_OPTIONS}"
# Two workers (pytest-xdist), whatever the cores; tests/conftest.py says how they share the tests.
exec "$ECHOES_ROOT/.venv/bin/python" -m pytest -n "${TEST_WORKERS:-2}" --dist loadgroup --no-loadscope-reorder "$@"
