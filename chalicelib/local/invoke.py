"""Calls the app's Lambda handlers in-process, as Lambda would: the event dict plus a Lambda context.

Every invocation is appended to `.dunwell/invocations.jsonl` (handler, trigger, outcome, duration, result),
which is how a developer, or a test, sees that an upload was ingested or a schedule fired.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from chalicelib.local.provision import ClientFactory

log = logging.getLogger("dw_local.invoke")

DEFAULT_TIMEOUT_SECONDS = 60  # Chalice's default Lambda timeout
RESULT_PREVIEW_CHARS = 2000


@dataclass(frozen=True)
class Function:
    region: str
    account_id: str
    app_name: str
    stage: str

    def name(self, handler: str) -> str:
        return f"{self.app_name}-{self.stage}-{handler}"  # what `chalice deploy` names the Lambda

    def arn(self, handler: str) -> str:
        return f"arn:aws:lambda:{self.region}:{self.account_id}:function:{self.name(handler)}"


class Invoker:
    def __init__(self, app: Any, config: Any, function: Function, journal: Path) -> None:
        self._app = app
        self._config = config
        self.function = function
        self._journal = journal
        self._lock = threading.Lock()

    def handlers(self) -> set[str]:
        return set(self._app.handler_map)

    def timeout_seconds(self, handler: str) -> int:
        scoped = self._config.scope(self._config.chalice_stage, handler)
        return int(scoped.lambda_timeout or DEFAULT_TIMEOUT_SECONDS)

    def invoke(self, handler: str, event: dict[str, Any], trigger: str, subject: str | None = None) -> Any:
        """Runs the handler; returns its result or re-raises its exception after journaling it."""
        from chalice.local import LambdaContext

        scoped = self._config.scope(self._config.chalice_stage, handler)
        context = LambdaContext(
            self.function.name(handler),
            memory_size=int(scoped.lambda_memory_size or 128),
            max_runtime_ms=self.timeout_seconds(handler) * 1000,
        )
        context.invoked_function_arn = self.function.arn(handler)
        started = time.monotonic()
        entry: dict[str, Any] = {
            "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "handler": handler,
            "trigger": trigger,
            "subject": subject,  # e.g. the S3 object an event is about
            "request_id": context.aws_request_id,
        }
        try:
            result = self._app.handler_map[handler](event, context)
        except Exception as error:
            entry.update(status="error", error=f"{type(error).__name__}: {error}")
            log.exception("%s failed (trigger: %s)", handler, trigger)
            raise
        else:
            entry.update(status="ok", result=_preview(result))
            return result
        finally:
            entry["duration_ms"] = round((time.monotonic() - started) * 1000)
            self._record(entry)

    def _record(self, entry: dict[str, Any]) -> None:
        line = json.dumps(entry, default=str)
        with self._lock, self._journal.open("a", encoding="utf-8") as journal:
            journal.write(line + "\n")
        log.info("%s <- %s%s: %s in %d ms", entry["handler"], entry["trigger"],
                 f" ({entry['subject']})" if entry["subject"] else "", entry["status"], entry["duration_ms"])


def _preview(result: Any) -> Any:
    try:
        text = json.dumps(result, default=str)
    except (TypeError, ValueError):
        return repr(result)[:RESULT_PREVIEW_CHARS]
    return result if len(text) <= RESULT_PREVIEW_CHARS else text[:RESULT_PREVIEW_CHARS] + "..."


class _Route(Protocol):
    @property
    def handler(self) -> str: ...


R = TypeVar("R", bound=_Route)


class Poller(Generic[R]):
    """A daemon thread (`thread`) that polls one route's source with one AWS client (`service`) and invokes the
    route's handler with what it reads, until `stop`."""

    service: ClassVar[str]
    thread_prefix: ClassVar[str]

    def __init__(self, route: R, clients: ClientFactory, invoker: Invoker, stop: threading.Event) -> None:
        self.route = route
        self._client = clients(self.service)
        self._invoker = invoker
        self._stop = stop
        self._region = invoker.function.region
        self.thread = threading.Thread(target=self._run, name=f"{self.thread_prefix}-{route.handler}", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        raise NotImplementedError
