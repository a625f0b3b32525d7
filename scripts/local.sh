#!/usr/bin/env bash
# Runs the whole backend locally: Amazon's DynamoDB Local for DynamoDB, moto for the rest of AWS.
#                                                          ./scripts/local.sh [--lambda] [--listen ADDRESS]
# Prints a token for a local user:                         ./scripts/local.sh token EMAIL [PASSWORD]
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: ./scripts/local.sh [--lambda] [--listen ADDRESS] [-h|--help]
       ./scripts/local.sh token EMAIL [PASSWORD]

Starts moto's server on 127.0.0.1:\${AWS_PORT:-5005} as AWS (S3, Cognito, Secrets Manager) and
Amazon's DynamoDB Local (Java 17+; on a free port) for DynamoDB, or moto for it too where Java is
missing, creates the stack's resources from template.yaml, and serves the API on
http://127.0.0.1:\${API_PORT:-8000} with auto-reload and the web client's demo page on
http://127.0.0.1:\${DEMO_PORT:-5500}/demo/. Ctrl-C stops everything.

  --lambda           serve every request through lambda_handler.handler as an API Gateway REST
                     event under the stage prefix: http://127.0.0.1:\${API_PORT:-8000}/dev/...
  --listen ADDRESS   where moto listens, so that containers (sam local start-api) reach it:
                     docker (the Docker bridge network's gateway, e.g. 172.17.0.1), 0.0.0.0 (every
                     interface: anyone who reaches this machine, with a warning) or an IPv4
                     address of this machine; default 127.0.0.1
  token              print an access token for EMAIL (signed up and confirmed if new) from the running stack
USAGE
}

if [[ "${1:-}" == "token" ]]; then
  [[ $# -ge 2 && $# -le 3 ]] || usage_error "token needs EMAIL and an optional PASSWORD"
else
  arguments=("$@")
  while [[ $# -gt 0 ]]; do
    case "$1" in
      -h | --help)
        usage
        exit 0
        ;;
      --lambda) ;;
      --listen) require_value "$1" "${2:-}" && shift ;;
      *) usage_error "unexpected argument: $1" ;;
    esac
    shift
  done
  set -- "${arguments[@]}"
fi

if [[ "${1:-}" == "token" ]]; then
  # The stack is running, so the virtualenv exists; stay quiet: stdout is the token only.
  [[ -x "$ECHOES_ROOT/.venv/bin/python" ]] || die "the local stack is not set up: run ./scripts/local.sh first"
else
  ensure_dev_venv
  ensure_dynamodb_local || true # without it, DynamoDB runs on moto (devtools.local_stack says so)
  ensure_web_client || true     # without it, the demo page cannot sign in (it says so)
fi
cd "$ECHOES_ROOT"
exec "$ECHOES_ROOT/.venv/bin/python" -m devtools.local_stack "$@"
