#!/usr/bin/env bash
# Deletes what a deployment left: the stack, its emptied buckets (every object version), its log
# groups, its uploaded artifacts and samconfig.toml entries; or only local build output (-l). What the
# deployed template retains (prod's data) it leaves, and says so.
set -euo pipefail
# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

usage() {
  cat <<USAGE
Usage: ./scripts/cleanup.sh -e ENV [-r REGION] [-s STACK] [-p PROFILE] [-l] [-f] [-d] [-h]

  -e, --environment ENV   dev | staging | prod (required unless -l)
  -r, --region REGION     AWS region (default: AWS_REGION in config/ENV.env)
  -s, --stack-name NAME   stack name (default: echoes-ENV-backend)
  -p, --profile PROFILE   AWS CLI profile
  -l, --local-only        only local build output (.aws-sam, artifacts/); nothing remote
  -f, --force             do not ask for confirmation
  -d, --dry-run           list everything that would be deleted, delete nothing
  -h, --help              show this help

Without -f it asks before deleting anything remote, and refuses where it cannot ask. What the
deployed template retains (DeletionPolicy Retain: in prod the table, the audio bucket, the user pool
and the log groups) it never empties or deletes: it lists it as left, with why.
USAGE
}

LOCAL_ONLY=false
FORCE=false
while [[ $# -gt 0 ]]; do
  case "$1" in
    -e | --environment) take_environment "$1" "${2:-}" && shift ;;
    -r | --region) take_region "$1" "${2:-}" && shift ;;
    -s | --stack-name) take_stack_name "$1" "${2:-}" && shift ;;
    -p | --profile) take_profile "$1" "${2:-}" && shift ;;
    -l | --local-only) LOCAL_ONLY=true ;;
    -f | --force) FORCE=true ;;
    -d | --dry-run) DRY_RUN=true ;;
    -h | --help) usage && exit 0 ;;
    *) usage_error "unknown option: $1" ;;
  esac
  shift
done
[[ "$LOCAL_ONLY" == "true" ]] || require_environment
if debug_mode; then set -x; fi

# total: the sum of the numbers it reads, one a line. A query's length() with --output text is
# printed once per page of the listing (1,000 entries), so more than a page prints several.
total() { awk '{ n += $1 } END { print n + 0 }'; }

# object_versions BUCKET: how many object versions and delete markers BUCKET holds.
object_versions() {
  aws_cli s3api list-object-versions --bucket "$1" \
    --query "length([Versions || \`[]\`, DeleteMarkers || \`[]\`][])" --output text | total
}

# listing VAR ABSENT COMMAND...: COMMAND's output into VAR. Returns 1 when COMMAND failed saying
# ABSENT (what it lists does not exist; empty: never); any other failure (refused, throttled,
# unreachable) stops the script: a listing that failed is no proof that there is nothing to delete.
listing() {
  local var="$1" absent="$2" errors output
  shift 2
  errors="$(mktemp)"
  if output="$("$@" 2>"$errors")"; then
    rm -f "$errors"
    printf -v "$var" '%s' "$output"
    return 0
  fi
  local why
  why="$(cat "$errors")"
  rm -f "$errors"
  [[ -n "$absent" && "$why" == *"$absent"* ]] && return 1
  die "cannot tell what to delete, nothing deleted: $why"
}

# would_delete WHAT: one line of the plan.
would_delete() { printf '%s %s\n' "$([[ "$DRY_RUN" == "true" ]] && echo "would delete" || echo "deleting")" "$1"; }

clean_local() {
  local path
  for path in "$ECHOES_ROOT/.aws-sam" "$ECHOES_ROOT/artifacts"; do
    if [[ -e "$path" ]]; then
      would_delete "local ${path#"$ECHOES_ROOT"/}"
      run rm -rf "$path"
    fi
  done
}

if [[ "$LOCAL_ONLY" == "true" ]]; then
  clean_local
  exit 0
fi

