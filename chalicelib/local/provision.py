"""Creates the resources of infra/resources.yaml in the local AWS (moto), from the very same definitions.

Only the types the app talks to are created: DynamoDB tables, S3 buckets, SNS topics, SQS queues and
EventBridge buses. IAM,
policies, functions and everything else are listed as skipped. Every step is idempotent, so re-running
against an endpoint that already has the resources succeeds (missing DynamoDB indexes are added).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from chalicelib.local.cfn_yaml import Physical, Resolver, TemplateError, Unresolvable

log = logging.getLogger("dw_local.provision")

ClientFactory = Callable[[str], Any]

TABLE = "AWS::DynamoDB::Table"
BUCKET = "AWS::S3::Bucket"
TOPIC = "AWS::SNS::Topic"
QUEUE = "AWS::SQS::Queue"
EVENT_BUS = "AWS::Events::EventBus"
SUPPORTED = (QUEUE, TOPIC, TABLE, BUCKET, EVENT_BUS)  # creation order: notifications need queues and topics first


@dataclass
class Provisioned:
    resources: dict[str, Physical]
    environment: dict[str, str]  # the app's env vars (Globals.Function.Environment.Variables), resolved
    skipped: list[str] = field(default_factory=list)


def provision(template: Mapping[str, Any], resolver: Resolver, clients: ClientFactory) -> Provisioned:
    resources = _plan(template, resolver)
    skipped = sorted(
        logical_id
        for logical_id, spec in template["Resources"].items()
        if logical_id not in resources and isinstance(spec, dict)
    )
    full = resolver.with_resources(resources)
    specs = template["Resources"]
    ordered = sorted(resources.values(), key=lambda p: (SUPPORTED.index(p.type), _has_redrive(specs[p.logical_id])))
    for physical in ordered:
        properties = _resolve_properties(full, physical.logical_id, specs[physical.logical_id].get("Properties"))
        creator = _CREATORS[physical.type]
        creator(clients, physical, properties, full)
        log.info("provisioned %s %s (%s)", physical.type, physical.name, physical.logical_id)
    return Provisioned(resources=resources, environment=app_environment(template, full), skipped=skipped)


def _resolve_properties(resolver: Resolver, logical_id: str, properties: Mapping[str, Any] | None) -> dict[str, Any]:
    """Each property resolved; one naming something not created locally (a KMS key...) is left out."""
    resolved = {}
    for name, value in (properties or {}).items():
        try:
            resolved[name] = resolver.resolve(value)
        except Unresolvable as error:
            log.info("%s.%s ignored locally: %s", logical_id, name, error)
    return resolved


def app_environment(template: Mapping[str, Any], resolver: Resolver) -> dict[str, str]:
    """The environment every function gets (SAM `Globals.Function.Environment.Variables`), resolved."""
    variables = (((template.get("Globals") or {}).get("Function") or {}).get("Environment") or {}).get("Variables")
    environment: dict[str, str] = {}
    for name, value in (variables or {}).items():
        try:
            resolved = resolver.resolve(value)
        except Unresolvable as error:
            log.info("env %s not set locally: %s", name, error)
            continue
        if resolved is not None:
            environment[name] = resolved if isinstance(resolved, str) else json.dumps(resolved)
    return environment


def _plan(template: Mapping[str, Any], resolver: Resolver) -> dict[str, Physical]:
    stack = resolver.pseudo["AWS::StackName"]
    region, account = resolver.pseudo["AWS::Region"], resolver.pseudo["AWS::AccountId"]
    planned: dict[str, Physical] = {}
    for logical_id, spec in template["Resources"].items():
        if not isinstance(spec, dict) or spec.get("Type") not in SUPPORTED:
            continue
        if "Condition" in spec and not resolver.condition(spec["Condition"]):
            log.info("skipping %s: condition %s is false", logical_id, spec["Condition"])
            continue
        kind, properties = spec["Type"], spec.get("Properties") or {}

        def name_of(prop: str, suffix: str = "", *, lower: bool = False) -> str:
            return _physical_name(resolver, stack, logical_id, properties, prop, suffix, lower)  # noqa: B023

        if kind == TABLE:
            name = name_of("TableName")
            arn = f"arn:aws:dynamodb:{region}:{account}:table/{name}"
            planned[logical_id] = Physical(logical_id, kind, name, name, {"Arn": arn})
        elif kind == BUCKET:
            name = name_of("BucketName", lower=True)
            planned[logical_id] = Physical(
                logical_id,
                kind,
                name,
                name,
                {
                    "Arn": f"arn:aws:s3:::{name}",
                    "DomainName": f"{name}.s3.amazonaws.com",
                    "RegionalDomainName": f"{name}.s3.{region}.amazonaws.com",
                },
            )
        elif kind == TOPIC:
            name = name_of("TopicName", ".fifo" if _truthy(properties.get("FifoTopic")) else "")
            arn = f"arn:aws:sns:{region}:{account}:{name}"
            planned[logical_id] = Physical(logical_id, kind, name, arn, {"TopicArn": arn, "TopicName": name})
        elif kind == EVENT_BUS:
            name = name_of("Name")
            arn = f"arn:aws:events:{region}:{account}:event-bus/{name}"
            planned[logical_id] = Physical(logical_id, kind, name, name, {"Arn": arn, "Name": name})
        else:
            name = name_of("QueueName", ".fifo" if _truthy(properties.get("FifoQueue")) else "")
            arn = f"arn:aws:sqs:{region}:{account}:{name}"
            planned[logical_id] = Physical(logical_id, kind, name, None, {"Arn": arn, "QueueName": name})
    return planned


def _physical_name(
    resolver: Resolver, stack: str, logical_id: str, properties: Mapping[str, Any], prop: str, suffix: str, lower: bool
) -> str:
    """The explicit name property, resolved; else a CloudFormation-like `<stack>-<LogicalId>`."""
    explicit = properties.get(prop)
    if explicit is None:
        default = f"{stack}-{logical_id}{suffix}"
        return default.lower()[:63] if lower else default
    try:
        return str(resolver.resolve(explicit))
    except Unresolvable as error:
        raise TemplateError(f"{logical_id}.{prop} must depend only on parameters: {error}") from error


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _has_redrive(spec: Mapping[str, Any]) -> bool:
    return "RedrivePolicy" in (spec.get("Properties") or {})


def _error_code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


# --- DynamoDB ---------------------------------------------------------------------------------------------


def _create_table(clients: ClientFactory, physical: Physical, props: dict[str, Any], _: Resolver) -> None:
    from botocore.exceptions import ClientError

    ddb = clients("dynamodb")
    on_demand = props.get("BillingMode", "PROVISIONED") == "PAY_PER_REQUEST"
    throughput = props.get("ProvisionedThroughput") or {"ReadCapacityUnits": 5, "WriteCapacityUnits": 5}
    request: dict[str, Any] = {
        "TableName": physical.name,
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": "PAY_PER_REQUEST" if on_demand else "PROVISIONED",
    }
    if not on_demand:
        request["ProvisionedThroughput"] = _throughput(throughput)
    gsis = [_index(i, on_demand, throughput) for i in props.get("GlobalSecondaryIndexes") or []]
    if gsis:
        request["GlobalSecondaryIndexes"] = gsis
    lsis = [_index(i, True, None) for i in props.get("LocalSecondaryIndexes") or []]
    if lsis:
        request["LocalSecondaryIndexes"] = lsis
    stream = props.get("StreamSpecification")
    if stream:
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    try:
        ddb.create_table(**request)
    except ClientError as error:
        if _error_code(error) != "ResourceInUseException":
            raise
        _add_missing_indexes(ddb, physical.name, request)
    ddb.get_waiter("table_exists").wait(TableName=physical.name, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    description = ddb.describe_table(TableName=physical.name)["Table"]
    if description.get("LatestStreamArn"):
        physical.attributes["StreamArn"] = description["LatestStreamArn"]
    ttl = props.get("TimeToLiveSpecification") or {}
    if _truthy(ttl.get("Enabled")):
        current = ddb.describe_time_to_live(TableName=physical.name)["TimeToLiveDescription"]
        if current.get("TimeToLiveStatus") not in ("ENABLED", "ENABLING"):
            ddb.update_time_to_live(
                TableName=physical.name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )


def _throughput(spec: Mapping[str, Any]) -> dict[str, int]:
    return {"ReadCapacityUnits": int(spec["ReadCapacityUnits"]), "WriteCapacityUnits": int(spec["WriteCapacityUnits"])}


def _index(spec: Mapping[str, Any], on_demand: bool, table_throughput: Mapping[str, Any] | None) -> dict[str, Any]:
    index: dict[str, Any] = {k: spec[k] for k in ("IndexName", "KeySchema", "Projection")}
    if not on_demand and table_throughput is not None:
        index["ProvisionedThroughput"] = _throughput(spec.get("ProvisionedThroughput") or table_throughput)
    return index


def _add_missing_indexes(ddb: Any, table: str, wanted: Mapping[str, Any]) -> None:
    existing = ddb.describe_table(TableName=table)["Table"]
    have = {i["IndexName"]: i for i in existing.get("GlobalSecondaryIndexes") or []}
    if {k["AttributeName"]: k["KeyType"] for k in existing["KeySchema"]} != {
        k["AttributeName"]: k["KeyType"] for k in wanted["KeySchema"]
    }:
        log.warning("table %s exists with another key schema: delete it to re-create it", table)
        return
    for index in wanted.get("GlobalSecondaryIndexes") or []:
        current = have.get(index["IndexName"])
        if current is None:
            log.info("table %s: adding missing index %s", table, index["IndexName"])
            ddb.update_table(
                TableName=table,
                AttributeDefinitions=wanted["AttributeDefinitions"],
                GlobalSecondaryIndexUpdates=[{"Create": index}],
            )
        elif current["KeySchema"] != index["KeySchema"]:
            log.warning("table %s: index %s has another key schema: delete the table", table, index["IndexName"])


# --- S3 ---------------------------------------------------------------------------------------------------


def _create_bucket(clients: ClientFactory, physical: Physical, props: dict[str, Any], resolver: Resolver) -> None:
    from botocore.exceptions import ClientError

    s3 = clients("s3")
    region = resolver.pseudo["AWS::Region"]
    location = {} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}
    try:
        s3.create_bucket(Bucket=physical.name, **location)
    except ClientError as error:
        if _error_code(error) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
    versioning = (props.get("VersioningConfiguration") or {}).get("Status")
    if versioning:
        s3.put_bucket_versioning(Bucket=physical.name, VersioningConfiguration={"Status": versioning})
    notifications = _notification_configuration(props.get("NotificationConfiguration") or {})
    if notifications:
        s3.put_bucket_notification_configuration(Bucket=physical.name, NotificationConfiguration=notifications)


def enable_eventbridge(s3: Any, bucket: str) -> None:
    """Turns on S3 -> EventBridge for `bucket`, keeping any other notification it has."""
    current = s3.get_bucket_notification_configuration(Bucket=bucket)
    current.pop("ResponseMetadata", None)
    if "EventBridgeConfiguration" not in current:
        current["EventBridgeConfiguration"] = {}
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=current)


def _notification_configuration(spec: Mapping[str, Any]) -> dict[str, Any]:
    """CloudFormation's NotificationConfiguration in the shape of the S3 API."""
    config: dict[str, Any] = {}
    if _truthy((spec.get("EventBridgeConfiguration") or {}).get("EventBridgeEnabled")):
        config["EventBridgeConfiguration"] = {}
    for cfn_key, api_key, target_key, api_target in (
        ("QueueConfigurations", "QueueConfigurations", "Queue", "QueueArn"),
        ("TopicConfigurations", "TopicConfigurations", "Topic", "TopicArn"),
    ):
        entries = []
        for entry in spec.get(cfn_key) or []:
            converted: dict[str, Any] = {api_target: entry[target_key], "Events": [entry["Event"]]}
            rules = ((entry.get("Filter") or {}).get("S3Key") or {}).get("Rules")
            if rules:
                converted["Filter"] = {"Key": {"FilterRules": rules}}
            entries.append(converted)
        if entries:
            config[api_key] = entries
    if spec.get("LambdaConfigurations"):
        log.info("S3 LambdaConfigurations are not emulated locally (the app uses S3 -> EventBridge)")
    return config


