"""Atomic DynamoDB transactions for moto, at the cost of the items they touch. Local stack and tests only.

Written against moto 5.2.5 (moto/dynamodb/models/__init__.py, models/table.py, responses.py and
moto/dynamodbstreams/models.py); `install()` refuses to patch a moto whose internals it relies on are missing.

What moto 5.2.5 does, and what `install()` changes:

* `DynamoDBBackend.transact_write_items` backs up every table a transaction names with `copy.deepcopy(table)`,
  once per transaction item, and puts the copies back if the transaction is cancelled: O(table) per
  transaction (tens of ms for a 3-item transaction against 2,500 items), and the copies of stream-enabled
  tables are reference cycles that pile up until a full garbage collection. Restoring a copy also swaps the
  table object, so a stream reader holding the old shard silently stops seeing records.
  Here the transaction is planned first: every condition (ConditionCheck, and the conditions of Put, Update
  and Delete) is evaluated against the state before the transaction, and a failure cancels it with
  TransactionCanceledException and one cancellation reason per item, in order (`None` for the items that
  passed), exactly as moto reports them, without writing anything. Only then are the writes applied, through
  moto's own put_item/update_item/delete_item (so validation and stream records are moto's), keeping the
  before-image of each item touched; if a write fails, those items are put back and the stream records the
  transaction emitted are withdrawn. Cost: O(items touched).
* moto's server handles each request on its own thread with no lock: two conditional writes (or a write and
  a transaction) interleave between the condition and the write, and updates are lost. DynamoDB serialises
  them per item; here one re-entrant lock per backend (account and region) is held for every DynamoDB
  request and every backend write, and by DynamoDB Streams reads, so a transaction is never seen half-applied.
* An UpdateItem that creates its item emits two INSERT stream records in moto (the keys alone, then the item);
  DynamoDB emits one. The keys-only record is dropped, so each changed item yields one record.

ClientRequestToken (idempotent TransactWriteItems) is ignored by moto 5.2.5 and stays ignored: a retried
transaction is applied again, or cancelled by its own conditions.

Nothing here is imported by app.py or any Lambda handler: moto is a development dependency only.
"""

from __future__ import annotations

import copy
import threading
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

TARGET_MOTO_VERSION = "5.2.5"
MAX_TRANSACTION_ITEMS = 100
_LOCK_ATTRIBUTE = "_atomic_write_lock"
_INSTALLED_FLAG = "_atomic_transactions_installed"
_OPERATIONS = frozenset({"ConditionCheck", "Put", "Delete", "Update"})

_install_lock = threading.Lock()
ORIGINALS: dict[str, Callable[..., Any]] = {}  # moto's own methods, as install() found them
F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class TransactionStats:
    """What the transaction path did since install() (or reset()), for tests and benches: the cost model
    is `items_copied` (whole items deep-copied to roll back), never a table."""

    transactions: int = 0
    cancelled: int = 0
    rolled_back: int = 0
    items_backed_up: int = 0
    items_copied: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def reset(self) -> None:
        with self._lock:
            self.transactions = self.cancelled = self.rolled_back = self.items_backed_up = self.items_copied = 0


stats = TransactionStats()


class MotoInternalsChanged(RuntimeError):
    """The installed moto lacks something this patch relies on: re-check it against moto's source."""


