"""The merged SAM template: cfn-lint clean, every resource hardened, least-privilege IAM, every function
wired (environment, logs, dead-letter queues), the ingest rule scoped to this stack's inbox bucket."""

from __future__ import annotations

import re
import subprocess
from typing import Any

import pytest

from tests.packaging import cfn_yaml
from tests.packaging.conftest import FALLBACK_POLICY_SID, ROOT, Package, clean_env, tool

pytestmark = pytest.mark.slow

# Event sources Lambda invokes asynchronously: failures end in the function's DeadLetterQueue.
ASYNC_EVENT_TYPES = {"Schedule", "CloudWatchEvent", "EventBridgeRule", "SNS", "S3"}
# Event sources that are EventBridge rules: delivery failures end in the rule target's DeadLetterConfig.
RULE_EVENT_TYPES = {"Schedule", "CloudWatchEvent", "EventBridgeRule"}
# Environment variables naming a resource, with the resource type they must point at.
RESOURCE_VAR_SUFFIXES = {
    "_TABLE": "AWS::DynamoDB::Table",
    "_BUCKET": "AWS::S3::Bucket",
    "_TOPIC": "AWS::SNS::Topic",
    "_QUEUE": "AWS::SQS::Queue",
}


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return cfn_yaml.resources_of_type(template, "AWS::Serverless::Function")


def _resource(template: dict[str, Any], logical_id: str | None) -> dict[str, Any]:
    assert logical_id in template["Resources"], f"no resource {logical_id}"
    resource: dict[str, Any] = template["Resources"][logical_id]
    return resource


def _policy_documents(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """Every identity-based policy document: role inline policies, managed and standalone policies."""
    docs: list[tuple[str, dict[str, Any]]] = []
    for name, res in template["Resources"].items():
        props = res.get("Properties", {})
        if res.get("Type") == "AWS::IAM::Role":
            docs += [(f"{name}/{p.get('PolicyName')}", p["PolicyDocument"]) for p in props.get("Policies", [])]
        elif res.get("Type") in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
            docs.append((name, props["PolicyDocument"]))
    return docs


def _allow_statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (name, statement)
        for name, doc in _policy_documents(template)
        for statement in cfn_yaml.as_list(doc["Statement"])
        if statement.get("Effect") == "Allow"
    ]


def _role_statements(template: dict[str, Any], role_id: str) -> list[dict[str, Any]]:
    role = _resource(template, role_id)["Properties"]
    statements = [s for p in role.get("Policies", []) for s in cfn_yaml.as_list(p["PolicyDocument"]["Statement"])]
    for arn in role.get("ManagedPolicyArns", []):
        managed = _resource(template, cfn_yaml.ref_target(arn))
        statements += cfn_yaml.as_list(managed["Properties"]["PolicyDocument"]["Statement"])
    return [s for s in statements if s.get("Effect") == "Allow"]


def _grants(statements: list[dict[str, Any]], action: str, target: str) -> bool:
    return any(
        action in cfn_yaml.as_list(s["Action"])
        and target in {cfn_yaml.ref_target(r) for r in cfn_yaml.as_list(s["Resource"])}
        for s in statements
    )


# ---------------------------------------------------------------------------------------------- lint


