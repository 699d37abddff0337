"""The OpenAPI 3.1 description of the whole API, written as data and served at `GET /openapi.json`.

Each operation names the role it needs (`x-dunwell-role`); tests/integration/test_openapi.py keeps this
document, the routes Chalice registers and the role each view is wrapped with in step."""

from __future__ import annotations

import copy
from functools import cache
from typing import TYPE_CHECKING, Any, get_args

from chalice import Blueprint

from chalicelib.api.http import DEFAULT_PAGE, EARLIEST_DATE, LATEST_DATE, MAX_PAGE, endpoint
from chalicelib.api.worklists import EXPORT_CAP, MAX_SEARCH
from chalicelib.domain.analytics.aging import BUCKETS
from chalicelib.domain.collections import DISPUTE_REASONS, DisputeStatus, Outcome
from chalicelib.domain.dunning.charges import ChargeKind
from chalicelib.domain.dunning.policy import ACTIONS, CHANNELS, LATE_FEE_SCHEMES, PAYMENT_ALLOCATIONS, TONES
from chalicelib.domain.invoice import InvoiceStatus
from chalicelib.domain.payments import PaymentKind, PaymentStatus
from chalicelib.domain.plan_requests import PlanRequestStatus
from chalicelib.domain.plans import (
    DEFAULT_GRACE_DAYS,
    MAX_GRACE_DAYS,
    MAX_INSTALMENTS,
    MAX_PLAN_INVOICES,
    InstalmentState,
    PlanStatus,
)
from chalicelib.services.api_keys import MAX_NAME
from chalicelib.services.ports import Role

if TYPE_CHECKING:
    from chalicelib.formats.processors.registry import Processor

blueprint = Blueprint(__name__)

Schema = dict[str, Any]
CHARGE_KINDS = get_args(ChargeKind)
ROLE_EXTENSION = "x-dunwell-role"


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Schema) -> Schema:
    return {"oneOf": [schema, {"type": "null"}]}


def obj(properties: dict[str, Schema], required: list[str] | None = None, *, closed: bool = False,
        description: str | None = None) -> Schema:
    """An object; every property is required unless `required` says otherwise. Responses stay open
    (a new field is not a breaking change); request bodies the API checks field by field are closed."""
    schema: Schema = {"type": "object", "properties": properties,
                      "required": list(properties) if required is None else required}
    if closed:
        schema["additionalProperties"] = False
    if description:
        schema["description"] = description
    return schema


STRING: Schema = {"type": "string"}
TEXT: Schema = {"type": ["string", "null"]}
BOOLEAN: Schema = {"type": "boolean"}
INTEGER: Schema = {"type": "integer"}
DATE: Schema = {"type": "string", "format": "date"}
DATE_TIME: Schema = {"type": "string", "format": "date-time"}
NULLABLE_DATE: Schema = {"type": ["string", "null"], "format": "date"}
NULLABLE_DATE_TIME: Schema = {"type": ["string", "null"], "format": "date-time"}
REFUSED: Schema = {"type": ["string", "null"],
                   "description": "why the run sent nothing at all (the stage has no way to pay), else null"}
NULLABLE_DECIMAL: Schema = {"type": ["string", "null"], "pattern": r"^-?[0-9]+(\.[0-9]+)?$"}
POLICY_BY_RISK: Schema = {
    "type": "object", "additionalProperties": False,
    "properties": {band: {"type": "string", "pattern": r"^[a-z0-9][a-z0-9_-]{0,63}$"}
                   for band in ("low", "medium", "high")},
    "description": "the policy a customer without its own policy_id gets for its risk band; a band left out gets "
                   "the default policy"}
CURRENCY: Schema = {"type": "string", "pattern": "^[A-Z]{3}$", "description": "ISO 4217", "examples": ["EUR"]}
DECIMAL_PATTERN = r"^-?[0-9]+(\.[0-9]+)?$"
ID_PATTERN = r"^([A-Za-z0-9][A-Za-z0-9._-]{0,99}|(inv|cn|cus)~[A-Za-z0-9._-]{1,100})$"
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
HH_MM_PATTERN = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


def string_list(items: Schema | None = None) -> Schema:
    return {"type": "array", "items": items or STRING}


# ---------------------------------------------------------------------------------------------- schemas

