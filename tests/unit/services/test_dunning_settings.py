"""DunningSettingsAdmin: a save is audited with the settings as saved and the next version."""

from dataclasses import replace
from datetime import UTC, datetime

from chalicelib.services.dunning_settings import DunningSettingsAdmin
from chalicelib.services.ports import DunningSettings

AT = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class Store:
    def __init__(self) -> None:
        self.settings = DunningSettings(version=3)
        self.saved: list = []

    def get(self) -> DunningSettings:
        return self.settings

    def save(self, settings, event, actor, now) -> None:
        self.saved.append((settings, event, actor, now))
        self.settings = replace(settings, version=settings.version + 1)


def test_a_save_is_audited_and_returns_the_settings_as_stored():
    store = Store()
    admin = DunningSettingsAdmin(store, clock=lambda: AT)
    current = admin.current()
    saved = admin.save(current, replace(current, kill_switch=True), "key:ann")
    assert (saved.kill_switch, saved.version) == (True, 4)
    ((settings, event, actor, now),) = store.saved
    assert (event.entity, event.type, event.actor, event.at, event.discriminator) == (
        "settings#dunning", "dunning.settings_saved", "key:ann", AT, "4")
    assert event.data == settings.to_dict() and (actor, now) == ("key:ann", AT)
