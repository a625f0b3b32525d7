#!/usr/bin/env bash
# Builds the Lambda function with SAM (template.yaml, Makefile -> scripts/package-function.sh).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: ./scripts/build.sh [-c] [-v] [--no-optimize] [-h]

Runs 'sam build' for template.yaml (arm64 wheels, Python $PYTHON_VERSION) into .aws-sam/build and
prints the built function's size.

  -c, --clean       remove previous build output first
  -v, --verbose     SAM CLI debug output
      --no-optimize keep what the size optimisations remove (type stubs, tests, caches,
                    unused Powertools modules); they are on by default
  -h, --help        show this help
USAGE
}

CLEAN=false
VERBOSE=false
OPTIMIZE=true
while [[ $# -gt 0 ]]; do
  case "$1" in
    -c | --clean) CLEAN=true ;;
    -v | --verbose) VERBOSE=true ;;
    --no-optimize) OPTIMIZE=false ;;
    -h | --help) usage && exit 0 ;;
    *) usage_error "unknown option: $1" ;;
  esac
  shift
done
if debug_mode; then VERBOSE=true; fi

require_commands sam
python="$(find_python)"
cd "$ECHOES_ROOT"
if [[ "$CLEAN" == "true" ]]; then
  log_info "removing .aws-sam"
  rm -rf .aws-sam
fi
sam_args=(build --build-in-source)
[[ "$VERBOSE" == "true" ]] && sam_args+=(--debug)
log_info "sam ${sam_args[*]} (optimise: $OPTIMIZE)"
OPTIMIZE="$OPTIMIZE" SAM_CLI_TELEMETRY=0 sam "${sam_args[@]}"
printf 'Built function: %s\n' "$("$python" scripts/artifact_size.py .aws-sam/build/ApiFunction)"
