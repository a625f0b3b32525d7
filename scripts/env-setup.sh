#!/usr/bin/env bash
# Prepares an environment for deployment: prerequisites, credentials, config, artifacts bucket,
# samconfig.toml. Safe to run again: a second run changes nothing.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: ./scripts/env-setup.sh -e ENV [-r REGION] [-p PROFILE] [-c] [-h]

Checks prerequisites (AWS CLI, SAM CLI, Python $PYTHON_VERSION; Docker only with SAM_USE_CONTAINER=true)
and AWS credentials, validates config/ENV.env, and writes ENV's section of samconfig.toml from
samconfig.toml.template.

  -e, --environment ENV   dev | staging | prod (required)
  -r, --region REGION     AWS region (default: AWS_REGION in config/ENV.env)
  -p, --profile PROFILE   AWS CLI profile
  -c, --create            create missing resources the first deploy needs (the artifacts bucket)
  -h, --help              show this help
USAGE
}

CREATE=false
while [[ $# -gt 0 ]]; do
  case "$1" in
    -e | --environment) take_environment "$1" "${2:-}" && shift ;;
    -r | --region) take_region "$1" "${2:-}" && shift ;;
    -p | --profile) take_profile "$1" "${2:-}" && shift ;;
    -c | --create) CREATE=true ;;
    -h | --help) usage && exit 0 ;;
    *) usage_error "unknown option: $1" ;;
  esac
  shift
done
require_environment

check_prerequisites
load_config "$ENVIRONMENT"
log_info "config/$ENVIRONMENT.env is valid"
account="$(account_id)"
log_info "AWS account $account, region $REGION${PROFILE:+, profile $PROFILE}"

bucket="$(artifacts_bucket_name "$account")"
if aws_cli s3api head-bucket --bucket "$bucket" >/dev/null 2>&1; then
  log_info "artifacts bucket $bucket exists"
elif [[ "$CREATE" == "true" ]]; then
  log_info "creating artifacts bucket $bucket"
  if [[ "$REGION" == "us-east-1" ]]; then
    run aws_cli s3api create-bucket --bucket "$bucket" >/dev/null
  else
    run aws_cli s3api create-bucket --bucket "$bucket" --create-bucket-configuration "LocationConstraint=$REGION" >/dev/null
  fi
  run aws_cli s3api put-public-access-block --bucket "$bucket" --public-access-block-configuration \
    BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true
  run aws_cli s3api put-bucket-encryption --bucket "$bucket" --server-side-encryption-configuration \
    '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}'
  run aws_cli s3api put-bucket-versioning --bucket "$bucket" --versioning-configuration Status=Enabled
else
  log_warn "artifacts bucket $bucket does not exist: run again with -c to create it"
fi

"$(find_python)" "$ECHOES_ROOT/scripts/samconfig.py" write "$ECHOES_ROOT/samconfig.toml.template" \
  "$ECHOES_ROOT/samconfig.toml" "$ENVIRONMENT" "$REGION" "$bucket" "$(parameter_overrides)"
log_info "samconfig.toml [$ENVIRONMENT] ready: ./scripts/deploy.sh -e $ENVIRONMENT"
