"""The deployment scripts, run for real against moto's server (AWS CLI and SAM CLI honour
AWS_ENDPOINT_URL). What moto cannot do (run AWS::Serverless::Function, so `sam deploy`) is checked
as the exact command line the script would run (DRY_RUN=true)."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from devtools.moto import MotoEndpoint
from tests.infra.scripts import (
    CLOSED_ENDPOINT,
    ROOT,
    bucket_names,
    deployed_dev_stack,
    run_script,
    script_env,
)

SCRIPTS = ("env-setup", "build", "deploy", "cleanup", "local")


# --- bad input --------------------------------------------------------------------------------

BAD_INVOCATIONS = [
    *[(script, ["--bogus"]) for script in SCRIPTS],
    *[(script, ["-e"]) for script in ("env-setup", "deploy", "cleanup")],
    *[(script, ["-e", "qa"]) for script in ("env-setup", "deploy", "cleanup")],
    *[(script, ["-e", "dev", "-r", "mars-1"]) for script in ("env-setup", "deploy", "cleanup")],
    *[(script, ["-e", "dev", "-p"]) for script in ("env-setup", "deploy", "cleanup")],
    ("env-setup", []),
    ("deploy", []),
    ("cleanup", []),
    ("deploy", ["-e", "dev", "-s", "bad name!"]),
    ("cleanup", ["-e", "dev", "-s", "bad name!"]),
    ("cleanup", ["-e", "dev", "-s"]),
    ("local", ["token"]),
    ("local", ["--lambda", "extra"]),
    ("local", ["--listen"]),
]


@pytest.mark.parametrize(
    ("script", "args"), BAD_INVOCATIONS, ids=[f"{s}:{' '.join(a) or 'none'}" for s, a in BAD_INVOCATIONS]
)
def test_bad_invocation_prints_usage_and_exits_2_before_touching_anything(
    repo: Path, moto_aws: MotoEndpoint, script: str, args: list[str]
) -> None:
    before = sorted(p.relative_to(repo) for p in repo.rglob("*"))
    result = run_script(repo, script, *args, endpoint=moto_aws.url)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Usage: ./scripts/" in result.stderr and "[error]" in result.stderr
    assert result.stdout == ""
    assert sorted(p.relative_to(repo) for p in repo.rglob("*")) == before
    assert bucket_names() == set()


# What a script's --help offers: the options of its usage lines and of its option list (an
# indented line starting with them), and its commands (an indented word, then two spaces).
USAGE_OPTION = re.compile(r"(?<![\w-])(--?[A-Za-z][\w-]*)")
LISTED_OPTIONS = re.compile(r"^\s+(--?[A-Za-z][\w-]*(?:,\s*--?[A-Za-z][\w-]*)*)")
LISTED_COMMAND = re.compile(r"^\s+([a-z][\w-]*)\s{2,}\S")
# What the deployment guide lists for a script: a bullet's leading `-x`, `--xx` or `command`.
DOCUMENTED = re.compile(r"`(--?[A-Za-z][\w-]*|[a-z][\w-]*)")


def _offered(help_text: str) -> set[str]:
    offered: set[str] = set()
    for line in help_text.splitlines():
        if line.startswith("Usage:") or line.lstrip().startswith("./scripts/"):
            offered |= set(USAGE_OPTION.findall(line.split(".sh", 1)[1]))
        elif listed := LISTED_OPTIONS.match(line):
            offered |= {option.strip() for option in listed[1].split(",")}
        elif command := LISTED_COMMAND.match(line):
            offered.add(command[1])
    return offered


def _documented(script: str) -> set[str]:
    guide = (ROOT / "docs" / "deployment.md").read_text()
    heading = f"### `scripts/{script}.sh`\n"
    assert heading in guide, f"docs/deployment.md has no section for {script}.sh"
    section = re.split(r"\n#", guide.split(heading, 1)[1], maxsplit=1)[0]
    documented: set[str] = set()
    for line in section.splitlines():
        if line.startswith("- `"):
            documented |= set(DOCUMENTED.findall(line.split(": ", 1)[0]))
    return documented


def test_the_help_parser_reads_options_commands_and_usage() -> None:
    help_text = """Usage: ./scripts/x.sh -e ENV [-q|--quiet] [-h]
       ./scripts/x.sh token EMAIL

