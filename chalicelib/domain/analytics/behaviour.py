"""A customer's payment behaviour and late-payment risk, from its latest settlements; and the dunning policy a risk
band chooses. Pure: the caller gives the settlements (latest first or in any order) and the day it asks about.

Definitions (README, "Payment prediction and cash forecast"): days late = settled_on - due_date (negative: early), on
time = days late <= 0; figures over the latest HISTORY_LIMIT settlements on or before `as_of`; the trend compares the
mean days late of settlements in the last 90 days with those before; a promise is kept when the invoice was settled
and no promise on it was broken.

Risk score 0-100: 100 x (shrunk late rate) x (0.5 + 0.5 x severity), plus 10 when payments are slowing and 5 per
broken promise (at most 15), capped at 100. The late rate is shrunk toward PRIOR_LATE_RATE with PRIOR_WEIGHT pseudo
invoices (a new customer starts at the prior); severity = mean days late of its late invoices / 30, at most 1 (0.5
with no late invoice yet). Bands: low below 30, medium below 60, high from 60.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from statistics import median
from typing import Any

from chalicelib.domain.analytics.prediction import (
    HALF_LIFE_DAYS,
    HISTORY_LIMIT,
    PRIOR_WEIGHT,
    RECENT_DAYS,
    TREND_DAYS,
    Settled,
    history_reason,
    known_at,
    trend_reason,
)

PRIOR_LATE_RATE = 0.4
SEVERE_DAYS = 30
BANDS = ("low", "medium", "high")
MEDIUM_FROM = 30
HIGH_FROM = 60
SLOWING_POINTS = 10
BROKEN_PROMISE_POINTS = 5
MAX_PROMISE_POINTS = 15


def _one_decimal(value: float) -> str:
    return str(Decimal(str(value)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP))


@dataclass(frozen=True, slots=True)
class Behaviour:
    invoices_settled: int
    average_days_late: float | None
    median_days_late: float | None
    on_time_rate: float | None  # percent
    recent_average_days_late: float | None  # settled in the last RECENT_DAYS
    earlier_average_days_late: float | None
    dispute_rate: float | None  # percent of settled invoices that were disputed
    promises_kept: int
    promises_broken: int

    @property
    def trend(self) -> str | None:
        """slower | faster | steady, or None without settlements on both sides of the window."""
        if self.recent_average_days_late is None or self.earlier_average_days_late is None:
            return None
        change = self.recent_average_days_late - self.earlier_average_days_late
        if abs(change) < TREND_DAYS:
            return "steady"
        return "slower" if change > 0 else "faster"

    def to_dict(self) -> dict[str, Any]:
        def figure(value: float | None) -> str | None:
            return None if value is None else _one_decimal(value)

        return {
            "invoices_settled": self.invoices_settled,
            "average_days_late": figure(self.average_days_late),
            "median_days_late": figure(self.median_days_late),
            "on_time_rate": figure(self.on_time_rate),
            "trend": {"last_90_days_average_days_late": figure(self.recent_average_days_late),
                      "before_average_days_late": figure(self.earlier_average_days_late),
                      "direction": self.trend},
            "dispute_rate": figure(self.dispute_rate),
            "promises_kept": self.promises_kept,
            "promises_broken": self.promises_broken,
        }


@dataclass(frozen=True, slots=True)
class Risk:
    score: int
    band: str
    reasons: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"score": self.score, "band": self.band, "reasons": list(self.reasons)}


@dataclass(frozen=True, slots=True)
class SettledRecord:
    """A settlement with what behaviour needs beyond the prediction's facts: whether a promise on it was broken."""

    settled: Settled
    promise_broken: bool = False


def _mean(values: list[int]) -> float | None:
    return sum(values) / len(values) if values else None


