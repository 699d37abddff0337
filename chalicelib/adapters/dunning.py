"""AWS behind the dunning sweep: the due_for_action index, message claims, tasks, the audit trail read back,
dunning settings, SES and SNS sending, and Powertools metrics."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid
from typing import Any

from botocore.exceptions import ClientError
from pynamodb.exceptions import DeleteError, PutError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from chalicelib.adapters.dynamo import (
    DUNNING_SHARDS,
    action_key,
    at_version,
    failed_conditions,
    invoice_to_model,
    is_conditional_failure,
    model_to_invoice,
    save_with_event,
    time_key,
)
from chalicelib.adapters.models import (
    DunningMessageModel,
    EventModel,
    InvoiceModel,
    PaymentPlanModel,
    PolicyModel,
    TaskModel,
    transaction_connection,
)
from chalicelib.domain.dunning.charges import RateTable
from chalicelib.domain.invoice import Invoice, InvoiceStatus
from chalicelib.domain.plans import PlanStatus
from chalicelib.services.ports import (
    MAX_CATCH_UP_DAYS,
    AlreadyClaimed,
    AuditEvent,
    Claim,
    Claimed,
    DunningSettings,
    InvoicesChanged,
    OutgoingEmail,
    SendFailed,
    Task,
    VersionConflict,
    WorkItem,
)

SETTINGS_ID = "#dunning-settings"  # not a valid policy id, so it never collides with a policy
CLAIM_RETENTION = timedelta(days=400)


class DynamoDueInvoices:
    def due_for_action(self, until: datetime, limit: int) -> list[Invoice]:
        """The invoices whose next action is at or before `until`, earliest first, from every shard."""
        bound = action_key(until, "\uffff")
        found: list[tuple[str, Invoice]] = []
        for shard in range(DUNNING_SHARDS):
            for m in InvoiceModel.due_for_action.query(f"due#{shard}", InvoiceModel.next_action_key <= bound,
                                                       limit=limit, page_size=min(limit, 500)):
                found.append((m.next_action_key, model_to_invoice(m)))
        found.sort(key=lambda pair: pair[0])
        return [invoice for _key, invoice in found[:limit]]


def _claim_from_model(m: DunningMessageModel) -> Claim:
    return Claim(m.message_key, m.customer_id, m.channel, date.fromisoformat(m.local_date), m.run_id,
                 list(m.lines or []), status=m.status, lease_until=m.lease_until, destination=m.destination,
                 provider_message_id=m.provider_message_id, recorded=bool(m.recorded))


CHASEABLE = [InvoiceStatus.OPEN.value, InvoiceStatus.PARTIALLY_PAID.value]
MAX_CHECKED_LINES = 99  # TransactWriteItems takes 100 items: the claim and 99 invoice checks


class DynamoClaims:
    def claim(self, claim: Claim, now: datetime) -> Claimed | AlreadyClaimed:
        """One transaction: the claim (unless one exists) and, for each invoice in it, a check that it is still
        chaseable right now (not paid, disputed, written off, void, promised or in a plan). The sweep read the
        invoices earlier; a payment that landed since then makes the claim fail instead of a reminder go out."""
        assert claim.lease_until is not None
        model = DunningMessageModel(
            message_key=claim.message_key, status="sending", customer_id=claim.customer_id, channel=claim.channel,
            local_date=claim.local_date.isoformat(), run_id=claim.run_id, lease_until=claim.lease_until,
            lines=claim.lines, claimed_at=now, recorded=False,
            expires_at=int((now + CLAIM_RETENTION).timestamp()))
        # A plan's instalment reminder (a line with a plan_id) checks that the plan is still active instead.
        checked = [line["invoice_id"] for line in claim.lines if "invoice_id" in line][:MAX_CHECKED_LINES]
        plans = list(dict.fromkeys(line["plan_id"] for line in claim.lines if "invoice_id" not in line))
        today = claim.local_date.isoformat()
        chaseable = (InvoiceModel.status.is_in(*CHASEABLE)
                     & (InvoiceModel.in_plan.does_not_exist() | (InvoiceModel.in_plan == False))  # noqa: E712
                     & (InvoiceModel.promised_until.does_not_exist() | (InvoiceModel.promised_until < today)))
        try:
            with TransactWrite(connection=transaction_connection()) as transaction:
                for invoice_id in checked:
                    transaction.condition_check(InvoiceModel, invoice_id, condition=chaseable)
                for plan_id in plans:
                    transaction.condition_check(PaymentPlanModel, plan_id,
                                                condition=PaymentPlanModel.status == PlanStatus.ACTIVE.value)
                transaction.save(model, condition=DunningMessageModel.message_key.does_not_exist())
            return Claimed(claim)
        except TransactWriteError as exc:
            failed = failed_conditions(exc)
            if not any(failed):
                raise
            changed = [key for key, bad in zip(checked + plans, failed, strict=False) if bad]
            if changed:
                raise InvoicesChanged(changed) from exc
        return AlreadyClaimed(_claim_from_model(DunningMessageModel.get(claim.message_key, consistent_read=True)))

    def take_over(self, claim: Claim, run_id: str, now: datetime) -> bool:
        """Only one run may act on a stuck claim: the one whose conditional update lands."""
        try:
            DunningMessageModel(message_key=claim.message_key).update(
                actions=[DunningMessageModel.run_id.set(run_id)],
                condition=(DunningMessageModel.run_id == claim.run_id) & (DunningMessageModel.status == "sending"))
            return True
        except UpdateError as exc:
            if is_conditional_failure(exc):
                return False
            raise

    def mark_sent(self, claim: Claim, provider_message_id: str, destination: str, now: datetime) -> None:
        DunningMessageModel(message_key=claim.message_key).update(actions=[
            DunningMessageModel.status.set("sent"), DunningMessageModel.provider_message_id.set(provider_message_id),
            DunningMessageModel.destination.set(destination), DunningMessageModel.sent_at.set(now)])

    def mark(self, claim: Claim, status: str, recorded: bool) -> None:
        DunningMessageModel(message_key=claim.message_key).update(actions=[
            DunningMessageModel.status.set(status), DunningMessageModel.recorded.set(recorded)])

    def release(self, claim: Claim) -> None:
        try:
            DunningMessageModel(message_key=claim.message_key).delete(
                condition=(DunningMessageModel.run_id == claim.run_id) & (DunningMessageModel.status == "sending"))
        except DeleteError as exc:
            if not is_conditional_failure(exc):
                raise


def _task_from_model(m: TaskModel) -> Task:
    return Task(m.task_id, m.kind, m.title, m.customer_id, m.invoice_id, dict(m.detail or {}), m.created_at,
                m.created_by, m.status, m.completed_at, m.completed_by)


def _task_entity(task: Task) -> str:
    """Whose timeline a task's events go on: its invoice's, else its customer's, else its own."""
    if task.invoice_id:
        return f"invoice#{task.invoice_id}"
    return f"customer#{task.customer_id}" if task.customer_id else f"task#{task.task_id}"


