#!/usr/bin/env bash
# Measures cold start, warm overhead, artifact size, memory and DynamoDB work per request.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: ./scripts/bench.sh [--quick] [-h|--help]

Prints one table: every figure a median of interleaved runs, every speed a ratio to a baseline
measured in the same run (benchmarks/baselines/). Takes about 10 minutes; --quick takes about one
and only proves the benchmark still works.
USAGE
}
args=()
case "${1:-}" in
  "") ;;
  --quick) args+=(--quick) ;;
  -h | --help)
    usage
    exit 0
    ;;
  *) usage_error "unknown option: $1" ;;
esac
ensure_dev_venv
cd "$ECHOES_ROOT"
exec "$ECHOES_ROOT/.venv/bin/python" -m benchmarks.bench "${args[@]}"
