"""User-defined CSV column mappings, kept as JSON under config/mappings/ in the inbox bucket so a
finance team can add one for its ERP without a deployment."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from chalicelib.formats.mapping import Mapping
from chalicelib.observability import logger
from chalicelib.services.ports import FileStore

PREFIX = "config/mappings/"
_TTL_SECONDS = 60.0


class S3MappingLoader:
    def __init__(self, files: FileStore) -> None:
        self.files = files
        self._cached: tuple[float, list[Mapping]] | None = None

    def __call__(self) -> Sequence[Mapping]:
        now = time.monotonic()
        if self._cached and now - self._cached[0] < _TTL_SECONDS:
            return self._cached[1]
        mappings: list[Mapping] = []
        for info in self.files.list(PREFIX):
            if not info.key.endswith(".json"):
                continue
            document: Any = self.files.get_json(info.key)
            try:
                mappings.append(Mapping.from_dict(document))
            except (ValueError, TypeError, KeyError) as exc:
                # A broken mapping must not block files that do not need it; it is named in the logs.
                logger.warning("ignoring invalid column mapping", extra={"key": info.key, "error": str(exc)})
        self._cached = (now, mappings)
        return mappings
