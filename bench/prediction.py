"""Backtest of the payment prediction (chalicelib/domain/analytics/prediction.py), time-ordered.

At every month-end cutoff, every invoice open at the end of that day (issued on or before it, paid after it) that is
paid later is predicted from what was known at the cutoff only (settlements on or before it), and scored against its
real pay date. Baselines: the due date; the due date plus the customer's median past delay (its invoices settled by
the cutoff; the due date when it has none). Figures: mean absolute error in days of the pay date, AUC and Brier score
of late_probability (late: paid after the due date), over all scored invoices and over those not yet due at the cutoff.

History: generated (fixed seed; customers with persistent habits: punctual, moderate, chronic late with noise,
deteriorating, erratic; seasonality, large invoices paid later, disputes that delay, a heavy tail), or a CSV given
with --history, columns: customer_id, invoice_id, issue_date, due_date, amount, paid_date[, disputed]
(ISO dates; paid_date empty for an invoice never paid; disputed: true/false, 1/0, yes/no).
"""

from __future__ import annotations

import bisect
import csv
import math
import random
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from statistics import median

from chalicelib.domain.analytics.prediction import (
    PORTFOLIO_LIMIT,
    OpenInvoice,
    Settled,
    fit_portfolio,
    known_at,
    predict,
)


@dataclass(frozen=True)
class Row:
    customer_id: str
    invoice_id: str
    issue_date: date
    due_date: date
    amount_minor: int
    paid_date: date | None
    disputed: bool = False

    def settled(self) -> Settled:
        assert self.paid_date is not None
        return Settled(invoice_id=self.invoice_id, issue_date=self.issue_date, due_date=self.due_date,
                       amount_minor=self.amount_minor, settled_on=self.paid_date, disputed=self.disputed)


KINDS = (("punctual", 0.35), ("moderate", 0.25), ("chronic", 0.18), ("deteriorating", 0.12), ("erratic", 0.10))


def generate(customers: int = 300, years: int = 3, seed: int = 20261207, start: date = date(2023, 1, 1)) -> list[Row]:
    rng = random.Random(seed)
    end = date(start.year + years, start.month, start.day) - timedelta(days=1)
    span = (end - start).days
    rows: list[Row] = []
    for c in range(customers):
        customer_id = f"C{c:04d}"
        kind = rng.choices([k for k, _ in KINDS], [w for _, w in KINDS])[0]
        terms = rng.choice((14, 30, 30, 30, 45, 60))
        typical = math.exp(rng.uniform(math.log(20_000), math.log(5_000_000)))  # minor units
        per_month = rng.uniform(0.5, 5.0)
        seasonal = rng.random() < 0.5
        chronic_mean, chronic_sd = rng.uniform(12, 45), rng.uniform(4, 12)
        moderate_mean = rng.uniform(0, 8)
        turn = rng.uniform(0.2, 0.8) * span  # deteriorating: when it starts to slip
        slip = rng.uniform(20, 50)
        day = rng.uniform(0, 30 / per_month)
        n = 0
        while day < span:
            issue = start + timedelta(days=int(day))
            due = issue + timedelta(days=terms)
            amount = max(100, round(typical * math.exp(rng.gauss(0, 0.5))))
            position = (issue - start).days
            if kind == "punctual":
                delay = rng.gauss(-3, 2) + (rng.gauss(8, 4) if rng.random() < 0.05 else 0)
            elif kind == "moderate":
                delay = rng.gauss(moderate_mean, 6)
            elif kind == "chronic":
                delay = rng.gauss(chronic_mean, chronic_sd)
            elif kind == "deteriorating":
                progress = min(1.0, max(0.0, (position - turn) / 240))
                delay = rng.gauss(1 + slip * progress, 4)
            else:
                delay = rng.gauss(0, 3) if rng.random() < 0.5 else rng.gauss(30, 15)
            if seasonal and due.month in (8, 12):
                delay += rng.uniform(3, 10)
            if amount >= 2 * typical:
                delay += rng.uniform(5, 15)
            disputed = rng.random() < 0.04
            if disputed:
                delay += rng.uniform(15, 60)
            if rng.random() < 0.02:
                delay += rng.uniform(30, 120)
            paid = max(issue, due + timedelta(days=round(delay)))
            rows.append(Row(customer_id, f"{customer_id}-{n:04d}", issue, due, amount,
                            paid if paid <= end else None, disputed))
            n += 1
            day += rng.expovariate(per_month / 30)
    return rows


def _flag(text: str) -> bool:
    return text.strip().lower() in ("1", "true", "yes", "y")


def load_csv(path: Path) -> list[Row]:
    """The documented columns: customer_id, invoice_id, issue_date, due_date, amount, paid_date[, disputed]."""
    rows: list[Row] = []
    with path.open(newline="", encoding="utf-8-sig") as handle:
        for record in csv.DictReader(handle):
            paid = (record.get("paid_date") or "").strip()
            rows.append(Row(customer_id=record["customer_id"].strip(), invoice_id=record["invoice_id"].strip(),
                            issue_date=date.fromisoformat(record["issue_date"].strip()),
                            due_date=date.fromisoformat(record["due_date"].strip()),
                            amount_minor=int(Decimal(record["amount"].strip()) * 100),
                            paid_date=date.fromisoformat(paid) if paid else None,
                            disputed=_flag(record.get("disputed") or "")))
    return rows