def _schemas() -> dict[str, Schema]:
    amount = ref("Amount")
    charge = obj({
        "kind": {"type": "string", "enum": list(CHARGE_KINDS)},
        "amount": amount, "currency": CURRENCY, "reason": STRING, "key": STRING,
        "charged_on": DATE, "step": TEXT,
    }, description="A charge on an invoice's balance (a fee, statutory compensation or interest).")
    contact = obj({
        "name": TEXT, "email": TEXT, "phone": {**TEXT, "description": "E.164"}, "language": TEXT,
        "timezone": TEXT, "email_suppressed": BOOLEAN,
    })
    contact_input = obj({
        "name": TEXT, "email": TEXT, "phone": {**TEXT, "description": "E.164, e.g. +4930123456"},
        "language": {**TEXT, "examples": ["de"]}, "timezone": {**TEXT, "examples": ["Europe/Berlin"]},
        "email_suppressed": BOOLEAN,
    }, required=[], closed=True, description="Needs an email or a phone.")
    fee_rule = obj({
        "fixed": nullable(ref("Decimal")), "percent": nullable(ref("Decimal")),
        "compensation": BOOLEAN, "interest": BOOLEAN,
    })
    fee_rule_input = obj({
        "fixed": nullable(ref("Decimal")), "percent": nullable(ref("Decimal")),
        "compensation": BOOLEAN, "interest": BOOLEAN,
    }, required=[], closed=True)
    step_properties: dict[str, Schema] = {
        "name": {"type": "string", "pattern": NAME_PATTERN},
        "offset_days": {"type": "integer", "minimum": -3650, "maximum": 3650,
                        "description": "days from the due date (negative: before it)"},
        "channels": {"type": "array", "items": {"type": "string", "enum": list(CHANNELS)}, "minItems": 1,
                     "uniqueItems": True},
        "template": {"type": "string", "pattern": NAME_PATTERN},
        "tone": {"type": "string", "enum": list(TONES)},
        "fee": nullable(ref("FeeRule")),
        "actions": {"type": "array", "items": {"type": "string", "enum": list(ACTIONS)}, "uniqueItems": True},
    }
    send_window = obj({"start": {"type": "string", "pattern": HH_MM_PATTERN},
                       "end": {"type": "string", "pattern": HH_MM_PATTERN}},
                      description="Local wall-clock hours: start inclusive, end exclusive.")
    policy_properties: dict[str, Schema] = {
        "policy_id": {"type": "string", "pattern": NAME_PATTERN},
        "name": STRING,
        "steps": {"type": "array", "items": ref("Step"), "minItems": 1},
        "send_window": ref("SendWindow"),
        "business_days_only": BOOLEAN,
        "late_fee_scheme": {"type": "string", "enum": list(LATE_FEE_SCHEMES)},
        "contractual_annual_rate": nullable(ref("Decimal")),
        "default_timezone": STRING,
        "payment_allocation": {"type": "string", "enum": list(PAYMENT_ALLOCATIONS)},
        "min_notice_gap_days": {**INTEGER, "minimum": 1, "maximum": 90},
    }
    reference_rate = obj({
        "scheme": {"type": "string", "enum": ["ecb_mro", "boe_base"]},
        "valid_from": {**DATE, "description": "1 January or 1 July"},
        "rate": ref("Decimal"), "source": STRING,
    }, required=["scheme", "valid_from", "rate", "source"])
    task = obj({
        "id": STRING, "kind": STRING, "title": STRING, "status": {"type": "string", "enum": ["open", "done"]},
        "customer_id": TEXT, "invoice_id": TEXT, "detail": {"type": "object"},
        "created_at": DATE_TIME, "created_by": STRING, "completed_at": NULLABLE_DATE_TIME, "completed_by": TEXT,
    })
    api_key_properties: dict[str, Schema] = {
        "id": {"type": "string", "pattern": "^[0-9a-f]{16}$"},
        "name": STRING,
        "role": {"type": "string", "enum": [r.label for r in Role]},
        "created_at": DATE_TIME, "created_by": STRING,
        "revoked_at": NULLABLE_DATE_TIME, "revoked_by": TEXT,
    }
    return {
        "Error": obj({"error": obj({
            "code": {"type": "string", "examples": ["invalid_parameter", "invalid_json", "body_too_large",
                                                     "method_not_allowed", "unsupported_media_type",
                                                     "idempotency_key_reused", "unknown_customer", "needs_approval"]},
            "message": STRING,
            "field": {"type": "string", "description": "the parameter or body field at fault, when there is one"},
        }, required=["code", "message"])}, description="Every 4xx and 5xx answer of the API has this shape."),
        "Page": obj({"items": {"type": "array"}, "next_cursor": {
            "type": ["string", "null"], "description": "pass as `cursor` for the next page; null on the last"}},
            description="A page of a list."),
        "Amount": {"type": "string", "pattern": DECIMAL_PATTERN, "examples": ["1656.25", "1000"],
                   "description": "exactly the currency's ISO 4217 decimals, next to its `currency`"},
        "Decimal": {"type": "string", "pattern": DECIMAL_PATTERN, "examples": ["8", "2.15"]},
        "MoneyByCurrency": {"type": "array", "items": obj({"currency": CURRENCY, "amount": amount})},
        "Charge": charge,
        "Invoice": obj({
            "id": STRING, "number": STRING, "customer_id": STRING, "currency": CURRENCY,
            "total": amount, "balance": amount, "paid": amount, "paid_in_erp": amount, "credited": amount,
            "written_off": amount, "issue_date": DATE, "due_date": DATE,
            "status": {"type": "string", "enum": [s.value for s in InvoiceStatus]},
            "overdue": BOOLEAN, "days_overdue": {"type": "integer", "minimum": 0},
            "buyer_reference": TEXT, "charged": amount, "charges": {"type": "array", "items": ref("Charge")},
            "reminders_sent": string_list(), "next_action_at": NULLABLE_DATE_TIME,
            "promised_until": NULLABLE_DATE, "in_payment_plan": BOOLEAN, "payment_plan_id": TEXT, "version": INTEGER,
            "promised_amount": nullable(amount), "broken_promise": NULLABLE_DATE, "dispute_id": TEXT,
            "disputed_amount": nullable(amount), "undisputed_balance": amount,
            "delivered_at": {**NULLABLE_DATE_TIME, "description": "when its latest version was last emailed to the "
                                                                  "customer (invoice_delivery: email)"},
            "discounted": {**amount, "description": "early-payment discount booked (paid in time under terms like "
                                                    "2/10 net 30): total + charged = balance + paid + credited + "
                                                    "written_off + discounted"},
        }),
        "Contact": contact,
        "ContactInput": contact_input,
        "Customer": obj({
            "id": STRING, "name": STRING, "contacts": {"type": "array", "items": ref("Contact")},
            "language": TEXT, "timezone": TEXT, "country": TEXT, "currency": TEXT,
            "payment_terms": {**TEXT, "examples": ["net 30", "2/10 net 30"]},
            "credit_limit": nullable(amount), "credit_limit_currency": TEXT, "tax_id": TEXT,
            "policy_id": {**TEXT, "description": "null: the default policy"},
            "dunning_paused": BOOLEAN, "credit_hold": BOOLEAN,
            "address": nullable(ref("Address")),
            "address_edited": {**BOOLEAN, "description": "staff set the address: later files no longer change it"},
            "invoice_delivery": {"type": "string", "enum": ["none", "email"]},
            "statement_delivery": {"type": "string", "enum": ["none", "email"]},
        }),
        "CustomerListItem": {"allOf": [ref("Customer"), obj({
            "balance": {**ref("MoneyByCurrency"), "description": "open balance today, per currency (sorted by "
                        "balance or overdue: the currency sorted by)"},
            "overdue": {**ref("MoneyByCurrency"), "description": "the part of it past due today"},
        })]},
        "Address": obj({
            "line1": TEXT, "line2": TEXT, "postal_code": TEXT, "city": TEXT, "region": TEXT,
            "country": {"type": ["string", "null"], "pattern": "^[A-Z]{2}$", "description": "ISO 3166-1 alpha-2"},
        }, description="The billing (postal) address."),
        "AddressInput": obj({
            "line1": {"type": "string", "minLength": 1, "maxLength": 200},
            "line2": {"type": ["string", "null"], "maxLength": 200},
            "postal_code": {"type": ["string", "null"], "maxLength": 200},
            "city": {"type": "string", "minLength": 1, "maxLength": 200},
            "region": {"type": ["string", "null"], "maxLength": 200},
            "country": {"type": "string", "pattern": "^[A-Za-z]{2}$", "description": "ISO 3166-1 alpha-2"},
        }, required=["line1", "city", "country"], closed=True),
        "CustomerDetail": {"allOf": [ref("Customer"), obj({"balance": ref("BalanceSummary"),
                                                            "behaviour": ref("PaymentBehaviour"),
                                                            "risk": ref("Risk")})]},
        "PaymentBehaviour": obj({
            "invoices_settled": {**INTEGER, "description": "of its latest 100 settlements"},
            "average_days_late": NULLABLE_DECIMAL, "median_days_late": NULLABLE_DECIMAL,
            "on_time_rate": {**NULLABLE_DECIMAL, "description": "percent settled on or before the due date"},
            "trend": obj({"last_90_days_average_days_late": NULLABLE_DECIMAL,
                          "before_average_days_late": NULLABLE_DECIMAL,
                          "direction": {"type": ["string", "null"], "enum": ["slower", "faster", "steady", None]}}),
            "dispute_rate": {**NULLABLE_DECIMAL, "description": "percent of settled invoices ever disputed"},
            "promises_kept": INTEGER, "promises_broken": INTEGER,
        }, description="From the settlement log (README: Payment prediction and cash forecast); days to one decimal."),
        "Prediction": obj({
            "invoice_id": STRING, "number": STRING, "customer_id": STRING, "currency": CURRENCY, "balance": amount,
            "due_date": DATE, "predicted_pay_date": DATE,
            "late_probability": {"type": "string", "pattern": r"^[01]\.[0-9]{2}$",
                                 "description": "probability of being paid after the due date, 0.00-1.00"},
            "expected_days_late": {**INTEGER, "description": "predicted_pay_date - due_date (negative: early)"},
            "reasons": string_list(),
        }, description="An invoice open at as_of and its predicted payment (README: Payment prediction and cash "
                       "forecast)."),
        "CashForecast": obj({
            "as_of": DATE, "currency": CURRENCY, "open_ar": amount,
            "weeks": {"type": "array", "items": obj({"start": DATE, "end": DATE, "expected": amount, "low": amount,
                                                     "high": amount})},
            "beyond": {**amount, "description": "expected after the last week"},
            "at_risk": {**amount, "description": "expected to be paid more than 90 days past due, or instalments "
                                                 "expected not to be kept"},
        }, description="Week 1 starts the day after as_of; low/high: a 90% band (README: Payment prediction and "
                       "cash forecast)."),
        "CashForecasts": obj({"as_of": DATE, "currencies": {"type": "array", "items": ref("CashForecast")}}),
        "ForecastAccuracy": obj({"from": DATE, "to": DATE, "currencies": {"type": "array", "items": obj({
            "currency": CURRENCY,
            "horizons": {"type": "array", "items": obj({
                "weeks_ahead": {"type": "integer", "enum": [1, 4, 13]},
                "wape": {**NULLABLE_DECIMAL, "description": "sum |actual - forecast| / sum actual, percent"},
                "bias": {**NULLABLE_DECIMAL, "description": "sum (forecast - actual) / sum actual, percent"},
                "weeks": {"type": "array", "items": obj({"start": DATE, "end": DATE,
                                                         "forecast": nullable(amount), "actual": amount})},
            })},
        })}}),
        "Risk": obj({"score": {**INTEGER, "minimum": 0, "maximum": 100},
                     "band": {"type": "string", "enum": ["low", "medium", "high"]},
                     "reasons": string_list()}, description="Late-payment risk with its reasons in plain words."),
        "BalanceSummary": obj({
            "outstanding": ref("MoneyByCurrency"), "overdue": ref("MoneyByCurrency"),
            "unapplied_credit": ref("MoneyByCurrency"), "open_invoices": INTEGER, "overdue_invoices": INTEGER,
            "oldest_overdue_due_date": NULLABLE_DATE, "as_of": DATE,
        }),
        "CustomerChanges": obj({
            "policy_id": {**TEXT, "description": "an existing policy; null: the default"},
            "dunning_paused": BOOLEAN,
            "contacts": {"type": "array", "items": ref("ContactInput")},
            "language": {**TEXT, "examples": ["de", "fr-CH"]},
            "timezone": {**TEXT, "examples": ["Europe/Berlin"]},
            "payment_receipts": {**BOOLEAN, "description": "email a receipt for each payment received"},
            "invoice_delivery": {"type": "string", "enum": ["none", "email"],
                                 "description": "email: each new invoice, and each corrected version, is emailed "
                                                "to the first contact with its PDF (and its UBL XML)"},
            "statement_delivery": {"type": "string", "enum": ["none", "email"],
                                   "description": "email: the statement of account as a PDF to the first contact, "
                                                  "on the first business day of each month in the customer's "
                                                  "time zone"},
            "address": {**nullable(ref("AddressInput")),
                        "description": "the billing address; once set here a later file no longer changes it"},
        }, required=[], closed=True, description="At least one field; each changed field is audited."),
        "Import": obj({
            "id": STRING,
            "status": {"type": "string", "enum": ["in_progress", "processed", "processed_with_errors", "rejected"],
                       "description": "processed: every row imported or skipped; processed_with_errors: some rows "
                                      "rejected (see rejected_rows), the others imported; rejected: the file was "
                                      "refused before any row was stored (see reason)"},
            "source_key": STRING, "destination_key": TEXT, "report_key": TEXT, "format": TEXT, "mapping": TEXT,
            "size_bytes": INTEGER, "started_at": DATE_TIME, "finished_at": NULLABLE_DATE_TIME, "reason": TEXT,
            "counts": {
                "type": "object",
                "description": "Rows of the file: rows_read = rows_imported + rows_rejected + rows_skipped (a grouped "
                               "invoice counts each of its line rows). The other counts are documents and problems.",
                "properties": {
                    "rows_read": {**INTEGER, "description": "data rows read (bank files: statement lines)"},
                    "rows_imported": {**INTEGER, "description": "rows whose document is in Dunwell: created, "
                                                                "amended or already there unchanged"},
                    "rows_rejected": {**INTEGER, "description": "rows not imported because of a problem"},
                    "rows_skipped": {**INTEGER, "description": "rows left out on purpose (a bill, a draft, a "
                                                               "repeat of an identical row, a debit)"},
                    "skipped_reasons": {"type": "object", "additionalProperties": INTEGER,
                                        "description": "rows_skipped per reason, e.g. {\"bill\": 3, \"draft\": 1}"},
                    "rejected_rows": {**INTEGER, "description": "problems listed in rejected_rows (a row may have "
                                                                "several)"},
                },
                "additionalProperties": INTEGER,
            },
        }),
        "ImportDetail": {"allOf": [ref("Import"), obj({
            "rejected_rows": {"type": "array", "items": obj(
                {"line": INTEGER, "field": TEXT, "reason": STRING, "value": TEXT, "number": TEXT},
                required=["line", "reason"])},
            "rejected_rows_complete": BOOLEAN,
        })]},
        "Allocation": obj({"invoice_id": STRING, "number": STRING, "amount": amount}),
        "Payment": obj({
            "id": STRING, "kind": {"type": "string", "enum": [k.value for k in PaymentKind]},
            "status": {"type": "string", "enum": [s.value for s in PaymentStatus]},
            "provider": {"type": "string", "examples": ["stripe", "gocardless", "adyen", "bank", "manual"]},
            "provider_reference": STRING, "currency": CURRENCY, "amount": amount, "allocated": amount,
            "unapplied": amount, "reversed": amount, "allocations": {"type": "array", "items": ref("Allocation")},
            "customer_id": TEXT, "match": {**TEXT, "description": "how the money was matched"}, "reason": TEXT,
            "references": string_list(), "payer_name": TEXT, "payer_email": TEXT,
            "reverses": {**TEXT, "description": "a refund's or chargeback's payment reference"},
            "occurred_at": DATE_TIME, "recorded_at": DATE_TIME, "recorded_by": STRING, "version": INTEGER,
            "initiated_on": nullable({**DATE, "description": "the day the payer gave the order, where its source said "
                                      "(an early-payment discount is judged by it; the cash day is occurred_at's)"}),
        }),
        "NewPayment": obj({
            "amount": {**amount, "pattern": r"^[0-9]{1,15}(\.[0-9]{1,15})?$"}, "currency": CURRENCY,
            "customer_id": nullable({"type": "string", "pattern": ID_PATTERN}),
            "invoice_numbers": {"type": "array", "items": {"type": "string", "minLength": 1}},
            "received_on": {**DATE, "description": f"default: today; not in the future, nor before {EARLIEST_DATE}"},
            "initiated_on": {**DATE, "description": "the day the payer gave the order (a cheque's date, a transfer's "
                             "execution day), not after received_on: an early-payment discount is judged by it"},
            "method": {"type": "string", "enum": ["wire", "cheque", "cash", "card", "direct_debit", "other"]},
            "payer_name": TEXT,
        }, required=["amount", "currency"], description="A wire or cheque recorded by hand."),
        "AllocationRequest": {"oneOf": [
            obj({"invoice_id": {"type": "string", "pattern": ID_PATTERN}, "amount": amount}, required=["invoice_id"]),
            obj({"invoice_number": {"type": "string", "minLength": 1}, "amount": amount},
                required=["invoice_number"]),
            obj({"strategy": {"const": "oldest_first"}}),
        ], "description": "One invoice (all the unapplied money it can take, or `amount`), or the oldest first."},
        "FeeRule": fee_rule,
        "FeeRuleInput": fee_rule_input,
        "Step": obj(step_properties, required=["name", "offset_days", "channels", "template", "tone"]),
        "StepInput": obj({**step_properties, "fee": nullable(ref("FeeRuleInput"))},
                         required=["name", "offset_days", "channels", "template", "tone"], closed=True),
        "SendWindow": send_window,
        "Policy": obj(policy_properties),
        "PolicyInput": obj({**policy_properties, "steps": {"type": "array", "items": ref("StepInput"), "minItems": 1},
                            "send_window": obj({"start": {"type": "string", "pattern": HH_MM_PATTERN},
                                                "end": {"type": "string", "pattern": HH_MM_PATTERN}},
                                               required=[], closed=True)},
                           required=["name", "steps"], closed=True,
                           description="`policy_id`, when given, must be the one in the path."),
        "PreviewItem": obj({
            "invoice_id": STRING, "number": STRING, "customer_id": STRING, "balance": amount, "currency": CURRENCY,
            "due_date": DATE, "action": {"type": "string", "enum": ["send", "skip", "wait"]}, "reason": STRING,
            "step": TEXT, "channels": string_list(), "charges": {"type": "array", "items": {"type": "object"}},
            "skipped_steps": {"type": "array", "items": obj({"step": STRING, "reason": STRING})},
            "actions": string_list(), "next_action_at": NULLABLE_DATE_TIME,
            "discount": nullable(obj({"amount": amount, "last_day": DATE})),
            "unreachable_channels": string_list(), "warnings": string_list(),
            "policy": obj({"policy_id": TEXT, "why": STRING},
                          description="the policy applied: set on the customer, chosen by risk band, or default"),
        }, required=["invoice_id", "number", "customer_id", "action", "reason"]),
        "DunningPreview": obj({"as_of": DATE, "counts": {"type": "object", "additionalProperties": INTEGER},
                               "items": {"type": "array", "items": ref("PreviewItem")}}),
        "DunningRunRequest": obj({"as_of": {**DATE, "description": "a simulated clock: only where "
                                            "DUNWELL_ALLOW_SIMULATED_CLOCK=true, never in production"}},
                                 required=[]),
        "DunningRun": obj({
            "run_id": STRING, "now": DATE_TIME, "simulated": BOOLEAN, "kill_switch": BOOLEAN,
            "invoices_considered": INTEGER, "customers_considered": INTEGER,
            "sent": obj({"email": INTEGER, "sms": INTEGER}),
            "reminders": {"type": "object", "additionalProperties": INTEGER, "description": "per step"},
            "skipped": {"type": "object", "additionalProperties": INTEGER, "description": "per reason"},
            "failed": {"type": "array", "items": {"type": "object"}}, "charges_added": INTEGER,
            "repaired": INTEGER, "unconfirmed": INTEGER,
            "actions": {"type": "object", "additionalProperties": INTEGER}, "more_due": BOOLEAN,
            "dispatched": INTEGER, "refused": REFUSED,
            "letters_queued": {**INTEGER, "description": "letters for the post put in the print queue (GET /letters)"},
            "plans": obj({
                "plans_considered": INTEGER, "completed": INTEGER, "broken": INTEGER,
                "sent": obj({"email": INTEGER, "sms": INTEGER}),
                "reminders": {"type": "object", "additionalProperties": INTEGER, "description": "per stage"},
                "skipped": {"type": "object", "additionalProperties": INTEGER, "description": "per reason"},
                "failed": {"type": "array", "items": {"type": "object"}}, "repaired": INTEGER,
                "unconfirmed": INTEGER, "more_due": BOOLEAN, "kill_switch": BOOLEAN, "refused": REFUSED,
            }, description="the payment plan sweep, run before the invoices'"),
        }, required=["run_id", "now", "simulated", "sent", "reminders", "skipped", "failed", "charges_added"]),
        "ReferenceRate": reference_rate,
        "DunningSettings": obj({"kill_switch": BOOLEAN,
                                "reference_rates": {"type": "array", "items": ref("ReferenceRate")},
                                "max_catch_up_days": INTEGER,
                                "policy_by_risk": POLICY_BY_RISK,
                                "version": INTEGER}),
        "DunningSettingsChanges": obj({
            "kill_switch": {**BOOLEAN, "description": "true stops every reminder"},
            "max_catch_up_days": {**INTEGER, "minimum": 0, "maximum": 3650, "description":
                                  "an invoice more overdue than this when first imported is not chased until a "
                                  "collector releases it (POST /invoices/{id}/release)"},
            "reference_rates": {"type": "array", "items": obj(
                {"scheme": reference_rate["properties"]["scheme"], "valid_from": DATE,
                 "rate": {"oneOf": [ref("Decimal"), INTEGER]}, "source": TEXT},
                required=["scheme", "valid_from", "rate"], closed=True)},
            "policy_by_risk": POLICY_BY_RISK,
            "version": {**INTEGER, "description": "the version read; a different one is 409"},
        }, required=[], closed=True),
        "Task": task,
        "HeldForReview": obj({"task_id": STRING, "reason": {"type": "string", "enum": ["needs_review",
                                                                                        "too_few_notices"]},
                              "held_at": DATE_TIME, "invoice": ref("Invoice")}),
        "Dispute": obj({
            "id": STRING, "invoice_id": STRING, "invoice_number": STRING, "customer_id": STRING,
            "currency": CURRENCY, "reason": {"type": "string", "enum": list(DISPUTE_REASONS)},
            "whole_invoice": BOOLEAN, "amount": nullable(amount), "balance_at_opening": amount, "note": TEXT,
            "from_chargeback": BOOLEAN, "status": {"type": "string", "enum": [s.value for s in DisputeStatus]},
            "outcome": nullable({"type": "string", "enum": [o.value for o in Outcome]}),
            "credited": nullable(amount), "resolution_note": TEXT, "opened_at": DATE_TIME, "opened_by": STRING,
            "resolved_at": NULLABLE_DATE_TIME, "resolved_by": TEXT, "age_days": INTEGER, "version": INTEGER,
        }),
        "DisputeChange": {"allOf": [ref("Dispute"), obj({"invoice": ref("Invoice")})]},
        "NewDispute": obj({
            "reason": {"type": "string", "enum": list(DISPUTE_REASONS)},
            "amount": {**amount, "description": "a deduction: only this part is held; omit to dispute it all"},
            "note": STRING,
        }, required=["reason"], closed=True),
        "DisputeResolution": obj({
            "outcome": {"type": "string", "enum": [o.value for o in Outcome]},
            "credit_amount": {**amount, "description": "partial only: the part credited"},
            "note": STRING,
        }, required=["outcome"], closed=True),
        "Instalment": obj({
            "number": INTEGER, "due_date": DATE, "amount": amount,
            "paid": {**amount, "description": "paid towards it: payments cover instalments in due-date order"},
            "remaining": amount,
            "state": {"type": "string", "enum": [s.value for s in InstalmentState]},
        }, required=["number", "due_date", "amount"]),
        "PaymentPlan": obj({
            "id": STRING, "customer_id": STRING, "status": {"type": "string", "enum": [s.value for s in PlanStatus]},
            "currency": CURRENCY, "total": amount, "grace_days": INTEGER,
            "invoices": {"type": "array", "items": obj({"invoice_id": STRING, "number": STRING,
                                                        "balance_at_start": amount})},
            "instalments": {"type": "array", "items": ref("Instalment")},
            "reminders_sent": string_list(), "note": TEXT, "created_at": DATE_TIME, "created_by": STRING,
            "ended_at": NULLABLE_DATE_TIME, "ended_by": TEXT, "end_reason": TEXT, "version": INTEGER,
            "paid": amount, "reduced": {**amount, "description": "credited, written off or discounted since the plan"},
            "outstanding": amount, "settled": BOOLEAN, "next_instalment": nullable(ref("Instalment")),
        }, required=["id", "customer_id", "status", "currency", "total", "instalments", "invoices"]),
        "NewPaymentPlan": obj({
            "invoice_ids": {"type": "array", "items": STRING, "minItems": 1, "maxItems": MAX_PLAN_INVOICES},
            "instalments": {"type": "array", "minItems": 1, "maxItems": MAX_INSTALMENTS,
                            "items": obj({"due_date": DATE, "amount": amount}, closed=True),
                            "description": "explicit instalments summing to the invoices' open balance"},
            "count": {"type": "integer", "minimum": 1, "maximum": MAX_INSTALMENTS,
                      "description": "or: this many equal monthly instalments from first_due_date"},
            "first_due_date": DATE,
            "grace_days": {"type": "integer", "minimum": 0, "maximum": MAX_GRACE_DAYS,
                           "description": f"days an instalment may be late before the plan breaks (default "
                                          f"{DEFAULT_GRACE_DAYS})"},
            "note": STRING,
        }, required=["invoice_ids"], closed=True),
        "NewTask": obj({"title": {"type": "string", "minLength": 1, "maxLength": 500}, "customer_id": STRING,
                        "invoice_id": STRING, "note": {"type": "string", "maxLength": 2000}},
                       required=["title"], closed=True),
        "PlanCancel": obj({"reason": {"type": "string", "minLength": 1, "maxLength": 500}}, closed=True),
        "NewPromise": obj({"date": {**DATE, "description": "today or later, at most 90 days ahead"},
                           "amount": amount}, closed=True),
        "WriteOff": obj({"amount": amount, "reason": {"type": "string", "minLength": 1, "maxLength": 500}},
                        closed=True),
        "AgencyExport": obj({
            "invoice": {"type": "object"}, "customer": {"type": ["object", "null"]},
            "charges": {"type": "array", "items": ref("Charge")},
            "notices": {"type": "array", "items": {"type": "object"}},
            "letters": {"type": "array", "items": ref("AgencyLetter")},
            "history": {"type": "array", "items": obj({"at": DATE_TIME, "type": STRING, "actor": STRING,
                                                       "data": {"type": "object"}})},
        }),
        "ApiKey": obj(api_key_properties, description="A key as listed: never its secret."),
        "IssuedApiKey": {"allOf": [ref("ApiKey"), obj({"api_key": {
            "type": "string", "pattern": "^dwk_[0-9a-f]{16}_.+$",
            "description": "the bearer token, shown only in this answer"}})]},
        "NewApiKey": obj({"name": {"type": "string", "minLength": 1, "maxLength": MAX_NAME, "pattern": r"\S"},
                          "role": api_key_properties["role"]}, closed=True),
        "TimelineEntry": obj({
            "at": DATE_TIME, "type": {"type": "string", "examples": ["invoice.imported", "note.added"]},
            "actor": STRING, "entity_type": {"type": "string", "examples": ["invoice", "customer"]},
            "entity_id": STRING, "data": {"type": "object"},
        }, description="One event of the audit trail, or a note."),
        "Timeline": obj({"items": {"type": "array", "items": ref("TimelineEntry")}},
                        description="Oldest first; a customer's includes its latest 200 invoices' events."),
        "NewNote": obj({"text": {"type": "string", "minLength": 1, "maxLength": 4000, "pattern": r"\S"}},
                       required=["text"]),
        "CreditHoldChange": obj({"reason": {"type": "string", "minLength": 1, "pattern": r"\S"}},
                                description="Required to set a hold; optional to release one."),
        "CreditLimitChange": obj({"amount": nullable({**amount, "description": "null: no limit"}),
                                  "currency": CURRENCY}, required=["amount"]),
        "CustomerCredit": {"allOf": [ref("Customer"), obj({"credit": nullable(obj({
            "credit_limit": amount, "outstanding": amount, "currency": CURRENCY,
            "utilisation": {**ref("Decimal"), "description": "outstanding / limit; above 1 is over the limit"},
        }))})]},
        "Health": obj({"status": {"const": "ok"}, "service": STRING}),
        "WebhookAccepted": obj({"received": {"const": True}}),
    }