def _task_model(task: Task) -> TaskModel:
    return TaskModel(task_id=task.task_id, status="open",
                     created_key=time_key(task.created_at, task.task_id),
                     kind=task.kind, title=task.title[:500], customer_id=task.customer_id,
                     invoice_id=task.invoice_id, detail=task.detail, created_at=task.created_at,
                     created_by=task.created_by)


class DynamoTasks:
    def create(self, task: Task) -> Task:
        """A task a person opens, with its audit event (`task.opened`) in the same transaction."""
        event = AuditEvent(_task_entity(task), "task.opened", task.created_by, task.created_at, task.task_id,
                           {"task_id": task.task_id, "kind": task.kind, "title": task.title, **task.detail})
        save_with_event(_task_model(task), event, task.task_id)
        return task

    def open(self, task: Task) -> bool:
        model = _task_model(task)
        try:
            model.save(condition=TaskModel.task_id.does_not_exist())
            return True
        except PutError as exc:
            if is_conditional_failure(exc):
                return False
            raise

    def get(self, task_id: str) -> Task | None:
        try:
            return _task_from_model(TaskModel.get(task_id, consistent_read=True))
        except TaskModel.DoesNotExist:
            return None

    def list_open_of_kind(self, kind: str, limit: int, cursor: dict[str, Any] | None
                          ) -> tuple[list[Task], dict[str, Any] | None]:
        """Open tasks of one kind, newest first: reads the open tasks (the work at hand), never the ledger."""
        result = TaskModel.by_status.query("open", scan_index_forward=False, limit=limit, last_evaluated_key=cursor,
                                           filter_condition=TaskModel.kind == kind)
        return [_task_from_model(m) for m in result], result.last_evaluated_key
    def open_for_invoice(self, invoice_id: str) -> list[Task]:
        return [_task_from_model(m) for m in TaskModel.by_invoice.query(invoice_id) if m.status == "open"]

    def list(self, status: str, limit: int, cursor: dict[str, Any] | None) -> tuple[list[Task], dict[str, Any] | None]:
        result = TaskModel.by_status.query(status, scan_index_forward=False, limit=limit,
                                           last_evaluated_key=cursor)
        items = [_task_from_model(m) for m in result]
        return items, result.last_evaluated_key

    def complete(self, task_id: str, actor: str, now: datetime, reason: str | None = None) -> Task | None:
        try:
            m = TaskModel.get(task_id, consistent_read=True)
        except TaskModel.DoesNotExist:
            return None
        if m.status == "done":
            return _task_from_model(m)
        m.status, m.completed_at, m.completed_by = "done", now, actor  # the by_status index moves it to "done"
        task = _task_from_model(m)
        data: dict[str, Any] = {"task_id": task_id, "kind": task.kind, "title": task.title}
        if reason:
            data["reason"] = reason
        try:
            save_with_event(m, AuditEvent(_task_entity(task), "task.completed", actor, now, task_id, data), task_id)
        except VersionConflict:
            # Completed meanwhile (a person and the closer at once; the version check refused the second): as it is.
            current = self.get(task_id)
            if current is None or current.status != "done":
                raise
            return current
        return task


