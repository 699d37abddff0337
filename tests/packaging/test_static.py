"""Fast checks of the packaging inputs (no package build): infra/resources.yaml against the PynamoDB
models, the .chalice configuration, the templates symlink and the base email layouts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jinja2 import ChoiceLoader, DictLoader, Environment, FileSystemLoader, StrictUndefined, select_autoescape

from tests.packaging import cfn_yaml
from tests.packaging.conftest import FALLBACK_POLICY_SID, ROOT

# ---------------------------------------------------------------------------------------------- schema


def _key_schema(entries: list[dict[str, str]]) -> dict[str, str]:
    return {e["KeyType"]: e["AttributeName"] for e in entries}


def test_tables_match_the_pynamodb_models() -> None:
    from chalicelib.adapters import models
    from chalicelib.config import Settings

    template = cfn_yaml.load(ROOT / "infra" / "resources.yaml")
    global_vars = template["Globals"]["Function"]["Environment"]["Variables"]
    # Name each table after its logical id through the same variables the Lambdas read.
    parameters = set(template.get("Parameters") or {})
    settings = Settings.from_env({var: str(cfn_yaml.ref_target(v)) for var, v in global_vars.items()
                                  if cfn_yaml.ref_target(v) not in (None, *parameters)})
    tables = cfn_yaml.resources_of_type(template, "AWS::DynamoDB::Table")
    compared = set()
    for model, logical_id in models.table_names(settings).items():
        assert logical_id in tables, f"{model.__name__}: its variable does not name a table"
        props = tables[logical_id]["Properties"]
        schema: Any = model._get_schema()  # the schema PynamoDB itself would create
        assert _key_schema(props["KeySchema"]) == _key_schema(schema["key_schema"]), logical_id
        expected_attrs = {a["AttributeName"]: a["AttributeType"] for a in schema["attribute_definitions"]}
        actual_attrs = {a["AttributeName"]: a["AttributeType"] for a in props["AttributeDefinitions"]}
        assert actual_attrs == expected_attrs, logical_id
        expected_gsis = {
            g["index_name"]: (_key_schema(g["key_schema"]), g["projection"]["ProjectionType"])
            for g in schema.get("global_secondary_indexes", [])
        }
        actual_gsis = {
            g["IndexName"]: (_key_schema(g["KeySchema"]), g["Projection"]["ProjectionType"])
            for g in props.get("GlobalSecondaryIndexes", [])
        }
        assert actual_gsis == expected_gsis, logical_id
        assert not schema.get("local_secondary_indexes") and "LocalSecondaryIndexes" not in props, logical_id
        compared.add(logical_id)
    assert compared == set(tables), f"tables without a model: {sorted(set(tables) - compared)}"
    assert len(compared) == len(models.ALL_MODELS)


SELLER_PARAMETERS = {"SELLER_NAME": "SellerName", "SELLER_ADDRESS": "SellerAddress", "SELLER_PHONE": "SellerPhone",
                     "SELLER_IBAN": "SellerIban", "SELLER_BIC": "SellerBic", "PAY_URL_TEMPLATE": "PayUrlTemplate"}


def test_seller_and_payment_details_are_stack_parameters_every_function_gets() -> None:
    template = cfn_yaml.load(ROOT / "infra" / "resources.yaml")
    global_vars = template["Globals"]["Function"]["Environment"]["Variables"]
    for variable, parameter in SELLER_PARAMETERS.items():
        assert cfn_yaml.ref_target(global_vars[variable]) == parameter, variable
        assert template["Parameters"][parameter]["Type"] == "String", parameter


@pytest.mark.parametrize(("parameter", "good", "bad"), [
    ("SellerIban", ["", "DE89370400440532013000", "DE89 3704 0044 0532 0130 00"], ["DE89", "89DE370400440532013000"]),
    ("SellerBic", ["", "COBADEFFXXX", "DEUTDEFF"], ["COBADEFFXX", "COBA1EFF"]),
    ("PayUrlTemplate", ["", "https://pay.example.com/i/{invoice_id}"], ["http://pay.example.com/", "https://a b"]),
])
def test_payment_parameters_refuse_a_wrong_shape_at_deploy(parameter: str, good: list[str], bad: list[str]) -> None:
    import re

    spec = cfn_yaml.load(ROOT / "infra" / "resources.yaml")["Parameters"][parameter]
    pattern = re.compile(spec["AllowedPattern"])  # CloudFormation matches the whole value
    assert spec["Default"] == ""  # a stage may choose the other way to pay
    assert all(pattern.fullmatch(value) for value in good), parameter
    assert not any(pattern.fullmatch(value) for value in bad), parameter


def test_unknown_routes_answer_without_echoing_the_request() -> None:
    template = cfn_yaml.load(ROOT / "infra" / "resources.yaml")
    definition = template["Resources"]["RestAPI"]["Properties"]["DefinitionBody"]
    responses = definition["x-amazon-apigateway-gateway-responses"]
    assert set(responses) == {"MISSING_AUTHENTICATION_TOKEN", "INCOMPLETE_SIGNATURE"}
    for response in responses.values():
        assert response["statusCode"] == "404"
        body = response["responseTemplates"]["application/json"]
        assert json.loads(body)["error"]["code"] == "no_such_route"
        assert "$" not in body  # no $context / $input: nothing of the request comes back


# ---------------------------------------------------------------------------------------------- .chalice


def test_chalice_config_turns_off_autogen_and_layers() -> None:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    assert config["app_name"] == "dunwell"
    assert config["autogen_policy"] is False
    assert config["automatic_layer"] is False
    assert (ROOT / ".chalice" / config["iam_policy_file"]).is_file()
    assert {"local", "test", "prod"} <= set(config["stages"])
    for name, stage in config["stages"].items():
        env = {**config.get("environment_variables", {}), **stage.get("environment_variables", {})}
        assert env["DUNWELL_STAGE"] == name
        assert env["POWERTOOLS_SERVICE_NAME"] == "dunwell"
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == "Dunwell"
        assert env["LOG_LEVEL"] in ("DEBUG", "INFO", "WARNING")
        # Resource names come from the stack (infra/resources.yaml Globals), never from config.json.
        assert not [k for k in env if k.endswith(("_TABLE", "_BUCKET", "_TOPIC", "_QUEUE"))], name


def test_fallback_policy_file_is_logs_only() -> None:
    config = json.loads((ROOT / ".chalice" / "config.json").read_text())
    doc = json.loads((ROOT / ".chalice" / config["iam_policy_file"]).read_text())
    for statement in doc["Statement"]:
        assert statement["Sid"] == FALLBACK_POLICY_SID
        assert all(a.startswith("logs:") for a in statement["Action"])
        assert statement["Resource"] != "*"


def test_templates_symlink_is_relative() -> None:
    link = ROOT / "vendor" / "templates"
    assert link.is_symlink(), "vendor/templates must be a symlink to ../templates (STACK.md)"
    assert Path(link.readlink()) == Path("../templates")
    assert link.resolve() == (ROOT / "templates").resolve()


# ---------------------------------------------------------------------------------------------- layouts

_CHILDREN = {
    "en/t.html.j2": (
        '{% extends "base.html.j2" %}'
        "{% block content %}<p>Dear {{ customer }},</p>{% endblock %}"
        "{% block footer_note %}You buy from {{ sender.name }}.{% endblock %}"
    ),
    "en/t.txt.j2": (
        '{% extends "base.txt.j2" %}'
        "{% block content %}Dear {{ customer }},{% endblock %}"
        "{% block footer_note %}You buy from {{ sender.name }}.{% endblock %}"
    ),
}


@pytest.fixture
def env() -> Environment:
    # The environment templates/README.md prescribes.
    return Environment(
        loader=ChoiceLoader([DictLoader(_CHILDREN), FileSystemLoader(ROOT / "templates")]),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default_for_string=False),
        undefined=StrictUndefined,
    )


FULL_SENDER = {
    "name": "Acme & Sons",
    "legal_name": "Acme & Sons GmbH",
    "address_lines": ["Hauptstr. 1", "1010 Wien"],
    "email": "ar@acme.example",
    "phone": "+43 1 234",
    "website": "acme.example",
    "legal_lines": ["FN 12345a"],
}


def test_html_layout_escapes_and_shows_the_sender(env: Environment) -> None:
    html = env.get_template("en/t.html.j2").render(
        sender=FULL_SENDER, subject="Invoice <1>", customer="Bob <script>", lang="de-AT", preheader="Hi",
    )
    assert "Dear Bob &lt;script&gt;," in html
    assert "<script>" not in html
    assert '<html lang="de-AT">' in html
    assert "<title>Invoice &lt;1&gt;</title>" in html
    assert "Acme &amp; Sons GmbH" in html and "1010 Wien" in html and "FN 12345a" in html
    assert "You buy from Acme &amp; Sons." in html


def test_text_layout_is_not_escaped(env: Environment) -> None:
    text = env.get_template("en/t.txt.j2").render(sender=FULL_SENDER, subject="x", customer="Bob & Co")
    assert text.startswith("Acme & Sons\n\nDear Bob & Co,\n\n-- \n")
    assert "You buy from Acme & Sons.\n\nAcme & Sons GmbH\nHauptstr. 1\n1010 Wien\nar@acme.example" in text
    assert "&amp;" not in text


@pytest.mark.parametrize("name", ["base.html.j2", "base.txt.j2"])
def test_layouts_render_with_only_the_required_context(env: Environment, name: str) -> None:
    out = env.get_template(name).render(sender={"name": "Solo"}, subject="s")
    assert "Solo" in out