# ---------------------------------------------------------------------------------------------- operations

ERRORS: dict[str, str] = {
    "400": "A parameter or the body is invalid (`field` names it)",
    "401": "No API key, or an unknown or revoked one",
    "403": "The key's role is too low for this route",
    "404": "Not found",
    "409": "Changed meanwhile: read it again and retry",
    "413": "The body is larger than the route takes (`body_too_large`)",
    "415": "The body is not `application/json` (`unsupported_media_type`)",
    "422": "A domain rule refuses it (`field` names the value at fault)",
    "429": "Asked too often (`too_many_requests`): ask again after the seconds `Retry-After` says",
    "500": "Not recorded; the sender should retry",
}


def _error(status: str, description: str | None = None) -> Schema:
    return {"description": description or ERRORS[status], "content": {"application/json": {"schema": ref("Error")}}}


def _json(description: str, schema: Schema) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _page(item: str) -> Schema:
    return {"allOf": [ref("Page"), obj({"items": {"type": "array", "items": ref(item)}})]}


def _list(item: str) -> Schema:
    """A page as JSON, or every row as CSV (`format=csv`)."""
    return {"description": f"A page; with `format=csv` every row (at most {EXPORT_CAP}; more is 400 with field "
                           "`format`) as an attachment, UTF-8 with a BOM, formula-like cells prefixed with '",
            "headers": {"Content-Disposition": {"description": "with format=csv: `attachment; filename=...`",
                                                "schema": STRING}},
            "content": {"application/json": {"schema": _page(item)}, "text/csv": {"schema": STRING}}}


