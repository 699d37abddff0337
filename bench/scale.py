"""Sending at scale: 100,000 due reminders over 20,000 customers under SES throttling, through the real sweep,
work queue and reminder workers, on a fake clock.

Real (Dunwell's code, unchanged): the `dunning_sweep` and `send_reminders` handlers of app.py, called as
Lambda calls them; `DunningService.dispatch` selecting from the `due_for_action` index and `SqsWorkQueue`
putting one message per customer on the queue; `DunningService.work` (decide, render, claim, send, record);
`DynamoClaims` (the conditional claim that makes a send exactly-once); `AwsSender`'s pacing and throttling
handling; the ledger and customers adapters on PynamoDB. Each worker is built by `bootstrap.build_sender`
and `bootstrap.build_dunning_service` as a Lambda container builds its own, with the rate and concurrency
read from infra/resources.yaml.

Simulated (AWS and the clock only):
- time: a discrete-event loop (`Simulation`). The sweep and each worker run in a thread of their own, but
  only one runs at a time, always the one whose fake clock is earliest, so the run is deterministic. Every
  sleep of the code under test (pacing, backoff) and every AWS call advances only the caller's fake time.
- DynamoDB: moto in memory (chalicelib/local/moto_dynamodb.py installed: per-item transaction backup), each
  request charged a fixed latency (LATENCY) on the fake clock. moto's work costs wall time, not fake time.
- SES: `SimSes`, a token bucket of MaxSendRate (14/s) with one second of burst; a send past it raises
  botocore's ClientError `Throttling` "Maximum sending rate exceeded." as SES does. Accepted messages are
  kept, so duplicates and misses are counted from what SES took, not from what Dunwell says it did.
- SQS: `SimQueue`, a standard queue: visibility timeout (1,800 s as deployed), redelivery of a message
  whose worker reported it failed or did not delete it, a dead-letter queue after 5 receives, and
  at-least-once delivery (a seeded 1 in DUPLICATE_EVERY receives is delivered twice).
- Lambda's SQS event source: `concurrency` pollers, each receiving up to 5 messages, invoking
  `send_reminders` and deleting what it did not report in `batchItemFailures`; the hourly schedule of
  `dunning_sweep`.
- other senders on the same SES account (payment receipts, plan reminders): one message every
  OTHER_SENDS_EVERY seconds taking a token, so the workers cannot count on the whole rate.

Latencies are assumptions (in-region medians), printed with the figures. The rate bound is SES messages
(one email per customer: reminders to one customer on one day are consolidated) / MaxSendRate.
"""

from __future__ import annotations

import contextlib
import heapq
import io
import itertools
import json
import os
import random
import threading
import time
import traceback
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

ROOT = Path(__file__).resolve().parents[1]
AS_OF = date(2026, 12, 8)  # a Tuesday, no public holiday in DE
START = datetime(2026, 12, 8, 8, 0, tzinfo=UTC)  # 09:00 in Berlin: the default send window opens
SES_MAX_SEND_RATE = 14.0  # the account's MaxSendRate, messages per second (SES's common production quota)
SWEEP_EVERY = 3600.0  # dunning_sweep's schedule, Rate(1 hour)
OTHER_SENDS_EVERY = 2.0  # payment receipts and plan reminders share the account's MaxSendRate: one every 2 s
HORIZON = 12 * 3600.0  # the simulation gives up here: whatever is unsent by then is counted missed
DUPLICATE_EVERY = 1000  # SQS standard queues deliver at least once: ~1 in this many receives comes twice
LATENCY = {  # seconds of fake time per request: assumed in-region medians
    "dynamodb": 0.006, "dynamodb.TransactWriteItems": 0.015, "ses.SendEmail": 0.040,
    "sqs.SendMessageBatch": 0.010, "sqs.ReceiveMessage": 0.010, "sqs.DeleteMessageBatch": 0.010,
    "lambda.invoke": 0.010,
}
IDLE_POLL = 1.0  # an event-source poller that found the queue empty polls again after this
WORKER_TIMEOUT = 300.0  # send_reminders' lambda_timeout (.chalice/config.json)
SWEEP_TIMEOUT = 900.0


class Stopped(BaseException):
    """Unwinds an actor when the simulation ends (a BaseException so the handlers' `except Exception` let it by)."""


@dataclass
class _Actor:
    name: str
    go: threading.Event = field(default_factory=threading.Event)