def _require() -> dict[str, Any]:
    """The moto internals used below, or MotoInternalsChanged naming what is missing."""
    try:
        import moto
        import moto.dynamodb.models as models
        from moto.dynamodb import exceptions
        from moto.dynamodb.models.table import StreamShard, Table
        from moto.dynamodb.responses import DynamoHandler
        from moto.dynamodbstreams.models import DynamoDBStreamsBackend
    except ImportError as error:
        raise MotoInternalsChanged(f"moto {TARGET_MOTO_VERSION} layout not found: {error}") from error
    needed: list[tuple[object, str]] = [
        (models, "DynamoDBBackend"), (models, "get_filter_expression"), (models, "dynamodb_backends"),
        (models.DynamoDBBackend, "transact_write_items"), (models.DynamoDBBackend, "put_item"),
        (models.DynamoDBBackend, "update_item"), (models.DynamoDBBackend, "delete_item"),
        (models.DynamoDBBackend, "get_item"), (models.DynamoDBBackend, "get_table"),
        (models.DynamoDBBackend, "get_keys_value"), (models.DynamoDBBackend, "execute_statement"),
        (Table, "get_item"), (Table, "put_item"), (Table, "delete_item"), (StreamShard, "add"),
        (DynamoHandler, "call_action"), (DynamoHandler, "dynamodb_backend"),
        (DynamoDBStreamsBackend, "get_records"), (DynamoDBStreamsBackend, "dynamodb"),
        *((exceptions, name) for name in (
            "TransactionCanceledException", "ConditionalCheckFailed", "MultipleTransactionsException",
            "MockValidationException", "TooManyTransactionsException", "TransactWriteSingleOpException")),
    ]
    missing = [f"{getattr(owner, '__name__', owner)}.{name}" for owner, name in needed if not hasattr(owner, name)]
    # Instance attributes: rolled back by hand (Table.items, StreamShard.items, Table.stream_shard).
    table_class: Any = Table  # mypy sees CloudFormation's abstract methods; moto builds Tables this way
    probe = table_class("probe", account_id="123456789012", region="us-east-1",
                        schema=[{"AttributeName": "k", "KeyType": "HASH"}],
                        attr=[{"AttributeName": "k", "AttributeType": "S"}],
                        streams={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
    for name in ("items", "stream_shard", "hash_key_attr", "range_key_attr"):
        if not hasattr(probe, name):
            missing.append(f"Table().{name}")
    if not isinstance(getattr(probe.stream_shard, "items", None), list):
        missing.append("StreamShard().items (a list)")
    if missing:
        raise MotoInternalsChanged(
            f"chalicelib.local.moto_dynamodb targets moto {TARGET_MOTO_VERSION}; moto {moto.__version__} "
            f"lacks {', '.join(missing)}")
    if not str(moto.__version__).startswith(TARGET_MOTO_VERSION.rsplit(".", 1)[0] + "."):
        warnings.warn(f"chalicelib.local.moto_dynamodb was written against moto {TARGET_MOTO_VERSION}, "
                      f"this is {moto.__version__}: re-run tests/integration/test_moto_transactions.py", stacklevel=3)
    return {"models": models, "exceptions": exceptions, "DynamoHandler": DynamoHandler,
            "DynamoDBStreamsBackend": DynamoDBStreamsBackend}


def backend_lock(backend: Any) -> threading.RLock:
    """The backend's one lock, made on first use: backends made before install() have none, and moto's reset()
    replaces a backend's __dict__."""
    lock = backend.__dict__.get(_LOCK_ATTRIBUTE)
    if lock is None:
        with _install_lock:
            lock = backend.__dict__.setdefault(_LOCK_ATTRIBUTE, threading.RLock())
    return lock  # type: ignore[no-any-return]


def _locked(method: F, backend_of: Callable[[Any], Any]) -> F:
    def locked(self: Any, *args: Any, **kwargs: Any) -> Any:
        with backend_lock(backend_of(self)):
            return method(self, *args, **kwargs)

    locked.__name__ = method.__name__
    locked.__qualname__ = method.__qualname__
    locked.__doc__ = method.__doc__
    locked.__wrapped__ = method  # type: ignore[attr-defined]
    return locked  # type: ignore[return-value]


@dataclass
class _Step:
    """One planned write: where it lands and what was there before the transaction."""

    op_type: str
    op: dict[str, Any]
    table: Any
    key: dict[str, Any]
    hash_key: Any
    range_key: Any
    before: Any  # moto Item, or None


class _Rollback:
    """Before-images of the items a transaction wrote, and the stream length before it, to undo it."""

    def __init__(self) -> None:
        self._images: list[tuple[Any, Any, Any, Any]] = []
        self._streams: dict[int, tuple[Any, list[Any], int]] = {}

    def keep(self, step: _Step) -> None:
        shard = step.table.stream_shard
        if shard is not None and id(shard) not in self._streams:
            self._streams[id(shard)] = (shard, shard.items, len(shard.items))
        before = step.before
        # Put and Delete replace or remove the stored Item object; Update changes it in place, so only an
        # Update needs a copy of the item it is about to change.
        if before is not None and step.op_type == "Update":
            before = copy.deepcopy(before)
            with stats._lock:
                stats.items_copied += 1
        with stats._lock:
            stats.items_backed_up += 1
        self._images.append((step.table, step.hash_key, step.range_key, before))

    def restore(self) -> None:
        for table, hash_key, range_key, before in reversed(self._images):
            if range_key is not None:
                if before is None:
                    table.items[hash_key].pop(range_key, None)
                else:
                    table.items[hash_key][range_key] = before
            elif before is None:
                table.items.pop(hash_key, None)
            else:
                table.items[hash_key] = before
        for shard, records, length in self._streams.values():
            # Records already handed to a Lambda event source mapping (moto then empties the list) are gone.
            if shard.items is records:
                del records[length:]
        with stats._lock:
            stats.rolled_back += 1


def _transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    """moto's transact_write_items, with the same errors, at O(items touched); see the module docstring."""
    internals = _internals()
    errors_module = internals["exceptions"]
    with backend_lock(self):
        with stats._lock:
            stats.transactions += 1
        if len(transact_items) > MAX_TRANSACTION_ITEMS:
            raise errors_module.TooManyTransactionsException()
        steps, errors = _plan(self, transact_items, internals)
        if any(code is not None for code, _, _ in errors):
            with stats._lock:
                stats.cancelled += 1
            raise errors_module.TransactionCanceledException(errors)
        _apply(self, steps, internals)


def _plan(self: Any, transact_items: Sequence[dict[str, Any]],
          internals: dict[str, Any]) -> tuple[list[_Step | None], list[tuple[Any, Any, Any]]]:
    """Checks every item against the state before the transaction; writes nothing. Mirrors the checks and
    the error handling of moto's loop, item by item, so the same request gets the same answer."""
    exc = internals["exceptions"]
    get_filter_expression = internals["models"].get_filter_expression
    target_items: set[tuple[str, str]] = set()
    steps: list[_Step | None] = []
    errors: list[tuple[Any, Any, Any]] = []
    for item in transact_items:
        original_item: dict[str, Any] | None = None
        if len(item) > 1:
            raise exc.TransactWriteSingleOpException()
        try:
            op_type, op = next(iter(item.items()))
            if op_type not in _OPERATIONS:
                raise ValueError("Unsupported transaction operation")
            table_name = op["TableName"]
            if op_type == "Put":
                attrs = op["Item"]
                table = self.get_table(table_name)
                key = {table.hash_key_attr: attrs[table.hash_key_attr]}
                if table.range_key_attr is not None:
                    key[table.range_key_attr] = attrs[table.range_key_attr]
            else:
                key = op["Key"]
            unique = (str(table_name), str(dict(sorted(key.items()))))
            if unique in target_items:
                raise exc.MultipleTransactionsException()
            target_items.add(unique)

            current = self.get_item(table_name, key)
            condition = op.get("ConditionExpression")
            if condition is not None:
                condition_op = get_filter_expression(
                    condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues"))
                if not condition_op.expr(current):
                    if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                        original_item = current.to_json()["Attributes"]
                    raise exc.ConditionalCheckFailed(item=original_item)
            table = self.get_table(table_name)
            hash_key, range_key = self.get_keys_value(table, key)
            steps.append(_Step(op_type, op, table, key, hash_key, range_key, current))
            errors.append((None, None, None))
        except exc.MockValidationException:
            raise
        except exc.ConditionalCheckFailed as error:
            steps.append(None)
            errors.append(("ConditionalCheckFailed", str(error.message), original_item))
        except Exception as error:
            steps.append(None)
            errors.append((type(error).__name__, str(error), original_item))
    return steps, errors


def _apply(self: Any, steps: Sequence[_Step | None], internals: dict[str, Any]) -> None:
    """Applies the planned writes in order through moto's own operations, as moto's loop does; a failed write
    undoes the ones before it. Only failures moto itself would meet mid-way (item size, types) get here."""
    exc = internals["exceptions"]
    rollback = _Rollback()
    errors: list[tuple[Any, Any, Any]] = []
    for step in steps:
        assert step is not None  # the plan had no error
        try:
            if step.op_type != "ConditionCheck":
                rollback.keep(step)
            _write(self, step)
            errors.append((None, None, None))
        except exc.MockValidationException:
            rollback.restore()
            raise
        except exc.ConditionalCheckFailed as error:
            errors.append(("ConditionalCheckFailed", str(error.message), None))
        except Exception as error:
            errors.append((type(error).__name__, str(error), None))
    if any(code is not None for code, _, _ in errors):
        rollback.restore()
        with stats._lock:
            stats.cancelled += 1
        raise exc.TransactionCanceledException(errors)


def _write(self: Any, step: _Step) -> None:
    op, table_name = step.op, step.op["TableName"]
    names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
    condition = op.get("ConditionExpression")
    if step.op_type == "Put":
        self.put_item(table_name, op["Item"], condition_expression=condition,
                      expression_attribute_names=names, expression_attribute_values=values)
    elif step.op_type == "Delete":
        self.delete_item(table_name, step.key, condition_expression=condition,
                         expression_attribute_names=names, expression_attribute_values=values)
    elif step.op_type == "Update":
        self.update_item(table_name, step.key, update_expression=op["UpdateExpression"],
                         condition_expression=condition, expression_attribute_names=names,
                         expression_attribute_values=values)


def _one_insert_per_new_item(original: F) -> F:
    """moto's update_item, without the keys-only INSERT record it emits before the real one when the update
    creates its item (one UpdateItem changes one item: two INSERTs of the same keys can only be that)."""

    def update_item(self: Any, table_name: str, *args: Any, **kwargs: Any) -> Any:
        try:
            shard = self.get_table(table_name).stream_shard
        except Exception:  # moto reports it, as it would without this wrapper
            shard = None
        if shard is None:
            return original(self, table_name, *args, **kwargs)
        records, length = shard.items, len(shard.items)
        result = original(self, table_name, *args, **kwargs)
        if shard.items is records and len(records) == length + 2:
            keys_only, full = records[length].record, records[length + 1].record
            if keys_only["eventName"] == full["eventName"] == "INSERT" and \
                    keys_only["dynamodb"]["Keys"] == full["dynamodb"]["Keys"]:
                full["dynamodb"]["SequenceNumber"] = keys_only["dynamodb"]["SequenceNumber"]
                del records[length]
        return result

    update_item.__name__ = original.__name__
    update_item.__qualname__ = original.__qualname__
    update_item.__doc__ = original.__doc__
    update_item.__wrapped__ = original  # type: ignore[attr-defined]
    return update_item  # type: ignore[return-value]


_INTERNALS: dict[str, Any] = {}


def _internals() -> dict[str, Any]:
    if not _INTERNALS:
        _INTERNALS.update(_require())
    return _INTERNALS


def install() -> None:
    """Patches moto's DynamoDB backend (see the module docstring). Idempotent; call it before mock_aws() or
    the server starts serving, though backends made earlier get the lock too."""
    internals = _internals()
    backend_class = internals["models"].DynamoDBBackend
    with _install_lock:
        if getattr(backend_class, _INSTALLED_FLAG, False):
            return
        ORIGINALS.update(transact_write_items=backend_class.transact_write_items,
                         update_item=backend_class.update_item)
        for name in ("put_item", "delete_item", "execute_statement", "execute_transaction",
                     "batch_execute_statement"):
            if hasattr(backend_class, name):
                setattr(backend_class, name, _locked(getattr(backend_class, name), lambda backend: backend))
        backend_class.update_item = _locked(_one_insert_per_new_item(backend_class.update_item),
                                            lambda backend: backend)
        backend_class.transact_write_items = _transact_write_items
        handler = internals["DynamoHandler"]
        handler.call_action = _locked(handler.call_action, lambda response: response.dynamodb_backend)
        streams = internals["DynamoDBStreamsBackend"]
        streams.get_records = _locked(streams.get_records, lambda backend: backend.dynamodb)
        setattr(backend_class, _INSTALLED_FLAG, True)


def installed() -> bool:
    return bool(getattr(_internals()["models"].DynamoDBBackend, _INSTALLED_FLAG, False))