def path_param(name: str, description: str, pattern: str | None = None) -> Schema:
    schema: Schema = {"type": "string"}
    if pattern:
        schema["pattern"] = pattern
    return {"name": name, "in": "path", "required": True, "description": description, "schema": schema}


def query(name: str, description: str, schema: Schema | None = None) -> Schema:
    if schema is DATE:
        description += f" (from {EARLIEST_DATE} to {LATEST_DATE})"
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema or STRING}


FLAG: Schema = {"type": "string", "enum": ["true", "false", "1", "0", "yes", "no"]}
PAGING = [
    query("limit", f"page size, 1-{MAX_PAGE} (default {DEFAULT_PAGE})",
          {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": DEFAULT_PAGE}),
    query("cursor", "`next_cursor` of the previous page, as it came, with the same filters (`limit` may change); "
                    "anything else is 400 `invalid_cursor`"),
]
INVOICE_ID = path_param("invoice_id", "`INV-0001`, or `inv~<digest>` for a number unsafe in a URL", ID_PATTERN)
CUSTOMER_ID = path_param("customer_id", "the ERP's customer id, or a slug of the name", ID_PATTERN)
PAYMENT_ID = path_param("payment_id", "a payment, refund or chargeback", r"^(pay|rfd|chb)_[0-9a-f]{24}$")
DISPUTE_ID = path_param("dispute_id", "a dispute", r"^dsp_[0-9a-f]{24}$")
IDEMPOTENCY_KEY: Schema = {"name": "Idempotency-Key", "in": "header", "required": False,
                           "description": "makes a retry safe: the same key with the same request again changes "
                                          "nothing and answers as the first time; with another request it is 422 "
                                          "`idempotency_key_reused`",
                           "schema": {"type": "string", "maxLength": 200}}
PLAN_ID = path_param("plan_id", "a payment plan", r"^pln_[0-9a-f]{24}$")
POLICY_ID = path_param("policy_id", "`default` is the shipped ladder until an admin saves their own", NAME_PATTERN)


def operation(tag: str, summary: str, role: Role | None, ok: tuple[str, Schema], *,
              params: list[Schema] | None = None, body: Schema | None = None, body_required: bool = True,
              errors: tuple[str, ...] = (), description: str | None = None) -> Schema:
    """One operation. 401 and 403 follow from the role; 400 on every route (an unknown query parameter); 413 and
    415 from a body; 404 from path ids."""
    statuses = set(errors)
    if role is not None:
        statuses.add("401")
        if role > Role.VIEWER:
            statuses.add("403")
    parameters = params or []
    # Every route refuses a query parameter it does not take (400, `field` names it).
    statuses.add("400")
    if body is not None:
        statuses.update(("413", "415"))
    if any(p["in"] == "path" for p in parameters):
        statuses.add("404")
    op: Schema = {"tags": [tag], "summary": summary, ROLE_EXTENSION: role.label if role else None}
    if description:
        op["description"] = description
    if role is None:
        op["security"] = []
    if parameters:
        op["parameters"] = parameters
    if body is not None:
        op["requestBody"] = {"required": body_required, "content": {"application/json": {"schema": body}}}
    op["responses"] = {ok[0]: ok[1], **{s: _error(s) for s in sorted(statuses)}}
    return op


WEBHOOK_AUTH = ("Authenticated by the processor's signature, not an API key. 5xx makes the processor retry: the "
                "event was not recorded.")


def _webhook(processor: Processor) -> Schema:
    ok = {status: dict(response) for status, response in processor.documented_acknowledgements.items()}
    header = processor.signature_header
    bad_signature = str(processor.invalid_signature_status)
    first = next(iter(ok))
    op = operation("webhooks", f"{processor.title} notifications", None, (first, ok[first]),
                   params=[{"name": header, "in": "header", "required": True, "schema": STRING,
                            "description": "the processor's signature of the raw body"}] if header else [],
                   body={"type": ["object", "array"]}, errors=("500",) if bad_signature not in ERRORS else (
                       bad_signature, "500"), description=WEBHOOK_AUTH)
    if bad_signature not in ERRORS:  # a status only this processor answers, for a bad signature only
        op["responses"][bad_signature] = _error(bad_signature, f"{processor.title}: the signature is invalid")
        op["responses"] = dict(sorted(op["responses"].items()))
    op["responses"].update({k: v for k, v in ok.items() if k != first})
    op["x-dunwell-auth"] = "signature"
    return op


def _webhooks() -> dict[str, dict[str, Schema]]:
    """From the processor registry: each processor's own operation, and the route they share."""
    from chalicelib.formats.processors.registry import processors

    names = list(processors())
    shared = operation("webhooks", "Any payment processor's notifications", None, (
        "200", {"description": "Recorded; each processor's own operation documents its answers"}),
        params=[path_param("provider", "the processor: " + ", ".join(f"`{n}`" for n in names))],
        body={"type": ["object", "array"]}, errors=("500",), description=WEBHOOK_AUTH + " The operations at each "
        "processor's own URL document its signature and answers; any other name is 404.")
    shared["parameters"][0]["schema"]["enum"] = names
    shared["x-dunwell-auth"] = "signature"
    return {**{f"/webhooks/{name}": {"post": _webhook(p)} for name, p in processors().items()},
            "/webhooks/{provider}": {"post": shared}}


INVOICE_LIST = (
    "Work lists without a Scan: each order has its index (sparse indexes of the open invoices by due date and by "
    "balance, invoice numbers by prefix). Combinations no index answers are 400 naming the parameter: `q` takes "
    "only `status`; `-days_overdue` and `-balance` take no `status`; `-balance` takes `currency` and "
    "`customer_id`, not the due-date filters; `currency` goes with `-balance` only.")
CUSTOMER_LIST = (
    "Each customer's open balance and the part of it overdue today (due before today), per currency, amounts as "
    "strings. Sorted by balance or overdue amount in one currency, largest first (ties by id); a page is an "
    "offset into that order.")


def _paths() -> dict[str, dict[str, Schema]]:
    viewer, collector, admin = Role.VIEWER, Role.COLLECTOR, Role.ADMIN
    return {
        "/health": {"get": operation("health", "Liveness", None, ("200", _json("Alive", ref("Health"))))},
        "/openapi.json": {"get": operation("health", "This document", None, (
            "200", _json("OpenAPI 3.1", {"type": "object"})))},
        "/invoices": {"get": operation("invoices", "List, sort, search and export invoices", viewer,
                                       ("200", _list("Invoice")), description=INVOICE_LIST, params=[
            query("status", "one or a comma list of: " + ", ".join(s.value for s in InvoiceStatus) +
                  " (with sort=due_date or q only)"),
            query("customer_id", "only this customer's", {"type": "string", "pattern": ID_PATTERN}),
            query("overdue", "`true`: outstanding and due before today", FLAG),
            query("due_before", "due before this day (exclusive)", DATE),
            query("due_after", "due after this day (exclusive)", DATE),
            query("sort", "`due_date` (default): each status in turn by due date; `-days_overdue`: open invoices, "
                  "most days overdue (earliest due) first; `-balance`: open invoices, largest balance first, "
                  "currency by currency", {"type": "string", "enum": ["due_date", "-days_overdue", "-balance"],
                                           "default": "due_date"}),
            query("q", "search: invoices whose number starts with it (case, blanks and separators ignored: `inv "
                  "2026` finds `INV-2026-0001`), then the invoices of customers whose name starts with it",
                  {"type": "string", "minLength": 1, "maxLength": MAX_SEARCH}),
            query("currency", "with sort=-balance: only this currency's", CURRENCY),
            query("format", "`csv`: every row as a CSV attachment (no limit or cursor)",
                  {"type": "string", "enum": ["json", "csv"], "default": "json"}),
            *PAGING])},
        "/invoices/{invoice_id}": {"get": operation("invoices", "One invoice", viewer,
                                                    ("200", _json("The invoice", ref("Invoice"))),
                                                    params=[INVOICE_ID])},
        "/invoices/{invoice_id}/pdf": {"get": operation(
            "invoices", "The invoice as a PDF", viewer,
            ("200", {"description": "The ERP's own PDF where it dropped one under incoming/documents/ (the document "
                                    "of record; header X-Dunwell-Document: original), else Dunwell's rendering in "
                                    "the customer's language (X-Dunwell-Document: rendered). Binary: send "
                                    "Accept: application/pdf or */*.",
                     "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}),
            params=[INVOICE_ID])},
        "/invoices/{invoice_id}/ubl": {"get": operation(
            "invoices", "The invoice's UBL XML, as received", viewer,
            ("200", {"description": "The original UBL 2.1 / Peppol XML of an invoice that came as UBL (the latest "
                                    "version); 404 for an invoice from another format. Send Accept: "
                                    "application/xml or */*.",
                     "content": {"application/xml": {"schema": {"type": "string", "format": "binary"}}}}),
            params=[INVOICE_ID])},
        "/invoices/{invoice_id}/agency-export": {"get": operation(
            "dunning", "The hand-off file for a collection agency", collector,
            ("200", _json("The invoice, customer, notices, charges and history", ref("AgencyExport"))),
            params=[INVOICE_ID])},
        "/customers": {"get": operation("customers", "List customers with their balances, sort and export", viewer,
                                        ("200", _list("CustomerListItem")), description=CUSTOMER_LIST, params=[
            query("sort", "`name` (default): every customer by name; `-balance` / `-overdue`: the customers with an "
                  "open balance in one currency, largest first", {"type": "string", "enum": ["name", "-balance",
                                                                                                  "-overdue"],
                                                                    "default": "name"}),
            query("currency", "with sort=-balance or -overdue: the currency compared (needed when customers owe in "
                  "more than one)", CURRENCY),
            query("format", "`csv`: every row as a CSV attachment, one line per customer and currency",
                  {"type": "string", "enum": ["json", "csv"], "default": "json"}),
            *PAGING])},
        "/customers/{customer_id}": {
            "get": operation("customers", "One customer with its balance", viewer,
                             ("200", _json("The customer", ref("CustomerDetail"))), params=[CUSTOMER_ID]),
            "patch": operation("customers", "Change how a customer is chased", collector,
                               ("200", _json("The customer as changed", ref("Customer"))), params=[CUSTOMER_ID],
                               body=ref("CustomerChanges"), errors=("409", "422")),
        },
        "/imports": {"get": operation("imports", "List imports, newest first", viewer,
                                      ("200", _json("A page", _page("Import"))), params=PAGING)},
        "/imports/{import_id}": {"get": operation(
            "imports", "One import's report", viewer, ("200", _json("The import", ref("ImportDetail"))),
            params=[path_param("import_id", "the import (from the file's SHA-256)", r"^imp_[0-9a-f]{24}$")])},
        "/payments": {
            "get": operation("payments", "List payments, newest first", viewer,
                             ("200", _json("A page", _page("Payment"))), params=[
                query("unapplied", "`true`: only money not yet on invoices (the work queue)", FLAG),
                query("customer_id", "only this customer's", {"type": "string", "pattern": ID_PATTERN}),
                query("from", "received on or after (inclusive)", DATE),
                query("to", "received on or before (inclusive)", DATE),
                *PAGING]),
            "post": operation("payments", "Record a wire or cheque", collector,
                              ("201", _json("The payment, matched like any other", ref("Payment"))),
                              params=[IDEMPOTENCY_KEY], body=ref("NewPayment"), errors=("409", "422")),
        },
        "/payments/{payment_id}": {"get": operation("payments", "One payment, refund or chargeback", viewer,
                                                    ("200", _json("The payment", ref("Payment"))),
                                                    params=[PAYMENT_ID])},
        "/payments/{payment_id}/allocations": {"post": operation(
            "payments", "Apply unapplied money to invoices", collector,
            ("200", _json("The payment", ref("Payment"))), params=[PAYMENT_ID], body=ref("AllocationRequest"),
            errors=("409", "422"))},
        "/payments/{payment_id}/allocations/{invoice_ref}": {"delete": operation(
            "payments", "Take a payment off an invoice", collector, ("200", _json("The payment", ref("Payment"))),
            params=[PAYMENT_ID, path_param("invoice_ref", "the invoice id", ID_PATTERN)], errors=("409", "422"))},
        "/reports/predictions": {"get": operation(
            "reports", "Predicted pay dates of the invoices open at as_of", viewer,
            ("200", _json("A page", {"allOf": [_page("Prediction"), obj({"as_of": DATE})]})),
            params=[query("as_of", "the day (default: today); learns only from what was known by its end", DATE),
                    query("customer_id", "only this customer's", {"type": "string", "pattern": ID_PATTERN}),
                    *PAGING], errors=("422",))},
        "/reports/forecast": {"get": operation(
            "reports", "Cash expected per week from the invoices open at as_of", viewer,
            ("200", _json("One currency's forecast, or (without currency) one per currency",
                          {"oneOf": [ref("CashForecast"), ref("CashForecasts")]})),
            params=[query("as_of", "the day (default: today)", DATE),
                    query("weeks", "how many weeks, 1-26 (default 13)",
                          {"type": "integer", "minimum": 1, "maximum": 26, "default": 13}),
                    query("currency", "only this currency", CURRENCY)], errors=("422",))},
        "/reports/forecast-accuracy": {"get": operation(
            "reports", "Stored forecasts made 1, 4 and 13 weeks ahead against receipts", viewer,
            ("200", _json("Per currency and horizon: WAPE, bias and each week", ref("ForecastAccuracy"))),
            params=[query("from", "first week's first day (default: 13 weeks before to)", DATE),
                    query("to", "last day (default: today); whole weeks from `from` only", DATE),
                    query("currency", "only this currency", CURRENCY)], errors=("422",))},
        "/policies": {"get": operation("policies", "Dunning policies", viewer,
                                       ("200", _json("Every policy (one page)", _page("Policy"))))},
        "/policies/{policy_id}": {
            "get": operation("policies", "One policy", viewer, ("200", _json("The policy", ref("Policy"))),
                             params=[POLICY_ID]),
            "put": operation("policies", "Save a policy", admin, ("200", _json("The policy", ref("Policy"))),
                             params=[POLICY_ID], body=ref("PolicyInput"), errors=("409", "422")),
        },
        "/dunning/preview": {"get": operation(
            "dunning", "The dry run: what a sweep would do", viewer,
            ("200", _json("One decision per invoice due", ref("DunningPreview"))),
            params=[query("as_of", "the day (default: today)", DATE)], errors=("422",))},
        "/dunning/runs": {"post": operation(
            "dunning", "Run the sweep now", admin, ("200", _json("What the run did", ref("DunningRun"))),
            body=ref("DunningRunRequest"), body_required=False, errors=("409", "422"),
            description="403 also when `as_of` is sent where the simulated clock is not allowed.")},
        "/dunning/settings": {
            "get": operation("dunning", "The kill switch and reference rates", viewer,
                             ("200", _json("The settings", ref("DunningSettings")))),
            "put": operation("dunning", "Change the kill switch or reference rates", admin,
                             ("200", _json("The settings as saved", ref("DunningSettings"))),
                             body=ref("DunningSettingsChanges"), errors=("409", "422")),
        },
        "/tasks": {"get": operation("dunning", "Collector tasks, newest first", viewer,
                                    ("200", _json("A page", _page("Task"))),
                                    params=[query("status", "default `open`", {"type": "string",
                                                                                "enum": ["open", "done"]}),
                                            *PAGING]),
                   "post": operation("dunning", "Open a task by hand", collector,
                                     ("201", _json("The task", ref("Task"))), body=ref("NewTask"),
                                     errors=("404",),
                                     description="404 when the invoice or customer named does not exist.")},
        "/dunning/review": {"get": operation(
            "dunning", "Invoices held for review before any reminder, newest first", viewer,
            ("200", _json("A page", _page("HeldForReview"))), params=[*PAGING],
            description="An invoice more than `max_catch_up_days` overdue when first imported, or whose ladder "
                        "cannot reach its next step honestly (a final notice needs two earlier notices), waits "
                        "here until `POST /invoices/{invoice_id}/release`.")},
        "/invoices/{invoice_id}/release": {"post": operation(
            "dunning", "Release an invoice held for review: the sweep chases it from the neutral first notice",
            collector, ("200", _json("The invoice", ref("Invoice"))), params=[INVOICE_ID], errors=("404",))},
        "/tasks/{task_id}/complete": {"post": operation(
            "dunning", "Close a task", collector, ("200", _json("The task", ref("Task"))),
            params=[path_param("task_id", "the task")], errors=("409",))},
        "/invoices/{invoice_id}/disputes": {"post": operation(
            "collections", "Open a dispute (of the whole invoice, or a deduction)", collector,
            ("201", _json("The dispute and the invoice", ref("DisputeChange"))), params=[INVOICE_ID],
            body=ref("NewDispute"), errors=("409", "422"),
            description="409 when the invoice has an open dispute already.")},
        "/disputes": {"get": operation(
            "collections", "Disputes, newest first", viewer, ("200", _json("A page", _page("Dispute"))),
            params=[query("status", "default `open`", {"type": "string", "enum": [s.value for s in DisputeStatus]}),
                    *PAGING])},
        "/disputes/{dispute_id}": {"get": operation(
            "collections", "One dispute", viewer, ("200", _json("The dispute", ref("Dispute"))),
            params=[DISPUTE_ID])},
        "/disputes/{dispute_id}/resolve": {"post": operation(
            "collections", "Resolve a dispute: accepted (credit), rejected, partial", collector,
            ("200", _json("The dispute and the invoice", ref("DisputeChange"))), params=[DISPUTE_ID],
            body=ref("DisputeResolution"), errors=("409", "422"),
            description="409 when it was resolved already.")},
        "/customers/{customer_id}/payment-plans": {
            "post": operation("collections", "Agree a payment plan over chosen invoices", collector,
                              ("201", _json("The plan", ref("PaymentPlan"))), params=[CUSTOMER_ID],
                              body=ref("NewPaymentPlan"), errors=("409", "422"),
                              description="The invoices leave the dunning ladder; each instalment gets its own "
                                          "reminders. Give `instalments`, or `count` and `first_due_date`."),
            "get": operation("collections", "A customer's payment plans, newest first", viewer,
                             ("200", _json("A page", _page("PaymentPlan"))), params=[CUSTOMER_ID, *PAGING]),
        },
        "/payment-plans": {"get": operation(
            "collections", "Payment plans by status, newest first", viewer,
            ("200", _json("A page", _page("PaymentPlan"))),
            params=[query("status", "default `active`", {"type": "string", "enum": [s.value for s in PlanStatus]}),
                    *PAGING])},
        "/payment-plans/{plan_id}": {"get": operation(
            "collections", "One payment plan, with what is paid and due", viewer,
            ("200", _json("The plan", ref("PaymentPlan"))), params=[PLAN_ID])},
        "/payment-plans/{plan_id}/cancel": {"post": operation(
            "collections", "Cancel a payment plan: its invoices go back to the ladder", collector,
            ("200", _json("The plan", ref("PaymentPlan"))), params=[PLAN_ID], body=ref("PlanCancel"),
            errors=("409", "422"))},
        "/invoices/{invoice_id}/promises": {"post": operation(
            "collections", "Record a promise to pay", collector, ("201", _json("The invoice", ref("Invoice"))),
            params=[INVOICE_ID], body=ref("NewPromise"), errors=("409", "422"))},
        "/invoices/{invoice_id}/write-off": {"post": operation(
            "collections", "Write off bad debt", collector, ("200", _json("The invoice", ref("Invoice"))),
            params=[INVOICE_ID, IDEMPOTENCY_KEY], body=ref("WriteOff"), errors=("409", "422"),
            description="Above WRITE_OFF_COLLECTOR_LIMIT (default 500.00 in the invoice's currency) only an "
                        "admin may: 403 `needs_approval` for a collector. The limit is per invoice: the collectors' "
                        "write-offs on it so far plus this one.")},
        "/invoices/{invoice_id}/timeline": {"get": operation(
            "accounts", "Everything that happened to an invoice, with who did it", viewer,
            ("200", _json("The timeline", ref("Timeline"))), params=[INVOICE_ID])},
        "/customers/{customer_id}/timeline": {"get": operation(
            "accounts", "Everything that happened to a customer and its invoices", viewer,
            ("200", _json("The timeline", ref("Timeline"))), params=[CUSTOMER_ID])},
        "/invoices/{invoice_id}/notes": {"post": operation(
            "accounts", "Add a note to an invoice's timeline", collector,
            ("201", _json("The note", ref("TimelineEntry"))), params=[INVOICE_ID], body=ref("NewNote"),
            errors=("422",))},
        "/customers/{customer_id}/notes": {"post": operation(
            "accounts", "Add a note to a customer's timeline", collector,
            ("201", _json("The note", ref("TimelineEntry"))), params=[CUSTOMER_ID], body=ref("NewNote"),
            errors=("422",))},
        "/customers/{customer_id}/credit-hold": {
            "post": operation("accounts", "Put a customer on credit hold", collector,
                              ("200", _json("The customer", ref("CustomerCredit"))), params=[CUSTOMER_ID],
                              body=ref("CreditHoldChange"), errors=("409", "422")),
            "delete": operation("accounts", "Release a customer's credit hold", collector,
                                ("200", _json("The customer", ref("CustomerCredit"))), params=[CUSTOMER_ID],
                                body=ref("CreditHoldChange"), body_required=False, errors=("409", "422")),
        },
        "/customers/{customer_id}/credit-limit": {"put": operation(
            "accounts", "Set or clear a customer's credit limit", admin,
            ("200", _json("The customer", ref("CustomerCredit"))), params=[CUSTOMER_ID],
            body=ref("CreditLimitChange"), errors=("409", "422"),
            description="A customer over the new limit is put on credit hold.")},
        "/api-keys": {
            "get": operation("api-keys", "List API keys, newest first (never a secret)", admin,
                             ("200", _json("A page", _page("ApiKey"))), params=PAGING),
            "post": operation("api-keys", "Issue an API key", admin,
                              ("201", _json("The key with its secret, shown this once", ref("IssuedApiKey"))),
                              body=ref("NewApiKey")),
        },
        "/api-keys/{key_id}": {"delete": operation(
            "api-keys", "Revoke an API key (idempotent)", admin, ("200", _json("The key, revoked", ref("ApiKey"))),
            params=[path_param("key_id", "the key's id (the part after `dwk_`)")],
            description="Takes effect at once in the container that handles it, within 60 s everywhere.")},
    }


# ---------------------------------------------------------------------------------------------- reports


FIGURE: Schema = {"type": ["string", "null"], "pattern": r"^-?[0-9]+\.[0-9]$",
                  "description": "days or percent to one decimal; null where undefined (no sales, nothing settled)"}


def _report_schemas() -> dict[str, Schema]:
    amount = ref("Amount")
    buckets = obj({name: amount for name in BUCKETS},
                  description="Open balance by days past due at as_of: `current` is due on or after as_of.")
    period = {"sales": amount, "collected": amount, "ending_ar": amount, "ending_current_ar": amount,
              "dso": FIGURE, "best_possible_dso": FIGURE, "add": FIGURE, "cei": FIGURE}
    aging_report = obj({
        "as_of": DATE, "currency": CURRENCY, "buckets": ref("AgingBuckets"), "total": amount,
        "customers": {"type": "array", "items": obj({"customer_id": STRING, "name": TEXT,
                                                      "buckets": ref("AgingBuckets"), "total": amount})},
        "next_cursor": {"type": ["string", "null"]}}, required=["as_of", "currency", "buckets", "total", "customers"],
        description="One currency's aging; customers by total, largest first (with `currency`, paged by "
                    "`next_cursor`; without it, each block lists the first `limit` customers).")
    return {
        "AgingBuckets": buckets,
        "AgingReport": aging_report,
        "AgingReports": obj({"as_of": DATE, "currencies": {"type": "array", "items": ref("AgingReport")}}),
        "MetricsReport": obj({
            "from": DATE, "to": DATE, "currency": CURRENCY, **period,
            "dso_countback": FIGURE, "bad_debt_ratio": FIGURE, "average_days_late": FIGURE,
            "on_time_rate": FIGURE, "promise_kept_rate": FIGURE, "days_deduction_outstanding": FIGURE,
            "months": {"type": "array", "items": obj({"month": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"},
                                                       "from": DATE, "to": DATE, **period})}},
            description="Credit Research Foundation metrics over [from, to] (README.md, Analytics, defines each)."),
    }


def _report_paths() -> dict[str, dict[str, Schema]]:
    viewer = Role.VIEWER
    csv: Schema = {"text/csv": {"schema": {"type": "string", "description": "format=csv: one row per customer, "
                                                                             "then the currency's total"}}}
    aging = operation(
        "reports", "Aging as of a day", viewer,
        ("200", {"description": "With `currency`: one AgingReport; without: one per currency",
                 "content": {"application/json": {"schema": {"oneOf": [ref("AgingReport"), ref("AgingReports")]}},
                             **csv}}),
        params=[query("as_of", "the day (default today; not in the future)", DATE),
                query("currency", "one currency's report (else one block per currency)", CURRENCY),
                query("customer_id", "one customer only", {"type": "string", "pattern": ID_PATTERN}),
                query("format", "`json` (default) or `csv`", {"type": "string", "enum": ["json", "csv"]}),
                *PAGING],
        description="Exactly what was open at the end of as_of: invoices issued by then, less payments (by the "
                    "day received), credits and write-offs effective by then. A report for a past day never "
                    "changes when later facts arrive.")
    metrics = operation(
        "reports", "Collection metrics (DSO, countback DSO, BPDSO, ADD, CEI, ...)", viewer,
        ("200", _json("The metrics for the period and each month in it", ref("MetricsReport"))),
        params=[query("from", "first day (default: the first of the month eleven months before `to`)", DATE),
                query("to", "last day (default today; not in the future)", DATE),
                query("currency", "needed when the ledger has more than one currency", CURRENCY)],
        errors=("422",))
    return {"/reports/aging": {"get": aging}, "/reports/metrics": {"get": metrics}}


PLAN_REQUEST_ID = path_param("request_id", "a payment plan request", r"^prq_[0-9a-f]{24}$")


def _plan_request_schemas() -> dict[str, Schema]:
    amount = ref("Amount")
    return {
        "PlanRequest": obj({
            "id": STRING, "customer_id": STRING,
            "status": {"type": "string", "enum": [s.value for s in PlanRequestStatus]},
            "contact_email": {**STRING, "description": "who asked, from the portal (and is told the answer)"},
            "invoice_ids": string_list(), "invoice_numbers": string_list(), "currency": CURRENCY,
            "total": {**amount, "description": "open on the invoices when it was asked"},
            "instalments": INTEGER, "first_date": DATE,
            "proposal": {"type": "array", "items": obj({"number": INTEGER, "due_date": DATE, "amount": amount}),
                         "description": "equal monthly instalments from first_date summing to total"},
            "requested_at": DATE_TIME, "requested_by": {**STRING, "description": "`portal:<contact email>`"},
            "decided_at": NULLABLE_DATE_TIME, "decided_by": TEXT, "decline_reason": TEXT,
            "plan_id": {"type": ["string", "null"], "description": "the plan it became"}, "version": INTEGER,
        }),
        "PlanRequestAcceptance": {"allOf": [ref("PlanRequest"), obj({"plan": ref("PaymentPlan")})]},
        "PlanRequestAccept": obj({
            "instalments": {"type": "integer", "minimum": 1, "maximum": MAX_INSTALMENTS,
                            "description": "equal monthly instalments; default: as requested"},
            "first_date": {**DATE, "description": "the first instalment's due date; default: as requested"},
            "grace_days": {"type": "integer", "minimum": 0, "maximum": MAX_GRACE_DAYS,
                           "description": f"default {DEFAULT_GRACE_DAYS}"},
        }, required=[], closed=True),
        "PlanRequestDecline": obj({"reason": {"type": "string", "minLength": 1, "maxLength": 500,
                                              "description": "told to the customer"}}, closed=True),
    }


def _plan_request_paths() -> dict[str, dict[str, Schema]]:
    viewer, collector = Role.VIEWER, Role.COLLECTOR
    return {
        "/plan-requests": {"get": operation(
            "collections", "Payment plan requests from the portal by status, newest first", viewer,
            ("200", _json("A page", _page("PlanRequest"))),
            params=[query("status", "default `pending`",
                          {"type": "string", "enum": [s.value for s in PlanRequestStatus]}), *PAGING])},
        "/plan-requests/{request_id}": {"get": operation(
            "collections", "One payment plan request", viewer, ("200", _json("The request", ref("PlanRequest"))),
            params=[PLAN_REQUEST_ID])},
        "/plan-requests/{request_id}/accept": {"post": operation(
            "collections", "Accept a plan request: the plan is made as by POST /customers/{id}/payment-plans",
            collector, ("200", _json("The request and its plan", ref("PlanRequestAcceptance"))),
            params=[PLAN_REQUEST_ID], body=ref("PlanRequestAccept"), body_required=False, errors=("409", "422"),
            description="The body may change the count of instalments and the first date. Closes the request's "
                        "task; the customer is told by email (once). Accepting again answers the same; 409 "
                        "`plan_request_decided` when it was declined.")},
        "/plan-requests/{request_id}/decline": {"post": operation(
            "collections", "Decline a plan request with a reason the customer is told by email", collector,
            ("200", _json("The request", ref("PlanRequest"))), params=[PLAN_REQUEST_ID],
            body=ref("PlanRequestDecline"), errors=("409", "422"),
            description="Closes the request's task. 409 `plan_request_decided` when it was accepted.")},
    }


PAGE_EXTENSION = "x-dunwell-page"
PAGE_AUTH = ("An HTML page for a browser (chalicelib/api/pages.py). Signed in by the session cookie that "
             "`POST /signin` sets (only the pages read it; the JSON API never does), or a bearer key. Every answer "
             "carries `Cache-Control: no-store`, `Referrer-Policy: no-referrer`, `X-Content-Type-Options: nosniff` "
             "and a Content-Security-Policy without scripts or external assets.")


def _html(description: str) -> Schema:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


def _redirect(description: str) -> Schema:
    return {"description": description, "headers": {"Location": {"schema": STRING}}}


def _page_op(summary: str, role: Role | None, ok: tuple[str, Schema], *, params: list[Schema] | None = None,
             form: Schema | None = None, errors: dict[str, str], description: str = "") -> Schema:
    op: Schema = {"tags": ["pages"], "summary": summary, ROLE_EXTENSION: role.label if role else None,
                  PAGE_EXTENSION: True, "description": " ".join(filter(None, (description, PAGE_AUTH)))}
    op["security"] = [{"session": []}, {"bearer": []}] if role is not None else []
    if params:
        op["parameters"] = params
    if form is not None:
        op["requestBody"] = {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": form}}}
    op["responses"] = {ok[0]: ok[1], **{status: _redirect(text) if status.startswith("3") else _html(text)
                                        for status, text in sorted(errors.items())}}
    return op


def _pages() -> dict[str, dict[str, Schema]]:
    """The staff's HTML pages: sign-in, sign-out, the dashboard."""
    csrf = {"type": "string", "description": "the token in the form's hidden field"}
    form_errors = {"400": "The form could not be read", "413": "The form is too large",
                   "415": "Not a form (`application/x-www-form-urlencoded`)"}
    return {
        "/signin": {
            "get": _page_op(
                "The sign-in form", None, ("200", _html("The form; sets the short-lived pre-session cookie "
                                                        "`__Host-dunwell_signin` its CSRF token is bound to")),
                params=[query("signed_out", "`1`: say that the browser was signed out")],
                errors={"400": "An unknown query parameter (an API key is never taken from a URL)"},
                description="A browser signed in already is sent on to the dashboard (303)."),
            "post": _page_op(
                "Sign in with an API key", None,
                ("303", _redirect("Signed in: the session cookie `__Host-dunwell_session` (30 minutes, HttpOnly, "
                                  "Secure, SameSite=Strict, Path=/) is set and the browser goes to "
                                  "/reports/dashboard")),
                form=obj({"api_key": {"type": "string", "description": "an API key, `dwk_...`", "maxLength": 200},
                          "csrf_token": csrf}, closed=True),
                errors={**form_errors, "401": "The key is unknown or revoked: the form again, saying so",
                        "403": "A cross-site request, or the form's CSRF token does not match its cookie",
                        "429": "Too many failed sign-ins from this address (Retry-After says how long to wait)"},
                description="The same keys and roles as the API. The key is checked like a bearer key; revoking "
                            "it ends its sessions at once (every page checks the key again)."),
        },
        "/signout": {"post": _page_op(
            "Sign out", None, ("303", _redirect("The session cookie is cleared; the browser goes to the sign-in "
                                                "page")),
            form=obj({"csrf_token": csrf}, closed=True),
            errors={**form_errors, "403": "The CSRF token does not belong to this session, or a cross-site request"},
            description="Needs the page's CSRF token. Revoke the key (DELETE /api-keys/{key_id}) to end every "
                        "session of it.")},
        "/reports/dashboard": {"get": _page_op(
            "The collections dashboard", Role.VIEWER,
            ("200", _html("Aging, DSO / best possible DSO / ADD over 12 months, CEI by month, the 13-week forecast "
                          "against actuals, the largest overdue customers with their risk band and disputes by "
                          "age, as inline SVG charts with a data table each; a figure without a source or data "
                          "says so")),
            params=[query("as_of", "the figures at the end of this day (default: today in SELLER_TIMEZONE)", DATE),
                    query("currency", "ISO 4217 (default: REPORTING_CURRENCY)", CURRENCY)],
            errors={"303": "Not signed in: the browser goes to /signin", "400": "A bad `as_of` or `currency`, or "
                    "an unknown parameter", "401": "A bearer key that is unknown or revoked"})},
    }


PORTAL_AUTH = ("A page of the customer portal (chalicelib/api/portal.py) for the customer's browser, not for staff: "
               "signed in by the portal session cookie `__Host-dunwell_portal` that opening a personal link sets "
               "(HttpOnly, Secure, SameSite=Lax, 30 minutes idle), never by an API key. Without a session a GET goes "
               "to /portal/expired (303) and a POST is 403. Every form carries a CSRF token. Every answer: "
               "`Cache-Control: no-store`, `Referrer-Policy: no-referrer`, `X-Robots-Tag: noindex`, a CSP without "
               "scripts, third-party origins or framing. Another customer's invoice id is 404, like an unknown one.")


def _portal_op(summary: str, ok: tuple[str, Schema], *, params: list[Schema] | None = None,
               form: Schema | None = None, errors: dict[str, str] | None = None, description: str = "") -> Schema:
    op = _page_op(summary, None, ok, params=params, form=form, errors={
        "303": "No portal session (or it ended): the browser goes to /portal/expired", **(errors or {})},
        description=description)
    op["description"] = " ".join(filter(None, (description, PORTAL_AUTH)))
    op["tags"] = ["portal"]
    return op


def _portal_pages() -> dict[str, dict[str, Schema]]:
    """The customer portal's HTML pages (issue 13)."""
    invoice = path_param("invoice_id", "the invoice's id (another customer's: 404)")
    csrf = {"type": "string", "description": "the token in the form's hidden field"}
    step = {"type": "string", "enum": ["review", "confirm", "edit"],
            "description": "`review` shows what will be sent, `confirm` sends it, `edit` goes back to the form"}
    ids = {"type": "array", "items": {"type": "string"}, "description": "invoice ids (checkboxes `invoice`)"}
    posted = {"400": "A field is wrong: the form again, each error linked to its field", "403": "The CSRF token "
              "does not match the session, or a cross-site post", "404": "An invoice that is not this customer's",
              "413": "The form is too large", "415": "Not a form", "429": "Too many actions (Retry-After)"}
    form_of: dict[str, Schema] = {"csrf_token": csrf, "step": step}
    form_page = {"400": "An unknown query parameter", "404": "An invoice that is not this customer's"}
    return {
        "/portal/open/{token}": {"get": _page_op(
            "Open a personal link", None, ("303", _redirect("A valid link: the session cookie is set and the browser "
                                                             "goes to /portal (the token is in no later URL)")),
            params=[path_param("token", "the link's token (43 characters, base64url)")],
            errors={"404": "An unknown, expired or revoked link: the page that offers a fresh link by email",
                    "429": "Too many link opens from this address"},
            description="Opening never uses a link up (mail scanners open links first). " + PORTAL_AUTH)},
        "/p/{token}": {"get": _page_op(
            "A personal link's short form (SMS)", None, ("303", _redirect("To /portal/open/{token}")),
            params=[path_param("token", "the link's token")], errors={},
            description="The SMS carries this shorter URL. " + PORTAL_AUTH)},
        "/portal/expired": {"get": _page_op(
            "The expired-link page", None, ("200", _html("Offers to email a fresh link to the addresses on file; "
                                                          "sets the form cookie its CSRF token is bound to")),
            params=[query("signed_out", "`1`: say that the browser was signed out")],
            errors={"400": "An unknown query parameter"}, description=PORTAL_AUTH)},
        "/portal/resend": {"post": _page_op(
            "Email me a fresh link", None, ("200", _html("The same answer whether or not the address is known")),
            form=obj({"csrf_token": csrf, "token": {"type": "string", "description": "the old link's token, if any"},
                      "email": {"type": "string", "description": "an address (optional)"}}, closed=True),
            errors={"400": "Not an email address", "403": "The form cookie and its token do not match",
                    "429": "Too many requests from this address or overall (Retry-After)", "413": "Too large",
                    "415": "Not a form"},
            description="Sends only to addresses on file for the customer (PortalLinks.resend). "
                        + PORTAL_AUTH)},
        "/portal/signout": {"post": _portal_op(
            "Sign out of the portal", ("303", _redirect("The session cookie is cleared; to /portal/expired?"
                                                         "signed_out=1")),
            form=obj({"csrf_token": csrf}, closed=True),
            errors={"403": "No session, or the CSRF token does not match", "415": "Not a form"})},
        "/portal": {"get": _portal_op(
            "The statement of account", ("200", _html("Open invoices (number, due date, days overdue, amount, "
                                                       "status, early-payment offer), totals per currency, credits, "
                                                       "recent payments")),
            params=[query("done", "what was just done, to say so: dispute, promise, plan, paid, cancelled")],
            errors={"400": "An unknown query parameter"})},
        "/portal/invoices/{invoice_id}": {"get": _portal_op(
            "An invoice", ("200", _html("Details, the early-payment offer, what was sent and when, the PDF link")),
            params=[invoice, query("done", "`dispute`: say that the dispute was sent")],
            errors={"400": "An unknown query parameter", "404": "Not this customer's invoice"})},
        "/portal/invoices/{invoice_id}/pdf": {"get": _portal_op(
            "The invoice as PDF", ("200", {"description": "The invoice (the ERP's original, else Dunwell's "
                                                         "rendering) as an attachment",
                                           "content": {"application/pdf": {"schema": STRING}}}),
            params=[invoice], errors={"404": "Not this customer's invoice", "429": "Too many downloads"})},
        "/portal/invoices/{invoice_id}/dispute": {
            "get": _portal_op("The dispute form", ("200", _html("Reason, amount (part of the invoice), comment")),
                              params=[invoice], errors={"400": "An unknown query parameter",
                                                        "404": "Not this customer's open invoice"}),
            "post": _portal_op(
                "Dispute an invoice (review, then confirm)",
                ("200", _html("The review step (nothing sent yet), or the form again on `edit`")),
                params=[invoice],
                form=obj({**form_of, "reason": {"type": "string", "description": "a reason code of POST "
                                                "/invoices/{invoice_id}/disputes"},
                          "amount": {"type": "string", "description": "the disputed part, in the customer's "
                                     "notation (empty: the whole invoice)"},
                          "comment": {"type": "string", "maxLength": 2000}}, closed=True),
                errors={**posted, "303": "Confirmed: the dispute is opened (actor portal:<email>) and the browser "
                                         "goes to the invoice page"})},
        "/portal/promise": {
            "get": _portal_op("The promise-to-pay form", ("200", _html("Invoices, date (at most 90 days ahead), "
                                                                        "amount")), errors=form_page),
            "post": _portal_op(
                "Promise to pay (review, then confirm)", ("200", _html("The review step, or the form on `edit`")),
                form=obj({**form_of, "invoice": ids, "date": {"type": "string", "format": "date"},
                          "amount": {"type": "string", "description": "empty: everything open on them"}},
                         closed=True),
                errors={**posted, "303": "Confirmed: the promise is recorded; the browser goes to /portal"})},
        "/portal/plan": {
            "get": _portal_op("The payment-plan request form", ("200", _html("Invoices, instalments, first date")),
                              errors=form_page),
            "post": _portal_op(
                "Ask for a payment plan (review, then confirm)", ("200", _html("The review step, or the form")),
                form=obj({**form_of, "invoice": ids, "instalments": {"type": "string", "description": "2 to 36"},
                          "first_date": {"type": "string", "format": "date"}}, closed=True),
                errors={**posted, "303": "Confirmed: the request is stored with a collector task; to /portal"})},
        "/portal/pay": {
            "get": _portal_op(
                "How to pay", ("200", _html("Per invoice the amount to pay now (discounted inside the window), the "
                                             "bank details with the RF reference and, for EUR, an EPC QR code; "
                                             "\"Pay now\" by card where Stripe is set up")),
                params=[query("invoice", "an invoice id (repeatable); default: every open invoice")],
                errors={"400": "An unknown query parameter", "404": "Not this customer's invoice"}),
            "post": _portal_op(
                "Pay by card", ("200", _html("A Stripe Checkout Session was created: the page links to it (a "
                                              "form posts only to this site)")),
                form=obj({"csrf_token": csrf, "invoice": ids}, closed=True),
                errors={**posted, "409": "The card processor refused or could not be reached"})},
    }


# ---------------------------------------------------------------------------------------------- portal links


def _portal_link_schemas() -> dict[str, Schema]:
    return {
        "PortalLinksSent": obj({"customer_id": STRING, "sent": {"type": "integer", "minimum": 0, "description":
                                "contacts mailed a fresh link now (0: none reachable by email, or sent within "
                                "the same minute already)"}}, ["customer_id", "sent"]),
        "PortalLinksRevoked": obj({"customer_id": STRING, "revoked": {"type": "integer", "minimum": 0,
                                   "description": "links that were still valid"}}, ["customer_id", "revoked"]),
    }


def _portal_link_paths() -> dict[str, dict[str, Schema]]:
    """Staff routes of the personal portal links (chalicelib/api/portal_links.py)."""
    collector = Role.COLLECTOR
    return {"/customers/{customer_id}/portal-links": {
        "post": operation(
            "customers", "Mail the customer's contacts a fresh personal portal link", collector,
            ("200", _json("How many went out", ref("PortalLinksSent"))), params=[CUSTOMER_ID], errors=("429",),
            description="One link per contact with an email address that has not bounced, valid PORTAL_LINK_DAYS "
                        "days (default 45), under PUBLIC_BASE_URL (403 `not_configured` without it). Earlier "
                        "links stay valid. Audited (`portal.link_sent`). At most 10 requests per customer and "
                        "hour (429 with Retry-After); a repeat within the same minute sends nothing."),
        "delete": operation(
            "customers", "Revoke every personal portal link of the customer", collector,
            ("200", _json("How many were valid", ref("PortalLinksRevoked"))), params=[CUSTOMER_ID],
            description="Takes effect at once: every link of the customer stops opening, and every portal "
                        "session opened from one ends at its next request. Audited (`portal.links_revoked`). "
                        "Links minted afterwards work."),
    }}


@cache
def _document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Dunwell",
            "version": "1",
            "summary": "B2B accounts-receivable collections",
            "description": "Amounts are strings with exactly the currency's ISO 4217 decimals, next to their "
                           "`currency`; dates are `YYYY-MM-DD`. Lists return `{items, next_cursor}`. Roles are "
                           "ordered viewer < collector < admin; `x-dunwell-role` names the one an operation needs.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "tags": [{"name": t} for t in ("invoices", "customers", "imports", "payments", "policies", "dunning",
                                       "collections", "accounts", "api-keys", "webhooks", "health", "reports",
                                       "pages", "portal", "letters")],
        "paths": {**_paths(), **_report_paths(), **_pages(), **_plan_request_paths(), **_portal_link_paths(),
                  **_portal_pages(), **_letter_paths()},
        "components": {
            "schemas": {**_schemas(), **_report_schemas(), **_plan_request_schemas(), **_portal_link_schemas(),
                        **_letter_schemas()},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "dwk_<id>_<secret>",
                                           "description": "an API key: `Authorization: Bearer dwk_...`"},
                                "session": {"type": "apiKey", "in": "cookie", "name": "__Host-dunwell_session",
                                            "description": "the browser session `POST /signin` sets; read by the "
                                                           "HTML pages only, never by the JSON API"}},
        },
    }


