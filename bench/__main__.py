"""`make bench`: measured numbers, printed; never asserted in tests. Budgets: ../shared/DESIGN.md."""

from __future__ import annotations

import argparse

from bench import coldstart, ingest, payments


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=1_000)
    parser.add_argument("--events", type=int, default=1_000)
    args = parser.parse_args()
    print("== ingest (budgets: <= 60 DynamoDB requests per 1,000 new rows; re-drop <= 3 requests, 0 writes; "
          "< 200 MB peak RSS)")
    ingest.run(args.rows, args.customers)
    print()
    print("== payments (budget: <= 5 DynamoDB requests per payment event; 2xx after the durable record)")
    payments.run(args.events)
    print()
    print("== cold start")
    coldstart.run()


if __name__ == "__main__":
    main()