class DynamoHistory:
    def events(self, entity: str) -> list[AuditEvent]:
        return [AuditEvent(m.entity_key, m.type, m.actor, m.at, m.event_key.rsplit("#", 1)[-1], dict(m.data or {}))
                for m in EventModel.query(entity)]


class DynamoDunningSettings:
    """The kill switch and reference rates. Workers read them once per message, so `cached` keeps them for
    CACHE_SECONDS per container (a kill switch reaches running workers within that); the API reads fresh."""

    CACHE_SECONDS = 30.0

    def __init__(self) -> None:
        self._cached: tuple[float, DunningSettings] | None = None

    def cached(self) -> DunningSettings:
        if self._cached is None or time.monotonic() - self._cached[0] >= self.CACHE_SECONDS:
            self._cached = (time.monotonic(), self.get())
        return self._cached[1]

    def get(self) -> DunningSettings:
        try:
            m = PolicyModel.get(SETTINGS_ID, consistent_read=True)
        except PolicyModel.DoesNotExist:
            return DunningSettings()
        document = m.document or {}
        rows = document.get("reference_rates")
        table = RateTable.from_rows(rows) if rows is not None else DunningSettings().rate_table
        by_risk = document.get("policy_by_risk") or {}
        return DunningSettings(bool(document.get("kill_switch", False)), table, int(m.version or 0),
                               int(document.get("max_catch_up_days", MAX_CATCH_UP_DAYS)),
                               {str(k): str(v) for k, v in by_risk.items()})

    def save(self, settings: DunningSettings, event: AuditEvent, actor: str, now: datetime) -> None:
        model = PolicyModel(policy_id=SETTINGS_ID, list_key="settings", document=settings.to_dict(),
                            updated_at=now, updated_by=actor)
        save_with_event(at_version(model, settings.version), event, SETTINGS_ID)
        self._cached = None


