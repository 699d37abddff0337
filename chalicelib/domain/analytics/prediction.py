"""Payment prediction: when an open invoice will be paid and how likely it is to be paid late. Pure and deterministic.

The model, in words (README, "Payment prediction and cash forecast"):
1. A customer's past delays (days late = settled_on - due_date of its invoices settled on or before `as_of`, the
   latest HISTORY_LIMIT of them) each count with a recency weight 0.5 ** (age / HALF_LIFE_DAYS).
2. The portfolio (every customer's recent settlements) is a prior worth PRIOR_WEIGHT recent invoices, so a customer
   with n (recency-weighted) invoices counts for n / (n + k) and the portfolio for k / (n + k): thin histories lean
   on how everyone pays, long ones on the customer itself (empirical-Bayes shrinkage).
3. Invoice size and disputes shift the delays by an amount learnt from the portfolio: how much later invoices of at
   least LARGE_RATIO times their customer's usual amount, and disputed invoices, were paid than the customer's
   median (0 when the portfolio has too few of them to tell).
4. An invoice still open at `as_of` is paid after it: the mixture is cut at days late > as_of - due_date, and the
   predicted pay date is the weighted median of what is left (the median minimises the absolute error in days).
   The late probability is the weight of the cut mixture that is late (days late > 0): 1 once past due.
5. A promise to pay on a future date is taken at its word: the predicted pay date is the promised date.

Nothing here reads a clock: `as_of` is the cutoff and only settlements on or before it count (no look-ahead).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from statistics import median, median_low

HALF_LIFE_DAYS = 180.0
PRIOR_WEIGHT = 4.0  # k: the portfolio counts as this many recent invoices of the customer
LARGE_RATIO = 2  # an invoice this many times its customer's usual amount is "large"
MIN_EFFECT_SAMPLES = 20  # fewer large (or disputed) settlements in the portfolio: no shift learnt
MIN_USUAL_AMOUNT_SAMPLES = 3  # a customer's usual amount needs this many settled invoices
MAX_SHIFT_DAYS = 90
HISTORY_LIMIT = 100  # the latest settlements of a customer a prediction uses
PORTFOLIO_LIMIT = 2000  # the latest settlements of the portfolio its prior uses
FALLBACK_DAYS = 30  # nobody ever paid this late: predict this many days after as_of
RECENT_DAYS = 90
# Before the seller has a history: how B2B invoices are commonly paid (days late, share), worth DEFAULT_PRIOR_SAMPLES
# settlements in every portfolio, so a young ledger predicts a spread of dates rather than one (it fades as
# settlements accumulate: 30 against the 2,000 of a full portfolio).
DEFAULT_PRIOR = ((-3, 0.10), (0, 0.25), (3, 0.15), (7, 0.15), (14, 0.12), (21, 0.08), (30, 0.07), (45, 0.04),
                 (60, 0.02), (90, 0.02))
DEFAULT_PRIOR_SAMPLES = 30
TREND_DAYS = 5  # a change of mean days late worth a reason


@dataclass(frozen=True, slots=True)
class Settled:
    """One invoice the customer settled: the fact the models learn from."""

    invoice_id: str
    issue_date: date
    due_date: date
    amount_minor: int
    settled_on: date
    disputed: bool = False
    promised: bool = False

    @property
    def days_late(self) -> int:
        return (self.settled_on - self.due_date).days


@dataclass(frozen=True, slots=True)
class OpenInvoice:
    """An invoice open at the cutoff, as much as the model needs of it."""

    issue_date: date
    due_date: date
    amount_minor: int
    disputed: bool = False
    promised_until: date | None = None

    @property
    def terms_days(self) -> int:
        return (self.due_date - self.issue_date).days


@dataclass(frozen=True, slots=True)
class Portfolio:
    """The prior: the portfolio's delays (adjusted to an ordinary undisputed invoice) and the shifts it learnt."""

    delays: tuple[tuple[int, float], ...]  # (days late, weight), sorted by days late; weights sum to 1 (or empty)
    samples: int
    late_rate: float
    large_shift: int  # extra days late for a large invoice
    dispute_shift: int  # extra days late for a disputed invoice

    @classmethod
    def empty(cls) -> Portfolio:
        return cls(delays=(), samples=0, late_rate=0.0, large_shift=0, dispute_shift=0)