class Simulation:
    """A fake clock and the actors on it: threads of which exactly one runs at a time, the earliest first (ties in
    the order they were scheduled). An actor gives up the processor only in `sleep`."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.t = 0.0
        self._ready: list[tuple[float, int, _Actor]] = []
        self._order = itertools.count()
        self._local = threading.local()
        self._yielded = threading.Event()
        self._threads: list[threading.Thread] = []
        self.stopped = False
        self.errors: list[str] = []

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.t)

    def monotonic(self) -> float:
        return self.t

    def actor(self) -> str | None:
        current: _Actor | None = getattr(self._local, "actor", None)
        return current.name if current else None

    def spawn(self, name: str, body: Callable[[], None], at: float = 0.0) -> None:
        actor = _Actor(name)

        def main() -> None:
            actor.go.wait()
            actor.go.clear()
            self._local.actor = actor
            try:
                if not self.stopped:
                    body()
            except Stopped:
                pass
            except BaseException:
                self.errors.append(f"{name}: {traceback.format_exc()}")
                self.stopped = True
            finally:
                self._yielded.set()

        thread = threading.Thread(target=main, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()
        heapq.heappush(self._ready, (at, next(self._order), actor))

    def sleep(self, seconds: float) -> None:
        actor: _Actor | None = getattr(self._local, "actor", None)
        if actor is None:  # the bench's own thread (seeding, counting): no fake time passes
            return
        heapq.heappush(self._ready, (self.t + max(0.0, seconds), next(self._order), actor))
        self._yielded.set()
        actor.go.wait()
        actor.go.clear()
        if self.stopped:
            raise Stopped

    def run(self, horizon: float) -> None:
        while self._ready and not self.stopped:
            at, _order, actor = heapq.heappop(self._ready)
            if at > horizon:
                heapq.heappush(self._ready, (at, _order, actor))
                break
            self.t = at
            self._yielded.clear()
            actor.go.set()
            self._yielded.wait()
        self.stopped = True
        while self._ready:  # wake every parked actor once so it unwinds (Stopped) and its thread ends
            _at, _order, actor = heapq.heappop(self._ready)
            self._yielded.clear()
            actor.go.set()
            self._yielded.wait()
        for thread in self._threads:
            thread.join(timeout=10)


class SimSes:
    """SES v2 `send_email` behind a token bucket: `rate` sends a second, `burst` at once; past it, `Throttling`."""

    def __init__(self, sim: Simulation, rate: float, burst: float | None = None) -> None:
        self.sim = sim
        self.rate = rate
        self.burst = burst if burst is not None else rate
        self._tokens = self.burst
        self._filled_at = 0.0
        self.accepted: list[tuple[float, str, str]] = []  # (fake time, X-Dunwell-Message-Key, destination)
        self.throttled = 0
        self.other_sent = 0
        self.other_throttled = 0
        self.attempts_by_key: Counter[str] = Counter()

    def _take(self) -> bool:
        now = self.sim.t
        self._tokens = min(self.burst, self._tokens + (now - self._filled_at) * self.rate)
        self._filled_at = now
        if self._tokens >= 1.0 - 1e-9:  # float sums of 1/rate intervals fall a hair short of a whole token
            self._tokens -= 1.0
            return True
        return False

    def other_send(self) -> None:
        """A message of another sender on the same account (a receipt): it takes a token or is throttled."""
        if self._take():
            self.other_sent += 1
        else:
            self.other_throttled += 1

    def send_email(self, **request: Any) -> dict[str, Any]:
        raw = request["Content"]["Raw"]["Data"]
        key = str(message_from_bytes(raw)["X-Dunwell-Message-Key"])
        self.attempts_by_key[key] += 1
        taken = self._take()  # SES decides when the request arrives; the caller waits for the answer
        self.sim.sleep(LATENCY["ses.SendEmail"])
        if not taken:
            self.throttled += 1
            raise ClientError({"Error": {"Code": "Throttling", "Message": "Maximum sending rate exceeded."},
                               "ResponseMetadata": {"HTTPStatusCode": 400}}, "SendEmail")
        self.accepted.append((self.sim.t, key, request["Destination"]["ToAddresses"][0]))
        return {"MessageId": f"ses-{len(self.accepted):07d}"}


class NoSns:
    """The bench's reminders are email only; an SMS here would mean the seeding is not what it says."""

    def publish(self, **_request: Any) -> dict[str, Any]:
        raise AssertionError("no SMS expected in this bench")