# --- SNS / SQS --------------------------------------------------------------------------------------------


def _create_topic(clients: ClientFactory, physical: Physical, props: dict[str, Any], _: Resolver) -> None:
    attributes = {k: str(props[k]).lower() for k in ("FifoTopic", "ContentBasedDeduplication") if k in props}
    arn = clients("sns").create_topic(Name=physical.name, Attributes=attributes)["TopicArn"]
    physical.ref = physical.attributes["TopicArn"] = arn


_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "ContentBasedDeduplication",
    "RedrivePolicy",
    "RedriveAllowPolicy",
)


def _create_queue(clients: ClientFactory, physical: Physical, props: dict[str, Any], _: Resolver) -> None:
    sqs = clients("sqs")
    attributes = {
        k: json.dumps(props[k]) if isinstance(props[k], dict) else str(props[k]).lower()
        if isinstance(props[k], bool)
        else str(props[k])
        for k in _QUEUE_ATTRIBUTES
        if k in props
    }
    fifo = {"FifoQueue": "true"} if _truthy(props.get("FifoQueue")) else {}
    url = ensure_queue(sqs, physical.name, attributes, fifo)
    physical.ref = physical.attributes["QueueUrl"] = url


def ensure_queue(sqs: Any, name: str, attributes: dict[str, str], create_only: dict[str, str] | None = None) -> str:
    """Creates the queue, or brings an existing one's attributes up to date; returns its URL."""
    from botocore.exceptions import ClientError

    try:
        return str(sqs.create_queue(QueueName=name, Attributes={**attributes, **(create_only or {})})["QueueUrl"])
    except ClientError as error:
        if _error_code(error) not in ("QueueAlreadyExists", "QueueNameExists"):
            raise
    url = str(sqs.get_queue_url(QueueName=name)["QueueUrl"])
    if attributes:
        sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
    return url


