"""The pieces bench/scale.py's verdict rests on: the simulated SES throttles past its rate as SES does, the
sender treats throttling as 'try later' (sent exactly once, or given up as not sent, never lost), and the
simulated queue redelivers what was not deleted. All on the simulation's fake clock: no sleeps, no real time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from botocore.exceptions import ClientError

from bench.scale import SimQueue, SimSes, Simulation
from chalicelib.adapters.dunning import AwsSender
from chalicelib.services.ports import OutgoingEmail, SendFailed

START = datetime(2030, 1, 7, 8, 0, tzinfo=UTC)


def _email(n: int) -> OutgoingEmail:
    return OutgoingEmail(f"ap@customer{n}.example", "Reminder", "<p>due</p>", "due", f"C{n}#2030-01-07#email")


def _sender(sim: Simulation, ses: object, rate: float | None, retry_for: float = 10.0) -> AwsSender:
    return AwsSender(ses, None, "accounts@example.com", "Seller", None, rate, clock=sim.monotonic, sleep=sim.sleep,
                     retry_for=retry_for)


def _in_actor(sim: Simulation, body: object) -> None:
    sim.spawn("actor", body)  # type: ignore[arg-type]
    sim.run(horizon=3600)
    assert not sim.errors, sim.errors


def test_the_simulated_ses_accepts_a_burst_of_its_rate_then_throttles_until_tokens_refill() -> None:
    sim = Simulation(START)
    ses = SimSes(sim, rate=14)
    raw = {"Content": {"Raw": {"Data": b"X-Dunwell-Message-Key: k\r\n\r\nbody"}},
           "Destination": {"ToAddresses": ["ap@example.com"]}}
    for _ in range(14):
        ses.send_email(**raw)  # the bench's own thread: the clock stands still
    with pytest.raises(ClientError) as refused:
        ses.send_email(**raw)
    assert refused.value.response["Error"] == {"Code": "Throttling", "Message": "Maximum sending rate exceeded."}
    sim.t = 0.5  # half a second refills 7 tokens
    for _ in range(7):
        ses.send_email(**raw)
    with pytest.raises(ClientError):
        ses.send_email(**raw)
    assert (len(ses.accepted), ses.throttled) == (21, 2)


def test_an_unpaced_sender_past_the_rate_is_throttled_and_every_message_is_still_sent_exactly_once() -> None:
    sim = Simulation(START)
    ses = SimSes(sim, rate=14)
    sender = _sender(sim, ses, rate=None)
    ids: list[str] = []

    def send_all() -> None:
        for n in range(60):
            ids.append(sender.send_email(_email(n)))

    _in_actor(sim, send_all)
    assert ses.throttled > 0
    keys = [key for _t, key, _to in ses.accepted]
    assert sorted(keys) == sorted(f"C{n}#2030-01-07#email" for n in range(60))  # each once, none lost
    assert len(set(ids)) == 60


def test_a_sender_paced_at_the_rate_is_never_throttled() -> None:
    sim = Simulation(START)
    ses = SimSes(sim, rate=14, burst=1)
    sender = _sender(sim, ses, rate=14)
    _in_actor(sim, lambda: [sender.send_email(_email(n)) for n in range(100)])
    assert (len(ses.accepted), ses.throttled) == (100, 0)


def test_workers_paced_at_their_share_slow_down_for_another_sender_on_the_account_and_lose_nothing() -> None:
    """Two workers at 7/s fill the account's 14/s; receipts (2/s) take tokens too: SES throttles, the workers slow
    down, and every reminder is still sent exactly once."""
    sim = Simulation(START)
    ses = SimSes(sim, rate=14)
    senders = [_sender(sim, ses, rate=7) for _ in range(2)]
    for s, sender in enumerate(senders):
        sim.spawn(f"worker-{s}", lambda s=s, sender=sender: [sender.send_email(_email(1000 * s + n))
                                                             for n in range(300)])

    def receipts() -> None:
        for _ in range(100):
            ses.other_send()
            sim.sleep(0.5)

    sim.spawn("receipts", receipts)
    sim.run(horizon=3600)
    assert not sim.errors, sim.errors
    assert ses.throttled > 0
    assert len({key for _t, key, _to in ses.accepted}) == len(ses.accepted) == 600


def test_a_send_throttled_for_longer_than_retry_for_is_given_up_as_not_sent() -> None:
    class AlwaysThrottled:
        attempts = 0

        def send_email(self, **_request: object) -> dict[str, str]:
            self.attempts += 1
            raise ClientError({"Error": {"Code": "Throttling", "Message": "Maximum sending rate exceeded."}},
                              "SendEmail")

    sim = Simulation(START)
    ses = AlwaysThrottled()
    sender = _sender(sim, ses, rate=7, retry_for=10)
    outcome: list[str] = []

    def send() -> None:
        with pytest.raises(SendFailed):
            sender.send_email(_email(1))
        outcome.append(f"{sim.t:.1f}")

    _in_actor(sim, send)
    assert outcome and 10 <= float(outcome[0]) <= 10 + AwsSender.MAX_INTERVAL
    assert 1 < ses.attempts < 20  # slowed down between attempts, not a busy loop


def test_a_refusal_other_than_throttling_is_final_at_once() -> None:
    class Rejecting:
        attempts = 0

        def send_email(self, **_request: object) -> dict[str, str]:
            self.attempts += 1
            raise ClientError({"Error": {"Code": "MessageRejected", "Message": "Email address is not verified."}},
                              "SendEmail")

    sim = Simulation(START)
    ses = Rejecting()
    sender = _sender(sim, ses, rate=7)
    with pytest.raises(SendFailed):
        sender.send_email(_email(1))
    assert ses.attempts == 1


def test_the_simulated_queue_redelivers_what_was_not_deleted_after_the_visibility_timeout() -> None:
    sim = Simulation(START)
    queue = SimQueue(sim, visibility_timeout=1800, max_receive_count=2)
    queue.send_message_batch(QueueUrl="q", Entries=[{"Id": "0", "MessageBody": "a"}, {"Id": "1", "MessageBody": "b"}])
    first = queue.receive(5)
    assert sorted(m.body for _r, m in first) == ["a", "b"]
    queue.delete(next(r for r, m in first if m.body == "a"))
    assert queue.receive(5) == []  # b is in flight
    sim.t = 1800
    again = queue.receive(5)
    assert [m.body for _r, m in again] == ["b"] and queue.redelivered == 1
    sim.t = 3600
    assert queue.receive(5) == []  # received twice already: parked
    assert [m.body for m in queue.dead_letters] == ["b"] and queue.idle()
