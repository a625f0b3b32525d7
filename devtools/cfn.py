"""Read template.yaml as CloudFormation does: short-form tags and the few intrinsics it uses."""

from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import yaml

TEMPLATE_PATH = Path(__file__).resolve().parent.parent / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    pass


def _tag(name: str) -> Callable[[yaml.SafeLoader, yaml.Node], dict[str, Any]]:
    key = "Fn::GetAtt" if name == "GetAtt" else ("Ref" if name == "Ref" else f"Fn::{name}")

    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "GetAtt":
                value = value.split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:  # YAML's composer makes only scalar, sequence and mapping nodes
            value = loader.construct_mapping(cast(yaml.MappingNode, node), deep=True)
        return {key: value}

    return construct


for _name in (
    "Ref",
    "Sub",
    "GetAtt",
    "If",
    "Equals",
    "Not",
    "And",
    "Or",
    "Split",
    "Join",
    "Select",
    "Condition",
    "FindInMap",
    "Base64",
    "ImportValue",
    "GetAZs",
):
    _CfnLoader.add_constructor(f"!{_name}", _tag(_name))


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    with path.open() as handle:
        template: dict[str, Any] = yaml.load(handle, Loader=_CfnLoader)
    return template


class Resolver:
    """Resolves Ref/Sub/If/Equals/Not/And/Split/Join against parameters and pseudo-parameters.

    Refs to resources resolve to the names given in `resource_names`, as CloudFormation would
    after creating them.
    """

    def __init__(
        self,
        template: dict[str, Any],
        parameters: dict[str, str],
        resource_names: dict[str, str] | None = None,
        account_id: str = "123456789012",
        region: str = "us-east-1",
    ) -> None:
        self._template = template
        defaults = {
            name: str(spec["Default"])
            for name, spec in template.get("Parameters", {}).items()
            if "Default" in spec
        }
        self._values = {
            **defaults,
            **parameters,
            **(resource_names or {}),
            "AWS::AccountId": account_id,
            "AWS::Region": region,
            "AWS::Partition": "aws",
            "AWS::NoValue": None,
        }

    def condition(self, name: str) -> bool:
        return bool(self.resolve(self._template["Conditions"][name]))

    def broken_rules(self) -> list[str]:
        """The AssertDescription of every Rules assertion these parameters break, as CloudFormation
        checks them before it creates or updates anything."""
        broken = []
        for rule in self._template.get("Rules", {}).values():
            if "RuleCondition" in rule and not self.resolve(rule["RuleCondition"]):
                continue
            broken += [a["AssertDescription"] for a in rule["Assertions"] if not self.resolve(a["Assert"])]
        return broken

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [item for item in (self.resolve(v) for v in value) if item is not None]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {k: r for k, v in value.items() if (r := self.resolve(v)) is not None}
        ((key, argument),) = value.items()
        if key == "Ref":
            return self._values[argument]
        if key == "Fn::Sub":
            text = argument if isinstance(argument, str) else argument[0]
            for name, replacement in self._values.items():
                text = text.replace("${" + name + "}", str(replacement))
            return text.replace("${!", "${")  # ${!Literal} is how Sub writes a literal ${Literal}
        if key == "Fn::If":
            name, when_true, when_false = argument
            return self.resolve(when_true if self.condition(name) else when_false)
        if key == "Fn::Equals":
            left, right = (self.resolve(a) for a in argument)
            return left == right
        if key == "Fn::Not":
            return not self.resolve(argument[0])
        if key == "Fn::And":
            return all(self.resolve(a) for a in argument)
        if key == "Fn::Or":
            return any(self.resolve(a) for a in argument)
        if key == "Fn::Condition":
            return self.condition(argument)
        if key == "Fn::FindInMap":
            mapping, first, second = (self.resolve(a) for a in argument)
            return self._template["Mappings"][mapping][first][second]
        if key == "Fn::Split":
            separator, text = argument
            return self.resolve(text).split(separator)
        if key == "Fn::Select":
            index, items = argument
            return self.resolve(items)[int(index)]
        if key == "Fn::Join":
            separator, items = argument
            return separator.join(str(i) for i in self.resolve(items))
        return {key: self.resolve(argument)}
