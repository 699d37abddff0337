"""Load CloudFormation YAML (short-form intrinsics such as !Ref and !Sub) into plain long-form dicts,
and small helpers to walk the result. Used to read infra/resources.yaml and Chalice's sam.yaml."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

# A SafeLoader that also understands CloudFormation's short-form tags (built with type() so mypy, which
# sees yaml as untyped here, does not object to subclassing it).
_CfnLoader: Any = type("_CfnLoader", (yaml.SafeLoader,), {})


def _intrinsic(long_name: str) -> Any:
    def construct(loader: Any, node: Any) -> dict[str, Any]:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if long_name == "Fn::GetAtt":  # !GetAtt Res.Attr -> [Res, Attr]
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)
        return {long_name: value}

    return construct


for _short in ("Base64", "Cidr", "FindInMap", "GetAtt", "GetAZs", "ImportValue", "Join", "Select", "Split",
               "Sub", "Transform", "And", "Equals", "If", "Not", "Or"):
    _CfnLoader.add_constructor(f"!{_short}", _intrinsic(f"Fn::{_short}"))
_CfnLoader.add_constructor("!Ref", _intrinsic("Ref"))
_CfnLoader.add_constructor("!Condition", _intrinsic("Condition"))


def load(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as f:
        data = yaml.load(f, Loader=_CfnLoader)
    assert isinstance(data, dict), f"{path} is not a YAML mapping"
    return data


def resources_of_type(template: dict[str, Any], type_name: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template.get("Resources", {}).items() if v.get("Type") == type_name}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def ref_target(value: Any) -> str | None:
    """The logical id a `Ref` / `Fn::GetAtt` / simple `Fn::Sub "${X.Arn}..."` points at, else None."""
    if isinstance(value, dict) and len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref" and isinstance(arg, str):
            return arg
        if key == "Fn::GetAtt":
            parts = arg if isinstance(arg, list) else str(arg).split(".", 1)
            return str(parts[0])
        if key == "Fn::Sub" and isinstance(arg, str) and arg.startswith("${"):
            return arg[2:].split("}", 1)[0].split(".", 1)[0]
    return None
