#!/usr/bin/env bash
# Prepares an account and region for deploying one environment: what the first deploy needs, created
# when missing, and samconfig.toml. Safe to run again: a second run changes nothing.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: ./scripts/env-setup.sh -e ENV [-r REGION] [-p PROFILE] [--check] [-g OWNER/REPO] [-h]

Checks prerequisites (AWS CLI, SAM CLI, Python $PYTHON_VERSION) and AWS credentials, validates
config/ENV.env, makes sure the account has what a deploy needs in the region, creating what is
missing, and writes ENV's section of samconfig.toml from samconfig.toml.template:
  - the artifacts bucket echoes-sam-artifacts-ACCOUNT-REGION (private, encrypted, versioned);
  - API Gateway's CloudWatch role for the region (an account setting the stage's access log needs),
    with the IAM role $APIGATEWAY_LOGS_ROLE when the account has none;
  - with -g: GitHub's OIDC provider, and ENV's deploy role for GitHub Actions (its ARN is printed,
    to set as AWS_DEPLOY_ROLE_ARN in the repository's GitHub environment ENV).

  -e, --environment ENV   dev | staging | prod (required)
  -r, --region REGION     AWS region (default: AWS_REGION in config/ENV.env)
  -p, --profile PROFILE   AWS CLI profile
      --check             create nothing: fail, naming what is missing
  -g, --github OWNER/REPO create or update ENV's GitHub Actions deploy role for that repository
  -h, --help              show this help
USAGE
}

CREATE=true
GITHUB_REPOSITORY=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    -e | --environment) take_environment "$1" "${2:-}" && shift ;;
    -r | --region) take_region "$1" "${2:-}" && shift ;;
    -p | --profile) take_profile "$1" "${2:-}" && shift ;;
    --check) CREATE=false ;;
    -g | --github)
      require_value "$1" "${2:-}"
      [[ "$2" =~ ^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$ ]] || usage_error "not a GitHub repository (OWNER/REPO): $2"
      GITHUB_REPOSITORY="$2" && shift
      ;;
    -h | --help) usage && exit 0 ;;
    *) usage_error "unknown option: $1" ;;
  esac
  shift
done
require_environment
[[ -z "$GITHUB_REPOSITORY" || "$CREATE" == "true" ]] || usage_error "--github creates the deploy role: not with --check"

check_prerequisites
load_config "$ENVIRONMENT"
check_custom_domain_region
log_info "config/$ENVIRONMENT.env is valid"
account="$(account_id)"
log_info "AWS account $account, region $REGION${PROFILE:+, profile $PROFILE}"

bucket="$(artifacts_bucket_name "$account")"
ensure_artifacts_bucket "$bucket" "$account" "$CREATE"
ensure_apigateway_logs_role "$account" "$CREATE"
[[ -z "$GITHUB_REPOSITORY" ]] || ensure_github_deploy_role "$account" "$GITHUB_REPOSITORY"

"$(find_python)" "$ECHOES_ROOT/scripts/samconfig.py" write "$ECHOES_ROOT/samconfig.toml.template" \
  "$ECHOES_ROOT/samconfig.toml" "$ENVIRONMENT" "$REGION" "$bucket" "$(parameter_overrides)"
log_info "samconfig.toml [$ENVIRONMENT] written; $ENVIRONMENT is ready to deploy to $REGION: ./scripts/deploy.sh -e $ENVIRONMENT${PROFILE:+ -p $PROFILE}"
