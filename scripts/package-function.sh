#!/usr/bin/env bash
# Packages the Lambda functions' code into DIR: lambda_handler.py (the API), erasure_handler.py (the
# account erasure), app/ and requirements-lambda.txt's
# packages as Lambda wheels, compiled to .pyc files that stay valid after zipping.
# Called by `sam build` (Makefile); also directly by the tests to build for this machine.
#   ARCH=aarch64|x86_64   wheels' architecture (default aarch64, as template.yaml's arm64)
#   OPTIMIZE=true|false   drop what never runs on Lambda (default true; build.sh --no-optimize)
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() { echo "Usage: ARCH=aarch64|x86_64 OPTIMIZE=true|false ./scripts/package-function.sh DIR"; }
[[ $# -eq 1 && -n "$1" ]] || usage_error "expected exactly one argument: the output directory"
out="$1"
arch="${ARCH:-aarch64}"
[[ "$arch" == "aarch64" || "$arch" == "x86_64" ]] || usage_error "ARCH must be aarch64 or x86_64, not '$arch'"
optimize="${OPTIMIZE:-true}"
python="$(find_python)"

mkdir -p "$out"
log_info "Installing requirements-lambda.txt for $arch into $out"
"$python" -m pip install --quiet --disable-pip-version-check --no-compile \
  --requirement "$ECHOES_ROOT/requirements-lambda.txt" --target "$out" \
  --implementation cp --python-version "$PYTHON_VERSION" --only-binary=:all: \
  --platform "manylinux_2_34_$arch" --platform "manylinux_2_28_$arch" \
  --platform "manylinux_2_17_$arch" --platform "manylinux2014_$arch" \
  --upgrade

# Packages whose declared dependencies the runtime provides (the X-Ray SDK's botocore): without them.
"$python" -m pip install --quiet --disable-pip-version-check --no-compile --no-deps \
  --requirement "$ECHOES_ROOT/requirements-lambda-nodeps.txt" --target "$out" \
  --implementation cp --python-version "$PYTHON_VERSION" --only-binary=:all: \
  --platform "manylinux_2_34_$arch" --platform "manylinux_2_28_$arch" \
  --platform "manylinux_2_17_$arch" --platform "manylinux2014_$arch" \
  --upgrade

cp "$ECHOES_ROOT/lambda_handler.py" "$ECHOES_ROOT/erasure_handler.py" "$out/"
rm -rf "$out/app"
cp -R "$ECHOES_ROOT/app" "$out/app"
find "$out" -type d -name __pycache__ -prune -exec rm -rf {} +

if [[ "$optimize" == "true" ]]; then
  "$python" "$ECHOES_ROOT/scripts/slim_artifact.py" "$out"
fi

# Lambda's code directory is read-only: without .pyc files every cold start recompiles. Zip keeps
# coarse timestamps, so timestamp-checked .pyc files would go stale; unchecked-hash ones stay valid.
"$python" -m compileall -q -j 0 --invalidation-mode unchecked-hash "$out"
