"""Payment plans in DynamoDB. Making, ending or recording on a plan is one TransactWriteItems with the invoices it
takes off (or puts back on) the ladder and the audit events, so an invoice is never held by a plan that was not
recorded, nor left held by one that ended."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from chalicelib.adapters.dynamo import (
    action_key,
    at_version,
    get_mapped,
    next_action_at,
    save_with_invoices,
    time_key,
)
from chalicelib.adapters.models import PaymentPlanModel
from chalicelib.domain.invoice import Invoice
from chalicelib.domain.money import Money
from chalicelib.domain.plans import Instalment, PaymentPlan, PlanInvoice, PlanStatus
from chalicelib.services.ports import AuditEvent

DUE_SHARD = "due"


def plan_to_model(plan: PaymentPlan) -> PaymentPlanModel:
    model = PaymentPlanModel(
        plan_id=plan.plan_id,
        customer_id=plan.customer_id,
        status=plan.status.value,
        created_key=time_key(plan.created_at, plan.plan_id),
        currency=plan.currency,
        grace_days=plan.grace_days,
        invoices=[{"invoice_id": i.invoice_id, "number": i.number, "balance_minor": i.balance.minor,
                   "paid_minor": i.paid.minor, "reduced_minor": i.reduced.minor} for i in plan.invoices],
        instalments=[{"number": i.number, "due_date": i.due_date.isoformat(), "amount_minor": i.amount.minor}
                     for i in plan.instalments],
        note=plan.note,
        reminders_sent=sorted(plan.reminders_sent) or None,
        created_at=plan.created_at,
        created_by=plan.created_by,
        ended_at=plan.ended_at,
        ended_by=plan.ended_by,
        end_reason=plan.end_reason,
    )
    if plan.status is PlanStatus.ACTIVE and plan.next_action_at is not None:
        model.due_shard = DUE_SHARD
        model.next_action_key = action_key(plan.next_action_at, plan.plan_id)
    return at_version(model, plan.version)


def model_to_plan(m: PaymentPlanModel) -> PaymentPlan:
    def money(minor: Any) -> Money:
        return Money.from_minor(int(minor), m.currency)

    return PaymentPlan(
        plan_id=m.plan_id,
        customer_id=m.customer_id,
        currency=m.currency,
        invoices=tuple(PlanInvoice(r["invoice_id"], r["number"], money(r["balance_minor"]), money(r["paid_minor"]),
                                   money(r["reduced_minor"])) for r in m.invoices),
        instalments=tuple(Instalment(int(r["number"]), date.fromisoformat(r["due_date"]), money(r["amount_minor"]))
                          for r in m.instalments),
        grace_days=int(m.grace_days),
        created_at=m.created_at,
        created_by=m.created_by,
        note=m.note,
        status=PlanStatus(m.status),
        reminders_sent=frozenset(m.reminders_sent or ()),
        next_action_at=next_action_at(m.next_action_key),
        ended_at=m.ended_at,
        ended_by=m.ended_by,
        end_reason=m.end_reason,
        version=int(m.version or 0),
    )


class DynamoPlans:
    def get(self, plan_id: str) -> PaymentPlan | None:
        return get_mapped(PaymentPlanModel, plan_id, model_to_plan)

    def save(self, plan: PaymentPlan, invoices: Sequence[Invoice], events: Sequence[AuditEvent],
             now: datetime) -> tuple[PaymentPlan, list[Invoice]]:
        """The plan (new when its version is 0, else at that version), the invoices (each at its version) and
        the events, all or nothing; VersionConflict when any of them changed since it was read."""
        model = plan_to_model(plan)
        saved = save_with_invoices(model, invoices, events, now, f"payment plan {plan.plan_id}")
        return model_to_plan(model), saved

    def for_customer(self, customer_id: str, limit: int, cursor: dict[str, Any] | None
                     ) -> tuple[list[PaymentPlan], dict[str, Any] | None]:
        result = PaymentPlanModel.by_customer.query(customer_id, scan_index_forward=False, limit=limit,
                                                    last_evaluated_key=cursor)
        return [model_to_plan(m) for m in result], result.last_evaluated_key

    def by_status(self, status: str, limit: int, cursor: dict[str, Any] | None
                  ) -> tuple[list[PaymentPlan], dict[str, Any] | None]:
        result = PaymentPlanModel.by_status.query(status, scan_index_forward=False, limit=limit,
                                                  last_evaluated_key=cursor)
        return [model_to_plan(m) for m in result], result.last_evaluated_key

    def due(self, until: datetime, limit: int) -> list[PaymentPlan]:
        """Active plans whose next look is at or before `until`, earliest first."""
        bound = action_key(until, "\uffff")
        return [model_to_plan(m) for m in PaymentPlanModel.due_for_action.query(
            DUE_SHARD, PaymentPlanModel.next_action_key <= bound, limit=limit, page_size=min(limit, 500))]