@dataclass
class _Message:
    message_id: str
    body: str
    receive_count: int = 0


class SimQueue:
    """A standard SQS queue as the real `SqsWorkQueue` and Lambda's event source use it."""

    def __init__(self, sim: Simulation, visibility_timeout: float, max_receive_count: int, seed: int = 7) -> None:
        self.sim = sim
        self.visibility_timeout = visibility_timeout
        self.max_receive_count = max_receive_count
        self._visible: deque[_Message] = deque()
        self._in_flight: dict[str, tuple[_Message, float]] = {}  # receipt handle -> (message, visible again at)
        self._random = random.Random(seed)
        self.sent = 0
        self.receives = 0
        self.redelivered = 0
        self.duplicated = 0
        self.dead_letters: list[_Message] = []
        self.first_sent_at: float | None = None

    def send_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.sim.sleep(LATENCY["sqs.SendMessageBatch"])
        for entry in Entries:
            self._visible.append(_Message(uuid.UUID(int=self._random.getrandbits(128)).hex, entry["MessageBody"]))
        self.sent += len(Entries)
        if self.first_sent_at is None:
            self.first_sent_at = self.sim.t
        return {"Successful": [{"Id": e["Id"]} for e in Entries], "Failed": []}

    def receive(self, max_messages: int) -> list[tuple[str, _Message]]:
        now = self.sim.t
        for receipt, (message, visible_at) in list(self._in_flight.items()):
            if visible_at <= now:  # not deleted within the visibility timeout: delivered again
                del self._in_flight[receipt]
                self._visible.append(message)
                self.redelivered += 1
        got: list[tuple[str, _Message]] = []
        while self._visible and len(got) < max_messages:
            message = self._visible.popleft()
            if message.receive_count >= self.max_receive_count:
                self.dead_letters.append(message)
                continue
            message.receive_count += 1
            receipt = uuid.UUID(int=self._random.getrandbits(128)).hex
            self._in_flight[receipt] = (message, now + self.visibility_timeout)
            got.append((receipt, message))
            self.receives += 1
            if self._random.randrange(DUPLICATE_EVERY) == 0:  # at-least-once: another poller gets it too
                self._visible.append(message)
                self.duplicated += 1
        return got

    def delete(self, receipt: str) -> None:
        self._in_flight.pop(receipt, None)

    def idle(self) -> bool:
        return not self._visible and not self._in_flight

    def waiting(self) -> int:
        return len(self._visible) + len(self._in_flight)


class _Context:
    """What Lambda passes a handler: Powertools' logger reads these; the remaining time is fake time."""

    memory_limit_in_mb = 1024

    def __init__(self, sim: Simulation, function_name: str, timeout: float) -> None:
        self.sim = sim
        self.function_name = function_name
        self.invoked_function_arn = f"arn:aws:lambda:eu-west-1:000000000000:function:{function_name}"
        self.aws_request_id = uuid.uuid4().hex
        self.deadline = sim.t + timeout

    def get_remaining_time_in_millis(self) -> int:
        return int((self.deadline - self.sim.t) * 1000)


def configured() -> tuple[float, int, float, int]:
    """(SES_MAX_SEND_RATE per worker, MaximumConcurrency, VisibilityTimeout, maxReceiveCount) as deployed."""
    from chalicelib.local.cfn_yaml import load_template

    template = load_template(ROOT / "infra" / "resources.yaml")
    resources = template["Resources"]
    rate = float(template["Globals"]["Function"]["Environment"]["Variables"]["SES_MAX_SEND_RATE"])
    scaling = resources["SendReminders"]["Properties"]["Events"]["SendRemindersSqsEventSource"]["Properties"]
    queue = resources["DunningWorkQueue"]["Properties"]
    return (rate, int(scaling["ScalingConfig"]["MaximumConcurrency"]), float(queue["VisibilityTimeout"]),
            int(queue["RedrivePolicy"]["maxReceiveCount"]))


