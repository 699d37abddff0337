"""`make bench`: measured numbers, printed; never asserted in tests. Budgets: ../shared/DESIGN.md."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

from bench import coldstart, dunning, ingest, payments, pdf, portal, prediction, reports, scale, statement, transactions

BENCHES = ("ingest", "payments", "coldstart", "dunning", "scale", "transactions", "statement", "reports",
           "prediction", "pdf", "portal")


def _guarded(name: str, bench: Callable[[], object], failed: list[str]) -> None:
    """One bench that breaks is reported and the others still run; `make bench` then exits non-zero."""
    try:
        bench()
    except Exception:
        traceback.print_exc()
        failed.append(name)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--only", choices=BENCHES, action="append",
                        help="run only this bench (repeatable); default: all")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=1_000)
    parser.add_argument("--events", type=int, default=1_000)
    # A quick dunning run: --dunning-big 20000 --dunning-small 2000, or DUNWELL_BENCH_DUNNING="20000,2000".
    big, small = (int(n) for n in os.environ.get("DUNWELL_BENCH_DUNNING", "100000,10000").split(","))
    parser.add_argument("--dunning-big", type=int, default=big, help="invoices in the big ledger")
    parser.add_argument("--dunning-small", type=int, default=small, help="invoices in the small ledger")
    parser.add_argument("--dunning-customers", type=int, default=1_000,
                        help="customers, each with one invoice due on the bench day")
    parser.add_argument("--statement-invoices", type=int, default=2_500, help="invoices in the statement's ledger")
    parser.add_argument("--statement-lines", type=int, default=2_000, help="bank statement lines, one per invoice")
    parser.add_argument("--statement-unpatched", action="store_true",
                        help="run the stack on moto's own DynamoDB transactions (before numbers; use few lines)")
    # The budget's size is 100,000 reminders over 20,000 customers (~15 min of moto on a quiet 2-core box); the default
    # run takes a fifth of it, the same shape (5 invoices a customer): DUNWELL_BENCH_SCALE="100000,20000" for all.
    reminders, scale_customers = (int(n) for n in os.environ.get("DUNWELL_BENCH_SCALE", "20000,4000").split(","))
    parser.add_argument("--scale-reminders", type=int, default=reminders, help="invoices due for a reminder")
    parser.add_argument("--scale-customers", type=int, default=scale_customers, help="customers they belong to")
    parser.add_argument("--scale-concurrency", type=int, default=None,
                        help="reminder workers (default: MaximumConcurrency in infra/resources.yaml)")
    parser.add_argument("--history", type=Path, default=None,
                        help="prediction backtest on this CSV (customer_id, invoice_id, issue_date, due_date, amount, "
                             "paid_date[, disputed]) instead of a generated history")
    parser.add_argument("--prediction-customers", type=int, default=300, help="customers in the generated history")
    parser.add_argument("--prediction-years", type=int, default=3, help="years of generated history")
    parser.add_argument("--prediction-seed", type=int, default=20261207, help="seed of the generated history")
    big_ledger, small_ledger = (int(n) for n in os.environ.get("DUNWELL_BENCH_REPORTS", "100000,10000").split(","))
    parser.add_argument("--reports-big", type=int, default=big_ledger, help="invoices in the reports' big ledger")
    parser.add_argument("--reports-small", type=int, default=small_ledger, help="... and in the small one")
    args = parser.parse_args()
    only = set(args.only or BENCHES)
    failed: list[str] = []
    if "ingest" in only:
        print("== ingest (budgets: <= 60 DynamoDB requests per 1,000 new rows; re-drop <= 3 requests, 0 writes; "
              "< 200 MB peak RSS)")
        _guarded("ingest", lambda: ingest.run(args.rows, args.customers), failed)
        print()
    if "payments" in only:
        print("== payments (budget: <= 5 DynamoDB requests per payment event; 2xx after the durable record)")
        _guarded("payments", lambda: payments.run(args.events), failed)
        print()
    if "coldstart" in only:
        print("== cold start")
        _guarded("coldstart", coldstart.run, failed)
        print()
    if "dunning" in only:
        print(f"== dunning sweep, {args.dunning_big:,} vs {args.dunning_small:,} invoices, "
              f"{args.dunning_customers:,} due (budgets: items read <= 1.1 x invoices due + customers read; "
              "0 Scans; run times within 20%)")
        _guarded("dunning", lambda: dunning.run(args.dunning_big, args.dunning_small, args.dunning_customers,
                                                args.dunning_customers), failed)
        print()
    if "transactions" in only:
        print("== one TransactWriteItems in moto: as shipped vs chalicelib/local/moto_dynamodb.py")
        _guarded("transactions", transactions.run, failed)
        print()
    if "statement" in only:
        print(f"== bank statement on `make run`: {args.statement_lines:,} lines against {args.statement_invoices:,} "
              "invoices (budgets: applied within 300 s; the stack's peak RSS < 1 GB)")
        _guarded("statement", lambda: statement.run(args.statement_invoices, args.statement_lines,
                                                    unpatched=args.statement_unpatched), failed)
    if "scale" in only:
        print(f"== sending at scale, {args.scale_reminders:,} due reminders over {args.scale_customers:,} customers "
              f"under SES throttling ({scale.SES_MAX_SEND_RATE:g}/s), simulated clock (budget: within 10% of the rate "
              "bound, 0 duplicates, 0 missed)")
        _guarded("scale", lambda: scale.run(args.scale_reminders, args.scale_customers, args.scale_concurrency),
                 failed)
    if "prediction" in only:
        print("== payment prediction backtest at month-end cutoffs (budget: beats the due date and the due date plus "
              "the customer's median past delay on pay-date MAE)")
        _guarded("prediction", lambda: prediction.run(args.prediction_customers, args.prediction_years,
                                                      args.prediction_seed, args.history), failed)
    if "reports" in only:
        print(f"== reports, {args.reports_big:,} vs {args.reports_small:,} invoices over two years, 1,000 customers "
              "(budgets: a one-year metrics report <= 800 items read at both sizes; aging today O(customers))")
        _guarded("reports", lambda: reports.run(args.reports_big, args.reports_small), failed)
        print()
    if "pdf" in only:
        print("== invoice PDFs and dunning letters (budget: cold import of app.py within 1.5 x a bare `import boto3`)")
        _guarded("pdf", pdf.run, failed)
        print()
    if "portal" in only:
        print("== customer portal statement (budget: <= 4 DynamoDB requests per page view, 200 open invoices)")
        _guarded("portal", portal.run, failed)
        print()
    if failed:
        sys.exit(f"benches that did not complete: {', '.join(failed)}")

if __name__ == "__main__":
    main()
