"""How domain objects look in the API: amounts as strings next to their currency, ISO dates."""

from __future__ import annotations

from datetime import date
from typing import Any

from chalicelib.domain.customer import Customer
from chalicelib.domain.invoice import Invoice
from chalicelib.domain.money import Money
from chalicelib.domain.payments import PaymentRecord
from chalicelib.services.ports import ImportRecord


def money_map(amounts: dict[str, Money]) -> list[dict[str, str]]:
    return [{"currency": code, "amount": amounts[code].to_api()} for code in sorted(amounts)]


def invoice_view(invoice: Invoice, today: date) -> dict[str, Any]:
    overdue = invoice.is_overdue(today)
    return {
        "id": invoice.invoice_id,
        "number": invoice.number,
        "customer_id": invoice.customer_id,
        "currency": invoice.currency,
        "total": invoice.total.to_api(),
        "balance": invoice.balance.to_api(),
        "paid": invoice.paid.to_api(),
        "paid_in_erp": invoice.paid_in_source.to_api(),
        "credited": invoice.credited.to_api(),
        "written_off": invoice.written_off.to_api(),
        "discounted": invoice.discounted.to_api(),
        "delivered_at": invoice.delivered_at.isoformat() if invoice.delivered_at else None,
        "issue_date": invoice.issue_date.isoformat(),
        "due_date": invoice.due_date.isoformat(),
        "status": invoice.status.value,
        "overdue": overdue,
        "days_overdue": (today - invoice.due_date).days if overdue else 0,
        "buyer_reference": invoice.buyer_reference,
        "charged": invoice.charged.to_api(),
        "charges": [c.to_dict() for c in invoice.charges],
        "reminders_sent": sorted(invoice.reminders_sent),
        "next_action_at": invoice.next_action_at.isoformat() if invoice.next_action_at else None,
        "promised_until": invoice.promised_until.isoformat() if invoice.promised_until else None,
        "promised_amount": invoice.promised_amount.to_api() if invoice.promised_amount is not None else None,
        "broken_promise": invoice.broken_promise.isoformat() if invoice.broken_promise else None,
        "dispute_id": invoice.dispute_id,
        "disputed_amount": (invoice.disputed_open.to_api()
                            if invoice.disputed or invoice.disputed_amount is not None else None),
        "undisputed_balance": invoice.undisputed_balance.to_api(),
        "in_payment_plan": invoice.in_plan,
        "payment_plan_id": invoice.plan_id,
        "version": invoice.version,
    }


def customer_view(customer: Customer) -> dict[str, Any]:
    return {
        "id": customer.customer_id,
        **customer.to_dict(),
        "credit_limit_currency": customer.credit_limit.currency if customer.credit_limit else None,
    }


def import_view(record: ImportRecord, detail: bool = False) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": record.import_id,
        "status": record.status,
        "source_key": record.source_key,
        "destination_key": record.destination_key,
        "report_key": record.report_key,
        "format": record.format,
        "mapping": record.mapping,
        "size_bytes": record.size_bytes,
        "started_at": record.started_at.isoformat(),
        "finished_at": record.finished_at.isoformat() if record.finished_at else None,
        "reason": record.reason,
        "counts": record.counts,
    }
    if detail:
        view["rejected_rows"] = record.rejected_sample
        view["rejected_rows_complete"] = record.counts.get("rejected_rows", 0) <= len(record.rejected_sample)
    return view


def payment_view(payment: PaymentRecord) -> dict[str, Any]:
    return {
        "id": payment.payment_id,
        "kind": payment.kind.value,
        "status": payment.status.value,
        "provider": payment.provider,
        "provider_reference": payment.payment_ref,
        "currency": payment.amount.currency,
        "amount": payment.amount.to_api(),
        "allocated": payment.allocated.to_api(),
        "unapplied": payment.unapplied.to_api(),
        "reversed": payment.reversed_amount.to_api(),
        "allocations": [{"invoice_id": a.invoice_id, "number": a.number, "amount": a.amount.to_api()}
                        for a in payment.allocations],
        "customer_id": payment.customer_id,
        "match": payment.method,
        "reason": payment.reason,
        "references": list(payment.references),
        "payer_name": payment.payer_name,
        "payer_email": payment.payer_email,
        "reverses": payment.original_ref,
        "occurred_at": payment.occurred_at.isoformat(),
        "recorded_at": payment.recorded_at.isoformat(),
        "recorded_by": payment.recorded_by,
        "version": payment.version,
        "initiated_on": payment.initiated_on.isoformat() if payment.initiated_on else None,
    }
