"""`python -m bench.unpatched_stack`: `make run`'s stack on moto's own DynamoDB transactions (whole tables
deep-copied per transaction item, no lock), to measure what chalicelib/local/moto_dynamodb.py saves."""

from __future__ import annotations

import sys

import chalicelib.local.moto_dynamodb as moto_dynamodb
from chalicelib.local.__main__ import main


def _not_installed() -> None:
    print("bench.unpatched_stack: moto's DynamoDB transactions left as moto 5.2.5 ships them", file=sys.stderr)


moto_dynamodb.install = _not_installed

if __name__ == "__main__":
    sys.exit(main())