require_commands aws
load_config "$ENVIRONMENT"
STACK_NAME="${STACK_NAME:-$(stack_name_for "$ENVIRONMENT")}"
account="$(account_id)"
# One AWS CLI call per question (a CLI start costs more than most calls): the stack's resources in
# one listing, which fails saying "does not exist" when there is no such stack; what its deployed
# template retains; the environment's log groups in one listing (AWS narrows it to names holding
# "echoes-ENV-", the query keeps the three prefixes); the artifacts in one listing, which fails with
# NoSuchBucket when there is no artifacts bucket.
# A stack whose creation rolled back (ROLLBACK_COMPLETE) or whose deletion failed (DELETE_FAILED)
# still lists the resources already deleted (DELETE_COMPLETE), and one never created without a
# physical id: neither is there to empty or to be deleted with the stack.
stack_exists=false resources="" template="" retained="" environment_log_groups="" artifacts=0
listing resources "Stack with id $STACK_NAME does not exist" \
  aws_cli cloudformation list-stack-resources --stack-name "$STACK_NAME" \
  --query "StackResourceSummaries[?ResourceStatus != 'DELETE_COMPLETE' && PhysicalResourceId].[ResourceType, PhysicalResourceId, LogicalResourceId]" \
  --output text && stack_exists=true
# What the deployed template retains (DeletionPolicy Retain: the prod data): CloudFormation keeps it
# when it deletes the stack, and so does this script: it never empties a retained bucket.
if [[ "$stack_exists" == "true" ]]; then
  listing template "" aws_cli cloudformation get-template --stack-name "$STACK_NAME" \
    --template-stage Processed --query "TemplateBody.Resources" --output json
  retained="$("$(find_python)" -c 'import json, sys
for name, spec in (json.load(sys.stdin) or {}).items():
    if spec.get("DeletionPolicy") == "Retain":
        print(name)' <<<"$template")"
fi
# kept TYPE PHYSICAL_ID: the resources of TYPE the template retains, or (with -v) those it does not.
kept() {
  awk -v type="$1" -v retained=" $(tr '\n' ' ' <<<"$retained") " -v keep="$2" \
    '$1 == type && (index(retained, " " $3 " ") > 0) == keep { print $2 }' <<<"$resources"
}
mapfile -t buckets < <(kept AWS::S3::Bucket 0)
# The stack's own log groups go with the stack; others of the environment's (written before the
# template owned them, or by a stack deleted earlier) are deleted one by one, except in prod, whose
# template retains its log groups: one left by an earlier stack is kept.
mapfile -t stack_log_groups < <(kept AWS::Logs::LogGroup 0)
mapfile -t left_behind < <(awk -v retained=" $(tr '\n' ' ' <<<"$retained") " \
  'index(retained, " " $3 " ") > 0 { print $1 " " $2 }' <<<"$resources")
environment_groups="starts_with(logGroupName, '/aws/lambda/echoes-$ENVIRONMENT-')"
environment_groups+=" || starts_with(logGroupName, '/aws/apigateway/echoes-$ENVIRONMENT-')"
environment_groups+=" || starts_with(logGroupName, 'aws-waf-logs-echoes-$ENVIRONMENT-')"
listing environment_log_groups "" aws_cli logs describe-log-groups --log-group-name-pattern "echoes-$ENVIRONMENT-" \
  --query "logGroups[?$environment_groups].logGroupName" --output text
log_groups=() kept_log_groups=()
while IFS= read -r group; do
  [[ -z "$group" ]] && continue
  [[ -n "$(awk -v g="$group" '$1 == "AWS::Logs::LogGroup" && $2 == g' <<<"$resources")" ]] && continue
  if [[ "$ENVIRONMENT" == "prod" ]]; then kept_log_groups+=("$group"); else log_groups+=("$group"); fi
done < <(tr '\t' '\n' <<<"$environment_log_groups")
artifacts_bucket="$(artifacts_bucket_name "$account")"
listing artifacts "(NoSuchBucket)" aws_cli s3api list-objects-v2 --bucket "$artifacts_bucket" \
  --prefix "$STACK_NAME/" --query "length(Contents || \`[]\`)" --output text || artifacts=0
artifacts="$(total <<<"$artifacts")"

