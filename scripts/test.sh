#!/usr/bin/env bash
# Sets up everything the tests need (virtualenvs from the requirements files) and runs every test.
# Extra arguments go to pytest, e.g. ./scripts/test.sh -k cursor
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: ./scripts/test.sh [-h|--help] [PYTEST_ARGS...]
Creates .venv (app + test requirements) and .venv-tools (SAM CLI, cfn-lint, shellcheck,
actionlint) when missing or out of date, then runs the whole suite with pytest.
USAGE
}
if [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  usage
  exit 0
fi

ensure_dev_venv
ensure_tools_venv
ensure_dynamodb_local || true # the tests that need it then fail saying what is missing
cd "$ECHOES_ROOT"
export PATH="$ECHOES_ROOT/.venv-tools/bin:$PATH"
exec "$ECHOES_ROOT/.venv/bin/python" -m pytest "$@"