def _create_event_bus(clients: ClientFactory, physical: Physical, props: dict[str, Any], _: Resolver) -> None:
    from botocore.exceptions import ClientError

    try:
        clients("events").create_event_bus(Name=physical.name)
    except ClientError as error:
        if _error_code(error) != "ResourceAlreadyExistsException":
            raise


_CREATORS: dict[str, Callable[[ClientFactory, Physical, dict[str, Any], Resolver], None]] = {
    TABLE: _create_table,
    BUCKET: _create_bucket,
    TOPIC: _create_topic,
    QUEUE: _create_queue,
    EVENT_BUS: _create_event_bus,
}


# --- the app's functions as the template overrides them ---------------------------------------------------


def function_event_values(template: Mapping[str, Any], resolver: Resolver, handler: str, key: str) -> list[Any]:
    """The resolved `Events.*.Properties.<key>` the template lays over a Chalice function, if any.

    `chalice package --merge-template` names the function resource after the handler (`ingest_upload` ->
    `IngestUpload`), so infra/resources.yaml can, say, add the bucket name to an event pattern there.
    """
    from chalice.utils import to_cfn_resource_name

    spec = template["Resources"].get(to_cfn_resource_name(handler)) or {}
    events = (spec.get("Properties") or {}).get("Events") or {}
    values = []
    for event in events.values():
        properties = (event or {}).get("Properties") or {}
        if key in properties:
            try:
                values.append(resolver.resolve(properties[key]))
            except Unresolvable as error:
                log.warning("ignoring the template's %s for %s: %s", key, handler, error)
    return values