@dataclass(frozen=True, slots=True)
class Prediction:
    predicted_pay_date: date
    late_probability: float
    expected_days_late: int  # predicted_pay_date - due_date (negative: early)
    reasons: tuple[str, ...]
    # The whole cut mixture: (days late, probability), ascending, summing to 1; what the cash forecast spreads.
    distribution: tuple[tuple[int, float], ...] = ()


def known_at(history: Iterable[Settled], as_of: date, limit: int = HISTORY_LIMIT) -> list[Settled]:
    """The latest `limit` settlements on or before `as_of`, latest first (ties by invoice id): what was known."""
    known = [s for s in history if s.settled_on <= as_of]
    known.sort(key=lambda s: (s.settled_on, s.invoice_id), reverse=True)
    return known[:limit]


def _clamp(days: float) -> int:
    return max(-MAX_SHIFT_DAYS, min(MAX_SHIFT_DAYS, round(days)))


def usual_amount(history: Sequence[Settled]) -> int | None:
    """The customer's median invoice amount in minor units (the lower middle of an even count: an amount one of its
    invoices had, never a float), when it has settled enough invoices to say."""
    if len(history) < MIN_USUAL_AMOUNT_SAMPLES:
        return None
    return median_low(s.amount_minor for s in history)


def is_large(amount_minor: int, usual: int | None) -> bool:
    return usual is not None and usual > 0 and amount_minor >= LARGE_RATIO * usual


def fit_portfolio(history: Iterable[tuple[str, Settled]], as_of: date) -> Portfolio:
    """The prior from (customer_id, settlement) pairs: only settlements on or before `as_of` count."""
    by_customer: dict[str, list[Settled]] = defaultdict(list)
    for customer_id, settled in history:
        if settled.settled_on <= as_of:
            by_customer[customer_id].append(settled)
    large_residuals: list[float] = []
    dispute_residuals: list[float] = []
    plain_residuals: list[float] = []
    flagged: list[tuple[int, bool, bool]] = []
    for customer_id in sorted(by_customer):
        settlements = by_customer[customer_id]
        usual = usual_amount(settlements)
        centre = median(s.days_late for s in settlements)
        for s in settlements:
            large = is_large(s.amount_minor, usual)
            residual = s.days_late - centre
            if s.disputed:
                dispute_residuals.append(residual)
            elif large:
                large_residuals.append(residual)
            else:
                plain_residuals.append(residual)
            flagged.append((s.days_late, large, s.disputed))
    plain = median(plain_residuals) if plain_residuals else 0.0
    large_shift = _clamp(median(large_residuals) - plain) if len(large_residuals) >= MIN_EFFECT_SAMPLES else 0
    dispute_shift = _clamp(median(dispute_residuals) - plain) if len(dispute_residuals) >= MIN_EFFECT_SAMPLES else 0
    counts: dict[int, float] = defaultdict(float)
    late = 0.0
    for days_late, large, disputed in flagged:
        counts[days_late - (large_shift if large else 0) - (dispute_shift if disputed else 0)] += 1
        late += days_late > 0
    for days_late, share in DEFAULT_PRIOR:
        counts[days_late] += DEFAULT_PRIOR_SAMPLES * share
        late += DEFAULT_PRIOR_SAMPLES * share if days_late > 0 else 0
    total = len(flagged) + DEFAULT_PRIOR_SAMPLES
    return Portfolio(delays=tuple((d, counts[d] / total) for d in sorted(counts)), samples=len(flagged),
                     late_rate=late / total, large_shift=large_shift, dispute_shift=dispute_shift)


def _weighted_median(points: Sequence[tuple[int, float]]) -> int:
    """The smallest value whose cumulative weight reaches half the total (points sorted by value)."""
    half = sum(w for _, w in points) / 2
    running = 0.0
    for value, weight in points:
        running += weight
        if running >= half:
            return value
    return points[-1][0]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def history_reason(known: Sequence[Settled], last: int = 10) -> str:
    """'paid 8 of its last 10 invoices late, 12 days on average' (latest first in `known`)."""
    recent = known[:last]
    late = [s.days_late for s in recent if s.days_late > 0]
    if len(recent) == 1:
        return f"paid its only settled invoice {_plural(late[0], 'day')} late" if late else \
            "paid its only settled invoice on time"
    if not late:
        return f"paid its last {len(recent)} invoices on time"
    average = round(sum(late) / len(late))
    return f"paid {len(late)} of its last {_plural(len(recent), 'invoice')} late, {_plural(average, 'day')} on average"