@contextlib.contextmanager
def _latency(sim: Simulation) -> Iterator[None]:
    """Every DynamoDB request (PynamoDB's) costs its caller fake time."""
    from pynamodb.connection.base import Connection

    original = Connection._make_api_call

    def timed(conn: Any, operation_name: str, operation_kwargs: dict[str, Any]) -> Any:
        result = original(conn, operation_name, operation_kwargs)
        sim.sleep(LATENCY.get(f"dynamodb.{operation_name}", LATENCY["dynamodb"]))
        return result

    Connection._make_api_call = timed  # type: ignore[method-assign]
    try:
        yield
    finally:
        Connection._make_api_call = original  # type: ignore[method-assign]


def _faster_moto() -> None:
    """Two of moto's costs taken out, as bench/moto_server.py takes out its table copies: moto parses every update
    expression afresh (Dunwell's are few and fixed: parsed once here, by text) and walks each through ten checks, five
    of which only reject malformed requests (action counts, overlapping paths, key attributes, type mismatches,
    empty keys: PynamoDB's requests pass them, as tests/integration shows against unpatched moto). What an
    update or a transaction does to an item is unchanged; this cuts a worker's moto time by about half."""
    from functools import lru_cache

    import moto.dynamodb.models as dynamodb_models
    import moto.dynamodb.responses as dynamodb_responses
    from moto.dynamodb.parsing import validators

    if getattr(validators.UpdateExpressionValidator, "bench_fast", False):
        return

    class _Parser:
        make = staticmethod(lru_cache(maxsize=256)(dynamodb_models.UpdateExpressionParser.make))

    def processors(self: Any) -> list[Any]:
        return [validators.ExpressionAttributeValueProcessor(self.expression_attribute_values),
                validators.ExpressionAttributeResolvingProcessor(self.expression_attribute_names, self.item),
                validators.UpdateExpressionFunctionEvaluator(), validators.NoneExistingPathChecker(),
                validators.ExecuteOperations()]

    dynamodb_models.UpdateExpressionParser = _Parser  # type: ignore[misc,assignment]
    dynamodb_responses.UpdateExpressionParser = _Parser  # type: ignore[misc,assignment]
    validators.UpdateExpressionValidator.get_ast_processors = processors  # type: ignore[method-assign]
    validators.UpdateExpressionValidator.bench_fast = True  # type: ignore[attr-defined]


def _seed(customers: int, reminders: int) -> None:
    """`customers` customers in Berlin, `reminders` invoices spread evenly over them, every one due for an email
    today: a third at `overdue_21`, the rest at `due_today` (email-only steps of the default policy), all with
    their next action at 08:00 UTC, the start of the send window."""
    from chalicelib.adapters.dynamo import customer_to_model, invoice_to_model
    from chalicelib.adapters.models import CustomerModel, InvoiceModel
    from chalicelib.domain.customer import Contact, Customer
    from chalicelib.domain.invoice import Invoice
    from chalicelib.domain.money import Money

    zero = Money.zero("EUR")
    with CustomerModel.batch_write() as batch:
        for c in range(customers):
            batch.save(customer_to_model(Customer(
                f"C{c:06d}", f"Customer {c:06d} GmbH", contacts=(Contact(email=f"ap@customer{c}.example"),),
                timezone="Europe/Berlin", country="DE", language="en"), START))
    with InvoiceModel.batch_write() as batch:
        for n in range(reminders):
            if n % 3 == 0:
                due_date, sent = AS_OF - timedelta(days=21), frozenset(
                    {"upcoming:email", "due_today:email", "overdue_7:email", "overdue_7:sms"})
            else:
                due_date, sent = AS_OF, frozenset({"upcoming:email"})
            invoice = Invoice(
                invoice_id=f"I{n:07d}", number=f"INV-{n:07d}", customer_id=f"C{n % customers:06d}",
                issue_date=due_date - timedelta(days=30), due_date=due_date,
                total=Money.from_minor(10_000 + n % 490_000, "EUR"), paid_in_source=zero, applied_payments=zero,
                credited=zero, written_off=zero, fingerprint=f"bench|{n}", reminders_sent=sent,
                next_action_at=START)
            model = invoice_to_model(invoice, START, "imp_bench")
            model.version = 1  # as DynamoLedger.insert_invoices: batch writes skip VersionAttribute
            batch.save(model)


