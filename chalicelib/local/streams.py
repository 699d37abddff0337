"""DynamoDB stream triggers (`@app.on_dynamodb_record`), locally: a thread per stream reads moto's stream and
invokes the handler with Lambda's event shape, in order, retrying a failed batch from its first failure as
Lambda does with `ReportBatchItemFailures` (then moving on after MAX_ATTEMPTS with a loud log line)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from chalicelib.local.cfn_yaml import Resolver
from chalicelib.local.invoke import Poller
from chalicelib.local.provision import function_event_values

log = logging.getLogger("dw_local.streams")

POLL_SECONDS = 0.5
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class StreamRoute:
    handler: str
    stream_arn: str
    batch_size: int


def stream_routes(app: Any, template: Mapping[str, Any], resolver: Resolver) -> list[StreamRoute]:
    from chalice.app import DynamoDBEventConfig

    routes = []
    for source in app.event_sources:
        if isinstance(source, DynamoDBEventConfig):
            overrides = function_event_values(template, resolver, source.name, "Stream")  # this stack's table
            arn = str(overrides[-1]) if overrides else source.stream_arn
            routes.append(StreamRoute(source.name, arn, max(1, min(source.batch_size, 1000))))
    return routes


def _record(raw: Mapping[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    stream = dict(raw.get("dynamodb") or {})
    created = stream.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        stream["ApproximateCreationDateTime"] = created.timestamp()
    return {"eventID": raw.get("eventID"), "eventName": raw.get("eventName"), "eventVersion": "1.1",
            "eventSource": "aws:dynamodb", "awsRegion": region, "dynamodb": stream, "eventSourceARN": stream_arn}


class StreamPoller(Poller[StreamRoute]):
    service = "dynamodbstreams"
    thread_prefix = "dunwell-stream"

    def _run(self) -> None:
        try:
            shards = self._client.describe_stream(StreamArn=self.route.stream_arn)["StreamDescription"]["Shards"]
            iterators = [self._client.get_shard_iterator(
                StreamArn=self.route.stream_arn, ShardId=shard["ShardId"],
                ShardIteratorType="TRIM_HORIZON")["ShardIterator"] for shard in shards]
        except Exception as error:
            log.error("cannot read stream %s for %s: %s", self.route.stream_arn, self.route.handler, error)
            return
        pending: list[list[dict[str, Any]]] = [[] for _ in iterators]
        attempts = [0 for _ in iterators]
        while not self._stop.wait(POLL_SECONDS):
            for index, iterator in enumerate(iterators):
                try:
                    if not pending[index] and iterator:
                        response = self._client.get_records(ShardIterator=iterator, Limit=self.route.batch_size)
                        iterators[index] = response.get("NextShardIterator") or iterator
                        pending[index] = [_record(r, self.route.stream_arn, self._region)
                                          for r in response.get("Records") or []]
                    if pending[index]:
                        pending[index], attempts[index] = self._deliver(pending[index], attempts[index])
                except Exception as error:
                    if self._stop.is_set():
                        return
                    log.warning("stream %s: %s", self.route.stream_arn, error)

    def _deliver(self, records: list[dict[str, Any]], attempts: int) -> tuple[list[dict[str, Any]], int]:
        """Returns what is left to deliver (from the first failed record on) and the attempts made on it."""
        try:
            result = self._invoker.invoke(self.route.handler, {"Records": records},
                                          trigger=f"dynamodb:{self.route.stream_arn.split('/')[1]}",
                                          subject=f"{len(records)} record(s)")
            failed = {str(f.get("itemIdentifier")) for f in (result or {}).get("batchItemFailures", [])
                      if isinstance(f, dict)} if isinstance(result, dict) else set()
        except Exception:  # logged by the invoker
            failed = {str(records[0]["dynamodb"].get("SequenceNumber"))}
        if not failed:
            return [], 0
        sequences = [str(r["dynamodb"].get("SequenceNumber")) for r in records]
        first = min(sequences.index(s) for s in failed if s in sequences) if failed & set(sequences) else 0
        if attempts + 1 >= MAX_ATTEMPTS:
            log.error("!!! %s failed %d times on stream records from %s: skipping %d record(s)",
                      self.route.handler, attempts + 1, sequences[first], len(records) - first)
            return [], 0
        return records[first:], attempts + 1
