"""The events table's stream in, EventBridge out."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from chalicelib.adapters.models import EventModel
from chalicelib.services.ports import AuditEvent, StreamChange


def decode_stream_records(records: Sequence[Mapping[str, Any]]) -> list[StreamChange]:
    changes = []
    for record in records:
        stream = record.get("dynamodb") or {}
        sequence = str(stream.get("SequenceNumber", ""))
        image = stream.get("NewImage")
        if record.get("eventName") != "INSERT" or not image:
            changes.append(StreamChange(sequence, "", None))
            continue
        m = EventModel.from_raw_data(dict(image))
        discriminator = m.event_key.split("#", 2)[-1]
        event = AuditEvent(m.entity_key, m.type, m.actor, m.at, discriminator, dict(m.data or {}))
        changes.append(StreamChange(sequence, f"{m.entity_key}/{m.event_key}", event))
    return changes


class EventBridgeBus:
    def __init__(self, client: Any, bus_name: str) -> None:
        self._events = client
        self.bus_name = bus_name

    def put(self, entries: Sequence[dict[str, Any]]) -> list[bool]:
        response = self._events.put_events(Entries=[
            {"Source": e["Source"], "DetailType": e["DetailType"], "Time": e["Time"],
             "Detail": json.dumps(e["Detail"], default=str), "EventBusName": self.bus_name} for e in entries])
        return ["ErrorCode" not in result for result in response.get("Entries", [])]
