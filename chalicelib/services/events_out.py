"""Events out: every state change, as its audit event, on an EventBridge bus, so other systems never poll.

The audit event is written in the same DynamoDB transaction as the change it records; the events table's
stream feeds this use case, which puts each new event on the bus (at least once: the event's `id` is stable,
so consumers dedupe on it). A batch entry EventBridge refuses is reported by the stream record's sequence
number, and the stream retries from there: nothing is dropped, and order per entity is kept by the stream."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from chalicelib.services.ports import EventBus, StreamChange

SOURCE = "dunwell"


def entry_for(change: StreamChange) -> dict[str, Any]:
    event = change.event
    assert event is not None
    entity_type, _, entity_id = event.entity.partition("#")
    return {
        "Source": SOURCE,
        "DetailType": event.type,
        "Time": event.at,
        "Detail": {"id": change.event_id, "type": event.type, "entity_type": entity_type, "entity_id": entity_id,
                   "actor": event.actor, "at": event.at.isoformat(), "data": dict(event.data)},
    }


def publish(changes: Sequence[StreamChange], bus: EventBus) -> list[str]:
    """Publish the new audit events; returns the sequence numbers to retry (from the first failure on, so the
    stream keeps each entity's order)."""
    to_send = [c for c in changes if c.event is not None]
    for start in range(0, len(to_send), 10):
        batch = to_send[start:start + 10]
        accepted = bus.put([entry_for(c) for c in batch])
        if not all(accepted):
            first_failed = batch[accepted.index(False)]
            return [c.sequence_number for c in changes[changes.index(first_failed):]]
    return []
