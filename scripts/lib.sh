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
log_debug() { if [[ "${DEBUG:-false}" == "true" ]]; then printf '[debug] %s\n' "$*" >&2; fi; }
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
