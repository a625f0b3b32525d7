"""moto's CloudFormation, brought closer to AWS's for a real `sam deploy` of template.yaml.

moto applies no transform and models only some resource types, so on its own it cannot run the
change set `sam deploy` creates. Installed into the moto server of this process (its responses are
module-level, as the other rewrites in tests/infra/test_scripts.py), this:
- expands the template's `AWS::Serverless-2016-10-31` transform with SAM's own translator
  (samtranslator, from .venv-tools), as CloudFormation does when it creates a change set;
- gives the stack the outputs of the template it executed (moto keeps those of the empty
  template a change set's stack starts with);
- creates the resources that hold data or code for real (REAL_TYPES), and a stand-in (a physical
  id, and an ARN for any attribute) for every other: moto cannot create most of them.
What AWS would check that this does not: every resource's properties, IAM permissions of the
caller, and whether the API works (the smoke test's URL is the local `--lambda` stack, see
`serve_api_at`).
"""

import json
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from moto.cloudformation import parsing
from moto.cloudformation.models import CloudFormationBackend
from moto.core.common_models import CloudFormationModel

from devtools.cfn import load_template

ROOT = Path(__file__).resolve().parents[2]
TOOLS_PYTHON = ROOT / ".venv-tools" / "bin" / "python"
# The types moto creates for real here: what holds data or code, which the scripts look at (cleanup
# empties buckets, deploy uploads the function). Every other type is a stand-in: moto has no model
# for many (Cognito, Secrets Manager, WAF, Budgets, ...), and of those it has, some fail on this
# template (SAM's API Gateway resources come from an OpenAPI Body moto ignores, whose Deployment then
# has no methods; moto reads a KMS key's Tags as TagKey/TagValue).
REAL_TYPES = {
    "AWS::S3::Bucket",
    "AWS::DynamoDB::Table",
    "AWS::Logs::LogGroup",
    "AWS::IAM::Role",
    "AWS::Lambda::Function",
}

_TRANSFORM = """
import json, sys
from samtranslator.translator.transform import transform

class NoManagedPolicies:  # the template names managed policies by ARN only
    def load(self):
        return {}

template, parameters = json.load(sys.stdin), json.loads(sys.argv[1])
print(json.dumps(transform(template, parameters, NoManagedPolicies())))
"""


def sam_transform(template: dict[str, Any], parameters: dict[str, str], region: str) -> dict[str, Any]:
    """TEMPLATE after SAM's transform, as CloudFormation's AWS::Serverless transform gives it."""
    result = subprocess.run(
        [str(TOOLS_PYTHON), "-c", _TRANSFORM, json.dumps(parameters)],
        input=json.dumps(template),
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"], "AWS_DEFAULT_REGION": region},
        check=False,
    )
    assert result.returncode == 0, result.stderr
    transformed: dict[str, Any] = json.loads(result.stdout)
    return transformed


def _parse(template: str) -> dict[str, Any]:
    """A template as JSON, or as YAML with CloudFormation's short-form tags."""
    try:
        parsed: dict[str, Any] = json.loads(template)
    except json.JSONDecodeError:
        with tempfile.NamedTemporaryFile("w", suffix=".yaml") as copy:
            copy.write(template)
            copy.flush()
            parsed = load_template(Path(copy.name))
    return parsed


class StandIn(CloudFormationModel):
    """A resource moto cannot create: its name as physical id, an ARN-like value for attributes."""

    __module__ = "tests.standin"  # moto's model registry files models by the module's second part

    def __init__(self, name: str, resource_type: str, region: str, account_id: str) -> None:
        self.name, self.resource_type, self.region, self.account_id = name, resource_type, region, account_id

    @staticmethod
    def cloudformation_name_type() -> str:
        return ""

    @staticmethod
    def cloudformation_type() -> str:
        return "Tests::StandIn"

    @classmethod
    def has_cfn_attr(cls, _attr: str) -> bool:
        return True

    @classmethod
    def create_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, _json: Any, account_id: str, region_name: str, **kwargs: Any
    ) -> "StandIn":
        return cls(resource_name, kwargs.get("ResourceType", ""), region_name, account_id)

    @classmethod
    def update_from_cloudformation_json(  # type: ignore[misc]
        cls, original_resource: "StandIn", *_args: Any
    ) -> "StandIn":
        return original_resource

    @classmethod
    def delete_from_cloudformation_json(  # type: ignore[misc]
        cls, resource_name: str, cloudformation_json: Any, *args: Any
    ) -> None:
        pass

    @property
    def physical_resource_id(self) -> str:
        return self.name

    def get_cfn_attribute(self, _attribute_name: str) -> str:
        service = self.resource_type.split("::")[1].lower()
        return f"arn:aws:{service}:{self.region}:{self.account_id}:{self.name}"


@contextmanager
def as_aws(monkeypatch: pytest.MonkeyPatch, api_url: str | None = None) -> Iterator[None]:
    """moto's CloudFormation with SAM's transform and stand-ins; with API_URL, the stack's ApiUrl
    output names it (the API a real deploy would create is served there instead)."""
    moto_class_for: Callable[[str], Any] = parsing.resource_class_from_type
    moto_create_change_set = CloudFormationBackend.create_change_set

    def class_for(resource_type: str) -> Any:
        return moto_class_for(resource_type) if resource_type in REAL_TYPES else StandIn

    def create_change_set(
        self: CloudFormationBackend,
        stack_name: str,
        change_set_name: str,
        template: str,
        parameters: dict,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        body = _parse(template)
        if body.get("Transform"):
            body = sam_transform(body, parameters, self.region_name)
            body.pop("Transform", None)
        if api_url is not None:
            body["Outputs"]["ApiUrl"]["Value"] = api_url
        return moto_create_change_set(
            self, stack_name, change_set_name, json.dumps(body), parameters, *args, **kwargs
        )

    moto_execute_change_set = CloudFormationBackend.execute_change_set

    def execute_change_set(
        self: CloudFormationBackend, change_set_name: str, stack_name: str | None = None
    ) -> None:
        """moto keeps the outputs of the empty template a change set's stack starts with."""
        moto_execute_change_set(self, change_set_name, stack_name)
        for stack in self.stacks.values():
            if stack.name == stack_name or any(
                change_set_name in (arn, change_set.change_set_name)
                for arn, change_set in self.change_sets.items()
                if change_set.stack_id == stack.stack_id
            ):
                stack._parse_template()
                stack.output_map = stack._create_output_map()

    monkeypatch.setattr(parsing, "resource_class_from_type", class_for)
    monkeypatch.setattr(CloudFormationBackend, "execute_change_set", execute_change_set)
    monkeypatch.setattr(CloudFormationBackend, "create_change_set", create_change_set)
    yield
