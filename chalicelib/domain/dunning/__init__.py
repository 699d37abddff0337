"""Dunning: policies as data (policy), sending days and windows (calendar), fees, compensation and interest
(charges), and the pure decision of what reminder (if any) is due for an invoice now (decision).

Pure: stdlib plus the `holidays` package; `now` and every table are arguments. Import the submodules
directly: this package imports nothing itself, so reading a policy never loads the holiday calendars
(the API's cold start stays light; see tests/packaging/test_app_import.py).
"""