def behaviour(records: Iterable[SettledRecord], as_of: date) -> Behaviour:
    records = list(records)
    broken_ids = {r.settled.invoice_id for r in records if r.promise_broken}
    known = known_at((r.settled for r in records), as_of)
    late = [s.days_late for s in known]
    start = as_of - timedelta(days=RECENT_DAYS)
    recent = [s.days_late for s in known if s.settled_on > start]
    earlier = [s.days_late for s in known if s.settled_on <= start]
    promised = [s for s in known if s.promised or s.invoice_id in broken_ids]
    broken = sum(1 for s in promised if s.invoice_id in broken_ids)
    return Behaviour(
        invoices_settled=len(known),
        average_days_late=_mean(late),
        median_days_late=float(median(late)) if late else None,
        on_time_rate=100 * sum(1 for d in late if d <= 0) / len(late) if late else None,
        recent_average_days_late=_mean(recent),
        earlier_average_days_late=_mean(earlier),
        dispute_rate=100 * sum(1 for s in known if s.disputed) / len(known) if known else None,
        promises_kept=len(promised) - broken,
        promises_broken=broken,
    )


def band_of(score: int) -> str:
    return "high" if score >= HIGH_FROM else "medium" if score >= MEDIUM_FROM else "low"


def risk(records: Iterable[SettledRecord], as_of: date) -> Risk:
    records = list(records)
    known = known_at((r.settled for r in records), as_of, HISTORY_LIMIT)
    seen = {s.invoice_id for s in known}
    broken = sum(1 for r in records if r.promise_broken and r.settled.invoice_id in seen)
    weights = [(0.5 ** ((as_of - s.settled_on).days / HALF_LIFE_DAYS), s.days_late) for s in known]
    total = sum(w for w, _ in weights)
    late_weight = sum(w for w, d in weights if d > 0)
    late_rate = (late_weight + PRIOR_WEIGHT * PRIOR_LATE_RATE) / (total + PRIOR_WEIGHT)
    late_days = [d for _, d in weights if d > 0]
    severity = min(1.0, sum(late_days) / len(late_days) / SEVERE_DAYS) if late_days else 0.5
    points = 100 * late_rate * (0.5 + 0.5 * severity)
    reasons: list[str] = []
    if known:
        reasons.append(history_reason(known))
        if len(known) < 5:
            reasons.append(f"only {len(known)} invoice{'s' if len(known) != 1 else ''} settled so far")
    else:
        reasons.append("no invoice settled yet: rated as an average new customer")
    trend = trend_reason(known, as_of)
    if trend:
        reasons.append(trend)
        if trend.startswith("pays later"):
            points += SLOWING_POINTS
    if broken:
        points += min(MAX_PROMISE_POINTS, BROKEN_PROMISE_POINTS * broken)
        reasons.append(f"broke {broken} promise{'s' if broken != 1 else ''} to pay")
    disputed = sum(1 for s in known if s.disputed)
    if disputed:
        reasons.append(f"disputed {disputed} of its last {len(known)} settled invoices")
    score = max(0, min(100, round(points)))
    return Risk(score=score, band=band_of(score), reasons=tuple(reasons))


# ---- the dunning policy a customer gets --------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class PolicyChoice:
    policy_id: str | None  # None: the default policy
    why: str

    def to_dict(self) -> dict[str, Any]:
        return {"policy_id": self.policy_id, "why": self.why}


def choose_policy(explicit: str | None, band: str | None, policy_by_risk: Mapping[str, str]) -> PolicyChoice:
    """An explicit policy on the customer wins; else the policy the settings name for its risk band; else default."""
    if explicit:
        return PolicyChoice(explicit, "set on the customer")
    if band is not None and band in policy_by_risk:
        return PolicyChoice(policy_by_risk[band], f"risk band {band} (policy_by_risk)")
    return PolicyChoice(None, "the default policy")


def validate_policy_by_risk(raw: Any) -> dict[str, str]:
    """{band: policy_id} with bands among low, medium, high. Raises ValueError with the field at fault."""
    if not isinstance(raw, dict):
        raise ValueError("policy_by_risk must be an object {band: policy_id}")
    out: dict[str, str] = {}
    for band, policy_id in raw.items():
        if band not in BANDS:
            raise ValueError(f"policy_by_risk.{band}: bands are {', '.join(BANDS)}")
        if not isinstance(policy_id, str) or not policy_id:
            raise ValueError(f"policy_by_risk.{band} must be a policy id")
        out[band] = policy_id
    return out