def trend_reason(known: Sequence[Settled], as_of: date) -> str | None:
    """A change of at least TREND_DAYS in mean days late over the last RECENT_DAYS against before."""
    start = as_of - timedelta(days=RECENT_DAYS)
    recent = [s.days_late for s in known if s.settled_on > start]
    before = [s.days_late for s in known if s.settled_on <= start]
    if len(recent) < 2 or len(before) < 2:
        return None
    now, then = sum(recent) / len(recent), sum(before) / len(before)
    if abs(now - then) < TREND_DAYS:
        return None
    word = "later" if now > then else "sooner"
    return (f"pays {word} lately: {round(now)} days late on average over the last {RECENT_DAYS} days, "
            f"{round(then)} before")


def predict(history: Iterable[Settled], invoice: OpenInvoice, portfolio: Portfolio, as_of: date) -> Prediction:
    """When `invoice`, open at the end of `as_of`, will be paid, from what was known at `as_of` only."""
    known = known_at(history, as_of)
    usual = usual_amount(known)
    large = is_large(invoice.amount_minor, usual)
    shift = (portfolio.large_shift if large else 0) + (portfolio.dispute_shift if invoice.disputed else 0)
    points: list[tuple[int, float]] = []
    for s in known:
        own_shift = (portfolio.large_shift if is_large(s.amount_minor, usual) else 0) + (
            portfolio.dispute_shift if s.disputed else 0)
        weight = 0.5 ** ((as_of - s.settled_on).days / HALF_LIFE_DAYS)
        points.append((s.days_late - own_shift + shift, weight))
    points.extend((d + shift, PRIOR_WEIGHT * w) for d, w in portfolio.delays)
    points.sort()
    elapsed = (as_of - invoice.due_date).days
    floor = elapsed + 1  # still open at the end of as_of: paid after it
    possible = [(d, w) for d, w in points if d >= floor]
    reasons: list[str] = []
    if known:
        reasons.append(history_reason(known))
        if len(known) < 5:
            reasons.append(f"only {_plural(len(known), 'invoice')} settled so far: leaning on how all customers pay")
        trend = trend_reason(known, as_of)
        if trend:
            reasons.append(trend)
    else:
        reasons.append("no invoice settled yet: predicted from how all customers pay")
    if elapsed > 0:
        reasons.append(f"already {_plural(elapsed, 'day')} past due")
    if large and usual:
        reasons.append(f"{Decimal(invoice.amount_minor) / usual:.1f} times its usual invoice amount"
                       + (f": such invoices are paid about {_plural(portfolio.large_shift, 'day')} later"
                          if portfolio.large_shift > 0 else ""))
    if invoice.disputed:
        reasons.append("disputed" + (f": disputed invoices are paid about {_plural(portfolio.dispute_shift, 'day')}"
                                     " later" if portfolio.dispute_shift > 0 else ""))
    if possible:
        days_late = _weighted_median(possible)
        total = sum(w for _, w in possible)
        late_probability = sum(w for d, w in possible if d > 0) / total
        merged: dict[int, float] = defaultdict(float)
        for d, w in possible:
            merged[d] += w / total
        distribution = tuple(sorted(merged.items()))
    else:
        days_late = elapsed + FALLBACK_DAYS
        late_probability = 1.0 if days_late > 0 else 0.0
        distribution = ((days_late, 1.0),)
        reasons.append("later than any invoice was paid before")
    pay_date = invoice.due_date + timedelta(days=days_late)
    if invoice.promised_until is not None:
        if invoice.promised_until > as_of:
            pay_date = invoice.promised_until
            reasons.append(f"promised to pay by {invoice.promised_until.isoformat()}")
            if invoice.promised_until > invoice.due_date:
                late_probability = 1.0
        else:
            reasons.append(f"a promise to pay by {invoice.promised_until.isoformat()} was not kept")
    return Prediction(predicted_pay_date=pay_date, late_probability=round(late_probability, 4),
                      expected_days_late=(pay_date - invoice.due_date).days, reasons=tuple(reasons),
                      distribution=distribution)