_RETRYABLE = {"Throttling", "ThrottlingException", "TooManyRequestsException", "ServiceUnavailable",
              "InternalFailure", "LimitExceededException"}


class SqsWorkQueue:
    """Work messages for the reminder workers: the customer and its due invoices as the sweep read them."""

    def __init__(self, sqs: Any, queue_url: str) -> None:
        self._sqs = sqs
        self.queue_url = queue_url

    def send(self, items: Sequence[WorkItem]) -> int:
        now = datetime.now(UTC)
        sent = 0
        for start in range(0, len(items), 10):
            batch = items[start:start + 10]
            entries = [{"Id": str(i), "MessageBody": json.dumps(encode_work(item, now))}
                       for i, item in enumerate(batch)]
            response = self._sqs.send_message_batch(QueueUrl=self.queue_url, Entries=entries)
            failed = response.get("Failed") or []
            if failed:  # the sweep fails loudly; the invoices stay due, so the next sweep sends them again
                raise RuntimeError(f"SQS refused {len(failed)} work messages: {failed[0].get('Code')}")
            sent += len(batch)
        return sent


def encode_work(item: WorkItem, now: datetime) -> dict[str, Any]:
    return {"run_id": item.run_id, "customer_id": item.customer_id,
            "as_of": item.as_of.isoformat() if item.as_of else None,
            "invoices": [invoice_to_model(invoice, now).serialize() for invoice in item.invoices]}


def decode_work(body: str) -> WorkItem:
    raw = json.loads(body)
    invoices = [model_to_invoice(InvoiceModel.from_raw_data(data)) for data in raw["invoices"]]
    return WorkItem(raw["run_id"], raw["customer_id"], date.fromisoformat(raw["as_of"]) if raw["as_of"] else None,
                    invoices)