Runs 'sam deploy --guided' with -e ENV (prose is not an option list).

  -e, --environment ENV   required
      --no-optimize keep it
  token      print a token
"""
    assert _offered(help_text) == {"-e", "-q", "--quiet", "-h", "--environment", "--no-optimize", "token"}


@pytest.mark.parametrize("script", SCRIPTS)
def test_the_deployment_guide_lists_exactly_the_options_of_each_scripts_help(repo: Path, script: str) -> None:
    """--help is the reference and lives in the script; the guide keeps a short list per script."""
    result = run_script(repo, script, "--help")
    assert result.returncode == 0 and result.stdout.startswith("Usage: ./scripts/")
    offered, documented = _offered(result.stdout), _documented(script)
    assert offered - documented == set(), f"docs/deployment.md: {script}.sh options not listed"
    assert documented - offered == set(), f"docs/deployment.md: {script}.sh has no such options"


# --- docs/troubleshooting.md: its commands work as written --------------------------------------

TROUBLESHOOTING = ROOT / "docs" / "troubleshooting.md"


def _commands_under(heading: str) -> list[str]:
    """The ```bash blocks of docs/troubleshooting.md's section HEADING."""
    section = TROUBLESHOOTING.read_text().split(f"## {heading}\n", 1)[1].split("\n## ", 1)[0]
    return [block.split("\n```", 1)[0] for block in section.split("```bash\n")[1:]]


def _bash(script: str, endpoint: str = CLOSED_ENDPOINT) -> subprocess.CompletedProcess:
    env = script_env(endpoint, PATH=f"{ROOT / '.venv-tools' / 'bin'}:{os.environ['PATH']}")
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def test_troubleshooting_import_check_works_as_written() -> None:
    (check,) = _commands_under("The app does not import")
    result = _bash(check)  # no AWS call: nothing listens on the endpoint
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Echoes API ") and "routes" in result.stdout
    broken = _bash(check.replace("ENVIRONMENT=dev ", ""))
    assert broken.returncode == 1 and "ENVIRONMENT: Field required" in broken.stderr


def test_troubleshooting_identity_and_stack_events_work_as_written(moto_aws: MotoEndpoint) -> None:
    """Against moto's server; moto has no IAM policy simulation or CloudWatch Logs tailing through
    SAM CLI, so the permission and log commands are checked for what they name instead."""
    deployed_dev_stack()
    variables = TROUBLESHOOTING.read_text().split("```bash\n", 1)[1].split("\n```", 1)[0]
    (identity,) = _commands_under('Permissions: AccessDenied, "is not authorized to perform"')[:1]
    (events,) = _commands_under("The deploy fails: the stack's events")
    result = _bash("\n".join([variables, identity, events]), endpoint=moto_aws.url)
    assert result.returncode == 0, result.stderr
    assert '"Account": "123456789012"' in result.stdout
    assert result.stderr == "", "the events query is valid (moto's stack has no failed event to list)"


# --- CI/CD --------------------------------------------------------------------------------------

WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def test_workflows_are_valid_github_workflows() -> None:
    checker = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.github-workflows", *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert {w.name for w in WORKFLOWS} == {"ci.yml", "deploy.yml"}


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_workflows_pin_actions_use_oidc_and_least_permissions(workflow: Path) -> None:
    import re

    import yaml

    text = workflow.read_text()
    for action in re.findall(r"uses:\s*(\S+)", text):
        assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", action), f"not pinned to a commit: {action}"
    assert "aws-access-key-id" not in text and "secrets.AWS_SECRET" not in text
    parsed = yaml.safe_load(text)
    assert parsed["permissions"] == {"contents": "read"}
    for name, job in parsed["jobs"].items():
        if "id-token" in job.get("permissions", {}):
            assert "configure-aws-credentials" in str(job["steps"]), name
    assert "./scripts/test.sh" in text, "CI runs the README's test command"


def test_deploy_workflow_deploys_dev_on_push_and_others_by_dispatch() -> None:
    import yaml

    deploy = yaml.safe_load((ROOT / ".github" / "workflows" / "deploy.yml").read_text())
    triggers = deploy[True] if True in deploy else deploy["on"]  # YAML 1.1 reads `on` as true
    assert triggers["push"]["branches"] == ["main"]
    assert triggers["workflow_dispatch"]["inputs"]["environment"]["options"] == ["staging", "prod"]
    job = deploy["jobs"]["deploy"]
    assert job["needs"] == "test" and "environment" in job
    assert job["permissions"] == {"contents": "read", "id-token": "write"}
    steps = {step.get("name", ""): step for step in job["steps"]}
    assert "--check" in steps["Check the account, write samconfig.toml"]["run"], (
        "the deploy role creates nothing"
    )
    smoke = steps["Deploy and smoke-test (prod is approved through the GitHub environment, hence -y)"]
    assert (
        smoke["env"]["SMOKE_JOURNEY"] == "${{ github.event_name == 'push' || inputs.environment != 'prod' }}"
    )
    for workflow in WORKFLOWS:  # the browser tests run on GitHub's runners: their image has Chromium
        for name, test_job in yaml.safe_load(workflow.read_text())["jobs"].items():
            runs = [step.get("run", "") for step in test_job["steps"]]
            if "./scripts/test.sh" in runs:
                assert runs.index("chromium --version") < runs.index("./scripts/test.sh"), (
                    workflow.name,
                    name,
                )


# --- the browser tests' Chromium (lib.sh ensure_chromium) ----------------------------------------


def _ensure_chromium(tmp_path: Path, *, sudo: bool, chromium: bool = False) -> tuple[str, list[str]]:
    """ensure_chromium as a non-root user, with stand-ins for id, sudo and apt-get that record
    their calls (installing a browser here is no test's business)."""
    bin_dir, calls = tmp_path / "bin", tmp_path / "calls"
    bin_dir.mkdir()
    stubs = {
        "id": "echo 1001",
        "apt-get": f'echo "apt-get $*" >> {calls}',
        "sudo": f'echo "sudo $*" >> {calls}; ' + ('[ "$1" = -n ] && shift; exec "$@"' if sudo else "exit 1"),
        **({"chromium": "exit 0"} if chromium else {}),
    }
    for name, body in stubs.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{body}\n")
        (bin_dir / name).chmod(0o755)
    for tool in ("dirname", "env", "true"):
        (bin_dir / tool).symlink_to(shutil.which(tool) or tool)
    result = subprocess.run(
        ["/bin/bash", "-c", f"source {ROOT / 'scripts' / 'lib.sh'} && ensure_chromium"],
        capture_output=True,
        text=True,
        env={"PATH": str(bin_dir)},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stderr, calls.read_text().splitlines() if calls.exists() else []


def test_chromium_is_installed_with_passwordless_sudo_as_on_githubs_runners(tmp_path: Path) -> None:
    log, calls = _ensure_chromium(tmp_path, sudo=True)
    assert "sudo -n apt-get update -qq" in calls
    assert "sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium" in calls
    assert "apt-get install -y -qq chromium" in calls and "with sudo" in log


def test_without_root_or_sudo_chromium_is_left_and_the_browser_tests_skip(tmp_path: Path) -> None:
    log, calls = _ensure_chromium(tmp_path, sudo=False)
    assert not any(call.startswith("apt-get") for call in calls)
    assert "the browser tests will skip" in log


def test_an_installed_chromium_is_left_as_it_is(tmp_path: Path) -> None:
    log, calls = _ensure_chromium(tmp_path, sudo=True, chromium=True)
    assert calls == [] and log == ""