@dataclass
class Figures:
    reminders: int
    customers: int
    concurrency: int
    worker_rate: float
    visibility_timeout: float
    seed_s: float = 0.0
    wall_s: float = 0.0
    sweeps: list[tuple[float, int, int, bool]] = field(default_factory=list)  # (at, invoices, messages, more_due)
    invocations: int = 0
    longest_invocation: float = 0.0
    reported_failures: int = 0
    metrics: Counter[str] = field(default_factory=Counter)
    completion_s: float = 0.0
    first_send_s: float = 0.0
    accepted: int = 0
    throttled: int = 0
    attempts: int = 0
    sent_per_key_max: int = 0
    duplicates: int = 0
    customers_missed: int = 0
    invoices_missed: int = 0
    invoices_recorded: int = 0
    queue: dict[str, int] = field(default_factory=dict)
    other: tuple[int, int] = (0, 0)
    errors: list[str] = field(default_factory=list)

    @property
    def bound_s(self) -> float:
        return self.accepted / SES_MAX_SEND_RATE if self.accepted else self.customers / SES_MAX_SEND_RATE

    @property
    def ratio(self) -> float:
        return self.completion_s / self.bound_s


def _record(message: _Message, receipt: str) -> dict[str, Any]:
    return {"messageId": message.message_id, "receiptHandle": receipt, "body": message.body,
            "attributes": {"ApproximateReceiveCount": str(message.receive_count)}, "messageAttributes": {},
            "md5OfBody": "", "eventSource": "aws:sqs", "awsRegion": "eu-west-1",
            "eventSourceARN": "arn:aws:sqs:eu-west-1:000000000000:dunwell-dunning-work"}


def _simulate(figures: Figures, sim: Simulation, ses: SimSes, queue: SimQueue) -> None:
    import app
    from chalicelib import bootstrap
    from chalicelib.adapters.dunning import SqsWorkQueue

    # The sweep only hands work to the queue; its sender is never used.
    idle = bootstrap.build_sender(ses, NoSns(), clock=sim.monotonic, sleep=sim.sleep)
    services = {"sweep": bootstrap.build_dunning_service(idle, clock=sim.now)}
    for w in range(figures.concurrency):  # one Lambda container per worker: its own sender, its own pacing
        sender = bootstrap.build_sender(ses, NoSns(), clock=sim.monotonic, sleep=sim.sleep)
        services[f"worker-{w}"] = bootstrap.build_dunning_service(sender, clock=sim.now)
    work_queue = SqsWorkQueue(queue, "https://sqs.eu-west-1.amazonaws.com/000000000000/dunwell-dunning-work")

    def sweep() -> None:
        """dunning_sweep every hour. A send given up is due again an hour later, so it is picked up by the next
        sweep or the one after: the run ends after two sweeps in a row found nothing and the queue is empty."""
        while True:
            response = app.dunning_sweep({"version": "0", "id": uuid.uuid4().hex, "detail-type": "Scheduled Event",
                                          "source": "aws.events", "account": "000000000000",
                                          "time": sim.now().isoformat(), "region": "eu-west-1", "resources": [],
                                          "detail": {}}, _Context(sim, "dunwell-dunning_sweep", SWEEP_TIMEOUT))
            figures.sweeps.append((sim.t, response["invoices_considered"], response["dispatched"],
                                   response["more_due"]))
            if len(figures.sweeps) >= 2 and all(d == 0 for _t, _n, d, _m in figures.sweeps[-2:]) and queue.idle():
                sim.stopped = True
                raise Stopped
            next_sweep = len(figures.sweeps) * SWEEP_EVERY
            while sim.t < next_sweep:
                sim.sleep(min(10 * IDLE_POLL, next_sweep - sim.t))

    def others() -> None:
        while True:
            ses.other_send()
            sim.sleep(OTHER_SENDS_EVERY)

    def worker(name: str) -> Callable[[], None]:
        def poll() -> None:
            while True:
                sim.sleep(LATENCY["sqs.ReceiveMessage"])
                batch = queue.receive(5)
                if not batch:
                    sim.sleep(IDLE_POLL)
                    continue
                sim.sleep(LATENCY["lambda.invoke"])
                started = sim.t
                result = app.send_reminders({"Records": [_record(m, r) for r, m in batch]},
                                            _Context(sim, "dunwell-send_reminders", WORKER_TIMEOUT))
                figures.invocations += 1
                figures.longest_invocation = max(figures.longest_invocation, sim.t - started)
                failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
                figures.reported_failures += len(failed)
                for receipt, message in batch:
                    if message.message_id not in failed:
                        queue.delete(receipt)
                sim.sleep(LATENCY["sqs.DeleteMessageBatch"])
        return poll

    class Simulated(bootstrap.Container):
        """The wiring as deployed, except that each simulated Lambda container has its own dunning service and
        they all share the simulated queue."""

        @property
        def dunning_service(self) -> Any:
            return services[sim.actor() or "sweep"]

    deployed = bootstrap.container()
    simulated = Simulated(deployed.settings)
    simulated.dunning_queue = work_queue
    bootstrap.use(simulated)
    try:
        sim.spawn("sweep", sweep)
        if OTHER_SENDS_EVERY:
            sim.spawn("others", others)
        for w in range(figures.concurrency):
            sim.spawn(f"worker-{w}", worker(f"worker-{w}"))
        sim.run(HORIZON)
    finally:
        bootstrap.use(deployed)