def document(base_path: str = "") -> dict[str, Any]:
    """The document; `base_path` is where the API is mounted (API Gateway's stage, e.g. `/api`)."""
    doc = copy.deepcopy(_document())
    # Not cached with the rest: the processor registry can grow after the first call (a test's processor).
    doc["paths"].update(_webhooks())
    doc["servers"] = [{"url": base_path or "/"}]
    return doc


@blueprint.route("/openapi.json", methods=["GET"])
@endpoint(blueprint, role=None)
def openapi_json() -> dict[str, Any]:
    context = blueprint.current_request.context or {}
    path = str(context.get("path") or "")
    suffix = "/openapi.json"
    return document(path[: -len(suffix)] if path.endswith(suffix) else "")


# ---- letters for the post (chalicelib/api/letters.py) ----------------------------------------------------------

LETTER_ID = path_param("letter_id", "a letter", r"^ltr-[0-9a-f]{20}$")


def _letter_schemas() -> dict[str, Schema]:
    from chalicelib.domain.letters import LETTER_STATUSES

    return {
        "Letter": obj({
            "id": STRING, "status": {"type": "string", "enum": list(LETTER_STATUSES)}, "customer_id": STRING,
            "customer_name": STRING, "invoice_ids": {"type": "array", "items": STRING},
            "invoice_numbers": {"type": "array", "items": STRING}, "steps": {"type": "array", "items": STRING},
            "language": STRING, "subject": STRING, "letter_date": DATE, "created_at": DATE_TIME,
            "pages": INTEGER, "posted_at": NULLABLE_DATE_TIME, "posted_by": TEXT,
            "pdf": {**STRING, "description": "the path of the PDF: GET /letters/{letter_id}/pdf"}, "version": INTEGER,
        }, description="A dunning letter for the post: made by a policy step with the `letter` channel."),
        "AgencyLetter": obj({
            "letter_id": STRING, "key": {**STRING, "description": "the PDF in the bucket"}, "pdf": STRING,
            "step": TEXT, "queued_at": NULLABLE_DATE_TIME, "posted_at": NULLABLE_DATE_TIME, "posted_by": TEXT,
        }, description="A letter sent by post about the invoice."),
    }


