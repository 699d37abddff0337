"""Reads the CloudFormation/SAM YAML in infra/ and resolves the intrinsics the local stack needs.

Short-form tags (`!Ref X`, `!Sub "..."`, `!GetAtt A.B`, ...) load as their long form (`{"Ref": "X"}`,
`{"Fn::Sub": ...}`, `{"Fn::GetAtt": ["A", "B"]}`), exactly as CloudFormation reads them. PyYAML is a
development dependency (it is not shipped to Lambda), so it is imported only when a template is loaded.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PSEUDO_PARAMETERS = ("AWS::StackName", "AWS::Region", "AWS::AccountId", "AWS::Partition", "AWS::URLSuffix")
NO_VALUE = "AWS::NoValue"


class TemplateError(ValueError):
    """The template uses something the local stack cannot evaluate, or is malformed."""


class Unresolvable(TemplateError):
    """A reference to something the local stack does not create (an IAM role, a Lambda function...)."""


def load_template(path: Path) -> dict[str, Any]:
    """Parses a CloudFormation YAML file with its short-form intrinsic tags."""
    return loads(path.read_text(encoding="utf-8"))


def loads(text: str) -> dict[str, Any]:
    import yaml  # a dev dependency (via cfn-lint): never imported in Lambda

    loader_cls: Any = type("CfnLoader", (yaml.SafeLoader,), {})

    def construct(loader: Any, tag_suffix: str, node: Any) -> Any:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        if tag_suffix == "Ref":
            return {"Ref": value}
        if tag_suffix == "Condition":
            return {"Condition": value}
        if tag_suffix == "GetAtt" and isinstance(value, str):
            resource, _, attribute = value.partition(".")
            return {"Fn::GetAtt": [resource, attribute]}
        return {f"Fn::{tag_suffix}": value}

    loader_cls.add_multi_constructor("!", construct)
    document = yaml.load(text, Loader=loader_cls)  # noqa: S506 - a SafeLoader subclass
    if not isinstance(document, dict) or not isinstance(document.get("Resources"), dict):
        raise TemplateError("not a CloudFormation template: no Resources mapping")
    return document


@dataclass
class Physical:
    """What CloudFormation would report for a resource: its `Ref` value and `GetAtt` attributes."""

    logical_id: str
    type: str
    name: str
    ref: str | None  # None until known (an SQS queue's URL is known once the queue exists)
    attributes: dict[str, str] = field(default_factory=dict)


_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_MISSING = object()


class Resolver:
    """Evaluates intrinsic functions against parameters, pseudo parameters and known resources."""

    def __init__(
        self,
        template: Mapping[str, Any],
        *,
        stack_name: str,
        region: str,
        account_id: str,
        parameters: Mapping[str, str] | None = None,
        resources: Mapping[str, Physical] | None = None,
    ) -> None:
        self.template = template
        self.resources: Mapping[str, Physical] = resources or {}
        self.pseudo = {
            "AWS::StackName": stack_name,
            "AWS::Region": region,
            "AWS::AccountId": account_id,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
        self.parameters: dict[str, str] = {}
        for name, spec in (template.get("Parameters") or {}).items():
            if isinstance(spec, dict) and "Default" in spec:
                self.parameters[name] = str(spec["Default"])
        self.parameters.update(parameters or {})
        self._functions: dict[str, Callable[[Any], Any]] = {
            "Ref": self._ref,
            "Fn::Sub": self._sub,
            "Fn::GetAtt": self._get_att,
            "Fn::Join": self._join,
            "Fn::Select": self._select,
            "Fn::Split": self._split,
            "Fn::If": self._if,
            "Fn::Equals": self._equals,
            "Fn::Not": lambda v: not self._condition_value(self.resolve(v)[0]),
            "Fn::And": lambda v: all(self._condition_value(x) for x in self.resolve(v)),
            "Fn::Or": lambda v: any(self._condition_value(x) for x in self.resolve(v)),
            "Condition": lambda v: self.condition(str(v)),
            "Fn::FindInMap": self._find_in_map,
            "Fn::Base64": lambda v: base64.b64encode(str(self.resolve(v)).encode()).decode(),
        }

    def with_resources(self, resources: Mapping[str, Physical]) -> Resolver:
        clone = Resolver(
            self.template,
            stack_name=self.pseudo["AWS::StackName"],
            region=self.pseudo["AWS::Region"],
            account_id=self.pseudo["AWS::AccountId"],
            parameters=self.parameters,
            resources=resources,
        )
        return clone

    def resolve(self, value: Any) -> Any:
        """Returns `value` with every intrinsic evaluated; `AWS::NoValue` entries are dropped."""
        result = self._resolve(value)
        return None if result is _MISSING else result

    def _resolve(self, value: Any) -> Any:
        if isinstance(value, dict):
            if len(value) == 1:
                (key, argument), = value.items()
                function = self._functions.get(key)
                if function is not None:
                    return function(argument)
                if key.startswith("Fn::"):
                    raise TemplateError(f"intrinsic {key} is not supported by the local stack")
            resolved = {k: self._resolve(v) for k, v in value.items()}
            return {k: v for k, v in resolved.items() if v is not _MISSING}
        if isinstance(value, list):
            items = [self._resolve(v) for v in value]
            return [v for v in items if v is not _MISSING]
        return value

    def condition(self, name: str) -> bool:
        conditions = self.template.get("Conditions") or {}
        if name not in conditions:
            raise TemplateError(f"unknown condition {name!r}")
        return self._condition_value(self._resolve(conditions[name]))

    @staticmethod
    def _condition_value(value: Any) -> bool:
        if isinstance(value, bool):
            return value
        raise TemplateError(f"a condition evaluated to {value!r}, not a boolean")

    def _ref(self, name: Any) -> Any:
        if name == NO_VALUE:
            return _MISSING
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        physical = self.resources.get(name)
        if physical is None or physical.ref is None:
            raise Unresolvable(f"!Ref {name}: not a parameter or a resource the local stack creates")
        return physical.ref

    def _get_att(self, argument: Any) -> str:
        if isinstance(argument, str):
            argument = argument.split(".", 1)
        resource, attribute = (self._resolve(part) for part in argument)
        physical = self.resources.get(resource)
        if physical is None or attribute not in physical.attributes:
            raise Unresolvable(f"!GetAtt {resource}.{attribute}: unknown to the local stack")
        return physical.attributes[attribute]

    def _sub(self, argument: Any) -> str:
        if isinstance(argument, list):
            text, variables = argument[0], {k: self._resolve(v) for k, v in argument[1].items()}
        else:
            text, variables = argument, {}
        if not isinstance(text, str):
            raise TemplateError(f"!Sub needs a string, got {text!r}")

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):  # ${!Literal} stays as ${Literal}
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and name not in self.pseudo:
                return str(self._get_att(name))
            return str(self._ref(name))

        return _SUB_VARIABLE.sub(replace, text)

    def _join(self, argument: Any) -> str:
        delimiter, items = self._resolve(argument)
        return str(delimiter).join(str(item) for item in items)

    def _select(self, argument: Any) -> Any:
        index, items = self._resolve(argument)
        return items[int(index)]

    def _split(self, argument: Any) -> list[str]:
        delimiter, text = self._resolve(argument)
        return str(text).split(str(delimiter))

    def _if(self, argument: Any) -> Any:
        name, when_true, when_false = argument
        return self._resolve(when_true if self.condition(name) else when_false)

    def _equals(self, argument: Any) -> bool:
        left, right = self._resolve(argument)
        return bool(left == right)

    def _find_in_map(self, argument: Any) -> Any:
        map_name, top, second = self._resolve(argument)
        try:
            return self.template["Mappings"][map_name][top][second]
        except (KeyError, TypeError) as error:
            raise TemplateError(f"!FindInMap {map_name}.{top}.{second}: not in Mappings") from error


def deep_merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """Merges like `chalice package --merge-template`: dicts merge, scalars and lists are replaced."""
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
