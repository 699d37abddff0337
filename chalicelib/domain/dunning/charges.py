"""Late fees, statutory compensation and interest: separate charges, never compounded, never charged twice.

Every charge carries a `key` unique for what it charges (`INV-1:fee:final_notice`, `INV-1:eu40`,
`INV-1:interest:2025-03-01:2025-04-04`). The caller stores the keys it has charged and passes them back,
so asking again yields nothing; interest periods start where the last charged one ended.

Interest is simple (actual/365) on the outstanding principal only, never on earlier charges. A period
is split into half-year segments of the reference-rate table; each segment uses its own rate, and the
charge is quantised (ROUND_HALF_UP, to the currency's minor unit) once, at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Final, Literal

from chalicelib.domain.currencies import minor_units
from chalicelib.domain.dunning.policy import Policy, Step
from chalicelib.domain.errors import DomainError
from chalicelib.domain.invoice import Invoice, LedgerCharge
from chalicelib.domain.money import Money
from chalicelib.domain.terms import PaymentTerms

ChargeKind = Literal["fee", "interest", "compensation"]
RateScheme = Literal["ecb_mro", "boe_base"]

STATUTORY_MARGIN: Final = Decimal(8)  # percentage points over the reference rate, EU and UK alike
DAYS_PER_YEAR: Final = Decimal(365)
EU_COMPENSATION: Final = Money.of(40, "EUR")
_SCHEME_RATE: Final[dict[str, RateScheme]] = {"eu_2011_7": "ecb_mro", "uk_late_payment": "boe_base"}


class MissingReferenceRate(DomainError):
    code = "missing_reference_rate"


class RateTableError(DomainError):
    code = "invalid_rate_table"


def quantise(amount: Decimal, currency: str) -> Money:
    """Round an exact amount to the currency's minor unit, half up: the one rounding rule for charges."""
    quantum = Decimal(1).scaleb(-minor_units(currency))
    return Money(amount.quantize(quantum, rounding=ROUND_HALF_UP), currency)


# --- reference rates: half-yearly data an admin keeps up to date ------------------------------------

@dataclass(frozen=True, slots=True)
class ReferenceRate:
    """The reference rate (percent per year) in force for the half-year starting `valid_from`.

    ecb_mro: the ECB main refinancing operations rate on 1 January / 1 July (Directive 2011/7/EU art. 2(12)).
    boe_base: the Bank of England base rate on 31 December (for 1 Jan-30 Jun) / 30 June (for 1 Jul-31 Dec),
        the Late Payment of Commercial Debts (Rate of Interest) (No. 3) Order 2002 reference dates;
        stored under the first day of the half-year it applies to.
    """

    scheme: RateScheme
    valid_from: date
    rate: Decimal
    source: str = ""


def _half_year_end(start: date) -> date:
    """Last day of the half-year starting on `start` (1 Jan or 1 Jul)."""
    return date(start.year, 6, 30) if start.month == 1 else date(start.year, 12, 31)


