"""`python -m bench.moto_server -H HOST -p PORT`: moto's server, with one emulator cost taken out.

moto backs up every table a TransactWriteItems touches with `copy.deepcopy(table)` before applying it
(moto/dynamodb/models/__init__.py, transact_write_items), so one transaction on a 100,000-invoice table
costs seconds and grows with the ledger: a bench comparing ledger sizes would measure moto. Here the
backup is per item instead (the items the transaction names, restored if it is cancelled), which gives
the same all-or-nothing result. Nothing else in moto changes.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.table import Table
from moto.server import main

_original = DynamoDBBackend.transact_write_items
_lock = threading.Lock()


class _NoTableCopy:
    """Stands in for the `copy` module inside moto.dynamodb.models: tables are not copied, items still are."""

    @staticmethod
    def deepcopy(obj: Any, memo: Any = None) -> Any:
        return obj if isinstance(obj, Table) else copy.deepcopy(obj, memo)

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)


def _key(table: Table, op: dict[str, Any]) -> dict[str, Any]:
    if "Key" in op:
        return dict(op["Key"])
    key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
    if table.range_key_attr is not None:
        key[table.range_key_attr] = op["Item"][table.range_key_attr]
    return key


def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    with _lock:
        try:
            backups = []
            for item in transact_items:
                _, op = next(iter(item.items()))
                table = self.get_table(op["TableName"])
                key = _key(table, op)
                before = self.get_item(op["TableName"], key)
                backups.append((op["TableName"], key, None if before is None else before.to_json()["Attributes"]))
        except Exception:  # a malformed request: let moto report it as it would
            return _original(self, transact_items)
        try:
            return _original(self, transact_items)
        except Exception:
            for table_name, key, attributes in reversed(backups):
                if attributes is None:
                    if self.get_item(table_name, key) is not None:
                        self.delete_item(table_name, key)
                else:
                    self.put_item(table_name, attributes)
            raise


dynamodb_models.copy = _NoTableCopy()  # type: ignore[assignment]
DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]

if __name__ == "__main__":
    main()