def month_ends(first: date, last: date) -> list[date]:
    ends: list[date] = []
    year, month = first.year, first.month
    while True:
        following = date(year + month // 12, month % 12 + 1, 1)
        end = following - timedelta(days=1)
        if end > last:
            return ends
        if end >= first:
            ends.append(end)
        year, month = following.year, following.month


def auc(scores: list[float], labels: list[bool]) -> float:
    """Mann-Whitney AUC with average ranks for ties."""
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    ranks = [0.0] * len(scores)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and scores[order[j + 1]] == scores[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    positives = sum(labels)
    negatives = len(labels) - positives
    if not positives or not negatives:
        return float("nan")
    rank_sum = sum(r for r, label in zip(ranks, labels, strict=True) if label)
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


@dataclass
class Scores:
    model: list[int]
    due: list[int]
    median_delay: list[int]
    probability: list[float]
    late: list[bool]
    not_yet_due: list[bool]


def backtest(rows: list[Row], warmup_months: int = 3) -> tuple[Scores, int]:
    by_customer: dict[str, list[Row]] = defaultdict(list)
    for row in rows:
        by_customer[row.customer_id].append(row)
    settled_by_customer: dict[str, list[Settled]] = {}
    settled_dates: dict[str, list[date]] = {}
    everyone: list[tuple[date, str, Settled]] = []
    for customer_id, own in by_customer.items():
        settled = sorted((r.settled() for r in own if r.paid_date is not None),
                         key=lambda s: (s.settled_on, s.invoice_id))
        settled_by_customer[customer_id] = settled
        settled_dates[customer_id] = [s.settled_on for s in settled]
        everyone.extend((s.settled_on, customer_id, s) for s in settled)
    everyone.sort(key=lambda t: (t[0], t[2].invoice_id))
    everyone_dates = [t[0] for t in everyone]
    first = min(r.issue_date for r in rows)
    last = max(r.paid_date for r in rows if r.paid_date is not None)
    cutoffs = month_ends(first, last)[warmup_months:]
    scores = Scores([], [], [], [], [], [])
    for cutoff in cutoffs:
        upto = bisect.bisect_right(everyone_dates, cutoff)
        portfolio = fit_portfolio(((c, s) for _, c, s in everyone[max(0, upto - PORTFOLIO_LIMIT):upto]), cutoff)
        for customer_id, own in by_customer.items():
            open_rows = [r for r in own if r.paid_date is not None and r.issue_date <= cutoff < r.paid_date]
            if not open_rows:
                continue
            settled = settled_by_customer[customer_id]
            known = known_at(settled[:bisect.bisect_right(settled_dates[customer_id], cutoff)], cutoff)
            past = median(s.days_late for s in settled[:bisect.bisect_right(settled_dates[customer_id], cutoff)]) \
                if known else 0
            for row in open_rows:
                assert row.paid_date is not None
                prediction = predict(known, OpenInvoice(row.issue_date, row.due_date, row.amount_minor,
                                                        row.disputed), portfolio, cutoff)
                scores.model.append(abs((prediction.predicted_pay_date - row.paid_date).days))
                scores.due.append(abs((row.due_date - row.paid_date).days))
                scores.median_delay.append(abs((row.due_date + timedelta(days=round(past)) - row.paid_date).days))
                scores.probability.append(prediction.late_probability)
                scores.late.append(row.paid_date > row.due_date)
                scores.not_yet_due.append(row.due_date >= cutoff)
    return scores, len(cutoffs)


def _mean(values: list[int]) -> float:
    return sum(values) / len(values) if values else float("nan")


def _figures(scores: Scores, keep: list[bool]) -> dict[str, float]:
    pick = [i for i, k in enumerate(keep) if k]
    probability = [scores.probability[i] for i in pick]
    late = [scores.late[i] for i in pick]
    return {
        "n": len(pick),
        "mae_model": _mean([scores.model[i] for i in pick]),
        "mae_due": _mean([scores.due[i] for i in pick]),
        "mae_median": _mean([scores.median_delay[i] for i in pick]),
        "auc": auc(probability, late),
        "brier": sum((p - y) ** 2 for p, y in zip(probability, late, strict=True)) / len(pick) if pick else math.nan,
        "late_rate": sum(late) / len(late) if late else math.nan,
    }


def run(customers: int = 300, years: int = 3, seed: int = 20261207, history: Path | None = None) -> dict[str, float]:
    started = time.perf_counter()
    rows = load_csv(history) if history else generate(customers, years, seed)
    source = f"{history}" if history else f"generated: {customers} customers, {years} years, seed {seed}"
    generated = time.perf_counter()
    scores, cutoffs = backtest(rows)
    elapsed = time.perf_counter() - generated
    print(f"history: {source}; {len(rows):,} invoices, {sum(r.paid_date is not None for r in rows):,} paid "
          f"({generated - started:.1f} s to {'load' if history else 'generate'})")
    print(f"{cutoffs} month-end cutoffs; {len(scores.model):,} predictions scored in {elapsed:.1f} s "
          f"({elapsed / max(1, len(scores.model)) * 1e6:.0f} us each)")
    everything = _figures(scores, [True] * len(scores.model))
    for label, figures in (("all open invoices", everything),
                           ("not yet due at the cutoff", _figures(scores, scores.not_yet_due)),
                           ("past due at the cutoff", _figures(scores, [not k for k in scores.not_yet_due]))):
        print(f"  {label} (n={figures['n']:,}, late rate {figures['late_rate']:.1%}):")
        print(f"    pay-date MAE, days: model {figures['mae_model']:.2f} | due date {figures['mae_due']:.2f} | "
              f"due + customer's median past delay {figures['mae_median']:.2f}")
        print(f"    late_probability: AUC {figures['auc']:.3f}, Brier {figures['brier']:.4f}")
    beats = everything["mae_model"] < min(everything["mae_due"], everything["mae_median"])
    print(f"  model beats both baselines on pay-date MAE: {'yes' if beats else 'NO'}")
    everything["seconds"] = elapsed
    return everything
