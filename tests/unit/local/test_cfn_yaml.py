"""The local stack reads infra/resources.yaml the way CloudFormation does: short-form tags and intrinsics."""

from pathlib import Path

import pytest

from chalicelib.local.cfn_yaml import Physical, Resolver, TemplateError, Unresolvable, deep_merge, load_template, loads
from chalicelib.local.provision import TABLE, _plan, app_environment

ROOT = Path(__file__).resolve().parents[3]

TEMPLATE = """
Parameters:
  Suffix:
    Type: String
    Default: blue
Conditions:
  IsBlue: !Equals [!Ref Suffix, blue]
  NotBlue: !Not [!Condition IsBlue]
Mappings:
  Sizes:
    eu-west-1: {Small: "1"}
Globals:
  Function:
    Environment:
      Variables:
        THINGS_TABLE: !Ref ThingsTable
        THINGS_ARN: !GetAtt ThingsTable.Arn
        QUEUE_URL: !Ref WorkQueue
        ROLE: !GetAtt SomeRole.Arn
        LITERAL: 42
Resources:
  ThingsTable:
    Type: AWS::DynamoDB::Table
    Properties:
      TableName: !Sub "${AWS::StackName}-things-${Suffix}"
      KeySchema: [{AttributeName: id, KeyType: HASH}]
      AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
  WorkQueue:
    Type: AWS::SQS::Queue
  Inbox:
    Type: AWS::S3::Bucket
    Condition: NotBlue
  SomeRole:
    Type: AWS::IAM::Role
"""


def resolver(template, resources=None):
    return Resolver(template, stack_name="dunwell-local", region="eu-west-1", account_id="123456789012",
                    resources=resources)


def test_short_form_tags_load_as_long_form():
    doc = loads("Resources:\n  A:\n    X: !Ref B\n    Y: !GetAtt B.Arn\n    Z: !Sub '${B}'\n"
                "    W: !Join ['-', [a, !Ref B]]\n    V: !GetAtt [B, Arn]\n")
    a = doc["Resources"]["A"]
    assert a["X"] == {"Ref": "B"}
    assert a["Y"] == {"Fn::GetAtt": ["B", "Arn"]}
    assert a["Z"] == {"Fn::Sub": "${B}"}
    assert a["W"] == {"Fn::Join": ["-", ["a", {"Ref": "B"}]]}
    assert a["V"] == {"Fn::GetAtt": ["B", "Arn"]}


def test_not_a_template():
    with pytest.raises(TemplateError):
        loads("just: a mapping\n")


def test_sub_ref_getatt_join_select_split_if_findinmap():
    template = loads(TEMPLATE)
    things = Physical("ThingsTable", TABLE, "t", "t", {"Arn": "arn:t"})
    r = resolver(template, {"ThingsTable": things})
    assert r.resolve({"Fn::Sub": "${AWS::StackName}-${AWS::Region}-${AWS::AccountId}"}) == (
        "dunwell-local-eu-west-1-123456789012"
    )
    assert r.resolve({"Fn::Sub": "${ThingsTable.Arn}/index/*"}) == "arn:t/index/*"
    assert r.resolve({"Fn::Sub": ["${X}-${Suffix}", {"X": {"Ref": "ThingsTable"}}]}) == "t-blue"
    assert r.resolve({"Fn::Sub": "${!Literal}"}) == "${Literal}"
    assert r.resolve({"Fn::Join": ["/", ["a", {"Ref": "ThingsTable"}]]}) == "a/t"
    assert r.resolve({"Fn::Select": [1, {"Fn::Split": [",", "x,y,z"]}]}) == "y"
    assert r.resolve({"Fn::If": ["IsBlue", "b", "g"]}) == "b"
    assert r.resolve({"Fn::FindInMap": ["Sizes", {"Ref": "AWS::Region"}, "Small"]}) == "1"
    assert r.resolve({"a": {"Fn::If": ["NotBlue", 1, {"Ref": "AWS::NoValue"}]}, "b": 2}) == {"b": 2}
    assert r.resolve([{"Ref": "AWS::NoValue"}, 1]) == [1]


def test_unknown_references_and_functions():
    r = resolver(loads(TEMPLATE))
    with pytest.raises(Unresolvable):
        r.resolve({"Ref": "SomeRole"})
    with pytest.raises(Unresolvable):
        r.resolve({"Fn::GetAtt": ["SomeRole", "Arn"]})
    with pytest.raises(TemplateError, match="Fn::Cidr"):
        r.resolve({"Fn::Cidr": ["10.0.0.0/16", 2, 8]})


def test_plan_names_conditions_and_environment():
    template = loads(TEMPLATE)
    r = resolver(template, {"SomeRole": Physical("SomeRole", "AWS::IAM::Role", "r", None)})
    planned = _plan(template, r)
    assert set(planned) == {"ThingsTable", "WorkQueue"}  # Inbox: condition false; the role: not created
    assert planned["ThingsTable"].name == "dunwell-local-things-blue"
    assert planned["WorkQueue"].name == "dunwell-local-WorkQueue"
    planned["WorkQueue"].ref = "http://localhost/123456789012/dunwell-local-WorkQueue"
    environment = app_environment(template, r.with_resources(planned))
    assert environment == {
        "THINGS_TABLE": "dunwell-local-things-blue",
        "THINGS_ARN": "arn:aws:dynamodb:eu-west-1:123456789012:table/dunwell-local-things-blue",
        "QUEUE_URL": "http://localhost/123456789012/dunwell-local-WorkQueue",
        "LITERAL": "42",
    }


def test_deep_merge_like_chalice_package():
    base = {"source": ["aws.s3"], "detail": {"object": {"key": [{"prefix": "incoming/"}]}}}
    merged = deep_merge(base, {"detail": {"bucket": {"name": ["b"]}}, "source": ["x"]})
    assert merged == {"source": ["x"],
                      "detail": {"object": {"key": [{"prefix": "incoming/"}]}, "bucket": {"name": ["b"]}}}


@pytest.mark.skipif(not (ROOT / "infra" / "resources.yaml").is_file(), reason="infra/resources.yaml not written yet")
def test_the_real_template_gives_the_app_every_name_it_reads():
    template = load_template(ROOT / "infra" / "resources.yaml")
    r = resolver(template)
    planned = _plan(template, r)
    for physical in planned.values():
        physical.ref = physical.ref or f"http://queue/{physical.name}"
    environment = app_environment(template, r.with_resources(planned))
    expected = {"INVOICES_TABLE", "CREDIT_NOTES_TABLE", "CUSTOMERS_TABLE", "IMPORTS_TABLE", "EVENTS_TABLE",
                "API_KEYS_TABLE", "INBOX_BUCKET"}
    assert expected <= set(environment)
    tables = {p.name for p in planned.values() if p.type == TABLE}
    assert {environment[v] for v in expected - {"INBOX_BUCKET"}} <= tables
    assert environment["INVOICES_TABLE"] == "dunwell-local-invoices"
