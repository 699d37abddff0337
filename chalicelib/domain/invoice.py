"""Invoices and credit notes: what the ERP says (a Document) and what Dunwell keeps (an Invoice).

The balance is derived, never stored independently, so the ledger invariant holds by construction:
    total + charged = balance + paid + credited + written_off + discounted
(`discounted`: an early-payment discount the customer earned by paying in time, domain/discounts.py)
where `paid` is the larger of what the ERP reports as paid and what Dunwell applied itself: both
systems usually see the same money (a Dunwell-applied payment is later posted in the ERP too), so the
two are reconciled by taking the larger, never by adding them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum

from chalicelib.domain.errors import (
    AmendmentRejected,
    CurrencyMismatch,
    DisputeOpen,
    IdempotencyKeyReused,
    InvalidDocument,
    InvalidMoney,
    NotAllowed,
)
from chalicelib.domain.ids import credit_note_id, invoice_id, normalise_number
from chalicelib.domain.money import Money


class DocumentKind(StrEnum):
    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"


class InvoiceStatus(StrEnum):
    OPEN = "open"
    PARTIALLY_PAID = "partially_paid"
    PAID = "paid"
    DISPUTED = "disputed"
    WRITTEN_OFF = "written_off"
    VOID = "void"


OUTSTANDING_STATUSES = (InvoiceStatus.OPEN, InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.DISPUTED)


@dataclass(frozen=True, slots=True)
class Document:
    """One invoice or credit note as a source file states it, validated."""

    kind: DocumentKind
    number: str
    customer_id: str
    issue_date: date
    due_date: date | None
    total: Money
    paid_in_source: Money
    void: bool = False
    applies_to: str | None = None  # a credit note's invoice number
    buyer_reference: str | None = None
    description: str | None = None
    due_date_derived: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "number", normalise_number(self.number))
        if not self.number:
            raise InvalidDocument("document number is empty", field="number")
        if self.total.is_negative:
            raise InvalidDocument(f"total {self.total} is negative", field="total")
        if self.paid_in_source.currency != self.total.currency:
            raise CurrencyMismatch("amount paid is in another currency than the total", field="amount_paid")
        if self.paid_in_source.is_negative:
            raise InvalidDocument("amount paid is negative", field="amount_paid")
        # An invoice may arrive without a due date (UBL allows payment terms instead): the ingest
        # service derives it from the customer's terms or reports the row; it never guesses here.
        if self.due_date is not None and self.due_date < self.issue_date:
            raise InvalidDocument(f"due date {self.due_date} is before issue date {self.issue_date}", field="due_date")

    @property
    def document_id(self) -> str:
        return invoice_id(self.number) if self.kind is DocumentKind.INVOICE else credit_note_id(self.number)

    @property
    def currency(self) -> str:
        return self.total.currency

    def fingerprint(self) -> str:
        """What makes two statements of the same document equal; a change is an amendment."""
        parts = (
            self.kind, self.number, self.customer_id, self.issue_date.isoformat(),
            self.due_date.isoformat() if self.due_date else "", self.total.to_api(), self.currency,
            self.paid_in_source.to_api(), str(self.void), self.applies_to or "", self.buyer_reference or "",
        )
        return "|".join(parts)


@dataclass(frozen=True, slots=True)
class Change:
    field: str
    before: str | None
    after: str | None


@dataclass(frozen=True, slots=True)
class LedgerCharge:
    """A late fee, statutory compensation or interest charged on an invoice by dunning: part of its balance.

    `key` names what was charged (`INV-1:fee:final_notice`, `INV-1:interest:<first>:<last>`), so the same
    charge is never added twice whatever retries happen."""

    kind: str  # fee | compensation | interest
    amount: Money
    reason: str
    key: str
    charged_on: date
    step: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {"kind": self.kind, "amount": self.amount.to_api(), "currency": self.amount.currency,
                "reason": self.reason, "key": self.key, "charged_on": self.charged_on.isoformat(), "step": self.step}


@dataclass(frozen=True, slots=True)
class Invoice:
    invoice_id: str
    number: str
    customer_id: str
    issue_date: date
    due_date: date
    total: Money
    paid_in_source: Money
    applied_payments: Money
    credited: Money
    written_off: Money
    disputed: bool = False
    void: bool = False
    buyer_reference: str | None = None
    fingerprint: str = ""
    version: int = 0
    # Dunning state kept on the invoice (one item: the sweep reads nothing else per invoice).
    charges: tuple[LedgerCharge, ...] = ()
    reminders_sent: frozenset[str] = frozenset()  # "<step>:<channel>" and "<step>:action:<action>"
    next_action_at: datetime | None = None  # when the dunning sweep should look at it again
    promised_until: date | None = None
    in_plan: bool = False
    plan_id: str | None = None  # the active payment plan that holds it (domain/plans.py)
    # Collector workflows. A dispute holds back the whole invoice (`disputed`, also set by a chargeback) or a
    # deduction (`disputed_amount`: only that part is held, the rest is still chased).
    disputed_amount: Money | None = None
    dispute_id: str | None = None  # the open dispute record (a chargeback disputes without one)
    promised_amount: Money | None = None
    promise_balance: Money | None = None  # the balance when the promise was made: kept once it fell by the amount
    broken_promise: date | None = None  # a broken promise's date, until the next reminder has mentioned it
    operation_keys: frozenset[str] = frozenset()  # Idempotency-Keys of one-off operations applied (write-offs)
    # Day one: when Dunwell first saw the invoice (UTC date of its import), the customer's local date of the last
    # notice about it, and whether a collector released an invoice too old at import to be chased automatically.
    first_seen_on: date | None = None
    last_notice_on: date | None = None
    review_released: bool = False
    collector_written_off: Money | None = None  # the part of `written_off` collectors wrote off (their limit's sum)
    # When this change takes effect, if not on the day it is recorded (a payment applied: the day it was received).
    # Set by the writer of one change; never read back from the store, so the next change does not inherit it.
    effective_on: date | None = None
    delivered_at: datetime | None = None  # when its latest version was last sent to the customer (invoice_delivery)
    # An early-payment discount booked (domain/discounts.py decides it) and the payment that earned it: a refund or
    # chargeback of that payment takes the discount back. None: no discount booked (see `discounted`).
    discount_granted: Money | None = None
    discount_payment_id: str | None = None

    @classmethod
    def from_document(cls, document: Document) -> Invoice:
        if document.kind is not DocumentKind.INVOICE or document.due_date is None:
            raise InvalidDocument("only an invoice with a due date becomes an Invoice")
        zero = Money.zero(document.currency)
        return cls(
            invoice_id=document.document_id,
            number=document.number,
            customer_id=document.customer_id,
            issue_date=document.issue_date,
            due_date=document.due_date,
            total=document.total,
            paid_in_source=document.paid_in_source,
            applied_payments=zero,
            credited=zero,
            written_off=zero,
            void=document.void,
            buyer_reference=document.buyer_reference,
            fingerprint=document.fingerprint(),
        )

    @property
    def currency(self) -> str:
        return self.total.currency

    @property
    def paid(self) -> Money:
        return max(self.paid_in_source, self.applied_payments)

    @property
    def charged(self) -> Money:
        """Fees, compensation and interest charged by dunning, on top of the invoice total."""
        return sum((c.amount for c in self.charges), Money.zero(self.currency))

    @property
    def discounted(self) -> Money:
        """The early-payment discount booked on this invoice (zero when none): a reduction, like a credit."""
        return self.discount_granted if self.discount_granted is not None else Money.zero(self.currency)

    @property
    def balance(self) -> Money:
        if self.void:
            return Money.zero(self.currency)
        return self.total + self.charged - self.paid - self.credited - self.written_off - self.discounted

    def principal_open(self, charges_first: bool = True) -> Money:
        """The part of the balance that is the invoice's own amount, not charges.

        Credit notes and write-offs reduce the principal. Payments go to the charges first (the order of
        e.g. BGB s. 367: costs, interest, principal) or to the principal first, as the policy says;
        interest and percentage fees are computed on this figure, so charges never bear interest."""
        zero = Money.zero(self.currency)
        if self.void:
            return zero
        to_principal = self.paid - min(self.paid, self.charged) if charges_first else self.paid
        return max(zero, self.total - self.credited - self.written_off - self.discounted - to_principal)

    @property
    def disputed_open(self) -> Money:
        """The part of the balance an open dispute holds back from dunning: all of it when the whole invoice is
        disputed (or charged back), else the deduction, up to the balance (payments may have eaten into it)."""
        balance = self.balance
        if balance.amount <= 0:
            return Money.zero(self.currency)
        if self.disputed:
            return balance
        if self.disputed_amount is not None:
            return min(self.disputed_amount, balance)
        return Money.zero(self.currency)

    @property
    def undisputed_balance(self) -> Money:
        """What dunning chases: the balance less what an open dispute holds back."""
        return self.balance - self.disputed_open

    def principal_to_chase(self, charges_first: bool = True) -> Money:
        """The open principal a reminder asks for: a deduction is held back from the principal."""
        principal = self.principal_open(charges_first)
        return principal - min(principal, self.disputed_open)

    def charge_keys(self) -> frozenset[str]:
        return frozenset(c.key for c in self.charges)

    def with_charges(self, charges: tuple[LedgerCharge, ...]) -> Invoice:
        """Add the charges not charged yet (by key): asking twice charges once."""
        known = self.charge_keys()
        new = tuple(c for c in charges if c.key not in known)
        for charge in new:
            if charge.amount.currency != self.currency:
                raise CurrencyMismatch(f"a {charge.amount.currency} charge on a {self.currency} invoice")
            if charge.amount.is_negative:
                raise InvalidMoney("a charge is never negative", field="amount")
        return replace(self, charges=self.charges + new) if new else self

    def needs_review(self, at: datetime) -> Invoice:
        """Ask the dunning sweep to decide about this invoice again no later than `at`."""
        if self.next_action_at is not None and self.next_action_at <= at:
            return self
        return replace(self, next_action_at=at)

    @property
    def status(self) -> InvoiceStatus:
        if self.void:
            return InvoiceStatus.VOID
        if self.balance.is_zero:
            if not self.written_off.is_zero and self.paid + self.credited + self.discounted < self.total + self.charged:
                return InvoiceStatus.WRITTEN_OFF
            return InvoiceStatus.PAID
        if self.disputed or (self.disputed_amount is not None and self.undisputed_balance.is_zero):
            return InvoiceStatus.DISPUTED  # a deduction of everything still open disputes the whole invoice
        if self.paid.is_zero and self.credited.is_zero:
            return InvoiceStatus.OPEN
        return InvoiceStatus.PARTIALLY_PAID

    def is_overdue(self, today: date) -> bool:
        return self.status in OUTSTANDING_STATUSES and self.due_date < today

    def amended_by(self, document: Document) -> tuple[Invoice, tuple[Change, ...]]:
        """Apply a re-sent document. Payments, credits and write-offs already applied are kept;
        a change that would push the balance below zero is rejected, never clamped."""
        if document.document_id != self.invoice_id or document.kind is not DocumentKind.INVOICE:
            raise AmendmentRejected("document is not this invoice")
        if document.currency != self.currency:
            raise AmendmentRejected(
                f"currency changed from {self.currency} to {document.currency}; "
                "void the invoice in the ERP and issue a new one",
                field="currency",
            )
        if document.customer_id != self.customer_id:
            raise AmendmentRejected(
                f"customer changed from {self.customer_id} to {document.customer_id}", field="customer"
            )
        assert document.due_date is not None  # Document validation guarantees it for invoices
        amended = replace(
            self,
            issue_date=document.issue_date,
            due_date=document.due_date,
            total=document.total,
            paid_in_source=document.paid_in_source,
            void=document.void,
            buyer_reference=document.buyer_reference,
            fingerprint=document.fingerprint(),
        )
        if amended.balance.is_negative:
            raise AmendmentRejected(
                f"new total {document.total} is below what is already paid, credited or written off "
                f"({self.paid + self.credited + self.written_off + self.discounted})",
                field="total",
            )
        changes = tuple(
            Change(name, before, after)
            for name, before, after in (
                ("issue_date", self.issue_date.isoformat(), amended.issue_date.isoformat()),
                ("due_date", self.due_date.isoformat(), amended.due_date.isoformat()),
                ("total", self.total.to_api(), amended.total.to_api()),
                ("amount_paid_in_erp", self.paid_in_source.to_api(), amended.paid_in_source.to_api()),
                ("void", str(self.void).lower(), str(amended.void).lower()),
                ("buyer_reference", self.buyer_reference, amended.buyer_reference),
            )
            if before != after
        )
        return amended, changes

    def with_credit(self, amount: Money) -> tuple[Invoice, Money]:
        """Apply up to `amount` of credit; returns the invoice and the part left unapplied."""
        if amount.currency != self.currency:
            raise CurrencyMismatch(f"credit in {amount.currency} cannot reduce a {self.currency} invoice")
        applied = min(amount, self.balance)
        return replace(self, credited=self.credited + applied), amount - applied

    def with_dispute(self, dispute_id: str, amount: Money | None) -> Invoice:
        """Open a dispute: of the whole invoice (`amount` None: dunning pauses) or of a deduction of `amount`
        (0 < amount <= balance: only that part is held, the rest is still chased). One open dispute at a time; a
        chargeback's hold (disputed without a record) is taken over by the new dispute."""
        if self.status not in OUTSTANDING_STATUSES:
            raise NotAllowed(f"invoice {self.number} is {self.status.value}: nothing is open to dispute")
        if self.dispute_id is not None:
            raise DisputeOpen(f"invoice {self.number} already has an open dispute ({self.dispute_id}); resolve it "
                              "first", field="invoice_id")
        if amount is not None:
            self._check_reduction(amount, "disputed")
        return replace(self, disputed=amount is None, disputed_amount=amount, dispute_id=dispute_id)

    def without_dispute(self) -> Invoice:
        """The dispute is resolved: nothing is held back any more (a credit, if any, is applied separately)."""
        return replace(self, disputed=False, disputed_amount=None, dispute_id=None)

    def with_write_off(self, amount: Money, key: str | None = None, request: str = "", *,
                       by_collector: bool = False) -> Invoice:
        """Write off `amount` as bad debt (0 < amount <= balance). Written off down to zero, the invoice's status
        is WRITTEN_OFF and dunning stops. With `key` (the request's Idempotency-Key), the same request again
        (`request`: its fingerprint) changes nothing, and another request under that key is IdempotencyKeyReused.
        `by_collector`: counted in `collector_written_off`, which the collector limit bounds."""
        if key is not None:
            applied = self.operation_fingerprint("write_off", key)
            if applied is not None:
                if applied and request and applied != request:
                    raise IdempotencyKeyReused(key)
                return self
        if self.void:
            raise NotAllowed(f"invoice {self.number} is void: nothing to write off")
        self._check_reduction(amount, "written off")
        keys = self.operation_keys | {f"write_off#{request}:{key}"} if key is not None else self.operation_keys
        by_collectors = self.collector_written_off_total + amount if by_collector else self.collector_written_off
        return replace(self, written_off=self.written_off + amount, operation_keys=keys,
                       collector_written_off=by_collectors)

    @property
    def collector_written_off_total(self) -> Money:
        return self.collector_written_off or Money.zero(self.currency)

    def operation_fingerprint(self, kind: str, key: str) -> str | None:
        """The fingerprint of the request an operation's Idempotency-Key was applied with: "" when it was kept
        without one (before fingerprints), None when the key was never applied."""
        if f"{kind}:{key}" in self.operation_keys:
            return ""
        prefix = f"{kind}#"
        for entry in self.operation_keys:
            if entry.startswith(prefix):
                fingerprint, sep, applied_key = entry[len(prefix):].partition(":")
                if sep and applied_key == key:
                    return fingerprint
        return None

    def with_promise(self, until: date, amount: Money) -> Invoice:
        """The customer promised to pay `amount` (0 < amount <= balance) by `until`; dunning holds until then
        (and a grace period, see domain/collections.py). A new promise replaces the previous one."""
        if self.status not in OUTSTANDING_STATUSES:
            raise NotAllowed(f"invoice {self.number} is {self.status.value}: nothing is open to promise")
        if self.status is InvoiceStatus.DISPUTED:
            raise NotAllowed(f"invoice {self.number} is disputed: resolve the dispute before taking a promise")
        if self.in_plan:
            raise NotAllowed(f"invoice {self.number} is in payment plan {self.plan_id}: its instalments are the "
                             "promise (cancel the plan first)")
        self._check_reduction(amount, "promised")
        return replace(self, promised_until=until, promised_amount=amount, promise_balance=self.balance,
                       broken_promise=None)

    def without_promise(self, broken: bool = False) -> Invoice:
        """The promise is settled: kept (nothing remembered) or broken (the next reminder says so)."""
        return replace(self, promised_until=None, promised_amount=None, promise_balance=None,
                       broken_promise=self.promised_until if broken else self.broken_promise)

    def _check_reduction(self, amount: Money, what: str) -> None:
        if amount.currency != self.currency:
            raise CurrencyMismatch(f"{amount.currency} amount on a {self.currency} invoice", field="amount")
        if amount.amount <= 0:
            raise InvalidMoney(f"the amount {what} must be more than zero", field="amount")
        if amount > self.balance:
            raise InvalidMoney(f"{amount} cannot be {what}: the open balance of invoice {self.number} is "
                               f"{self.balance}", field="amount")

    def with_payment(self, amount: Money) -> tuple[Invoice, Money]:
        """Apply money Dunwell received to this invoice; returns the invoice and the part left over.

        The payment is real cash, so it reduces the balance euro for euro, up to the balance:
        `reduction = min(amount, balance)`, `leftover = amount - reduction`, never a negative balance.
        What the payment's record should call *allocated* to this invoice is exactly that reduction
        (`old.balance - new.balance`), so `allocated + leftover == amount` always.

        Because `paid = max(paid_in_source, applied_payments)`, simply adding the reduction to
        `applied_payments` would be swallowed while the ERP reports more paid than Dunwell applied
        (ERP says 60 paid, Dunwell applied 0, a payment of 40 arrives: max(60, 40) is still 60).
        DESIGN.md's premise is that Dunwell sees money first and the ERP posts it later, so money the
        ERP reports beyond what Dunwell applied is money Dunwell never saw (a cheque posted in the ERP),
        and this payment comes on top of it. `applied_payments` is therefore set to
        `paid + reduction`: Dunwell's figure first adopts the ERP's and then adds the new cash, which
        makes `paid` rise by exactly the reduction. When the ERP later posts this payment, its figure
        catches up to `applied_payments` and the max counts the money once.

        A void or settled invoice takes nothing and is returned unchanged (all of `amount` is left over).
        """
        self._check_payment_amount(amount)
        balance = self.balance
        reduction = min(amount, balance) if balance.amount > 0 else Money.zero(self.currency)
        if reduction.is_zero:
            return self, amount
        return replace(self, applied_payments=self.paid + reduction), amount - reduction

    def without_payment(self, amount: Money) -> Invoice:
        """Take back `amount` of money Dunwell applied (a refund or chargeback): the invoice reopens.

        `applied_payments` falls by `amount`; the status (derived) goes back to open or partially paid.
        Right after `with_payment` the balance rises by exactly `amount`; if the ERP has meanwhile
        reported the payment in `paid_in_source`, the ERP's figure keeps the invoice paid until the
        ERP posts the refund too (the max rule: the two systems count the same cash once).
        Raises InvalidMoney when `amount` exceeds what Dunwell applied: a refund never invents a debt.
        """
        self._check_payment_amount(amount)
        if amount > self.applied_payments:
            raise InvalidMoney(
                f"cannot take back {amount} from invoice {self.number}: only {self.applied_payments} "
                "was applied by Dunwell",
                field="amount",
            )
        return replace(self, applied_payments=self.applied_payments - amount)

    def with_discount(self, amount: Money, payment_id: str) -> Invoice:
        """Book an early-payment discount of `amount` (0 < amount <= balance) earned by payment `payment_id`.
        Booking the same discount for the same payment again changes nothing; one discount per invoice."""
        if self.discount_granted is not None:
            if self.discount_payment_id == payment_id and self.discount_granted == amount:
                return self
            raise NotAllowed(f"invoice {self.number} already has an early-payment discount of {self.discount_granted} "
                             f"(payment {self.discount_payment_id})")
        self._check_reduction(amount, "discounted")
        return replace(self, discount_granted=amount, discount_payment_id=payment_id)

    def without_discount(self) -> Invoice:
        """Take the early-payment discount back (its payment was refunded or charged back, or taken off by staff):
        the discount is owed again."""
        return replace(self, discount_granted=None, discount_payment_id=None)

    def _check_payment_amount(self, amount: Money) -> None:
        if amount.currency != self.currency:
            raise CurrencyMismatch(
                f"payment in {amount.currency} cannot be applied to a {self.currency} invoice", field="amount"
            )
        if amount.is_negative:
            raise InvalidMoney("a payment amount is never negative; its direction is the operation", field="amount")


@dataclass(frozen=True, slots=True)
class CreditNote:
    credit_note_id: str
    number: str
    customer_id: str
    issue_date: date
    amount: Money
    applies_to: str | None
    applied: Money
    fingerprint: str = ""
    version: int = 0

    @classmethod
    def from_document(cls, document: Document) -> CreditNote:
        if document.kind is not DocumentKind.CREDIT_NOTE:
            raise InvalidDocument("only a credit note document becomes a CreditNote")
        return cls(
            credit_note_id=document.document_id,
            number=document.number,
            customer_id=document.customer_id,
            issue_date=document.issue_date,
            amount=document.total,
            applies_to=document.applies_to,
            applied=Money.zero(document.currency),
            fingerprint=document.fingerprint(),
        )

    @property
    def unapplied(self) -> Money:
        """Credit left on the customer's account."""
        return self.amount - self.applied
