"""Dunning: policies as data and the pure decision of what reminder (if any) is due for an invoice now.

Pure: stdlib plus the `holidays` package; `now` and every table are arguments.
"""

from chalicelib.domain.dunning.calendar import (
    InvalidTimezone,
    add_business_days,
    is_business_day,
    is_sendable_now,
    load_timezone,
    next_business_day,
    next_send_time,
)
from chalicelib.domain.dunning.charges import (
    DEFAULT_RATE_TABLE,
    Charge,
    EarlyPaymentDiscount,
    MissingReferenceRate,
    RateTable,
    ReferenceRate,
    charges_due,
    early_payment_discount,
    simple_interest,
    statutory_compensation,
    uk_fixed_sum,
)
from chalicelib.domain.dunning.decision import Decision, History, InvoiceState, decide
from chalicelib.domain.dunning.policy import (
    DEFAULT_POLICY,
    FeeRule,
    Policy,
    PolicyError,
    SendWindow,
    Step,
    default_policy,
)

__all__ = [
    "DEFAULT_POLICY", "DEFAULT_RATE_TABLE", "Charge", "Decision", "EarlyPaymentDiscount", "FeeRule", "History",
    "InvalidTimezone", "InvoiceState", "MissingReferenceRate", "Policy", "PolicyError", "RateTable", "ReferenceRate",
    "SendWindow", "Step", "add_business_days", "charges_due", "decide", "default_policy", "early_payment_discount",
    "is_business_day", "is_sendable_now", "load_timezone", "next_business_day", "next_send_time", "simple_interest",
    "statutory_compensation", "uk_fixed_sum",
]
