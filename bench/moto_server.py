"""`python -m bench.moto_server -H HOST -p PORT`: moto's server with chalicelib/local/moto_dynamodb.py installed,
as `make run` runs it: a transaction costs the items it touches, not a copy of every table it names (which
would make a bench comparing ledger sizes measure moto)."""

from __future__ import annotations

from moto.server import main

from chalicelib.local.moto_dynamodb import install

if __name__ == "__main__":
    install()
    main()
