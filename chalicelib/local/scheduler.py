"""Fires the app's `@app.schedule` handlers on their cadence (moto stores schedules but never fires them).

Options: `fire_at_start` runs every schedule once right after start-up (DUNWELL_SCHEDULES_AT_START), and
`speedup` makes time pass N times faster for the cadence only (DUNWELL_SCHEDULE_SPEEDUP=60 turns a 15-minute
rate into 15 seconds). The event's `time` is always the real time. A run still going when its next firing
comes is not overlapped: the firing is skipped with a warning.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chalicelib.local.cfn_yaml import Resolver
from chalicelib.local.invoke import Invoker
from chalicelib.local.provision import function_event_values
from chalicelib.local.schedules import Schedule, ScheduleError, parse

log = logging.getLogger("dw_local.scheduler")


@dataclass(frozen=True)
class Job:
    handler: str
    schedule: Schedule
    rule_arn: str


def jobs_of(app: Any, template: Mapping[str, Any], resolver: Resolver, invoker: Invoker) -> list[Job]:
    from chalice.app import ScheduledEventConfig

    jobs = []
    for source in app.event_sources:
        if not isinstance(source, ScheduledEventConfig):
            continue
        expression = source.schedule_expression
        text = expression if isinstance(expression, str) else expression.to_string()
        for override in function_event_values(template, resolver, source.name, "Schedule"):
            text = str(override)
        try:
            schedule = parse(text)
        except ScheduleError as error:
            log.error("schedule %s will NOT fire locally: %s", source.name, error)
            continue
        function = invoker.function
        names = function_event_values(template, resolver, source.name, "Name")
        rule = str(names[-1]) if names else function.name(source.name)
        rule_arn = f"arn:aws:events:{function.region}:{function.account_id}:rule/{rule}"
        jobs.append(Job(source.name, schedule, rule_arn))
    return jobs


def scheduled_event(job: Job, region: str, account_id: str, now: datetime) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account_id,
        "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [job.rule_arn],
        "detail": {},
    }


class Scheduler:
    def __init__(
        self, jobs: list[Job], invoker: Invoker, stop: threading.Event, *, fire_at_start: bool, speedup: float
    ) -> None:
        self.jobs = jobs
        self._invoker = invoker
        self._stop = stop
        self._fire_at_start = fire_at_start
        self._speedup = max(speedup, 1e-6)
        self._running: dict[str, threading.Thread] = {}
        self.thread = threading.Thread(target=self._run, name="dunwell-scheduler", daemon=True)

    def start(self) -> None:
        for job in self.jobs:
            log.info("schedule %s: %s%s", job.handler, job.schedule.expression,
                     f" (x{self._speedup:g} speed)" if self._speedup != 1 else "")
        if self.jobs:
            self.thread.start()

    def _run(self) -> None:
        real_start = datetime.now(UTC)
        anchor = real_start  # virtual time == real time at start-up, then runs `speedup` times faster

        def virtual(real: datetime) -> datetime:
            return anchor + (real - real_start) * self._speedup

        def real(virtual_moment: datetime) -> datetime:
            return real_start + (virtual_moment - anchor) / self._speedup

        upcoming: dict[str, datetime | None] = {
            job.handler: job.schedule.next_after(anchor, anchor) for job in self.jobs
        }
        if self._fire_at_start:
            for job in self.jobs:
                self._fire(job)
        while not self._stop.is_set():
            now = datetime.now(UTC)
            due = [job for job in self.jobs if (at := upcoming[job.handler]) is not None and real(at) <= now]
            for job in due:
                self._fire(job)
                upcoming[job.handler] = job.schedule.next_after(virtual(now), anchor)
            pending = [real(at) for at in upcoming.values() if at is not None]
            if not pending:
                log.info("no schedule will fire again")
                return
            wait = (min(pending) - datetime.now(UTC)).total_seconds()
            self._stop.wait(min(max(wait, 0.05), 60))

    def _fire(self, job: Job) -> None:
        previous = self._running.get(job.handler)
        if previous is not None and previous.is_alive():
            log.warning("schedule %s is still running: skipping this firing", job.handler)
            return
        function = self._invoker.function
        event = scheduled_event(job, function.region, function.account_id, datetime.now(UTC))
        thread = threading.Thread(target=self._call, args=(job, event), name=f"dunwell-cron-{job.handler}", daemon=True)
        self._running[job.handler] = thread
        thread.start()

    def _call(self, job: Job, event: dict[str, Any]) -> None:
        with contextlib.suppress(Exception):  # logged by the invoker; the next firing runs again
            self._invoker.invoke(job.handler, event, trigger=f"schedule:{job.schedule.expression}")
