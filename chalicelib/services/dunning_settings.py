"""Use case: the dunning settings an admin changes (the kill switch, the reference rates, how far back the first
run catches up). Every save is audited with the settings as saved."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Protocol

from chalicelib.services.ports import AuditEvent, DunningSettings


class DunningSettingsStore(Protocol):
    def get(self) -> DunningSettings: ...
    def save(self, settings: DunningSettings, event: AuditEvent, actor: str, now: datetime) -> None:
        """Conditional on `settings.version` (raises VersionConflict), with its audit event."""


class DunningSettingsAdmin:
    def __init__(self, store: DunningSettingsStore, clock: Callable[[], datetime] | None = None) -> None:
        self.store = store
        self.clock = clock or (lambda: datetime.now(UTC))

    def current(self) -> DunningSettings:
        return self.store.get()

    def save(self, current: DunningSettings, updated: DunningSettings, actor: str) -> DunningSettings:
        """Replace `current` (as read by the caller, so a concurrent save makes this one conflict) by `updated`;
        returns the settings as stored."""
        now = self.clock()
        event = AuditEvent("settings#dunning", "dunning.settings_saved", actor, now, str(current.version + 1),
                           updated.to_dict())
        self.store.save(updated, event, actor, now)
        return self.store.get()
