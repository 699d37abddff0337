"""Collections analytics, pure: the money movements an invoice change makes (ledger.py), their sums per period
and as of any day (ledger.py), aging (aging.py) and the Credit Research Foundation metrics (metrics.py)."""
