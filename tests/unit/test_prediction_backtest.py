"""The prediction backtest's plumbing (bench/prediction.py): a history CSV reads back as written, the AUC is the
Mann-Whitney statistic, and a small backtest scores only invoices open at a cutoff and paid later."""

import csv
from datetime import date

from bench.prediction import auc, backtest, generate, load_csv, month_ends


def test_a_history_csv_reads_back_as_generated(tmp_path):
    rows = generate(customers=5, years=1, seed=3)
    path = tmp_path / "history.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["customer_id", "invoice_id", "issue_date", "due_date", "amount", "paid_date", "disputed"])
        for r in rows:
            writer.writerow([r.customer_id, r.invoice_id, r.issue_date, r.due_date, f"{r.amount_minor / 100:.2f}",
                             r.paid_date or "", "yes" if r.disputed else ""])
    assert load_csv(path) == rows


def test_auc_with_ties():
    assert auc([0.1, 0.4, 0.35, 0.8], [False, False, True, True]) == 0.75
    assert auc([0.5, 0.5], [False, True]) == 0.5


def test_month_ends():
    assert month_ends(date(2026, 1, 15), date(2026, 3, 31)) == [date(2026, 1, 31), date(2026, 2, 28),
                                                                date(2026, 3, 31)]


def test_a_small_backtest_scores_every_invoice_open_at_a_cutoff():
    rows = generate(customers=10, years=1, seed=4)
    scores, cutoffs = backtest(rows)
    ends = month_ends(min(r.issue_date for r in rows), max(r.paid_date for r in rows if r.paid_date))[3:]
    expected = sum(1 for c in ends for r in rows if r.paid_date and r.issue_date <= c < r.paid_date)
    assert cutoffs == len(ends) and len(scores.model) == expected
    assert all(0.0 <= p <= 1.0 for p in scores.probability)
