"""The analytics table: the invoices table's stream folded into period sums, and read back for reports.

Items (pk, sk):
  cur#<CUR> / Y#2025, M#2025-03, D#2025-03-14          what moved in that period, in that currency
  cust#<customer>#<CUR> / the same periods               ... for one customer
  open#<customer> / <CUR>                                 the customer's open balance now (`currency`, `balance`:
                                                          the open_balances index lists them, largest first)
  inv#<invoice_id> / counted                              the last invoice version counted (`version`)
  currencies / <CUR>                                      every currency seen
Period and open items hold one number attribute per flow (`f:<name>`) and per due date (`d:<YYYY-MM-DD>`: the
open balance's change for invoices due that day), so a change is a handful of ADDs (DynamoDB's ADD works on
top-level attributes only, hence no map).

Idempotence: a change is counted in the same transaction that moves the invoice's marker from the version before
it to its own (a condition), so a redelivered batch counts nothing twice. Several invoices go in one transaction
(at most 100 items, each item once: the updates of shared items are merged); when a condition fails, the
invoices of that transaction are retried one at a time against their marker as read.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from chalicelib.adapters.models import AnalyticsModel, InvoiceModel
from chalicelib.domain.analytics.aging import BUCKETS, aging, overdue
from chalicelib.domain.analytics.ledger import (
    Aggregates,
    Movement,
    Totals,
    baseline_states,
    collapsed,
    currency_scope,
    customer_scope,
    movements,
    period_end,
    period_keys,
    prefix_keys,
)
from chalicelib.domain.invoice import Invoice
from chalicelib.domain.money import Money
from chalicelib.services.ports import CustomerBalance, InvoiceChange

log = logging.getLogger(__name__)

MAX_TRANSACTION_ITEMS = 100
MAX_ATTRIBUTES_PER_ITEM = 24  # short update expressions: DynamoDB allows 4 KB; moto parses long ones slowly
CONFLICT_ATTEMPTS = 6
FLOW_PREFIX = "f:"
DUE_PREFIX = "d:"
COUNTED = "counted"
BATCH_GET = 100


def decode_invoice_records(records: Sequence[Mapping[str, Any]]) -> list[InvoiceChange]:
    """Stream records (Lambda's shape) -> changes. The effective date: an INSERT, the issue date; else the item's
    `effective_on` when the writer set one (a payment: the day it was received), else the day it was recorded."""
    from chalicelib.adapters.dynamo import model_to_invoice

    changes = []
    for record in records:
        stream = record.get("dynamodb") or {}
        sequence = str(stream.get("SequenceNumber", ""))
        old, new = stream.get("OldImage"), stream.get("NewImage")
        before_model = InvoiceModel.from_raw_data(dict(old)) if old else None
        after_model = InvoiceModel.from_raw_data(dict(new)) if new else None
        before = model_to_invoice(before_model) if before_model is not None else None
        after = model_to_invoice(after_model) if after_model is not None else None
        if after is None and before is None:
            continue
        if before is None:
            assert after is not None
            effective = after.issue_date
        elif after_model is not None and after_model.effective_on:
            effective = date.fromisoformat(after_model.effective_on)
        elif after_model is not None:
            effective = after_model.updated_at.astimezone(UTC).date()
        else:
            effective = datetime.fromtimestamp(float(stream.get("ApproximateCreationDateTime") or time.time()),
                                               UTC).date()
        changes.append(InvoiceChange(sequence, before, after, effective))
    return changes


def change_version(change: InvoiceChange) -> int:
    if change.after is not None:
        return change.after.version
    assert change.before is not None
    return change.before.version + 1


# ---- writing --------------------------------------------------------------------------------------------------

@dataclass
class _Unit:
    """One invoice's changes, counted together with its marker."""

    invoice_id: str
    changes: list[InvoiceChange]
    expected: int | None  # the marker's version it must find (None: no marker yet); -1: any below `first`

    @property
    def first(self) -> int:
        return change_version(self.changes[0])

    @property
    def last(self) -> int:
        return change_version(self.changes[-1])


@dataclass
class _ItemUpdate:
    flows: dict[str, int] = field(default_factory=dict)
    by_due: dict[date, int] = field(default_factory=dict)
    balance: int = 0
    sets: dict[str, str] = field(default_factory=dict)

    def attributes(self) -> int:
        return len(self.flows) + len(self.by_due) + len(self.sets) + 1


def unit_updates(unit: _Unit) -> dict[tuple[str, str], _ItemUpdate]:
    """What counting a unit adds where (markers aside): the period items of both scopes, and the open item."""
    updates: dict[tuple[str, str], _ItemUpdate] = {}
    for change in unit.changes:
        for movement in movements(change.before, change.after, change.effective_on):
            _add_movement(updates, movement)
    return updates


def _add_movement(updates: dict[tuple[str, str], _ItemUpdate], movement: Movement) -> None:
    scopes = (currency_scope(movement.currency), customer_scope(movement.customer_id, movement.currency))
    for key in period_keys(movement.on):
        totals = Totals(movement.totals.flows, collapsed(movement.totals.by_due, period_end(key)))
        for scope in scopes:
            _merge(updates.setdefault((scope, key), _ItemUpdate()), totals)
    if movement.totals.by_due:
        item = updates.setdefault((f"open#{movement.customer_id}", movement.currency), _ItemUpdate())
        # Read for today and later only; no movement is effective after the day it is recorded but an invoice
        # issued ahead, whose due dates are never before its issue date.
        for due, amount in collapsed(movement.totals.by_due, movement.on).items():
            item.by_due[due] = item.by_due.get(due, 0) + amount
            item.balance += amount
        item.sets.update({"currency": movement.currency, "customer_id": movement.customer_id})
    updates.setdefault(("currencies", movement.currency), _ItemUpdate()).sets["currency_code"] = movement.currency


def _merge(item: _ItemUpdate, totals: Totals) -> None:
    for name, value in totals.flows.items():
        item.flows[name] = item.flows.get(name, 0) + value
    for due, value in totals.by_due.items():
        item.by_due[due] = item.by_due.get(due, 0) + value


def _update_request(table: str, key: tuple[str, str], update: _ItemUpdate) -> dict[str, Any]:
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    adds, sets = [], []
    for index, (name, value) in enumerate(sorted(update.flows.items())):
        if value:
            names[f"#f{index}"], values[f":f{index}"] = FLOW_PREFIX + name, {"N": str(value)}
            adds.append(f"#f{index} :f{index}")
    for index, (due, value) in enumerate(sorted(update.by_due.items())):
        if value:
            names[f"#d{index}"], values[f":d{index}"] = DUE_PREFIX + due.isoformat(), {"N": str(value)}
            adds.append(f"#d{index} :d{index}")
    if key[0].startswith("open#"):
        names["#b"], values[":b"] = "balance", {"N": str(update.balance)}
        adds.append("#b :b")
    for index, (name, text) in enumerate(sorted(update.sets.items())):
        names[f"#s{index}"], values[f":s{index}"] = name, {"S": text}
        sets.append(f"#s{index} = :s{index}")
    expression = " ".join(part for part in (
        "ADD " + ", ".join(adds) if adds else "", "SET " + ", ".join(sets) if sets else "") if part)
    request: dict[str, Any] = {"TableName": table, "Key": {"pk": {"S": key[0]}, "sk": {"S": key[1]}},
                               "UpdateExpression": expression}
    if names:
        request["ExpressionAttributeNames"] = names
    if values:
        request["ExpressionAttributeValues"] = values
    return request


def _marker_request(table: str, unit: _Unit) -> dict[str, Any]:
    request: dict[str, Any] = {
        "TableName": table, "Key": {"pk": {"S": f"inv#{unit.invoice_id}"}, "sk": {"S": COUNTED}},
        "UpdateExpression": "SET #v = :last", "ExpressionAttributeNames": {"#v": "version"},
        "ExpressionAttributeValues": {":last": {"N": str(unit.last)}}}
    if unit.expected is None:
        request["ConditionExpression"] = "attribute_not_exists(#v)"
    elif unit.expected >= 0:
        request["ConditionExpression"] = "#v = :expected"
        request["ExpressionAttributeValues"][":expected"] = {"N": str(unit.expected)}
    else:  # the stream's own order: a marker exists and is below this unit's first change
        request["ConditionExpression"] = "attribute_exists(#v) AND #v < :first"
        request["ExpressionAttributeValues"][":first"] = {"N": str(unit.first)}
    return request


class TransactionCancelled(Exception):
    def __init__(self, codes: list[str]) -> None:
        super().__init__(", ".join(codes))
        self.codes = codes


@dataclass
class ReadCounter:
    """Items read and requests made by the read side (the bench prints them)."""

    items: int = 0
    requests: int = 0


class DynamoAnalytics:
    """The ledger projection (InvoiceProjection), the open balances (OpenBalances) and the reports' reads."""

    def __init__(self, client: Any, today: Callable[[], date] | None = None) -> None:
        self._client = client
        self._today = today or (lambda: datetime.now(UTC).date())
        self.reads = ReadCounter()

    @property
    def table(self) -> str:
        return str(AnalyticsModel.Meta.table_name)

    # ---- InvoiceProjection

    def apply(self, changes: Sequence[InvoiceChange]) -> None:
        units: dict[str, _Unit] = {}
        for change in changes:
            subject = change.after or change.before
            assert subject is not None
            unit = units.get(subject.invoice_id)
            if unit is None:
                expected = None if change.before is None else -1
                units[subject.invoice_id] = _Unit(subject.invoice_id, [change], expected)
            elif change_version(change) > change_version(unit.changes[-1]):
                unit.changes.append(change)
            # else: the same change twice in one batch (or an older one after it): counted once
        batch: list[_Unit] = []
        items: dict[tuple[str, str], _ItemUpdate] = {}
        for unit in units.values():
            updates = unit_updates(unit)
            if not updates:
                # Nothing moved (a reminder sent, a next action set): the marker stays where it is; a later change
                # still finds it below its own version, and counting nothing twice changes nothing.
                continue
            if _too_big(updates, 1):  # counted change by change (each against its marker), alone
                if batch:
                    self._commit(batch, items)
                    batch, items = [], {}
                self._commit_alone(unit)
                continue
            merged = {**items}
            for key, update in updates.items():
                merged[key] = _combined(merged.get(key), update)
            if batch and _too_big(merged, len(batch) + 1):
                self._commit(batch, items)
                batch, items = [], {}
                merged = dict(updates)
            batch.append(unit)
            items = merged
        if batch:
            self._commit(batch, items)

    def _commit(self, batch: list[_Unit], items: dict[tuple[str, str], _ItemUpdate]) -> None:
        try:
            self._transact(batch, items)
            return
        except TransactionCancelled as cancelled:
            if "ConditionalCheckFailed" not in cancelled.codes:
                raise
        for unit in batch:  # one at a time, each against its marker as it is
            self._commit_alone(unit)

    def _commit_alone(self, unit: _Unit) -> None:
        for attempt in range(CONFLICT_ATTEMPTS):
            counted = self._counted(unit.invoice_id)
            changes = [c for c in unit.changes if counted is None or change_version(c) > counted]
            if not changes:
                return  # all counted already: a redelivery
            if counted is None and changes[0].before is not None:
                # The projection never saw this invoice (it predates the projection and no backfill ran yet):
                # its state before this change is counted first, as the backfill would.
                changes = baseline(changes[0].before, changes[0].effective_on, changes[0].sequence_number) + changes
            alone = _Unit(unit.invoice_id, changes, counted)
            updates = unit_updates(alone)
            try:
                for part in _split(alone, updates):
                    self._transact([part], unit_updates(part))
                return
            except TransactionCancelled as cancelled:
                if "ConditionalCheckFailed" not in cancelled.codes or attempt == CONFLICT_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def _counted(self, invoice_id: str) -> int | None:
        item = self._client.get_item(TableName=self.table, Key={"pk": {"S": f"inv#{invoice_id}"},
                                                                "sk": {"S": COUNTED}}, ConsistentRead=True)
        found = item.get("Item")
        return int(found["version"]["N"]) if found and "version" in found else None

    def _transact(self, batch: list[_Unit], items: dict[tuple[str, str], _ItemUpdate]) -> None:
        requests = [{"Update": _marker_request(self.table, unit)} for unit in batch]
        updates = (_update_request(self.table, key, update) for key, update in items.items())
        requests += [{"Update": update} for update in updates if update["UpdateExpression"]]  # all-zero: nothing
        for attempt in range(CONFLICT_ATTEMPTS):
            try:
                self._client.transact_write_items(TransactItems=requests)
                return
            except self._client.exceptions.TransactionCanceledException as exc:
                reasons = exc.response.get("CancellationReasons") or []
                codes = [str(r.get("Code")) for r in reasons if r and r.get("Code") not in (None, "None")]
                if codes and all(code == "TransactionConflict" for code in codes) and attempt < CONFLICT_ATTEMPTS - 1:
                    time.sleep(0.05 * 2 ** attempt)  # another projection batch touched a shared period item
                    continue
                raise TransactionCancelled(codes) from exc

    # ---- reads

    def _query(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        while True:
            response = self._client.query(TableName=self.table, **kwargs)
            self.reads.requests += 1
            self.reads.items += len(response.get("Items", []))
            yield from response.get("Items", [])
            last = response.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last

    def _batch_get(self, keys: Iterable[tuple[str, str]]) -> Iterator[dict[str, Any]]:
        pending = [{"pk": {"S": pk}, "sk": {"S": sk}} for pk, sk in dict.fromkeys(keys)]
        while pending:
            chunk, pending = pending[:BATCH_GET], pending[BATCH_GET:]
            while chunk:
                response = self._client.batch_get_item(RequestItems={self.table: {"Keys": chunk}})
                self.reads.requests += 1
                found = response.get("Responses", {}).get(self.table, [])
                self.reads.items += len(found)
                yield from found
                chunk = response.get("UnprocessedKeys", {}).get(self.table, {}).get("Keys", [])

    def currencies(self) -> list[str]:
        return sorted(item["sk"]["S"] for item in self._query(
            KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": {"S": "currencies"}}))

    def aggregates(self, scope: str, days: Iterable[date]) -> Aggregates:
        """The period sums `Aggregates.at` needs for each of `days`: every year item, and the month and day items
        `prefix_keys` names (one Query and a BatchGetItem per 100 keys, whatever the ledger's size)."""
        keys: set[str] = set()
        for day in days:
            keys.update(prefix_keys(day)[1])
        years = {int(item["sk"]["S"][2:]): _totals(item) for item in self._query(
            KeyConditionExpression="pk = :p AND begins_with(sk, :y)",
            ExpressionAttributeValues={":p": {"S": scope}, ":y": {"S": "Y#"}})}
        periods = {item["sk"]["S"]: _totals(item) for item in self._batch_get((scope, k) for k in sorted(keys))}
        return Aggregates(years, periods)

    def open_page(self, currency: str, limit: int, start: Mapping[str, Any] | None
                  ) -> tuple[list[CustomerBalance], dict[str, Any] | None, date]:
        """One page of the customers with an open balance in `currency` now, largest first; and the day it is
        as of (today)."""
        today = self._today()
        kwargs: dict[str, Any] = {
            "IndexName": "open_balances", "KeyConditionExpression": "currency = :c AND balance > :z",
            "ExpressionAttributeValues": {":c": {"S": currency}, ":z": {"N": "0"}}, "ScanIndexForward": False,
            "Limit": limit}
        if start:
            kwargs["ExclusiveStartKey"] = dict(start)
        response = self._client.query(TableName=self.table, **kwargs)
        self.reads.requests += 1
        self.reads.items += len(response.get("Items", []))
        balances = [_open_balance(item, today) for item in response.get("Items", [])]
        return balances, response.get("LastEvaluatedKey"), today

    # ---- OpenBalances

    def customer_balances(self, as_of: date, currency: str | None = None) -> list[CustomerBalance]:
        currencies = [currency] if currency else self.currencies()
        result: list[CustomerBalance] = []
        for code in currencies:
            if as_of >= self._today():
                items = self._query(IndexName="open_balances",
                                    KeyConditionExpression="currency = :c AND balance > :z",
                                    ExpressionAttributeValues={":c": {"S": code}, ":z": {"N": "0"}},
                                    ScanIndexForward=False)
                result += [_open_balance(item, as_of) for item in items]
            else:
                everyone = self._query(IndexName="open_balances", KeyConditionExpression="currency = :c",
                                       ExpressionAttributeValues={":c": {"S": code}},
                                       ProjectionExpression="customer_id")
                for item in everyone:
                    found = self.balance_at(item["customer_id"]["S"], code, as_of)
                    if found.balance.amount > 0:
                        result.append(found)
        return sorted(result, key=lambda b: (-b.balance.amount, b.currency, b.customer_id))

    def balances_of(self, customer_ids: Sequence[str], as_of: date) -> list[CustomerBalance]:
        result = []
        today = self._today()
        for customer_id in dict.fromkeys(customer_ids):
            for item in self._query(KeyConditionExpression="pk = :p",
                                    ExpressionAttributeValues={":p": {"S": f"open#{customer_id}"}}):
                if as_of >= today:
                    result.append(_open_balance(item, as_of))
                else:
                    result.append(self.balance_at(customer_id, item["sk"]["S"], as_of))
        return [b for b in result if b.balance.amount > 0]

    def balance_at(self, customer_id: str, currency: str, as_of: date) -> CustomerBalance:
        totals = self.aggregates(customer_scope(customer_id, currency), [as_of]).at(as_of)
        return customer_balance(customer_id, currency, totals.by_due, as_of)


def customer_balance(customer_id: str, currency: str, by_due: Mapping[date, int], as_of: date) -> CustomerBalance:
    buckets = aging(by_due, as_of)
    return CustomerBalance(
        customer_id, currency, Money.from_minor(sum(by_due.values()), currency),
        Money.from_minor(overdue(by_due, as_of), currency),
        {name: Money.from_minor(buckets[name], currency) for name in BUCKETS})


def _combined(first: _ItemUpdate | None, second: _ItemUpdate) -> _ItemUpdate:
    if first is None:
        return second
    out = _ItemUpdate(dict(first.flows), dict(first.by_due), first.balance + second.balance,
                      {**first.sets, **second.sets})
    for name, value in second.flows.items():
        out.flows[name] = out.flows.get(name, 0) + value
    for due, value in second.by_due.items():
        out.by_due[due] = out.by_due.get(due, 0) + value
    return out


def _too_big(updates: Mapping[tuple[str, str], _ItemUpdate], markers: int) -> bool:
    return len(updates) + markers > MAX_TRANSACTION_ITEMS or any(
        u.attributes() > MAX_ATTRIBUTES_PER_ITEM for u in updates.values())


def _split(unit: _Unit, updates: dict[tuple[str, str], _ItemUpdate]) -> list[_Unit]:
    """A unit too big for one transaction is counted change by change, each against the marker the last left."""
    if not _too_big(updates, 1):
        return [unit]
    parts = []
    expected = unit.expected
    for change in unit.changes:
        parts.append(_Unit(unit.invoice_id, [change], expected))
        expected = change_version(change)
    return parts


def _totals(item: Mapping[str, Any]) -> Totals:
    totals = Totals()
    for name, value in item.items():
        if name.startswith(FLOW_PREFIX):
            totals.flows[name[len(FLOW_PREFIX):]] = int(Decimal(value["N"]))
        elif name.startswith(DUE_PREFIX):
            totals.by_due[date.fromisoformat(name[len(DUE_PREFIX):])] = int(Decimal(value["N"]))
    return totals


def _open_balance(item: Mapping[str, Any], as_of: date) -> CustomerBalance:
    totals = _totals(item)
    currency = item.get("currency", {}).get("S") or item["sk"]["S"]
    customer_id = item.get("customer_id", {}).get("S") or item["pk"]["S"].split("#", 1)[1]
    return customer_balance(customer_id, currency, {d: v for d, v in totals.by_due.items() if v}, as_of)


def baseline(invoice: Invoice, recorded_on: date, sequence: str) -> list[InvoiceChange]:
    """An invoice the projection never counted, as changes: issued on its issue date, then brought to its state
    on `recorded_on` (the backfill: the day it was last changed)."""
    return [InvoiceChange(f"{sequence}:baseline:{i}", before, after, on)
            for i, (before, after, on) in enumerate(baseline_states(invoice, recorded_on))]


def backfill(projections: Sequence[Any], batch: int = 100) -> int:
    """Every invoice, as its baseline (issued, then its state on the day of its last change: `effective_on` when
    that change set one, else `updated_at`), through the projections; invoices already counted are skipped by their
    marker. An operator's one-off command: it reads the whole invoices table (a Scan), which nothing on a request
    or schedule path does."""
    from chalicelib.adapters.dynamo import model_to_invoice

    pending: list[InvoiceChange] = []
    count = 0
    for model in InvoiceModel.scan():
        invoice = model_to_invoice(model)
        on = date.fromisoformat(model.effective_on) if model.effective_on else model.updated_at.astimezone(UTC).date()
        pending += baseline(invoice, on, f"backfill:{invoice.invoice_id}")
        count += 1
        if len(pending) >= 2 * batch:
            for projection in projections:
                projection.apply(pending)
            pending = []
    if pending:
        for projection in projections:
            projection.apply(pending)
    return count
