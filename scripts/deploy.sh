#!/usr/bin/env bash
# Deploys one environment with SAM (samconfig.toml's section), then prints its outputs and
# smoke-tests the deployed API (scripts/smoke_test.py).
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: ./scripts/deploy.sh -e ENV [-r REGION] [-s STACK] [-p PROFILE] [-b] [-g] [-y] [-h]

Deploys ENV with 'sam deploy --config-env ENV'. samconfig.toml's [ENV] section, which
./scripts/env-setup.sh -e ENV writes from config/ENV.env, is the source of the stack name, region,
artifacts bucket and parameters: edit config/ENV.env and run env-setup again (a deploy warns when
the two differ, and deploys samconfig.toml's). -r and -s override it for this run, and say so.
Builds first (./scripts/build.sh) unless .aws-sam/build is newer than every file the build reads.
Checks that the artifacts bucket exists in the region, creating it when missing. Then prints the
stack outputs and smoke-tests the API (scripts/smoke_test.py: /health, the gateway's 401 with CORS,
preflights). Prod asks for confirmation.

  -e, --environment ENV   dev | staging | prod (required unless -b)
  -r, --region REGION     deploy to REGION instead of samconfig.toml's (with that region's bucket)
  -s, --stack-name NAME   deploy stack NAME instead of samconfig.toml's (artifacts under NAME/)
  -p, --profile PROFILE   AWS CLI profile
  -b, --build-only        build, do not deploy
  -g, --guided            sam deploy --guided
  -y, --yes               do not ask for confirmation (prod, changesets)
  -h, --help              show this help

