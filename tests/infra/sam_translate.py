"""template.yaml as CloudFormation gets it after SAM's transform, for one environment's config: what
SAM generates (the alias, the version, the API's integrations and invoke permissions, CodeDeploy's
resources) is only visible there.

Run as a script by the tools virtualenv's Python, which has SAM's translator (the dev virtualenv
does not); `translated(environment)` does that. The AWS::LanguageExtensions transform, which SAM's
translator does not run, only resolves DeletionPolicy/UpdateReplacePolicy here: they read Delete.
"""

import json
import os
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TOOLS_PYTHON = ROOT / ".venv-tools" / "bin" / "python"


def _without_language_extensions(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: "Delete"
            if key in ("DeletionPolicy", "UpdateReplacePolicy") and isinstance(item, dict)
            else "s3://packaged/function.zip"  # what `sam package` gives the translator
            if key == "CodeUri"
            else _without_language_extensions(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_without_language_extensions(item) for item in value]
    return value


def _translate(parameters: dict[str, str]) -> dict[str, Any]:
    from samcli.yamlhelper import yaml_parse
    from samtranslator.translator.transform import transform

    class NoManagedPolicies:  # the template names no managed policy for SAM to look up
        def load(self) -> dict[str, str]:
            return {}

    template = yaml_parse((ROOT / "template.yaml").read_text())
    template["Transform"] = "AWS::Serverless-2016-10-31"
    result: dict[str, Any] = transform(
        _without_language_extensions(template), parameters, NoManagedPolicies()
    )
    return result


@cache
def translated(environment: str) -> dict[str, Any]:
    """The transformed template with ENVIRONMENT's config/<env>.env as parameters."""
    from tests.infra.deploy_config import expected_overrides

    parameters = expected_overrides(environment)
    result = subprocess.run(
        [str(TOOLS_PYTHON), __file__, json.dumps(parameters)],
        capture_output=True,
        text=True,
        env={**os.environ, "AWS_DEFAULT_REGION": "us-east-1", "SAM_CLI_TELEMETRY": "0"},
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    document: dict[str, Any] = json.loads(result.stdout)
    return document


if __name__ == "__main__":
    print(json.dumps(_translate(json.loads(sys.argv[1]))))
