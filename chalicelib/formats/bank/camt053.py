"""ISO 20022 camt.053 (BankToCustomerStatement), versions 001.02 to 001.13, streamed.

Elements are matched by local name, so every version's namespace works (and the layout changes
between them: ``Sts`` became ``Sts/Cd``, ``Dbtr/Nm`` became ``Dbtr/Pty/Nm``, ``TxDtls/Amt`` was added
beside ``AmtDtls/TxAmt/Amt``). Parsing uses defusedxml's iterparse with DTDs refused (no entity
expansion, no external entities), and each ``Ntry`` is dropped from the tree once converted, so memory
stays flat however long the statement is. A malformed document found mid-stream raises
UnreadableFile from the iterator; `parse_bank_file` checks a seekable stream completely before
returning, so such a file is rejected before any entry is applied.

What becomes a PaymentEvent (provider "bank"):

* a booked (``Sts`` BOOK) credit (``CdtDbtInd`` CRDT) -> PAYMENT;
* a booked debit that is reliably a *return of money we had received*: ``RvslInd`` true, or bank
  transaction sub-family UPDD (reversal: unpaid / returned direct debit) or PRDD (reversal of a
  direct debit) -> CHARGEBACK, ``original_ref`` = the end-to-end id it names;
* other debits (fees, transfers out), pending/info entries, and credits that reverse one of our own
  debits (``RvslInd`` on a CRDT): SkippedEntry with the reason.

One event per entry, except a batch entry (several ``TxDtls``) whose every transaction carries an
amount (``TxDtls/Amt`` or ``AmtDtls/TxAmt/Amt``) in the entry's currency adding up to the entry
amount: then one event per transaction. Otherwise (amounts missing, or not adding up because the bank
deducted charges) the entry is one event for the amount booked, with the references of all its
transactions.

``event_id`` = ``camt:{account}:{entry key}:{tx}``: account = IBAN (or other id) of the statement;
entry key = the entry's ``AcctSvcrRef`` (the bank's unique reference: stable even if the bank re-issues
the statement under another id) or ``{Stmt/Id}/{NtryRef}`` or ``{Stmt/Id}/#{n}`` (n-th entry of the
statement); tx = the transaction's 1-based index when the entry is split, 0 for the whole entry.
``payment_ref`` is the bank's reference for the money (transaction or entry ``AcctSvcrRef``) or the
event id. ``occurred_at`` = booking date (``BookgDt/Dt`` midnight UTC, or ``BookgDt/DtTm``; a DtTm
without offset is taken as UTC), else value date.

References (candidate invoice numbers, for the matcher): the structured creditor reference
(``Strd/CdtrRefInf/Ref``: an ISO 11649 RF reference is validated and stripped to what it embeds; an
RF failing its check digits is only mined for tokens; any other structured reference is taken as
is), the end-to-end id, and `extract_references` over the unstructured ``Ustrd`` lines (lines of the
maximum 140 characters are joined without a space, as banks wrap mid-word), falling back to
``AddtlTxInf``/``AddtlNtryInf`` when a transaction has no remittance information at all.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # only the Element type and ParseError: parsing is defusedxml
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import BinaryIO

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

from chalicelib.domain.errors import DomainError
from chalicelib.domain.money import Money, parse_plain_amount
from chalicelib.domain.payments import PaymentEvent, PaymentKind
from chalicelib.formats.bank.model import PROVIDER, BankItem, SkippedEntry
from chalicelib.formats.bank.references import explicit_reference, extract_references, rf_payload, unique_references
from chalicelib.formats.records import RowError, UnreadableFile

FORMAT = "camt.053"
USTRD_MAX = 140
RETURN_SUBFAMILIES = frozenset({"UPDD", "PRDD"})
_NOT_PROVIDED = "NOTPROVIDED"


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(element: ET.Element, name: str) -> list[ET.Element]:
    return [child for child in element if _local(child.tag) == name]


def _find(element: ET.Element | None, path: str) -> ET.Element | None:
    for name in path.split("/"):
        if element is None:
            return None
        element = next((child for child in element if _local(child.tag) == name), None)
    return element


def _findall(element: ET.Element | None, path: str) -> list[ET.Element]:
    """Every element at `path` (each step may repeat)."""
    level = [element] if element is not None else []
    for name in path.split("/"):
        level = [child for parent in level for child in _children(parent, name)]
    return level


def _text(element: ET.Element | None, path: str) -> str | None:
    node = _find(element, path)
    if node is None or node.text is None:
        return None
    return node.text.strip() or None


# ---------------------------------------------------------------- streaming


def _walk(stream: BinaryIO) -> Iterator[tuple[str, ET.Element, list[str]]]:
    """(event, element, path of local names) for a camt.053 document. Elements down to an entry's
    depth (Document/BkToCstmrStmt/Stmt/Ntry) are detached once their end event has been handled."""
    names: list[str] = []
    elements: list[ET.Element] = []
    try:
        for event, element in iterparse(stream, events=("start", "end"), forbid_dtd=True):
            if event == "start":
                name = _local(element.tag)
                depth = len(names)
                if depth == 0:
                    namespace = element.tag[1:].split("}", 1)[0] if element.tag.startswith("{") else ""
                    if name != "Document":
                        raise UnreadableFile(f"XML root is {name!r}; expected an ISO 20022 camt.053 Document")
                    if namespace and "camt.053" not in namespace:
                        raise UnreadableFile(f"XML namespace {namespace!r} is not camt.053 (bank statements are "
                                             "read from camt.053; camt.052 and camt.054 repeat its entries)")
                elif depth == 1 and name != "BkToCstmrStmt":
                    raise UnreadableFile(f"document holds {name!r}; expected BkToCstmrStmt (camt.053)")
                names.append(name)
                elements.append(element)
                yield "start", element, names
            else:
                yield "end", element, names
                names.pop()
                elements.pop()
                if elements and len(elements) <= 3:
                    elements[-1].remove(element)
    except DefusedXmlException as exc:
        raise UnreadableFile(f"XML with a DTD or entities is refused (XXE / entity expansion): {exc}") from exc
    except ET.ParseError as exc:
        raise UnreadableFile(f"malformed XML: {exc}") from exc


def check_document(stream: BinaryIO) -> None:
    """Read a whole document once, raising UnreadableFile if it is not a well-formed camt.053."""
    for _ in _walk(stream):
        pass


@dataclass
class _Statement:
    id: str = "?"
    account: str = "-"
    entries: int = 0


def parse_camt053(stream: BinaryIO) -> Iterator[BankItem]:
    statement = _Statement()
    for event, element, names in _walk(stream):
        if event == "start":
            if names[-1] == "Stmt" and len(names) == 3:
                statement = _Statement()
            continue
        if len(names) != 4 or names[2] != "Stmt":
            continue
        name = names[3]
        if name == "Id":
            statement.id = (element.text or "").strip() or "?"
        elif name == "Acct":
            statement.account = _text(element, "Id/IBAN") or _text(element, "Id/Othr/Id") or "-"
        elif name == "Ntry":
            statement.entries += 1
            yield from _entry(statement, element, statement.entries)


# ---------------------------------------------------------------- one entry


@dataclass(frozen=True)
class _Entry:
    key: str
    label: str
    acct_svcr_ref: str | None
    raw_type: str
    occurred_at: datetime
    kind: PaymentKind


def _money(element: ET.Element | None) -> Money | None:
    if element is None or element.text is None:
        return None
    try:
        return Money.of(parse_plain_amount(element.text, signed=False), element.get("Ccy") or "")
    except DomainError:
        return None


def _datetime(element: ET.Element | None) -> datetime | None:
    day = _text(element, "Dt")
    if day is not None:
        return datetime.combine(date.fromisoformat(day), datetime.min.time(), tzinfo=UTC)
    moment = _text(element, "DtTm")
    if moment is not None:
        value = datetime.fromisoformat(moment)
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return None


def _error(label: str, field: str, reason: str, value: str | None = None) -> RowError:
    return RowError(line=0, field=field, reason=reason, value=value, number=label)


def _entry(statement: _Statement, ntry: ET.Element, index: int) -> Iterator[BankItem]:
    acct_svcr_ref = _text(ntry, "AcctSvcrRef")
    key = acct_svcr_ref or f"{statement.id}/{_text(ntry, 'NtryRef') or f'#{index}'}"
    label = f"statement {statement.id} entry {index}" + (f" ({acct_svcr_ref})" if acct_svcr_ref else "")
    status = _text(ntry, "Sts/Cd") or _text(ntry, "Sts")
    if status is not None and status.upper() != "BOOK":
        yield SkippedEntry(0, label, f"entry status {status}: not booked", "not_booked")
        return
    direction = _text(ntry, "CdtDbtInd")
    reversal = (_text(ntry, "RvslInd") or "").lower() in ("true", "1")
    domain = _text(ntry, "BkTxCd/Domn/Cd")
    family = _text(ntry, "BkTxCd/Domn/Fmly/Cd")
    subfamily = _text(ntry, "BkTxCd/Domn/Fmly/SubFmlyCd")
    if direction == "CRDT":
        if reversal:
            yield SkippedEntry(0, label, "credit reversing one of our own debits: not a customer payment",
                               "reversed_debit")
            return
        kind = PaymentKind.PAYMENT
    elif direction == "DBIT":
        if not (reversal or subfamily in RETURN_SUBFAMILIES):
            yield SkippedEntry(0, label, "debit: not a customer payment", "debit")
            return
        kind = PaymentKind.CHARGEBACK
    else:
        yield _error(label, "CdtDbtInd", "CdtDbtInd must be CRDT or DBIT", direction)
        return
    amount = _money(_find(ntry, "Amt"))
    if amount is None:
        amount_el = _find(ntry, "Amt")
        value = None if amount_el is None else f"{(amount_el.text or '').strip()} {amount_el.get('Ccy') or ''}"
        yield _error(label, "Amt", "entry amount is missing, not a positive decimal, or not valid for its currency",
                     value)
        return
    if amount.is_zero:
        yield SkippedEntry(0, label, "zero amount", "zero_amount")
        return
    try:
        occurred_at = _datetime(_find(ntry, "BookgDt")) or _datetime(_find(ntry, "ValDt"))
    except ValueError:
        occurred_at = None
    if occurred_at is None:
        yield _error(label, "BookgDt", "entry has no readable booking or value date")
        return
    codes = "/".join(code for code in (domain, family, subfamily) if code)
    entry = _Entry(key, label, acct_svcr_ref, f"{FORMAT}:{codes}" if codes else FORMAT, occurred_at, kind)
    transactions = _findall(ntry, "NtryDtls/TxDtls")
    parts = [(tx, tx_amount) for tx in transactions
             if (tx_amount := _tx_amount(tx)) is not None and tx_amount.currency == amount.currency
             and not tx_amount.is_zero]
    splittable = (
        len(transactions) > 1 and len(parts) == len(transactions)
        and sum((tx_amount.amount for _, tx_amount in parts), Decimal(0)) == amount.amount
    )
    if splittable:
        for position, (tx, tx_amount) in enumerate(parts, start=1):
            yield _event(statement, entry, position, tx_amount, [tx], ntry)
    else:
        yield _event(statement, entry, 0, amount, transactions, ntry)


def _tx_amount(tx: ET.Element) -> Money | None:
    return _money(_find(tx, "Amt")) or _money(_find(tx, "AmtDtls/TxAmt/Amt"))


def _payer(tx: ET.Element) -> str | None:
    return _text(tx, "RltdPties/Dbtr/Nm") or _text(tx, "RltdPties/Dbtr/Pty/Nm") \
        or _text(tx, "RltdPties/UltmtDbtr/Nm") or _text(tx, "RltdPties/UltmtDbtr/Pty/Nm")


def _join_lines(lines: list[str]) -> str:
    joined = ""
    for i, line in enumerate(lines):
        joined += line
        if i < len(lines) - 1 and len(line) < USTRD_MAX:
            joined += " "
    return joined


def _end_to_end(tx: ET.Element) -> str | None:
    value = _text(tx, "Refs/EndToEndId")
    return None if value is None or value.upper() == _NOT_PROVIDED else value


def _references(transactions: list[ET.Element], ntry: ET.Element) -> tuple[str, ...]:
    found: list[str] = []
    for tx in transactions:
        for ref in _findall(tx, "RmtInf/Strd/CdtrRefInf/Ref"):
            text = (ref.text or "").strip()
            if not text:
                continue
            if text.upper().replace(" ", "").startswith("RF"):
                payload = rf_payload(text)
                found.extend([payload] if payload else extract_references(text))
            else:
                found.append(text)
        e2e = _end_to_end(tx)
        if e2e:
            found.extend(explicit_reference(e2e) or extract_references(e2e))
        lines = [(u.text or "").strip() for u in _findall(tx, "RmtInf/Ustrd") if u.text]
        found.extend(extract_references(_join_lines(lines)))
        if _find(tx, "RmtInf") is None:
            found.extend(extract_references(_text(tx, "AddtlTxInf") or ""))
    if not transactions or all(_find(tx, "RmtInf") is None for tx in transactions):
        found.extend(extract_references(_text(ntry, "AddtlNtryInf") or ""))
    return unique_references(found)


def _event(statement: _Statement, entry: _Entry, position: int, amount: Money, transactions: list[ET.Element],
           ntry: ET.Element) -> PaymentEvent:
    event_id = f"camt:{statement.account}:{entry.key}:{position}"
    tx_ref = _text(transactions[0], "Refs/AcctSvcrRef") if len(transactions) == 1 else None
    if tx_ref:
        payment_ref = tx_ref
    elif entry.acct_svcr_ref:
        payment_ref = entry.acct_svcr_ref + (f":{position}" if position else "")
    else:
        payment_ref = event_id
    payer = next((name for name in (_payer(tx) for tx in transactions) if name), None)
    original = None
    if entry.kind is PaymentKind.CHARGEBACK:
        original = next((e2e for e2e in (_end_to_end(tx) for tx in transactions) if e2e), None)
    return PaymentEvent(provider=PROVIDER, event_id=event_id, payment_ref=payment_ref, kind=entry.kind,
                        amount=amount, occurred_at=entry.occurred_at, raw_type=entry.raw_type, payer_name=payer,
                        references=_references(transactions, ntry), original_ref=original)