def test_cfn_lint_is_clean(package: Package) -> None:
    # Exit code is a bit mask: 2 errors, 4 warnings, 8 informational. Warnings fail too; a rule that
    # must be ignored goes in .cfnlintrc or resource Metadata with the reason next to it.
    result = subprocess.run(
        [tool("cfn-lint"), str(package.template_path)],
        cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, f"cfn-lint exit {result.returncode}:\n{result.stdout}\n{result.stderr}"


# ---------------------------------------------------------------------------------------------- data


def test_tables_are_on_demand_recoverable_encrypted_and_protected(package: Package) -> None:
    tables = cfn_yaml.resources_of_type(package.template, "AWS::DynamoDB::Table")
    assert len(tables) >= 6
    for name, table in tables.items():
        props = table["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST", name
        assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True, name
        assert props["SSESpecification"]["SSEEnabled"] is True, name
        assert props["DeletionProtectionEnabled"] is True, name
        assert table.get("DeletionPolicy") == "Retain" and table.get("UpdateReplacePolicy") == "Retain", name
        assert "Fn::Sub" in props["TableName"] and "${AWS::StackName}-" in props["TableName"]["Fn::Sub"], name


def test_inbox_bucket_is_private_versioned_encrypted_and_emits_events(package: Package) -> None:
    bucket = _resource(package.template, "InboxBucket")
    props = bucket["Properties"]
    assert props["NotificationConfiguration"]["EventBridgeConfiguration"]["EventBridgeEnabled"] is True
    assert props["VersioningConfiguration"]["Status"] == "Enabled"
    block = props["PublicAccessBlockConfiguration"]
    assert all(block[k] is True for k in ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls",
                                          "RestrictPublicBuckets"))
    rules = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rules[0]["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in ("AES256", "aws:kms", "aws:kms:dsse")
    lifecycle = props["LifecycleConfiguration"]["Rules"]
    assert any("NoncurrentVersionExpiration" in r for r in lifecycle)
    # Originals are kept: nothing expires current versions.
    assert not any("ExpirationInDays" in r or "ExpirationDate" in r for r in lifecycle)
    assert bucket.get("DeletionPolicy") == "Retain"


def test_inbox_bucket_policy_denies_plain_http(package: Package) -> None:
    policies = [
        p for p in cfn_yaml.resources_of_type(package.template, "AWS::S3::BucketPolicy").values()
        if cfn_yaml.ref_target(p["Properties"]["Bucket"]) == "InboxBucket"
    ]
    assert len(policies) == 1
    statements = cfn_yaml.as_list(policies[0]["Properties"]["PolicyDocument"]["Statement"])
    assert any(
        s["Effect"] == "Deny" and s["Condition"]["Bool"]["aws:SecureTransport"] in ("false", False)
        for s in statements
    )


def test_topics_and_queues_are_encrypted(package: Package) -> None:
    topics = cfn_yaml.resources_of_type(package.template, "AWS::SNS::Topic")
    assert "FinanceAlertsTopic" in topics
    for name, topic in topics.items():
        assert topic["Properties"].get("KmsMasterKeyId"), name
    queues = cfn_yaml.resources_of_type(package.template, "AWS::SQS::Queue")
    assert queues
    for name, queue in queues.items():
        props = queue["Properties"]
        assert props.get("SqsManagedSseEnabled") is True or props.get("KmsMasterKeyId"), name


# ---------------------------------------------------------------------------------------------- IAM


def test_no_wildcard_resource_except_xray_and_sms(package: Package) -> None:
    for name, statement in _allow_statements(package.template):
        if "*" in cfn_yaml.as_list(statement["Resource"]):
            actions = cfn_yaml.as_list(statement["Action"])
            if statement.get("Sid") == "SendReminderSms":  # SMS to a phone number has no ARN
                assert actions == ["sns:Publish"], name
                assert name.split("/")[0] in ("SendRemindersRole", "ApiHandlerRole"), name  # the senders only
                continue
            assert all(a.startswith("xray:") for a in actions), f"{name}: Resource * for {actions}"


def test_no_wildcard_actions_and_no_scan(package: Package) -> None:
    for name, statement in _allow_statements(package.template):
        assert "NotAction" not in statement and "NotResource" not in statement, name
        for action in cfn_yaml.as_list(statement["Action"]):
            assert "*" not in action, f"{name}: wildcard action {action}"
            assert action.lower() not in ("dynamodb:scan", "dynamodb:partiqlselect"), f"{name}: {action}"


def test_every_role_is_replaced_by_resources_yaml(package: Package) -> None:
    # The fallback policy from .chalice is what a new handler gets until infra/resources.yaml
    # overrides its role: this fails until it does.
    for name, doc in _policy_documents(package.template):
        sids = {s.get("Sid") for s in cfn_yaml.as_list(doc["Statement"])}
        assert FALLBACK_POLICY_SID not in sids, f"{name} still carries .chalice/fallback-policy.json"


# ---------------------------------------------------------------------------------------------- functions


def test_every_function_gets_every_resource_name_through_globals(package: Package) -> None:
    template = package.template
    global_vars = template["Globals"]["Function"]["Environment"]["Variables"]
    # Every *_TABLE / *_BUCKET / *_TOPIC / *_QUEUE variable chalicelib/config.py reads must be provided.
    config_source = (ROOT / "chalicelib" / "config.py").read_text()
    suffixes = "|".join(RESOURCE_VAR_SUFFIXES)
    wanted = set(re.findall(rf'"([A-Z][A-Z0-9_]*(?:{suffixes}))"', config_source))
    assert {"INVOICES_TABLE", "INBOX_BUCKET"} <= wanted, "config.py no longer names its variables literally?"
    assert not wanted - set(global_vars), f"not provided to the functions: {sorted(wanted - set(global_vars))}"
    for var, value in global_vars.items():
        suffix = next((s for s in RESOURCE_VAR_SUFFIXES if var.endswith(s)), None)
        if suffix:
            assert _resource(template, cfn_yaml.ref_target(value))["Type"] == RESOURCE_VAR_SUFFIXES[suffix], var

    functions = _functions(template)
    assert {"APIHandler", "IngestUpload", "RedriveInbox"} <= set(functions)
    for name, function in functions.items():
        environment = function["Properties"].get("Environment", {})
        # SAM merges Globals into the function's maps; an intrinsic or a same-named key would win instead.
        assert isinstance(environment, dict) and not any(k.startswith("Fn::") for k in environment), name
        local_vars = environment.get("Variables", {})
        assert isinstance(local_vars, dict), name
        assert not set(local_vars) & set(global_vars), f"{name} overrides {set(local_vars) & set(global_vars)}"
        merged = {**global_vars, **local_vars}
        assert merged["DUNWELL_STAGE"] == "prod", name
        assert merged["POWERTOOLS_SERVICE_NAME"] == "dunwell", name
        assert "LOG_LEVEL" in merged, name


def test_every_function_logs_only_to_its_own_group(package: Package) -> None:
    template = package.template
    groups: set[str | None] = set()
    for name, function in _functions(template).items():
        props = function["Properties"]
        group = cfn_yaml.ref_target(props.get("LoggingConfig", {}).get("LogGroup"))
        assert _resource(template, group)["Type"] == "AWS::Logs::LogGroup", f"{name}: no LoggingConfig"
        assert group not in groups, f"{name} shares log group {group}"
        groups.add(group)
        role_id = cfn_yaml.ref_target(props["Role"])
        statements = _role_statements(template, str(role_id))
        assert _grants(statements, "logs:PutLogEvents", str(group)), name
        log_targets = {
            cfn_yaml.ref_target(r)
            for s in statements if any(a.startswith("logs:") for a in cfn_yaml.as_list(s["Action"]))
            for r in cfn_yaml.as_list(s["Resource"])
        }
        assert log_targets == {group}, f"{name} may write to {log_targets}"


def test_async_functions_have_dead_letter_queues(package: Package) -> None:
    template = package.template
    async_functions = 0
    for name, function in _functions(template).items():
        props = function["Properties"]
        events = props.get("Events", {})
        if not any(e["Type"] in ASYNC_EVENT_TYPES for e in events.values()):
            continue
        async_functions += 1
        dlq = props.get("DeadLetterQueue")
        assert dlq and dlq["Type"] == "SQS", f"{name} has no DeadLetterQueue"
        queue = cfn_yaml.ref_target(dlq["TargetArn"])
        assert _resource(template, queue)["Type"] == "AWS::SQS::Queue"
        # SAM cannot add this permission to a role it did not create.
        assert _grants(_role_statements(template, str(cfn_yaml.ref_target(props["Role"]))), "sqs:SendMessage",
                       str(queue)), f"{name} cannot write to its DLQ"
        for event_name, event in events.items():
            if event["Type"] in RULE_EVENT_TYPES:
                target = cfn_yaml.ref_target(event["Properties"].get("DeadLetterConfig", {}).get("Arn"))
                assert target and _resource(template, target)["Type"] == "AWS::SQS::Queue", event_name
    assert async_functions >= 2


def test_rule_dead_letter_queue_admits_this_stacks_named_rules(package: Package) -> None:
    template = package.template
    policies = cfn_yaml.resources_of_type(template, "AWS::SQS::QueuePolicy").values()
    for name, function in _functions(template).items():
        for event_name, event in function["Properties"].get("Events", {}).items():
            if event["Type"] not in RULE_EVENT_TYPES or "DeadLetterConfig" not in event["Properties"]:
                continue
            rule_name = event["Properties"].get("RuleName" if event["Type"] != "Schedule" else "Name")
            assert rule_name == {"Fn::Sub": rule_name["Fn::Sub"]}, f"{event_name}: rule must be named"
            assert rule_name["Fn::Sub"].startswith("${AWS::StackName}-"), event_name
            queue = cfn_yaml.ref_target(event["Properties"]["DeadLetterConfig"]["Arn"])
            allowed = [
                s for p in policies if queue in {cfn_yaml.ref_target(q) for q in p["Properties"]["Queues"]}
                for s in cfn_yaml.as_list(p["Properties"]["PolicyDocument"]["Statement"])
                if s["Effect"] == "Allow" and s.get("Principal") == {"Service": "events.amazonaws.com"}
            ]
            assert allowed, f"{name}/{event_name}: EventBridge may not write to {queue}"
            source = allowed[0]["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"]
            assert source.endswith(":rule/${AWS::StackName}-*"), source


def test_ingest_rule_matches_only_this_stacks_inbox(package: Package) -> None:
    events = _resource(package.template, "IngestUpload")["Properties"]["Events"]
    (event,) = events.values()
    pattern = event["Properties"]["Pattern"]
    assert pattern["source"] == ["aws.s3"]
    assert pattern["detail-type"] == ["Object Created"]
    assert pattern["detail"]["bucket"]["name"] == [{"Ref": "InboxBucket"}]
    # From app.py, kept by the merge:
    assert pattern["detail"]["object"]["key"] == [{"prefix": "incoming/"}, {"prefix": "bank/"}]


# ---------------------------------------------------------------------------------------------- merge


def test_resources_yaml_overrides_only_resources_chalice_generates(package: Package) -> None:
    """A partial override (no Type) of a resource Chalice no longer generates would be an invalid
    resource: e.g. a handler renamed in app.py but not here."""
    merge = cfn_yaml.load(ROOT / "infra" / "resources.yaml")
    for name, resource in merge["Resources"].items():
        if "Type" not in resource:
            assert "Type" in package.template["Resources"][name], f"{name}: Chalice generates no such resource"


def test_ingest_runs_one_file_at_a_time(package: Package) -> None:
    """New invoices are batch-written after a read (no condition possible): ingests must not overlap."""
    functions = _functions(package.template)
    ingest = next(f for f in functions.values() if f["Properties"].get("Handler") == "app.ingest_upload")
    assert ingest["Properties"]["ReservedConcurrentExecutions"] == 1


# ---------------------------------------------------------------------------------------------- cursors


def test_the_cursor_signing_key_is_generated_and_only_the_api_reads_it(package: Package) -> None:
    template = package.template
    secret = _resource(template, "CursorSigningKey")
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    assert "GenerateSecretString" in secret["Properties"] and "SecretString" not in secret["Properties"]
    for name, function in _functions(template).items():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        role = str(cfn_yaml.ref_target(function["Properties"]["Role"]))
        reads = _grants(_role_statements(template, role), "secretsmanager:GetSecretValue", "CursorSigningKey")
        if name == "APIHandler":
            assert cfn_yaml.ref_target(variables.get("CURSOR_SIGNING_KEY_ARN")) == "CursorSigningKey"
            assert reads, "the API cannot read its cursor signing key"
        else:
            assert "CURSOR_SIGNING_KEY_ARN" not in variables and not reads, name
    assert "CURSOR_SIGNING_KEY_ARN" not in template["Globals"]["Function"]["Environment"]["Variables"]


# ---------------------------------------------------------------------------------------------- portal card payments


def test_the_stripe_secret_key_is_set_by_the_operator_and_only_the_api_reads_it(package: Package) -> None:
    template = package.template
    secret = _resource(template, "StripeSecretKey")
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    assert secret["Properties"]["SecretString"] == '{"secret_key": ""}'  # empty: bank transfer only
    for name, function in _functions(template).items():
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        role = str(cfn_yaml.ref_target(function["Properties"]["Role"]))
        reads = _grants(_role_statements(template, role), "secretsmanager:GetSecretValue", "StripeSecretKey")
        if name == "APIHandler":
            assert cfn_yaml.ref_target(variables.get("STRIPE_SECRET_KEY_ARN")) == "StripeSecretKey"
            assert reads, "the API cannot read the Stripe secret key"
        else:
            assert "STRIPE_SECRET_KEY_ARN" not in variables and not reads, name
    assert "STRIPE_SECRET_KEY_ARN" not in template["Globals"]["Function"]["Environment"]["Variables"]