@dataclass(frozen=True, slots=True)
class RateTable:
    rows: tuple[ReferenceRate, ...]

    def __post_init__(self) -> None:
        seen: set[tuple[str, date]] = set()
        for index, row in enumerate(self.rows):
            if row.scheme not in ("ecb_mro", "boe_base"):
                raise RateTableError(f"row {index}: unknown scheme {row.scheme!r}", field=f"rows[{index}].scheme")
            if row.valid_from.day != 1 or row.valid_from.month not in (1, 7):
                raise RateTableError(f"row {index}: valid_from must be 1 January or 1 July",
                                     field=f"rows[{index}].valid_from")
            if not isinstance(row.rate, Decimal) or not row.rate.is_finite():
                raise RateTableError(f"row {index}: rate must be a finite Decimal", field=f"rows[{index}].rate")
            if (row.scheme, row.valid_from) in seen:
                raise RateTableError(f"row {index}: duplicate {row.scheme} {row.valid_from}",
                                     field=f"rows[{index}].valid_from")
            seen.add((row.scheme, row.valid_from))
        object.__setattr__(self, "rows", tuple(sorted(self.rows, key=lambda r: (r.scheme, r.valid_from))))

    def periods(self, scheme: RateScheme) -> list[tuple[date, date, Decimal]]:
        """(first day, last day, rate) per half-year row, each lasting until the next row or its half-year end."""
        rows = [r for r in self.rows if r.scheme == scheme]
        out = []
        for i, row in enumerate(rows):
            last = rows[i + 1].valid_from - timedelta(days=1) if i + 1 < len(rows) else _half_year_end(row.valid_from)
            out.append((row.valid_from, last, row.rate))
        return out

    def rate_on(self, scheme: RateScheme, day: date) -> Decimal:
        for first, last, rate in self.periods(scheme):
            if first <= day <= last:
                return rate
        raise MissingReferenceRate(f"no {scheme} reference rate for {day.isoformat()}; update the rate table",
                                   field="rate_table")

    def to_rows(self) -> list[dict[str, str]]:
        return [{"scheme": r.scheme, "valid_from": r.valid_from.isoformat(), "rate": str(r.rate), "source": r.source}
                for r in self.rows]

    @classmethod
    def from_rows(cls, rows: list[dict[str, Any]]) -> RateTable:
        parsed = []
        for index, raw in enumerate(rows):
            try:
                rate = raw["rate"]
                if isinstance(rate, float):
                    raise RateTableError("rate must be a decimal string", field=f"rows[{index}].rate")
                parsed.append(ReferenceRate(scheme=raw["scheme"], valid_from=date.fromisoformat(raw["valid_from"]),
                                            rate=Decimal(str(rate)), source=str(raw.get("source", ""))))
            except (KeyError, ValueError, ArithmeticError) as exc:
                raise RateTableError(f"row {index} is not (scheme, valid_from, rate): {exc}",
                                     field=f"rows[{index}]") from exc
        return cls(tuple(parsed))


_ECB = "ECB monetary policy decisions (MRO rate in force on the reference day)"
_BOE = "Bank of England MPC decisions (Bank Rate on the reference day)"

# Only values checked against published decisions; 2026 H2 for the ECB is deliberately absent.
DEFAULT_RATE_TABLE: Final = RateTable((
    ReferenceRate("ecb_mro", date(2024, 1, 1), Decimal("4.50"), _ECB + ": 4.50% since 20 Sep 2023, held 14 Dec 2023"),
    ReferenceRate("ecb_mro", date(2024, 7, 1), Decimal("4.25"), _ECB + ": cut to 4.25% from 12 Jun 2024"),
    ReferenceRate("ecb_mro", date(2025, 1, 1), Decimal("3.15"), _ECB + ": cut to 3.15% from 18 Dec 2024"),
    ReferenceRate("ecb_mro", date(2025, 7, 1), Decimal("2.15"), _ECB + ": cut to 2.15% from 11 Jun 2025"),
    ReferenceRate("ecb_mro", date(2026, 1, 1), Decimal("2.15"), _ECB + ": held at 2.15% on 18 Dec 2025"),
    ReferenceRate("boe_base", date(2024, 1, 1), Decimal("5.25"), _BOE + ": 5.25% on 31 Dec 2023"),
    ReferenceRate("boe_base", date(2024, 7, 1), Decimal("5.25"), _BOE + ": 5.25% on 30 Jun 2024 (held 20 Jun)"),
    ReferenceRate("boe_base", date(2025, 1, 1), Decimal("4.75"), _BOE + ": 4.75% on 31 Dec 2024 (cut 7 Nov 2024)"),
    ReferenceRate("boe_base", date(2025, 7, 1), Decimal("4.25"), _BOE + ": 4.25% on 30 Jun 2025 (held 19 Jun)"),
    ReferenceRate("boe_base", date(2026, 1, 1), Decimal("3.75"), _BOE + ": 3.75% on 31 Dec 2025 (cut Dec 2025)"),
    ReferenceRate("boe_base", date(2026, 7, 1), Decimal("3.75"), _BOE + ": 3.75% on 30 Jun 2026 (held 18 Jun)"),
))


# --- interest ---------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class InterestSegment:
    first_day: date  # inclusive
    last_day: date  # inclusive
    days: int
    annual_rate: Decimal  # percent
    exact: Decimal  # unrounded amount