class AwsSender:
    """Reminders by SES (a MIME message with a text and an HTML part) and SMS by SNS. Anything the provider
    refuses is a SendFailed: never counted as sent. With `max_send_rate` (messages per second for this worker;
    the account's SES MaxSendRate divided by the workers' concurrency) sends are paced under it.

    Pacing alone cannot keep the account under its rate: other senders share it (payment receipts, plan
    reminders, a run from the API) and workers do not see each other. So a throttled send is tried again
    after the pace's interval, and the interval itself grows (THROTTLED_SLOWDOWN) while SES throttles and
    shrinks back to the configured one (RECOVERY) as sends are accepted: together the workers settle at what
    the account has left, instead of giving up. A send is given up (SendFailed: the claim is released and the
    invoices are looked at again later) only after `retry_for` seconds of refusals."""

    THROTTLED_SLOWDOWN = 1.5
    RECOVERY = 0.95
    MIN_RETRY_INTERVAL = 0.1  # unpaced senders (the local stack, tests) still wait this long after a throttle
    MAX_INTERVAL = 10.0

    def __init__(self, ses: Any, sns: Any, sender: str, sender_name: str, configuration_set: str | None,
                 max_send_rate: float | None = None, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep, retry_for: float = 10.0) -> None:
        self._ses = ses
        self._sns = sns
        self.sender = sender
        self.sender_name = sender_name
        self.configuration_set = configuration_set
        self._base_interval = 1 / max_send_rate if max_send_rate else 0.0
        self._interval = self._base_interval
        self._next_send = 0.0
        # Injected so a simulation can drive pacing and backoff on a fake clock (bench/scale.py).
        self._clock = clock
        self._sleep = sleep
        # Long enough to ride out contention with the other workers and senders (the pace settles within a few
        # sends); short enough that a run from the API (29 s) is not held past its limit by one refused send.
        self.retry_for = retry_for

    def _pace(self) -> None:
        if self._interval:
            wait = self._next_send - self._clock()
            if wait > 0:
                self._sleep(wait)
            self._next_send = max(self._clock(), self._next_send) + self._interval

    def _slow_down(self) -> None:
        self._interval = min(self.MAX_INTERVAL, max(self._interval * self.THROTTLED_SLOWDOWN,
                                                    self._base_interval, self.MIN_RETRY_INTERVAL))
        # The refused send itself waits a whole (new) interval: SES has no token for it now.
        self._next_send = max(self._next_send, self._clock() + self._interval)

    def _speed_up(self) -> None:
        if self._interval > self._base_interval:
            slower = self._interval * self.RECOVERY
            # Unpaced senders drop straight back to no pacing once below the retry floor.
            self._interval = slower if slower > max(self._base_interval, self.MIN_RETRY_INTERVAL) \
                else self._base_interval

    def send_email(self, email: OutgoingEmail) -> str:
        message = EmailMessage()
        message["From"] = formataddr((self.sender_name, self.sender))
        message["To"] = email.to
        message["Subject"] = email.subject
        message["Date"] = formatdate(usegmt=True)  # RFC 5322 requires it; not every relay adds one
        message["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2] or None)
        message["X-Dunwell-Message-Key"] = email.message_key
        message.set_content(email.text)
        message.add_alternative(email.html, subtype="html")
        for attachment in email.attachments:  # the message becomes multipart/mixed around the alternative
            maintype, _, subtype = attachment.content_type.partition("/")
            message.add_attachment(attachment.data, maintype=maintype, subtype=subtype, filename=attachment.filename)
        request: dict[str, Any] = {
            "FromEmailAddress": self.sender,
            "Destination": {"ToAddresses": [email.to]},
            "Content": {"Raw": {"Data": message.as_bytes()}},
            "EmailTags": [{"Name": "dunwell", "Value": email.tag}],
        }
        if self.configuration_set:
            request["ConfigurationSetName"] = self.configuration_set
        self._pace()
        try:
            return str(self._call(lambda: self._ses.send_email(**request))["MessageId"])
        except ClientError as exc:
            raise SendFailed(f"SES refused the message: {exc.response['Error'].get('Code')}") from exc

    def send_sms(self, phone: str, text: str, message_key: str) -> str:
        self._pace()
        try:
            response = self._call(lambda: self._sns.publish(PhoneNumber=phone, Message=text, MessageAttributes={
                "AWS.SNS.SMS.SMSType": {"DataType": "String", "StringValue": "Transactional"}}))
        except ClientError as exc:
            raise SendFailed(f"SNS refused the SMS: {exc.response['Error'].get('Code')}") from exc
        return str(response["MessageId"])

    def _call(self, send: Any) -> Any:
        """Throttling is 'try again shortly', never 'sent' or 'lost': paced (see the class), for `retry_for`
        seconds. Any other refusal is final at once."""
        give_up_at = self._clock() + self.retry_for
        while True:
            try:
                result = send()
            except ClientError as exc:
                if exc.response["Error"].get("Code") not in _RETRYABLE or self._clock() >= give_up_at:
                    raise
                self._slow_down()
                self._pace()
                continue
            self._speed_up()
            return result


class PowertoolsMetrics:
    """CloudWatch metrics as EMF log lines (no PutMetricData call, no extra latency), one per name and channel."""

    def __init__(self, namespace: str, service: str) -> None:
        self.namespace = namespace
        self.service = service

    def count(self, name: str, value: int, dimensions: Mapping[str, str]) -> None:
        from aws_lambda_powertools.metrics import MetricUnit, single_metric

        with single_metric(name=name, unit=MetricUnit.Count, value=value, namespace=self.namespace,
                           default_dimensions={"service": self.service}) as metric:
            for key, dimension in dimensions.items():
                metric.add_dimension(name=key, value=dimension)
