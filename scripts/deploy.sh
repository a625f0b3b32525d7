#!/usr/bin/env bash
# Builds and deploys the stack for one environment, prints its outputs and smoke-tests /health.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: ./scripts/deploy.sh -e ENV [-r REGION] [-s STACK] [-p PROFILE] [-b] [-g] [-y] [-h]

Builds (./scripts/build.sh), deploys with 'sam deploy --config-env ENV' (run ./scripts/env-setup.sh
-e ENV first), prints the stack outputs and checks GET /health. Prod asks for confirmation.

  -e, --environment ENV   dev | staging | prod (required unless -b)
  -r, --region REGION     AWS region (default: AWS_REGION in config/ENV.env)
  -s, --stack-name NAME   stack name (default: echoes-ENV-backend)
  -p, --profile PROFILE   AWS CLI profile
  -b, --build-only        build, do not deploy
  -g, --guided            sam deploy --guided
  -y, --yes               do not ask for confirmation (prod, changesets)
  -h, --help              show this help

Debug mode: DEBUG=true traces every command and runs SAM with --debug; LOG_LEVEL=DEBUG deploys
the function with DEBUG logs. DRY_RUN=true prints the build and the commands that would change
AWS instead of running them.
USAGE
}

BUILD_ONLY=false
GUIDED=false
YES=false
while [[ $# -gt 0 ]]; do
  case "$1" in
    -e | --environment) take_environment "$1" "${2:-}" && shift ;;
    -r | --region) take_region "$1" "${2:-}" && shift ;;
    -p | --profile) take_profile "$1" "${2:-}" && shift ;;
    -s | --stack-name) take_stack_name "$1" "${2:-}" && shift ;;
    -b | --build-only) BUILD_ONLY=true ;;
    -g | --guided) GUIDED=true ;;
    -y | --yes) YES=true ;;
    -h | --help) usage && exit 0 ;;
    *) usage_error "unknown option: $1" ;;
  esac
  shift
done
[[ "$BUILD_ONLY" == "true" ]] || require_environment
if debug_mode; then set -x; fi

if [[ "$BUILD_ONLY" == "true" ]]; then
  exec "$ECHOES_ROOT/scripts/build.sh"
fi

check_prerequisites
load_config "$ENVIRONMENT"
STACK_NAME="${STACK_NAME:-$(stack_name_for "$ENVIRONMENT")}"
account="$(account_id)"
if [[ "$ENVIRONMENT" == "prod" && "$YES" != "true" ]]; then
  confirm "Deploy $STACK_NAME to PROD (account $account, $REGION)?"
fi
if [[ "$GUIDED" != "true" ]] && ! grep -qs "^\[$ENVIRONMENT\.deploy\.parameters\]" "$ECHOES_ROOT/samconfig.toml"; then
  die "samconfig.toml has no [$ENVIRONMENT] section: run ./scripts/env-setup.sh -e $ENVIRONMENT -c first"
fi

# A dry run changes nothing, not even the local build output: it prints the build too.
run "$ECHOES_ROOT/scripts/build.sh"

sam_args=(deploy --config-env "$ENVIRONMENT" --stack-name "$STACK_NAME" --region "$REGION"
  --parameter-overrides "$(parameter_overrides)" --no-fail-on-empty-changeset)
mapfile -t profile_args < <(sam_profile_args)
sam_args+=("${profile_args[@]}")
[[ "$GUIDED" == "true" ]] && sam_args+=(--guided)
[[ "$YES" == "true" ]] && sam_args+=(--no-confirm-changeset)
if debug_mode; then sam_args+=(--debug); fi
(cd "$ECHOES_ROOT" && SAM_CLI_TELEMETRY=0 run sam "${sam_args[@]}")

describe=(cloudformation describe-stacks --stack-name "$STACK_NAME" --query "Stacks[0].Outputs" --output table)
if [[ "$DRY_RUN" == "true" ]]; then
  run aws_cli "${describe[@]}"
  run curl --fail --retry 5 "<ApiUrl>/health"
  exit 0
fi
aws_cli "${describe[@]}"
api_url="$(aws_cli cloudformation describe-stacks --stack-name "$STACK_NAME" \
  --query "Stacks[0].Outputs[?OutputKey=='ApiUrl'].OutputValue" --output text)"
log_info "smoke test: GET $api_url/health"
curl --fail --silent --show-error --retry 5 --retry-delay 3 "$api_url/health" ||
  die "the deployed API did not answer /health"
printf '\n'
log_info "deployed $STACK_NAME: $api_url"
