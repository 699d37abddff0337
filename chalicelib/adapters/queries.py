"""Read models for the finance API. Every listing is a Query on a key or index, never a Scan, and
pages with an opaque cursor that can span several index partitions (e.g. all statuses in turn)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import Any

from pynamodb.expressions.condition import Condition

from chalicelib.adapters.dynamo import (
    LIST_SHARDS,
    get_mapped,
    model_to_credit_note,
    model_to_customer,
    model_to_invoice,
    model_to_record,
)
from chalicelib.adapters.models import CreditNoteModel, CustomerModel, ImportModel, InvoiceModel, PaymentModel
from chalicelib.adapters.payments import model_to_payment
from chalicelib.domain.balances import BalanceSummary, summarize
from chalicelib.domain.customer import Customer
from chalicelib.domain.invoice import OUTSTANDING_STATUSES, Invoice, InvoiceStatus
from chalicelib.domain.worklists import name_search_key, number_search_key, open_amounts
from chalicelib.services.ports import (
    CustomerBalance,
    ImportRecord,
    InvoiceFilter,
    ListRefused,
    Page,
    PaymentFilter,
)

MAX_SEARCH_CUSTOMERS = 100  # customers a name prefix may match (each is a partition of the cursor)
_OPEN = [s.value for s in OUTSTANDING_STATUSES]
# Bounds of index sort keys. "#" separates a key's parts; "~" sorts after every character a key part holds
# (ids, dates, digits, upper-case letters), "$" right after "#".
_AFTER_ALL = "~"


def _due_bounds(f: InvoiceFilter) -> tuple[str | None, str | None]:
    """Exclusive bounds on due_key ("<YYYY-MM-DD>#<id>") for due_after / due_before."""
    return (f"{f.due_after.isoformat()}#~" if f.due_after else None,
            f"{f.due_before.isoformat()}#" if f.due_before else None)


def _range(key: Any, low: str | None, high: str | None) -> Condition | None:
    """low < key < high. DynamoDB takes one condition per sort key: both ends become BETWEEN (inclusive), and
    the caller drops an item sitting exactly on an end (`_ordered` does)."""
    condition: Condition | None = None
    if low is not None and high is not None:
        condition = key.between(low, high)
    elif low is not None:
        condition = key > low
    elif high is not None:
        condition = key < high
    return condition


def _cursor_after(cursor: dict[str, Any] | None) -> str | None:
    key = cursor.get("k") if cursor else None
    value = key.get("after", {}).get("S") if isinstance(key, dict) else None
    return value if isinstance(value, str) else None


def _after_cursor(position: int, after: str | None) -> dict[str, Any] | None:
    return None if after is None else {"p": position, "k": {"after": {"S": after}}}


def _due_range(f: InvoiceFilter) -> Condition | None:
    # due_key is "<YYYY-MM-DD>#<id>": '#' sorts before digits, '~' after every id character.
    key = InvoiceModel.due_key
    if f.due_after and f.due_before:
        return key.between(f"{f.due_after.isoformat()}#~", f"{f.due_before.isoformat()}#")
    if f.due_after:
        return key > f"{f.due_after.isoformat()}#~"
    if f.due_before:
        return key < f"{f.due_before.isoformat()}#"
    return None


def _ordered(index: Any, sort_attribute: str, hash_keys: list[str], low: str | None, high: str | None,
             after: str | None, limit: int, filter_condition: Condition | None = None,
             keep: Any = None) -> tuple[list[InvoiceModel], str | None]:
    """One ordered list over several partitions of an index (shards): each is read from just after `after` and
    the pages are merged by the index's sort key (unique: every key ends with the invoice id). Returns up to
    `limit` items in order and the key to continue after (None: nothing more). A shard that has more than it
    returned bounds what may be emitted (its unread items could sort before another shard's), so a page with
    a filter may be short, never wrong. `keep` drops items in Python (e.g. seen in an earlier phase)."""
    start = max(low, after) if low is not None and after is not None else (after if after is not None else low)
    if start is not None and high is not None and start >= high:
        return [], None
    key = getattr(InvoiceModel, sort_attribute)
    candidates: list[tuple[str, InvoiceModel]] = []
    horizon: str | None = None  # the smallest key a shard with more left stopped at
    for hash_key in hash_keys:
        result = index.query(hash_key, range_key_condition=_range(key, start, high), filter_condition=filter_condition,
                             limit=limit + 1)
        for m in result:
            value = getattr(m, sort_attribute)
            if value != start and value != high:
                candidates.append((value, m))
        last = result.last_evaluated_key
        if last is not None:
            stopped = last[sort_attribute]["S"]
            horizon = stopped if horizon is None else min(horizon, stopped)
    candidates.sort(key=lambda pair: pair[0])
    emitted: list[InvoiceModel] = []
    resume: str | None = None
    for value, m in candidates:
        if horizon is not None and value > horizon:
            break
        if len(emitted) >= limit:
            return emitted, resume  # more candidates are left: continue after the last one consumed
        resume = value
        if keep is None or keep(m):
            emitted.append(m)
    # Every candidate up to the horizon is consumed, and every shard has been read up to it.
    return emitted, horizon


class DynamoQueries:
    def invoice(self, invoice_id: str) -> Invoice | None:
        return get_mapped(InvoiceModel, invoice_id, model_to_invoice, consistent=False)

    def invoices(self, f: InvoiceFilter, limit: int, cursor: dict[str, Any] | None) -> Page:
        """By customer: one partition of by_customer, statuses filtered. Otherwise: the by_status
        partitions one after another, so a page never needs a Scan. Work-list orders and search: their own
        indexes (see `_work_list`)."""
        if f.search is not None or f.sort != "due_date":
            return self._work_list(f, limit, cursor)
        if f.customer_id:
            status_filter = InvoiceModel.status.is_in(*[s.value for s in f.statuses]) if f.statuses else None
            partitions: list[tuple[Any, str, Condition | None]] = [
                (InvoiceModel.by_customer, f.customer_id, status_filter)]
        else:
            statuses = f.statuses or tuple(InvoiceStatus)
            partitions = [(InvoiceModel.by_status, s.value, None) for s in statuses]
        items: list[Invoice] = []
        position = int(cursor["p"]) if cursor else 0
        last_key = cursor.get("k") if cursor else None
        while position < len(partitions) and len(items) < limit:
            index, hash_key, filter_condition = partitions[position]
            result = index.query(hash_key, range_key_condition=_due_range(f), filter_condition=filter_condition,
                                 limit=limit - len(items), last_evaluated_key=last_key)
            items.extend(model_to_invoice(m) for m in result)
            last_key = result.last_evaluated_key
            if last_key is None:
                position += 1
        if position >= len(partitions):
            return Page(items, None)
        return Page(items, {"p": position, "k": last_key})

    def _work_list(self, f: InvoiceFilter, limit: int, cursor: dict[str, Any] | None) -> Page:
        after = _cursor_after(cursor)
        status_filter = InvoiceModel.status.is_in(*[s.value for s in f.statuses]) if f.statuses else None
        if f.search is not None:
            return self._search(f.search, status_filter, limit, cursor)
        if f.sort == "-days_overdue":
            low, high = _due_bounds(f)
            if f.customer_id:
                open_filter = InvoiceModel.status.is_in(*_OPEN)
                items, after = _ordered(InvoiceModel.by_customer, "due_key", [f.customer_id], low, high, after, limit,
                                        open_filter if status_filter is None else open_filter & status_filter)
            else:
                items, after = _ordered(InvoiceModel.open_by_due, "due_key", _shards("open"), low, high, after,
                                        limit, status_filter)
        elif f.sort == "-balance":
            low, high = (f"{f.currency}#", f"{f.currency}$") if f.currency else (None, None)
            if f.customer_id:
                items, after = _ordered(InvoiceModel.open_by_customer, "balance_key", [f.customer_id], low, high,
                                        after, limit, status_filter)
            else:
                items, after = _ordered(InvoiceModel.open_by_balance, "balance_key", _shards("open"), low, high,
                                        after, limit, status_filter)
        else:
            raise ListRefused(f"unknown sort {f.sort!r}", "sort")
        return Page([model_to_invoice(m) for m in items], _after_cursor(0, after))

    def _search(self, text: str, status_filter: Condition | None, limit: int, cursor: dict[str, Any] | None
                ) -> Page:
        """Invoices whose number starts with `text` (by number), then the invoices of the customers whose name
        starts with it (customers by name, each one's invoices by due date), each invoice once. The cursor's
        partition is the phase: 0 numbers, 1 + i the i-th customer matched."""
        prefix = number_search_key(text)
        matches_number = (lambda m: not str(m.number_key or "").startswith(prefix)) if prefix else None
        customers = [m.customer_id for m in CustomerModel.by_name.query(
            "customer", range_key_condition=CustomerModel.name_key.startswith(name_search_key(text)),
            limit=MAX_SEARCH_CUSTOMERS + 1, attributes_to_get=["customer_id", "name_key", "list_key"])]
        if len(customers) > MAX_SEARCH_CUSTOMERS:
            raise ListRefused(f"q matches the names of more than {MAX_SEARCH_CUSTOMERS} customers; type more of the "
                              "name", "q")
        position = int(cursor["p"]) if cursor else 0
        after = _cursor_after(cursor)
        items: list[InvoiceModel] = []
        while len(items) < limit:
            if position == 0:
                found: list[InvoiceModel] = []
                if prefix:
                    found, after = _ordered(InvoiceModel.by_number, "number_key", _shards("all"), prefix,
                                            prefix + _AFTER_ALL, after, limit - len(items), status_filter)
                else:
                    after = None
            elif position <= len(customers):
                found, after = _ordered(InvoiceModel.by_customer, "due_key", [customers[position - 1]], None, None,
                                        after, limit - len(items), status_filter, keep=matches_number)
            else:
                return Page([model_to_invoice(m) for m in items], None)
            items.extend(found)
            if after is None:
                position += 1
            elif not found:
                break  # a filtered shard page came back empty: hand the client the cursor rather than loop on
        if position > len(customers):
            return Page([model_to_invoice(m) for m in items], None)
        return Page([model_to_invoice(m) for m in items], {"p": position, "k": {"after": {"S": after}}}
                    if after is not None else {"p": position, "k": None})

    def customer(self, customer_id: str) -> Customer | None:
        return get_mapped(CustomerModel, customer_id, model_to_customer, consistent=False)

    def customers(self, limit: int, cursor: dict[str, Any] | None) -> Page:
        result = CustomerModel.by_name.query("customer", limit=limit, last_evaluated_key=cursor.get("k") if cursor
                                             else None)
        items = [model_to_customer(m) for m in result]
        key = result.last_evaluated_key
        return Page(items, {"p": 0, "k": key} if key else None)

    def balance_summary(self, customer_id: str, today: date) -> BalanceSummary:
        """Reads the customer's outstanding invoices only (a filter on its own partition)."""
        query = InvoiceModel.by_customer.query(
            customer_id, filter_condition=InvoiceModel.status.is_in(*[s.value for s in OUTSTANDING_STATUSES]))
        return summarize((model_to_invoice(m) for m in query),
                         (model_to_credit_note(n) for n in CreditNoteModel.by_customer.query(customer_id)), today)

    def open_invoices_of(self, customer_ids: Sequence[str]) -> list[Invoice]:
        """The outstanding invoices of these customers, from the sparse open_by_customer index (one query each)."""
        return [model_to_invoice(m) for customer_id in dict.fromkeys(customer_ids)
                for m in InvoiceModel.open_by_customer.query(customer_id)]

    def open_invoices(self, currency: str | None, cap: int) -> list[Invoice] | None:
        """Every outstanding invoice (in `currency`), or None when there are more than `cap`."""
        low, high = (f"{currency}#", f"{currency}$") if currency else (None, None)
        found: list[Invoice] = []
        for shard in _shards("open"):
            for m in InvoiceModel.open_by_balance.query(shard, range_key_condition=_range(
                    InvoiceModel.balance_key, low, high), limit=cap + 1 - len(found)):
                found.append(model_to_invoice(m))
            if len(found) > cap:
                return None
        return found

    def import_record(self, import_id: str) -> ImportRecord | None:
        return get_mapped(ImportModel, import_id, model_to_record, consistent=False)

    def imports(self, limit: int, cursor: dict[str, Any] | None) -> Page:
        result = ImportModel.by_time.query("import", scan_index_forward=False, limit=limit,
                                           last_evaluated_key=cursor.get("k") if cursor else None)
        items = [model_to_record(m) for m in result]
        key = result.last_evaluated_key
        return Page(items, {"p": 0, "k": key} if key else None)

    def payments(self, f: PaymentFilter, limit: int, cursor: dict[str, Any] | None) -> Page:
        """Newest first, from the index that fits: unapplied cash (sparse), one customer, or all."""
        key = PaymentModel.received_key
        condition: Condition | None = None
        if f.received_from and f.received_to:
            condition = key.between(f.received_from.isoformat(), (f.received_to + timedelta(days=1)).isoformat())
        elif f.received_from:
            condition = key >= f.received_from.isoformat()
        elif f.received_to:
            condition = key < (f.received_to + timedelta(days=1)).isoformat()
        if f.unapplied:
            filter_condition = PaymentModel.customer_id == f.customer_id if f.customer_id else None
            result = PaymentModel.unapplied.query("unapplied", range_key_condition=condition,
                                                  filter_condition=filter_condition, scan_index_forward=False,
                                                  limit=limit, last_evaluated_key=cursor.get("k") if cursor else None)
        elif f.customer_id:
            result = PaymentModel.by_customer.query(f.customer_id, range_key_condition=condition,
                                                    scan_index_forward=False, limit=limit,
                                                    last_evaluated_key=cursor.get("k") if cursor else None)
        else:
            result = PaymentModel.by_time.query("payment", range_key_condition=condition, scan_index_forward=False,
                                                limit=limit, last_evaluated_key=cursor.get("k") if cursor else None)
        items = [model_to_payment(m) for m in result]
        last = result.last_evaluated_key
        return Page(items, {"p": 0, "k": last} if last else None)


def _shards(kind: str) -> list[str]:
    return [f"{kind}#{n}" for n in range(LIST_SHARDS)]


class IndexOpenBalances:
    """OpenBalances (services/ports.py) from the invoices table's own indexes, until the analytics projection
    (an-core) is wired: `balances_of` reads each customer's outstanding invoices (sparse open_by_customer: no
    closed invoice is read); `customer_balances` reads every outstanding invoice (open_by_balance), so it answers
    only up to `cap` of them and refuses beyond (the projection answers in O(customers)). Today's figures only:
    as_of before today needs the projection's history."""

    def __init__(self, queries: DynamoQueries, cap: int = 10_000) -> None:
        self._queries, self._cap = queries, cap

    def balances_of(self, customer_ids: Sequence[str], as_of: date) -> list[CustomerBalance]:
        return _balances(self._queries.open_invoices_of(customer_ids), as_of)

    def customer_balances(self, as_of: date, currency: str | None = None) -> list[CustomerBalance]:
        invoices = self._queries.open_invoices(currency, self._cap)
        if invoices is None:
            raise ListRefused(f"sorting customers by balance over more than {self._cap} open invoices needs the "
                              "analytics projection", "sort")
        return _balances(invoices, as_of)


def _balances(invoices: Iterable[Invoice], as_of: date) -> list[CustomerBalance]:
    amounts = open_amounts(((i.customer_id, i.balance, i.due_date) for i in invoices), as_of)
    rows = [CustomerBalance(customer_id, currency, balance, overdue, buckets)
            for (customer_id, currency), (balance, overdue, buckets) in amounts.items()]
    rows.sort(key=lambda r: (r.currency, -r.balance.minor, r.customer_id))
    return rows
