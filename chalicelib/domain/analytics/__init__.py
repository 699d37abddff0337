"""Collections analytics, pure (no I/O, no clock): the money movements an invoice change makes and their sums
per period and as of any day (ledger.py), aging (aging.py), the Credit Research Foundation metrics (metrics.py),
payment behaviour, risk and prediction (behaviour.py, prediction.py) and the cash forecast (forecast.py)."""