def _count(figures: Figures, ses: SimSes, queue: SimQueue, emf: str) -> None:
    """Duplicates and misses from what SES accepted, read against the claims and the ledger."""
    from chalicelib.adapters.models import DunningMessageModel, InvoiceModel

    lines = {m.message_key: list(m.lines or []) for m in DunningMessageModel.scan()}
    per_key = Counter(key for _t, key, _to in ses.accepted)
    reminded: Counter[tuple[str, str, str]] = Counter()
    customers_reached = set()
    for _t, key, _to in ses.accepted:
        customer, _day, channel = key.split("#")
        customers_reached.add(customer)
        for line in lines.get(key, []):
            reminded[(line["invoice_id"], line["step"], channel)] += 1
    figures.accepted, figures.throttled = len(ses.accepted), ses.throttled
    figures.other = (ses.other_sent, ses.other_throttled)
    figures.attempts = sum(ses.attempts_by_key.values())
    figures.sent_per_key_max = max(per_key.values(), default=0)
    figures.duplicates = sum(n - 1 for n in reminded.values() if n > 1) + sum(n - 1 for n in per_key.values() if n > 1)
    figures.customers_missed = figures.customers - len(customers_reached)
    invoices_reminded = {invoice for invoice, _step, _channel in reminded}
    figures.invoices_missed = figures.reminders - len(invoices_reminded)
    figures.invoices_recorded = sum(
        1 for m in InvoiceModel.scan(attributes_to_get=["invoice_id", "reminders_sent"])
        if {"due_today:email", "overdue_21:email"} & set(m.reminders_sent or ()))
    figures.completion_s = max((t for t, _key, _to in ses.accepted), default=0.0)
    figures.first_send_s = min((t for t, _key, _to in ses.accepted), default=0.0)
    figures.queue = {"messages sent": queue.sent, "receives": queue.receives, "redelivered": queue.redelivered,
                     "delivered twice (at-least-once)": queue.duplicated, "dead letters": len(queue.dead_letters),
                     "left in the queue": queue.waiting()}
    for line in emf.splitlines():
        with contextlib.suppress(ValueError, KeyError, TypeError):
            document = json.loads(line)
            for metric in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
                figures.metrics[metric["Name"]] += int(document[metric["Name"]])


def measure(reminders: int, customers: int, concurrency: int | None = None,
            worker_rate: float | None = None) -> Figures:
    configured_rate, configured_concurrency, visibility, max_receives = configured()
    figures = Figures(reminders, customers, concurrency or configured_concurrency, worker_rate or configured_rate,
                      visibility)
    os.environ.update({
        "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "eu-west-1",
        "DUNWELL_RESOURCE_PREFIX": "dunwell-bench-scale", "DUNWELL_STAGE": "bench",
        "POWERTOOLS_LOG_LEVEL": "ERROR", "LOG_LEVEL": "ERROR", "SES_MAX_SEND_RATE": str(figures.worker_rate),
        "DUNNING_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/000000000000/dunwell-dunning-work",
        # A stage without a way to pay sends no reminder: the bench's seller has the documentation example account.
        "SELLER_NAME": "Bench Seller GmbH (fictional)", "SELLER_IBAN": "DE89370400440532013000",
    })
    os.environ.pop("AWS_ENDPOINT_URL", None)
    from moto import mock_aws

    from chalicelib.local.moto_dynamodb import install

    install()  # as make run and the tests: a transaction copies the items it touches, not its tables

    _faster_moto()

    wall = time.perf_counter()
    with mock_aws():
        from bench.harness import provision

        provision()
        started = time.perf_counter()
        _seed(customers, reminders)
        figures.seed_s = time.perf_counter() - started
        sim = Simulation(START)
        ses = SimSes(sim, SES_MAX_SEND_RATE)
        queue = SimQueue(sim, visibility, max_receives)
        emf = io.StringIO()  # Powertools metrics are EMF lines on stdout: counted, not printed
        with _latency(sim), contextlib.redirect_stdout(emf):
            _simulate(figures, sim, ses, queue)
        figures.errors = sim.errors
        _count(figures, ses, queue, emf.getvalue())
        from chalicelib import bootstrap

        bootstrap.reset()
    figures.wall_s = time.perf_counter() - wall
    return figures


