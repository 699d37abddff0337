"""Analytics: pure figures over the ledger (no I/O, no clock)."""
