"""chalicelib/local/moto_dynamodb.py: the DynamoDB transaction semantics Dunwell relies on, on the patched moto
the tests and the local stack run (installed by tests/integration/conftest.py and EmbeddedMoto.start)."""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.core import DEFAULT_ACCOUNT_ID

from chalicelib.local import moto_dynamodb

REGION = "eu-west-1"
LEDGER, EVENTS = "txn-ledger", "txn-events"


def _create_tables(client: Any) -> None:
    client.create_table(
        TableName=LEDGER, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    client.create_table(
        TableName=EVENTS, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                              {"AttributeName": "sk", "AttributeType": "S"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})


@pytest.fixture
def ddb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)
        _create_tables(client)
        for name, version in (("A", 1), ("C", 1), ("D", 1)):
            client.put_item(TableName=LEDGER, Item={"pk": {"S": name}, "version": {"N": str(version)},
                                                    "balance": {"N": "100"}})
        moto_dynamodb.stats.reset()
        yield client


def backend() -> Any:
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION]


def records(table: str) -> list[dict[str, Any]]:
    """The table's stream as GetRecords returns it (moto's DynamoDB Streams API is not reachable in-process)."""
    return [record.to_json() for record in backend().get_table(table).stream_shard.items]


def snapshot(client: Any) -> list[dict[str, Any]]:
    return sorted((client.scan(TableName=LEDGER)["Items"]), key=lambda item: item["pk"]["S"])


def key(name: str) -> dict[str, Any]:
    return {"pk": {"S": name}}


def update_if_version(name: str, version: int) -> dict[str, Any]:
    return {"Update": {"TableName": LEDGER, "Key": key(name),
                       "UpdateExpression": "SET balance = balance - :amount, version = :next",
                       "ConditionExpression": "version = :version",
                       "ExpressionAttributeValues": {":amount": {"N": "10"}, ":version": {"N": str(version)},
                                                     ":next": {"N": str(version + 1)}}}}


def put_new(name: str) -> dict[str, Any]:
    return {"Put": {"TableName": LEDGER, "Item": {**key(name), "balance": {"N": "0"}},
                    "ConditionExpression": "attribute_not_exists(pk)"}}


def check_version(name: str, version: int, **extra: Any) -> dict[str, Any]:
    return {"ConditionCheck": {"TableName": LEDGER, "Key": key(name), "ConditionExpression": "version = :v",
                               "ExpressionAttributeValues": {":v": {"N": str(version)}}, **extra}}


def delete(name: str) -> dict[str, Any]:
    return {"Delete": {"TableName": LEDGER, "Key": key(name), "ConditionExpression": "attribute_exists(pk)"}}


def cancellation(error: pytest.ExceptionInfo[ClientError]) -> list[dict[str, Any]]:
    assert error.value.response["Error"]["Code"] == "TransactionCanceledException"
    return list(error.value.response["CancellationReasons"])


def test_install_is_idempotent_and_patches_once() -> None:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.responses import DynamoHandler

    moto_dynamodb.install()
    moto_dynamodb.install()
    assert moto_dynamodb.installed()
    assert DynamoDBBackend.transact_write_items is moto_dynamodb._transact_write_items
    # Wrapped once: the wrapper's wrapped method is moto's own, not another wrapper.
    for method, moto_module in ((DynamoHandler.call_action, "moto.dynamodb.responses"),
                                (DynamoDBBackend.put_item, "moto.dynamodb.models")):
        assert method.__module__ == moto_dynamodb.__name__
        assert method.__wrapped__.__module__ == moto_module  # type: ignore[attr-defined]