Debug mode: DEBUG=true traces every command and runs SAM with --debug; LOG_LEVEL=DEBUG deploys
the function with DEBUG logs (over samconfig.toml's LogLevel). DRY_RUN=true prints the build and
the commands that would change AWS instead of running them. SMOKE_JOURNEY=true (dev and staging
only) adds a test user's whole journey to the smoke test, ending with its erasure: the deployer
needs cognito-idp:AdminCreateUser, AdminSetUserPassword and AdminDeleteUser on the pool.
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
python="$(find_python)"
samconfig=("$python" "$ECHOES_ROOT/scripts/samconfig.py")
samconfig_file="$ECHOES_ROOT/samconfig.toml"
region_flag="$REGION" stack_flag="$STACK_NAME"
load_config "$ENVIRONMENT"
if [[ "$GUIDED" != "true" ]] && ! "${samconfig[@]}" get "$samconfig_file" "$ENVIRONMENT" stack_name >/dev/null; then
  die "samconfig.toml has no [$ENVIRONMENT] section: run ./scripts/env-setup.sh -e $ENVIRONMENT first"
fi
# samconfig_value KEY [DEFAULT]: ENV's deploy parameter KEY in samconfig.toml (a guided first deploy has none).
samconfig_value() { "${samconfig[@]}" get "$samconfig_file" "$ENVIRONMENT" "$1" || printf '%s' "${2:-}"; }

sam_args=(deploy --config-env "$ENVIRONMENT")
written_region="$(samconfig_value region "${CONFIG[AWS_REGION]}")"
REGION="${region_flag:-$written_region}"
written_stack="$(samconfig_value stack_name "$(stack_name_for "$ENVIRONMENT")")"
STACK_NAME="${stack_flag:-$written_stack}"
account="$(account_id)"
bucket="$(samconfig_value s3_bucket "$(artifacts_bucket_name "$account")")"
if [[ "$REGION" != "$written_region" ]]; then
  log_warn "-r $REGION overrides samconfig.toml's region $written_region for this deploy"
  bucket="$(artifacts_bucket_name "$account")"
  sam_args+=(--region "$REGION" --s3-bucket "$bucket")
fi
if [[ "$STACK_NAME" != "$written_stack" ]]; then
  log_warn "-s $STACK_NAME overrides samconfig.toml's stack name $written_stack for this deploy"
  sam_args+=(--stack-name "$STACK_NAME" --s3-prefix "$STACK_NAME")
fi
# samconfig.toml is what deploys; say so when config/ENV.env has changed since env-setup wrote it.
mapfile -t stale < <("${samconfig[@]}" changed "$samconfig_file" "$ENVIRONMENT" "$(LOG_LEVEL="" parameter_overrides)")
if [[ "$GUIDED" != "true" && -n "${stale[*]}" ]]; then
  log_warn "samconfig.toml [$ENVIRONMENT] differs from config/$ENVIRONMENT.env in: ${stale[*]}; deploying" \
    "samconfig.toml's values (./scripts/env-setup.sh -e $ENVIRONMENT writes config's)"
fi
# Debug mode: the caller's LOG_LEVEL replaces samconfig.toml's LogLevel (sam deploy takes the
# overrides as a whole, so the others are passed again as written).
if [[ -n "${LOG_LEVEL:-}" ]]; then
  overrides=()
  for pair in $(samconfig_value parameter_overrides "$(parameter_overrides)"); do
    [[ "$pair" == LogLevel=* ]] || overrides+=("$pair")
  done
  sam_args+=(--parameter-overrides "${overrides[*]} LogLevel=$LOG_LEVEL")
fi
mapfile -t profile_args < <(sam_profile_args)
sam_args+=("${profile_args[@]}")
[[ "$GUIDED" == "true" ]] && sam_args+=(--guided)
[[ "$YES" == "true" ]] && sam_args+=(--no-confirm-changeset)
if debug_mode; then sam_args+=(--debug); fi

# The smoke test calls the API from the first allowed origin, the one API Gateway's own responses name.
cors_origins="$(tr ' ' '\n' <<<"$(samconfig_value parameter_overrides "$(parameter_overrides)")" | sed -n 's/^CorsAllowOrigins=//p')"
smoke=("$python" "$ECHOES_ROOT/scripts/smoke_test.py" "<ApiUrl>" "${cors_origins%%,*}" --region "$REGION" ${PROFILE:+--profile "$PROFILE"})
if [[ "${SMOKE_JOURNEY:-false}" == "true" ]]; then
  [[ "$ENVIRONMENT" != "prod" ]] || die "SMOKE_JOURNEY=true is for dev and staging: the journey writes a test user's data"
  smoke+=(--journey --user-pool-id "<UserPoolId>" --client-id "<UserPoolClientId>")
fi
if [[ "$ENVIRONMENT" == "prod" && "$YES" != "true" ]]; then
  confirm "Deploy $STACK_NAME to PROD (account $account, $REGION)?"
fi
ensure_artifacts_bucket "$bucket" "$account" true

# build_is_current: .aws-sam/build was made after every file the build reads was last changed.
build_is_current() {
  local built="$ECHOES_ROOT/.aws-sam/build/template.yaml"
  [[ -f "$built" ]] || return 1
  (cd "$ECHOES_ROOT" && [[ -z "$(find template.yaml Makefile lambda_handler.py requirements-lambda.txt app \
    scripts/package-function.sh scripts/slim_artifact.py scripts/lib.sh -name __pycache__ -prune -o \
    -newer "$built" -print -quit)" ]])
}
if build_is_current; then
  log_info "deploying the build in .aws-sam/build (newer than its sources)"
else
  # A dry run changes nothing, not even the local build output: it prints the build too.
  run "$ECHOES_ROOT/scripts/build.sh"
fi
(cd "$ECHOES_ROOT" && SAM_CLI_TELEMETRY=0 run sam "${sam_args[@]}")

# output KEY: the stack output KEY ("None" when the stack has no such output).
output() {
  aws_cli cloudformation describe-stacks --stack-name "$STACK_NAME" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue | [0]" --output text
}
describe=(cloudformation describe-stacks --stack-name "$STACK_NAME" --query "Stacks[0].Outputs" --output table)
if [[ "$DRY_RUN" == "true" ]]; then
  run aws_cli "${describe[@]}"
  run "${smoke[@]}"
  exit 0
fi
aws_cli "${describe[@]}"
api_url="$(output ApiUrl)"
for index in "${!smoke[@]}"; do
  case "${smoke[$index]}" in
    "<ApiUrl>") smoke[index]="$api_url" ;;
    "<UserPoolId>") smoke[index]="$(output UserPoolId)" ;;
    "<UserPoolClientId>") smoke[index]="$(output UserPoolClientId)" ;;
  esac
done
log_info "smoke test of $api_url"
"${smoke[@]}" || die "the smoke test of the deployed API failed (above): the deploy itself succeeded"
log_info "deployed $STACK_NAME: $api_url"