def interest_segments(principal: Money, annual_rate: Decimal, from_date: date, to_date: date, *,
                      rate_table: RateTable | None = None, scheme: RateScheme | None = None,
                      ) -> tuple[InterestSegment, ...]:
    """Segments of the days d with from_date < d <= to_date.

    Without a table the whole period is one segment at `annual_rate`. With a table and a scheme,
    `annual_rate` is the margin over each half-year's reference rate (8 for the statutory schemes).
    """
    if to_date <= from_date or principal.amount <= 0:
        return ()
    first_day = from_date + timedelta(days=1)
    if rate_table is None or scheme is None:
        days = (to_date - from_date).days
        return (InterestSegment(first_day, to_date, days, annual_rate,
                                principal.amount * annual_rate / 100 * days / DAYS_PER_YEAR),)
    segments = []
    day = first_day
    while day <= to_date:
        rate = rate_table.rate_on(scheme, day) + annual_rate
        segment_end = min(to_date, _segment_end(rate_table, scheme, day))
        days = (segment_end - day).days + 1
        segments.append(InterestSegment(day, segment_end, days, rate,
                                        principal.amount * rate / 100 * days / DAYS_PER_YEAR))
        day = segment_end + timedelta(days=1)
    return tuple(segments)


def _segment_end(table: RateTable, scheme: RateScheme, day: date) -> date:
    for first, last, _rate in table.periods(scheme):
        if first <= day <= last:
            return last
    raise MissingReferenceRate(f"no {scheme} reference rate for {day.isoformat()}", field="rate_table")


def simple_interest(principal: Money, annual_rate: Decimal, from_date: date, to_date: date, *,
                    rate_table: RateTable | None = None, scheme: RateScheme | None = None) -> Money:
    """Simple actual/365 interest on `principal` for the days after `from_date` up to `to_date`."""
    segments = interest_segments(principal, annual_rate, from_date, to_date, rate_table=rate_table, scheme=scheme)
    return quantise(sum((s.exact for s in segments), Decimal(0)), principal.currency)


# --- statutory fixed sums ---------------------------------------------------------------------------

def uk_fixed_sum(debt: Money) -> Money:
    """Late Payment of Commercial Debts (Interest) Act 1998 s.5A: GBP 40 / 70 / 100 by the size of the debt."""
    if debt.currency != "GBP":
        raise DomainError(f"UK fixed sums are in GBP; debt is in {debt.currency}", field="currency")
    if debt.amount < 1000:
        return Money.of(40, "GBP")
    if debt.amount < 10000:
        return Money.of(70, "GBP")
    return Money.of(100, "GBP")


def statutory_compensation(scheme: str, debt: Money) -> Money | None:
    """The once-per-invoice fixed compensation; None when the scheme or currency gives none."""
    if scheme == "eu_2011_7":
        return EU_COMPENSATION if debt.currency == "EUR" else None
    if scheme == "uk_late_payment":
        return uk_fixed_sum(debt) if debt.currency == "GBP" else None
    return None


def compensation_key(invoice_id: str, scheme: str) -> str:
    return f"{invoice_id}:eu40" if scheme == "eu_2011_7" else f"{invoice_id}:uk_fixed"


# --- charges ----------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Charge:
    kind: ChargeKind
    amount: Money
    reason: str
    key: str
    period: tuple[date, date] | None = None  # interest: (first day, last day), inclusive

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "amount": self.amount.to_api(), "currency": self.amount.currency,
                "reason": self.reason, "key": self.key,
                "period": None if self.period is None else [d.isoformat() for d in self.period]}

    def on_ledger(self, charged_on: date, step: str) -> LedgerCharge:
        return LedgerCharge(self.kind, self.amount, self.reason, self.key, charged_on, step)


def interest_charged_through(invoice_id: str, charged_keys: frozenset[str] | set[str]) -> date | None:
    """The last day already covered by an interest charge, read from the charge keys."""
    prefix = f"{invoice_id}:interest:"
    last: date | None = None
    for key in charged_keys:
        if key.startswith(prefix):
            end = date.fromisoformat(key.rsplit(":", 1)[1])
            last = end if last is None or end > last else last
    return last


@dataclass(frozen=True, slots=True)
class ChargeResult:
    charges: tuple[Charge, ...]
    warnings: tuple[str, ...] = ()