def _letter_paths() -> dict[str, dict[str, Schema]]:
    from chalicelib.domain.letters import LETTER_STATUSES

    viewer, collector = Role.VIEWER, Role.COLLECTOR
    return {
        "/letters": {"get": operation(
            "letters", "Letters for the post, oldest first: the print queue", viewer,
            ("200", _json("A page", _page("Letter"))),
            params=[query("status", "default `to_print`", {"type": "string", "enum": list(LETTER_STATUSES)}),
                    *PAGING])},
        "/letters/{letter_id}": {"get": operation("letters", "One letter", viewer,
                                                  ("200", _json("The letter", ref("Letter"))), params=[LETTER_ID])},
        "/letters/{letter_id}/pdf": {"get": operation(
            "letters", "The letter as a print-ready PDF (A4, DIN 5008 form B: C5/C6 or DL window envelope)",
            viewer, ("200", {"description": "Binary: send Accept: application/pdf or */*.",
                             "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}),
            params=[LETTER_ID])},
        "/customers/{customer_id}/statement.pdf": {"get": operation(
            "letters", "The statement of account as a PDF, in the customer's language", viewer,
            ("200", {"description": "Open invoices with days overdue and RF references, unapplied credit notes, "
                                    "recent payments, totals per currency, early-payment offers, bank details; a "
                                    "DIN 5008 letter. Binary: send Accept: application/pdf or */*.",
                     "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}}),
            params=[CUSTOMER_ID, query("as_of", "the day the statement speaks for (default: today)", DATE)])},
        "/letters/{letter_id}/posted": {"post": operation(
            "letters", "Mark a letter as put in the post (letter.posted on its invoices' timelines)", collector,
            ("200", _json("The letter; marked before, as it is", ref("Letter"))), params=[LETTER_ID])},
    }
