from __future__ import annotations

import io
from pathlib import Path

import pytest

from chalicelib.formats import Mapping, ParsedFile, RowError, SourceRecord, parse_file

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"


def parse(data: bytes | str, filename: str = "file.csv", **kwargs: object) -> ParsedFile:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return parse_file(io.BytesIO(raw), filename, **kwargs)  # type: ignore[arg-type]


def items(data: bytes | str, filename: str = "file.csv", **kwargs: object) -> list[SourceRecord | RowError]:
    return list(parse(data, filename, **kwargs).items)


def records(found: list[SourceRecord | RowError]) -> list[SourceRecord]:
    return [i for i in found if isinstance(i, SourceRecord)]


def errors(found: list[SourceRecord | RowError]) -> list[RowError]:
    return [i for i in found if isinstance(i, RowError)]


def example(name: str) -> list[SourceRecord | RowError]:
    with (EXAMPLES / name).open("rb") as stream:
        return list(parse_file(stream, name).items)


def mapping(**overrides: object) -> Mapping:
    """A small test mapping in the dunwell column names; overrides replace keys."""
    spec: dict[str, object] = {
        "name": "test",
        "description": "test mapping",
        "detect": ["number", "customer", "date", "amount"],
        "date_formats": ["%Y-%m-%d"],
        "columns": {
            "number": "number", "customer_name": "customer", "issue_date": "date", "due_date": "due",
            "total": "amount", "currency": "currency", "kind": "kind", "terms": "terms", "amount_paid": "paid",
        },
    }
    spec.update(overrides)
    return Mapping.from_dict(spec)


@pytest.fixture
def test_mapping() -> Mapping:
    return mapping()