# would_leave WHAT WHY: a line of the plan for what stays.
would_leave() { printf '%s %s (%s)\n' "$([[ "$DRY_RUN" == "true" ]] && echo "would leave" || echo "leaving")" "$1" "$2"; }
for resource in "${left_behind[@]}"; do
  would_leave "${resource#* } (${resource%% *})" "the $ENVIRONMENT template retains it: CloudFormation keeps it when the stack is deleted"
done
for group in "${kept_log_groups[@]}"; do
  would_leave "log group $group" "prod's template retains its log groups; this one outlived an earlier stack"
done

if [[ "$stack_exists" == "false" && ${#log_groups[@]} -eq 0 && "$artifacts" == "0" ]]; then
  log_info "nothing remote to delete for $ENVIRONMENT (no stack $STACK_NAME, log groups or artifacts)"
else
  if [[ "$DRY_RUN" != "true" && "$FORCE" != "true" ]]; then
    warning="Delete the $ENVIRONMENT stack $STACK_NAME and everything listed above"
    [[ ${#left_behind[@]} -gt 0 ]] && warning+=" (what it retains stays, as listed)"
    [[ "$ENVIRONMENT" == "prod" ]] && warning="PRODUCTION: $warning"
    for bucket in "${buckets[@]}"; do printf 'bucket %s (emptied: every version)\n' "$bucket"; done
    confirm "$warning (account $account)?"
  fi
  batch="$(mktemp)"
  trap 'rm -f "$batch"' EXIT
  for bucket in "${buckets[@]}"; do
    versions="$(object_versions "$bucket")"
    would_delete "bucket $bucket with $versions object versions and delete markers"
    while [[ "$DRY_RUN" != "true" && "$versions" != "0" ]]; do
      # One listing call (--no-paginate: S3's page of at most 1,000 versions and delete markers
      # together, as many as DeleteObjects takes; --max-items would count the versions only), its
      # keys passed in a file (a thousand are longer than one command-line argument may be).
      aws_cli s3api list-object-versions --bucket "$bucket" --no-paginate --output json \
        --query "{Objects: [Versions || \`[]\`, DeleteMarkers || \`[]\`][].{Key: Key, VersionId: VersionId}, Quiet: \`true\`}" >"$batch"
      # DeleteObjects answers 200 with the keys it could not delete (a policy or object lock that
      # refuses, SlowDown): listing them again would loop for ever; stop and name them.
      refused="$(run aws_cli s3api delete-objects --bucket "$bucket" --delete "file://$batch" \
        --query "(Errors || \`[]\`)[].[Code, Key, VersionId]" --output text)"
      [[ -z "$refused" ]] || die "S3 did not delete every version in $bucket (code, key, version):"$'\n'"$refused"
      versions="$(object_versions "$bucket")"
    done
  done
  if [[ "$stack_exists" == "true" ]]; then
    for group in "${stack_log_groups[@]}"; do would_delete "log group $group (with the stack)"; done
    would_delete "stack $STACK_NAME"
    run aws_cli cloudformation delete-stack --stack-name "$STACK_NAME"
    run aws_cli cloudformation wait stack-delete-complete --stack-name "$STACK_NAME"
  fi
  for group in "${log_groups[@]}"; do
    would_delete "log group $group"
    run aws_cli logs delete-log-group --log-group-name "$group"
  done
  if [[ "$artifacts" != "0" ]]; then
    would_delete "$artifacts deployment artifacts in s3://$artifacts_bucket/$STACK_NAME/"
    run aws_cli s3 rm --recursive --quiet "s3://$artifacts_bucket/$STACK_NAME/"
  fi
fi

if [[ -f "$ECHOES_ROOT/samconfig.toml" ]] && grep -q "^\[$ENVIRONMENT\." "$ECHOES_ROOT/samconfig.toml"; then
  would_delete "samconfig.toml [$ENVIRONMENT] entries"
  run "$(find_python)" "$ECHOES_ROOT/scripts/samconfig.py" remove "$ECHOES_ROOT/samconfig.toml" "$ENVIRONMENT"
fi
clean_local