def report(f: Figures) -> bool:
    def row(name: str, value: str) -> None:
        print(f"  {name:<52}{value}")

    row("due reminders (invoices) / customers", f"{f.reminders:,} / {f.customers:,}")
    row("worker concurrency / pacing per worker", f"{f.concurrency} / {f.worker_rate:g} per s "
        f"(together {f.concurrency * f.worker_rate:g}/s; SES MaxSendRate {SES_MAX_SEND_RATE:g}/s)")
    row("SES messages accepted (one email per customer)", f"{f.accepted:,}")
    row("rate bound: messages / MaxSendRate", f"{f.bound_s:,.1f} s")
    row("simulated completion (sweep start to last send)", f"{f.completion_s:,.1f} s (first send at "
        f"{f.first_send_s:.2f} s)")
    row("ratio to the bound", f"{f.ratio:.3f}")
    row("SES Throttling errors seen by the workers", f"{f.throttled:,}")
    row("other senders on the account (receipts): sent / throttled", f"{f.other[0]:,} / {f.other[1]:,} (one every "
        f"{OTHER_SENDS_EVERY:g} s)")
    row("SES send attempts (retries = attempts - accepted)", f"{f.attempts:,} ({f.attempts - f.accepted:,} retries)")
    row("sends given up (RemindersFailed: claim released, +1 h)", f"{f.metrics['RemindersFailed']:,}")
    row("sweeps (at s: invoices read, messages, more_due)",
        "; ".join(f"{at:,.0f}: {n:,}, {m:,}, {more}" for at, n, m, more in f.sweeps))
    row("worker invocations / longest (timeout 300 s)", f"{f.invocations:,} / {f.longest_invocation:.1f} s")
    row("work messages reported failed (batchItemFailures)", f"{f.reported_failures:,}")
    row("queue", ", ".join(f"{k} {v:,}" for k, v in f.queue.items()))
    row("duplicates (same invoice, step, channel sent twice)", f"{f.duplicates:,}")
    row("customers missed / invoices missed", f"{f.customers_missed:,} / {f.invoices_missed:,}")
    row("invoices recording the reminder in the ledger", f"{f.invoices_recorded:,}")
    row("latencies assumed (fake s)", ", ".join(f"{k} {v * 1000:g} ms" for k, v in LATENCY.items()))
    row("wall time (seeding in moto / all)", f"{f.seed_s:.0f} s / {f.wall_s:.0f} s")
    for error in f.errors:
        print(error)
    within = f.accepted > 0 and f.ratio <= 1.10
    ok = within and f.duplicates == 0 and f.customers_missed == 0 and f.invoices_missed == 0 and not f.errors
    print("verdict:")
    print(f"  [{'PASS' if within else 'FAIL'}] completion within 10% of the rate bound: {f.completion_s:,.0f} s vs "
          f"{f.bound_s:,.0f} s = {f.ratio - 1:+.1%}")
    print(f"  [{'PASS' if f.duplicates == 0 else 'FAIL'}] duplicates: {f.duplicates}")
    print(f"  [{'PASS' if f.customers_missed == f.invoices_missed == 0 else 'FAIL'}] missed: "
          f"{f.customers_missed} customers, {f.invoices_missed} invoices")
    print(f"  overall: {'PASS' if ok else 'FAIL'}")
    return ok


def run(reminders: int = 100_000, customers: int = 20_000, concurrency: int | None = None) -> Figures:
    figures = measure(reminders, customers, concurrency)
    report(figures)
    return figures


if __name__ == "__main__":
    import sys

    sizes = [int(a) for a in sys.argv[1:]] or [100_000, 20_000]
    run(*sizes)