def test_one_failing_condition_cancels_everything_with_a_reason_per_item_in_order(ddb: Any) -> None:
    before = snapshot(ddb)
    with pytest.raises(ClientError) as error:
        ddb.transact_write_items(TransactItems=[
            update_if_version("A", 1), put_new("B"), check_version("C", 7), delete("D")])
    reasons = cancellation(error)
    assert [r["Code"] for r in reasons] == ["None", "None", "ConditionalCheckFailed", "None"]
    assert reasons[2]["Message"] == "The conditional request failed"
    assert "Item" not in reasons[2]
    assert snapshot(ddb) == before
    assert records(LEDGER)[-1]["dynamodb"]["Keys"] == key("D")  # the seeding put of D, nothing after it


def test_several_failures_are_each_reported(ddb: Any) -> None:
    with pytest.raises(ClientError) as error:
        ddb.transact_write_items(TransactItems=[update_if_version("A", 5), put_new("C"), delete("Z")])
    assert [r["Code"] for r in cancellation(error)] == ["ConditionalCheckFailed"] * 3


def test_return_values_on_condition_check_failure_returns_the_item_before(ddb: Any) -> None:
    with pytest.raises(ClientError) as error:
        ddb.transact_write_items(TransactItems=[
            put_new("B"), check_version("C", 7, ReturnValuesOnConditionCheckFailure="ALL_OLD")])
    reasons = cancellation(error)
    assert reasons[0] == {"Code": "None"}
    assert reasons[1]["Item"] == {"pk": {"S": "C"}, "version": {"N": "1"}, "balance": {"N": "100"}}


def test_pynamodb_reads_the_cancellation_reasons(ddb: Any) -> None:
    from pynamodb.attributes import NumberAttribute, UnicodeAttribute
    from pynamodb.connection import Connection
    from pynamodb.exceptions import TransactWriteError
    from pynamodb.models import Model
    from pynamodb.transactions import TransactWrite

    class Row(Model):
        class Meta:
            table_name = LEDGER
            region = REGION

        pk = UnicodeAttribute(hash_key=True)
        version = NumberAttribute(null=True)
        balance = NumberAttribute(null=True)

    with pytest.raises(TransactWriteError) as error, \
            TransactWrite(connection=Connection(region=REGION)) as transaction:
        transaction.save(Row("B", balance=0), condition=Row.pk.does_not_exist())
        transaction.condition_check(Row, "C", condition=Row.version == 7)
    # PynamoDB sends condition checks first, then the puts; a passing item's reason is None.
    codes = [reason.code if reason else None for reason in error.value.cancellation_reasons]
    assert codes == ["ConditionalCheckFailed", None]
    assert Row.count("B") == 0


def test_a_cancelled_transaction_writes_nothing_not_even_for_a_moment(ddb: Any, monkeypatch: Any) -> None:
    """Conditions are evaluated against the state before the transaction, before any write: moto applied each
    item in turn and restored copies of the tables if a later one failed."""
    from moto.dynamodb.models import DynamoDBBackend

    writes: list[str] = []
    for name in ("put_item", "update_item", "delete_item"):
        original = getattr(DynamoDBBackend, name)

        def spy(self: Any, *args: Any, _original: Any = original, _name: str = name, **kwargs: Any) -> Any:
            writes.append(_name)
            return _original(self, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, spy)
    with pytest.raises(ClientError):
        ddb.transact_write_items(TransactItems=[update_if_version("A", 1), put_new("B"), delete("Z")])
    assert writes == []
    ddb.transact_write_items(TransactItems=[update_if_version("A", 1), put_new("B"), delete("D")])
    assert writes == ["update_item", "put_item", "delete_item"]


def test_duplicate_item_is_a_validation_error_and_nothing_changes(ddb: Any) -> None:
    before = snapshot(ddb)
    with pytest.raises(ClientError) as error:
        ddb.transact_write_items(TransactItems=[put_new("B"), update_if_version("A", 1), check_version("A", 1)])
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert "multiple operations on one item" in error.value.response["Error"]["Message"]
    assert snapshot(ddb) == before


def test_too_many_items_is_a_validation_error(ddb: Any) -> None:
    with pytest.raises(ClientError) as error:
        ddb.transact_write_items(TransactItems=[put_new(f"N{n}") for n in range(101)])
    assert error.value.response["Error"]["Code"] == "ValidationException"


