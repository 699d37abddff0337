"""Operator commands. `python -m chalicelib.cli create-api-key --name alice --role admin` issues a key
against the tables named in the environment (see README: the first admin key); `backfill-analytics` counts every
invoice the analytics projection has not counted yet (a ledger older than the projection); running it again
changes nothing."""

from __future__ import annotations

import argparse
import json
import sys

from chalicelib import bootstrap


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chalicelib.cli")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-api-key", help="issue an API key and print its secret once")
    create.add_argument("--name", required=True)
    create.add_argument("--role", default="admin", choices=["viewer", "collector", "admin"])
    commands.add_parser("backfill-worklist-keys", help="once, after deploying the work-list indexes: key the "
                        "invoices written before them (Queries by status, conditional updates)")
    commands.add_parser("backfill-analytics", help="project every invoice not yet counted into the analytics table")
    args = parser.parse_args(argv)
    if args.command == "backfill-worklist-keys":
        from chalicelib.adapters.dynamo import backfill_worklist_keys

        bootstrap.bind_tables()
        read, updated = backfill_worklist_keys()
        print(json.dumps({"invoices_read": read, "invoices_updated": updated}))
    if args.command == "create-api-key":
        bootstrap.bind_tables()
        issued = bootstrap.api_keys().issue(args.name, args.role, actor="system:cli")
        print(json.dumps({"id": issued.key_id, "name": issued.name, "role": issued.role.label,
                          "api_key": issued.api_key}, indent=2))
        print("Store the api_key now: only its hash is kept.", file=sys.stderr)
    elif args.command == "backfill-analytics":
        bootstrap.bind_tables()
        from chalicelib.adapters.analytics import backfill

        counted = backfill(bootstrap.invoice_projections())
        print(json.dumps({"invoices": counted}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