def charges_due(invoice: Invoice, policy: Policy, step: Step, already_charged_keys: frozenset[str] | set[str],
                today: date, rate_table: RateTable = DEFAULT_RATE_TABLE, *,
                entitlement_steps: tuple[Step, ...] = ()) -> ChargeResult:
    """The charges reaching `step` on `today` adds, less anything already charged.

    `entitlement_steps` are lower steps superseded by catch-up: their statutory compensation and interest
    (entitlements of the invoice, not of a message) still apply; their per-step reminder fees do not,
    since the reminder they priced was never sent.
    """
    principal = invoice.principal_open(policy.charges_first)
    currency = invoice.currency
    if principal.amount <= 0:
        return ChargeResult(())
    charges: list[Charge] = []
    warnings: list[str] = []
    fee = step.fee
    if fee is not None and fee.fixed is not None and fee.fixed > 0:
        key = f"{invoice.invoice_id}:fee:{step.name}"
        if key not in already_charged_keys:
            charges.append(Charge("fee", quantise(fee.fixed, currency), f"reminder fee ({step.name})", key))
    if fee is not None and fee.percent is not None:
        key = f"{invoice.invoice_id}:pct:{step.name}"
        if key not in already_charged_keys:
            amount = quantise(principal.amount * fee.percent / 100, currency)
            charges.append(Charge("fee", amount, f"{fee.percent}% of outstanding {principal} ({step.name})", key))
    rules = [s.fee for s in (*entitlement_steps, step) if s.fee is not None]
    scheme = policy.late_fee_scheme
    if scheme in ("eu_2011_7", "uk_late_payment") and any(r.compensation for r in rules):
        key = compensation_key(invoice.invoice_id, scheme)
        if key not in already_charged_keys:
            fixed_sum = statutory_compensation(scheme, principal)
            if fixed_sum is None:
                warnings.append(f"no {scheme} fixed compensation for an invoice in {currency}")
            else:
                charges.append(Charge("compensation", fixed_sum, f"{scheme} fixed compensation", key))
    if scheme != "none" and any(r.interest for r in rules):
        interest = _interest_charge(invoice, principal, policy, already_charged_keys, today, rate_table)
        if isinstance(interest, str):
            warnings.append(interest)
        elif interest is not None:
            charges.append(interest)
    return ChargeResult(tuple(c for c in charges if not c.amount.is_zero), tuple(warnings))


def _interest_charge(invoice: Invoice, principal: Money, policy: Policy, charged: frozenset[str] | set[str],
                     today: date, table: RateTable) -> Charge | str | None:
    charged_through = interest_charged_through(invoice.invoice_id, charged)
    start = invoice.due_date if charged_through is None else max(invoice.due_date, charged_through)
    if today <= start:
        return None
    scheme = policy.late_fee_scheme
    rate_scheme = _SCHEME_RATE.get(scheme)
    try:
        if rate_scheme is None:
            assert policy.contractual_annual_rate is not None  # Policy.validate requires it
            segments = interest_segments(principal, policy.contractual_annual_rate, start, today)
        else:
            segments = interest_segments(principal, STATUTORY_MARGIN, start, today,
                                         rate_table=table, scheme=rate_scheme)
    except MissingReferenceRate as exc:
        return f"interest not charged: {exc.message}"
    amount = quantise(sum((s.exact for s in segments), Decimal(0)), invoice.currency)
    first = start + timedelta(days=1)
    rates = ", ".join(f"{s.first_day.isoformat()}..{s.last_day.isoformat()} at {s.annual_rate}%" for s in segments)
    return Charge("interest", amount, f"simple interest on {principal} ({rates}, actual/365)",
                  f"{invoice.invoice_id}:interest:{first.isoformat()}:{today.isoformat()}", (first, today))


# --- early-payment discount ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class EarlyPaymentDiscount:
    amount: Money  # what the customer may deduct
    pay_amount: Money  # what settles the invoice if paid by `last_day`
    last_day: date
    percent: Decimal


def early_payment_discount(invoice: Invoice, terms: PaymentTerms | None, today: date) -> EarlyPaymentDiscount | None:
    """The discount still available on `today` (e.g. 2/10 net 30: 2% if paid within 10 days of issue).

    The discount is a percentage of the invoice total, capped at the open balance; None when the terms
    give none, the last day has passed, or nothing is owed.
    """
    if terms is None or terms.discount_percent is None:
        return None
    last_day = terms.discount_deadline(invoice.issue_date)
    balance = invoice.balance
    if last_day is None or today > last_day or balance.amount <= 0:
        return None
    amount = min(quantise(invoice.total.amount * terms.discount_percent / 100, invoice.currency), balance)
    return EarlyPaymentDiscount(amount, balance - amount, last_day, terms.discount_percent)