def test_a_write_failing_midway_is_rolled_back_with_its_stream_records(ddb: Any) -> None:
    """A failure only the write itself meets (here: arithmetic on an attribute the item lacks, a validation
    error in moto) undoes the writes before it."""
    before, stream_before = snapshot(ddb), records(LEDGER)
    bad_update = {"Update": {"TableName": LEDGER, "Key": key("C"), "UpdateExpression": "SET missing = missing + :one",
                             "ExpressionAttributeValues": {":one": {"N": "1"}}}}
    with pytest.raises(ClientError) as error:
        ddb.transact_write_items(TransactItems=[
            update_if_version("A", 1), put_new("B"), delete("D"), bad_update])
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert snapshot(ddb) == before
    assert records(LEDGER) == stream_before
    assert moto_dynamodb.stats.rolled_back == 1
    # The restored items are the table's own again: a later transaction and stream see them as usual.
    ddb.transact_write_items(TransactItems=[update_if_version("A", 1), delete("D")])
    assert [r["eventName"] for r in records(LEDGER)[len(stream_before):]] == ["MODIFY", "REMOVE"]


def test_stream_records_one_per_changed_item_as_moto_emits_them(ddb: Any) -> None:
    start = len(records(LEDGER))
    ddb.transact_write_items(TransactItems=[
        update_if_version("A", 1), put_new("B"), check_version("C", 1), delete("D"),
        {"Update": {"TableName": LEDGER, "Key": key("E"), "UpdateExpression": "SET balance = :b",
                    "ExpressionAttributeValues": {":b": {"N": "5"}}}},
        {"Put": {"TableName": EVENTS, "Item": {"pk": {"S": "payment"}, "sk": {"S": "001"}}}}])
    emitted = records(LEDGER)[start:]
    assert [(r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"]) for r in emitted] == [
        ("MODIFY", "A"), ("INSERT", "B"), ("REMOVE", "D"), ("INSERT", "E")]
    modify, insert, remove, upsert = (r["dynamodb"] for r in emitted)
    assert modify["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert modify["OldImage"] == {"pk": {"S": "A"}, "version": {"N": "1"}, "balance": {"N": "100"}}
    assert modify["NewImage"] == {"pk": {"S": "A"}, "version": {"N": "2"}, "balance": {"N": "90"}}
    assert "OldImage" not in insert and insert["NewImage"] == {"pk": {"S": "B"}, "balance": {"N": "0"}}
    assert "NewImage" not in remove and remove["OldImage"]["pk"] == {"S": "D"}
    assert upsert["NewImage"] == {"pk": {"S": "E"}, "balance": {"N": "5"}}  # one INSERT, not keys-only first
    sequences = [int(r["dynamodb"]["SequenceNumber"]) for r in records(LEDGER)]
    assert sequences == list(range(sequences[0], sequences[0] + len(sequences)))
    events = records(EVENTS)
    assert [(r["eventName"], r["dynamodb"]["StreamViewType"]) for r in events] == [("INSERT", "NEW_IMAGE")]
    assert "OldImage" not in events[0]["dynamodb"]


def test_stream_records_are_those_of_moto_s_own_transaction(ddb: Any) -> None:
    """Same request through moto's original transact_write_items (on a copy of the data) and through the
    patch: the same records, but for their ids and times."""
    from moto.dynamodb.models import DynamoDBBackend

    items = [update_if_version("A", 1), put_new("B"), delete("D"), check_version("C", 1)]
    parsed = items  # the backend gets the request's TransactItems as boto3 sends them
    start = len(records(LEDGER))
    moto_dynamodb.ORIGINALS["transact_write_items"](backend(), copy.deepcopy(parsed))
    by_moto = records(LEDGER)[start:]
    moto_dynamodb.ORIGINALS["transact_write_items"](backend(), [  # undo: back to the seeded state
        {"Put": {"TableName": LEDGER, "Item": {**key("A"), "version": {"N": "1"}, "balance": {"N": "100"}}}},
        {"Delete": {"TableName": LEDGER, "Key": key("B")}},
        {"Put": {"TableName": LEDGER, "Item": {**key("D"), "version": {"N": "1"}, "balance": {"N": "100"}}}}])
    start = len(records(LEDGER))
    DynamoDBBackend.transact_write_items(backend(), copy.deepcopy(parsed))
    ours = records(LEDGER)[start:]

    def comparable(record: dict[str, Any]) -> dict[str, Any]:
        stream = {k: v for k, v in record["dynamodb"].items()
                  if k not in ("ApproximateCreationDateTime", "SequenceNumber", "SizeBytes")}
        return {**{k: v for k, v in record.items() if k != "eventID"}, "dynamodb": stream}

    assert [comparable(r) for r in ours] == [comparable(r) for r in by_moto]


def test_a_plain_update_creating_its_item_emits_one_insert(ddb: Any) -> None:
    start = len(records(LEDGER))
    ddb.update_item(TableName=LEDGER, Key=key("F"), UpdateExpression="SET balance = :b",
                    ExpressionAttributeValues={":b": {"N": "1"}})
    ddb.update_item(TableName=LEDGER, Key=key("F"), UpdateExpression="SET balance = :b",
                    ExpressionAttributeValues={":b": {"N": "2"}})
    assert [r["eventName"] for r in records(LEDGER)[start:]] == ["INSERT", "MODIFY"]
    assert records(LEDGER)[start]["dynamodb"]["NewImage"] == {"pk": {"S": "F"}, "balance": {"N": "1"}}


def test_a_reader_of_the_stream_keeps_reading_after_a_cancelled_transaction(ddb: Any) -> None:
    """moto put a copy of the table back after a cancelled transaction: a shard iterator taken before it read
    the orphaned shard and never saw another record."""
    shard = backend().get_table(LEDGER).stream_shard
    with pytest.raises(ClientError):
        ddb.transact_write_items(TransactItems=[put_new("B"), put_new("A")])
    ddb.put_item(TableName=LEDGER, Item=key("G"))
    assert backend().get_table(LEDGER).stream_shard is shard
    assert shard.items[-1].to_json()["dynamodb"]["Keys"] == key("G")


def test_cost_is_the_items_touched_not_the_table(ddb: Any, monkeypatch: Any) -> None:
    import moto.dynamodb.models as models
    from moto.dynamodb.models.table import Table

    tables_copied: list[str] = []
    real_deepcopy = copy.deepcopy

    class CountingCopy:
        def __getattr__(self, name: str) -> Any:
            return getattr(copy, name)

        @staticmethod
        def deepcopy(obj: Any, memo: Any = None) -> Any:
            if isinstance(obj, Table):
                tables_copied.append(obj.name)
            return real_deepcopy(obj, memo)

    monkeypatch.setattr(models, "copy", CountingCopy())

    def copies_for_one_transaction(round_: int) -> int:
        moto_dynamodb.stats.reset()
        ddb.transact_write_items(TransactItems=[
            update_if_version("A", round_), put_new(f"R{round_}"), check_version("C", 1), delete(f"R{round_ - 1}")
            if round_ > 1 else check_version("D", 1)])
        return moto_dynamodb.stats.items_copied

    small = copies_for_one_transaction(1)
    for start in range(0, 2_000, 25):
        ddb.batch_write_item(RequestItems={LEDGER: [
            {"PutRequest": {"Item": {**key(f"X{n}"), "balance": {"N": str(n)}}}} for n in range(start, start + 25)]})
    big = copies_for_one_transaction(2)
    assert small == big == 1  # the Update's item; Put and Delete keep the replaced item object itself
    assert moto_dynamodb.stats.items_backed_up == 3
    assert tables_copied == []


def test_parallel_conditional_writes_through_the_threaded_server_lose_no_update() -> None:
    """20 threads each make 5 version-conditioned read-modify-write increments, retrying on a conflict, over
    HTTP against moto's ThreadedMotoServer (as the local stack runs it); each success also writes a receipt
    in the same transaction. Every success is counted exactly once."""
    from moto.server import ThreadedMotoServer

    threads, increments = 20, 5
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        endpoint = f"http://{host}:{port}"

        def client() -> Any:
            return boto3.client("dynamodb", endpoint_url=endpoint, region_name=REGION,
                                aws_access_key_id="testing", aws_secret_access_key="testing")

        setup = client()
        _create_tables(setup)
        setup.put_item(TableName=LEDGER, Item={"pk": {"S": "counter"}, "n": {"N": "0"}, "version": {"N": "0"}})
        setup.put_item(TableName=LEDGER, Item={"pk": {"S": "plain"}, "n": {"N": "0"}, "version": {"N": "0"}})
        start = threading.Barrier(threads, timeout=60)
        successes = {"transaction": 0, "update": 0}
        conflicts = {"transaction": 0, "update": 0}
        tally = threading.Lock()
        failures: list[BaseException] = []

        def increment(mine: Any, worker: int, round_: int, transactional: bool) -> None:
            name = "counter" if transactional else "plain"
            while True:
                item = mine.get_item(TableName=LEDGER, Key=key(name), ConsistentRead=True)["Item"]
                version, count = int(item["version"]["N"]), int(item["n"]["N"])
                update = {"TableName": LEDGER, "Key": key(name), "UpdateExpression": "SET n = :n, version = :next",
                          "ConditionExpression": "version = :version",
                          "ExpressionAttributeValues": {":n": {"N": str(count + 1)},
                                                        ":version": {"N": str(version)},
                                                        ":next": {"N": str(version + 1)}}}
                try:
                    if transactional:
                        mine.transact_write_items(TransactItems=[{"Update": update}, {"Put": {
                            "TableName": EVENTS, "Item": {"pk": {"S": "receipt"}, "sk": {"S": f"{worker}-{round_}"},
                                                          "n": {"N": str(count + 1)}},
                            "ConditionExpression": "attribute_not_exists(pk)"}}])
                    else:
                        mine.update_item(**update)
                except ClientError as error:
                    code = error.response["Error"]["Code"]
                    if code not in ("TransactionCanceledException", "ConditionalCheckFailedException"):
                        raise
                    with tally:
                        conflicts["transaction" if transactional else "update"] += 1
                    continue
                with tally:
                    successes["transaction" if transactional else "update"] += 1
                return

        def work(worker: int) -> None:
            try:
                mine = client()
                start.wait()
                for round_ in range(increments):
                    increment(mine, worker, round_, transactional=True)
                    increment(mine, worker, round_, transactional=False)
            except BaseException as error:
                failures.append(error)

        pool = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
        for thread in pool:
            thread.start()
        for thread in pool:
            thread.join()
        assert not failures, failures
        expected = threads * increments
        assert successes == {"transaction": expected, "update": expected}
        counter = setup.get_item(TableName=LEDGER, Key=key("counter"))["Item"]
        plain = setup.get_item(TableName=LEDGER, Key=key("plain"))["Item"]
        assert int(counter["n"]["N"]) == int(counter["version"]["N"]) == expected
        assert int(plain["n"]["N"]) == int(plain["version"]["N"]) == expected
        receipts = setup.query(TableName=EVENTS, KeyConditionExpression="pk = :p",
                               ExpressionAttributeValues={":p": {"S": "receipt"}})["Items"]
        # Each receipt carries the count its transaction wrote: all distinct, 1..expected.
        assert sorted(int(r["n"]["N"]) for r in receipts) == list(range(1, expected + 1))
    finally:
        requests.post(f"http://{host}:{port}/moto-api/reset", timeout=10)  # the backends are this process's
        server.stop()
