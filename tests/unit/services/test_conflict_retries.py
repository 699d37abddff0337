"""A read-modify-write that keeps losing to concurrent writers is raised, logged and counted: never given up
in silence (a sent reminder missing from its invoice, a bounce reported as 'no known customer')."""

import json
from datetime import UTC, datetime

import pytest

from chalicelib.domain.customer import Contact, Customer
from chalicelib.services.bounces import BounceHandler
from chalicelib.services.ports import (
    Backoff,
    ConflictRetriesExhausted,
    StoredCustomer,
    VersionConflict,
    conflict_retries,
)


class CountingMetrics:
    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def count(self, name, value, dimensions) -> None:
        self.counts[name] = self.counts.get(name, 0) + value


def test_a_loop_that_breaks_is_untouched() -> None:
    tries = []
    for attempt in conflict_retries("saving"):
        tries.append(attempt)
        if attempt == 2:
            break
    assert tries == [0, 1, 2]


def test_running_out_raises_logs_and_counts(caplog: pytest.LogCaptureFixture) -> None:
    metrics = CountingMetrics()
    tries = []
    with pytest.raises(ConflictRetriesExhausted, match="recording overdue_7:email on invoice INV-1"):
        for attempt in conflict_retries("recording overdue_7:email on invoice INV-1", metrics, attempts=3):
            tries.append(attempt)
    assert tries == [0, 1, 2]
    assert metrics.counts == {"ConflictRetriesExhausted": 1}
    assert "gave up after 3 version conflicts" in caplog.text
    assert issubclass(ConflictRetriesExhausted, VersionConflict)  # the API answers it as a conflict (409)


def test_backoff_pauses_before_each_retry_with_full_jitter_up_to_the_cap() -> None:
    bounds: list[tuple[float, float]] = []
    slept: list[float] = []

    def jitter(low: float, high: float) -> float:
        bounds.append((low, high))
        return high / 2

    backoff = Backoff(base=0.01, cap=0.05, jitter=jitter, sleep=slept.append)
    with pytest.raises(ConflictRetriesExhausted):
        for _attempt in conflict_retries("allocating a payment", attempts=4, backoff=backoff):
            pass
    assert bounds == [(0, 0.02), (0, 0.04), (0, 0.05)]  # none before the first attempt; doubling, then capped
    assert slept == [0.01, 0.02, 0.025]


def test_a_first_attempt_that_succeeds_never_pauses() -> None:
    slept: list[float] = []
    for _attempt in conflict_retries("saving", backoff=Backoff(jitter=lambda low, high: high, sleep=slept.append)):
        break
    assert slept == []


class AlwaysConflicting:
    def __init__(self) -> None:
        self.customer = Customer("acme", "Acme", contacts=(Contact(email="ap@acme.example"),))
        self.updates = 0

    def get_customers(self, ids):
        return {"acme": StoredCustomer(self.customer, "f", self.updates)}

    def update_customer(self, stored, customer, events, now) -> None:
        self.updates += 1
        raise VersionConflict()


class Recorder:
    def __init__(self) -> None:
        self.published: list[str] = []
        self.opened: list[object] = []

    def publish(self, subject, detail) -> None:
        self.published.append(subject)

    def open(self, task) -> None:
        self.opened.append(task)


def test_a_bounce_that_cannot_be_applied_is_raised_not_reported_as_an_unknown_address() -> None:
    customers, recorder, metrics = AlwaysConflicting(), Recorder(), CountingMetrics()
    handler = BounceHandler(customers, recorder, recorder, metrics, clock=lambda: datetime(2026, 11, 24, tzinfo=UTC))
    message = json.dumps({
        "eventType": "Bounce",
        "mail": {"messageId": "m-1", "headers": [{"name": "X-Dunwell-Message-Key", "value": "acme#2026-11-24#email"}]},
        "bounce": {"bounceType": "Permanent", "bouncedRecipients": [{"emailAddress": "ap@acme.example"}]}})
    with pytest.raises(ConflictRetriesExhausted):
        handler.handle(message)
    assert customers.updates == 5 and recorder.published == [] and recorder.opened == []
    assert metrics.counts == {"ConflictRetriesExhausted": 1}
