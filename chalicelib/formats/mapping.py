"""CSV column mappings: data (JSON) that tells the CSV parser how one ERP writes its invoices.

A mapping names the header columns that identify the export, its delimiter, decimal separator and
date formats, which column feeds which Dunwell field, defaults for absent values, how the ERP writes
document types and statuses, and whether several rows (line items) make one invoice. Built-in
mappings live in `mappings/*.json`; users add their own through the same schema (docs/MAPPINGS.md).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from chalicelib.domain.errors import DomainError
from chalicelib.domain.money import normalise_currency

DOCUMENT_FIELDS = (
    "number", "kind", "status", "issue_date", "due_date", "total", "amount_paid", "amount_due",
    "currency", "applies_to", "buyer_reference", "description", "terms",
)
CUSTOMER_FIELDS = (
    "customer_id", "customer_name", "contact_name", "email", "phone", "language", "timezone", "country", "tax_id",
    *("address_line1", "address_line2", "address_line3", "address_line4", "postal_code", "city", "region",
      "address_country"),
)
LINE_FIELDS = ("quantity", "unit_amount", "discount_percent", "line_amount", "tax_amount")
FIELDS = frozenset(DOCUMENT_FIELDS + CUSTOMER_FIELDS + LINE_FIELDS)

# Without these no document can be built; `total` may instead come from line items (grouping sum_lines).
ALWAYS_REQUIRED = ("number", "customer_name", "issue_date", "currency", "total")

KINDS = ("invoice", "credit_note", "skip")
STATUSES = ("open", "void", "skip")
GROUPINGS = ("none", "repeated", "sum_lines")

_BASE_KIND_VALUES = {"invoice": "invoice", "credit_note": "credit_note", "credit note": "credit_note"}
_BASE_STATUS_VALUES = {"open": "open", "void": "void"}

_KEYS = frozenset({
    "name", "description", "extends", "detect", "auto_detect", "delimiter", "decimal_separator", "date_formats",
    "columns", "defaults", "required", "kind_values", "status_values", "grouping", "tax_included",
    "credit_notes_negative",
})
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_HEADER_NOISE = re.compile(r"[\W_]+")
_DATE_DIRECTIVE = re.compile(r"%[dmyYbB]")
_MAPPINGS_DIR = Path(__file__).parent / "mappings"


class MappingError(ValueError):
    """A mapping definition is invalid; the message says which key and why."""


def normalise_header(name: str) -> str:
    """`*Invoice Date`, `InvoiceDate` and ` invoice_date ` are the same column."""
    return _HEADER_NOISE.sub("", name.casefold())


def normalise_value(text: str) -> str:
    return " ".join(text.split()).casefold()


@dataclass(frozen=True)
class Mapping:
    name: str
    description: str
    columns: dict[str, tuple[str, ...]]  # field -> accepted header names, as the mapping writes them
    detect: tuple[tuple[str, ...], ...] = ()  # identifying columns, each with accepted spellings
    auto_detect: bool = True
    delimiter: str = ","
    decimal_separator: str = "."
    date_formats: tuple[str, ...] = ("%Y-%m-%d",)
    defaults: dict[str, str] = field(default_factory=dict)
    required: frozenset[str] = frozenset()
    kind_values: dict[str, str] = field(default_factory=lambda: dict(_BASE_KIND_VALUES))
    status_values: dict[str, str] = field(default_factory=lambda: dict(_BASE_STATUS_VALUES))
    grouping: str = "none"
    tax_included: bool = False
    credit_notes_negative: bool = False
    spec: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_dict(cls, data: object, bases: Iterable[Mapping] = ()) -> Mapping:
        """Validate a mapping definition (parsed JSON). `extends` names a base mapping among `bases`
        or the built-ins; the definition's keys override the base's, `columns` and `defaults` key by key."""
        if not isinstance(data, dict):
            raise MappingError("a mapping must be a JSON object")
        spec = dict(data)
        if "extends" in spec:
            spec = _extend(spec, bases)
        return _build(spec)

    def is_required(self, name: str) -> bool:
        return name in self.required

    @property
    def header_names(self) -> dict[str, tuple[str, ...]]:
        """Field -> normalised accepted header names."""
        return {f: tuple(normalise_header(c) for c in names) for f, names in self.columns.items()}


def _extend(spec: dict[str, Any], bases: Iterable[Mapping]) -> dict[str, Any]:
    base_name = spec.pop("extends")
    if not isinstance(base_name, str):
        raise MappingError("'extends' must be the name of another mapping")
    known = {m.name: m for m in builtin_mappings()} | {m.name: m for m in bases}
    if base_name not in known:
        raise MappingError(f"'extends': unknown mapping {base_name!r}; known: {', '.join(sorted(known))}")
    merged = dict(known[base_name].spec)
    for key in ("columns", "defaults", "kind_values", "status_values"):
        if isinstance(spec.get(key), dict) and isinstance(merged.get(key), dict):
            spec[key] = merged[key] | spec[key]
    merged.update(spec)
    return merged


def _text(spec: dict[str, Any], key: str, default: str | None = None) -> str:
    value = spec.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise MappingError(f"{key!r} must be a non-empty string")
    return value


def _flag(spec: dict[str, Any], key: str, default: bool) -> bool:
    value = spec.get(key, default)
    if not isinstance(value, bool):
        raise MappingError(f"{key!r} must be true or false")
    return value


def _spellings(value: object, where: str) -> tuple[str, ...]:
    names = [value] if isinstance(value, str) else value
    if not isinstance(names, list) or not names or not all(isinstance(n, str) and normalise_header(n) for n in names):
        raise MappingError(f"{where} must be a column name or a non-empty list of column names")
    return tuple(names)


def _value_map(spec: dict[str, Any], key: str, allowed: Sequence[str], base: dict[str, str]) -> dict[str, str]:
    raw = spec.get(key, {})
    if not isinstance(raw, dict):
        raise MappingError(f"{key!r} must be an object mapping the ERP's values to one of {', '.join(allowed)}")
    result = dict(base)
    for text, meaning in raw.items():
        if meaning not in allowed:
            raise MappingError(f"{key!r}: {text!r} maps to {meaning!r}; use one of {', '.join(allowed)}")
        result[normalise_value(text)] = meaning
    return result


def _check_date_formats(formats: object) -> tuple[str, ...]:
    if isinstance(formats, str):
        formats = [formats]
    if not isinstance(formats, list) or not formats or not all(isinstance(f, str) for f in formats):
        raise MappingError("'date_formats' must be a non-empty list of strptime formats such as \"%d/%m/%Y\"")
    shapes: dict[str, str] = {}
    for fmt in formats:
        directives = _DATE_DIRECTIVE.findall(fmt)
        has_day = "%d" in directives
        has_month = "%m" in directives or "%b" in directives or "%B" in directives
        has_year = "%Y" in directives or "%y" in directives
        if not (has_day and has_month and has_year):
            raise MappingError(f"date format {fmt!r} needs a day (%d), a month (%m, %b) and a year (%Y)")
        # Two formats that differ only in day/month order would make 01/02/2026 ambiguous: refuse them.
        shape = fmt.replace("%d", "%N").replace("%m", "%N")
        if shape in shapes and shapes[shape] != fmt:
            raise MappingError(f"date formats {shapes[shape]!r} and {fmt!r} are ambiguous; keep one order")
        shapes[shape] = fmt
    return tuple(formats)


def _build(spec: dict[str, Any]) -> Mapping:
    unknown = set(spec) - _KEYS
    if unknown:
        raise MappingError(f"unknown keys {sorted(unknown)}; allowed: {', '.join(sorted(_KEYS))}")
    name = _text(spec, "name")
    if not _NAME.match(name):
        raise MappingError(f"'name' {name!r} must be lowercase letters, digits, '_' or '-'")
    description = _text(spec, "description")

    raw_columns = spec.get("columns")
    if not isinstance(raw_columns, dict) or not raw_columns:
        raise MappingError("'columns' must be an object mapping Dunwell fields to column names")
    columns: dict[str, tuple[str, ...]] = {}
    for name_, value in raw_columns.items():
        if name_ not in FIELDS:
            raise MappingError(f"'columns': unknown field {name_!r}; fields: {', '.join(sorted(FIELDS))}")
        columns[name_] = _spellings(value, f"'columns.{name_}'")

    raw_defaults = spec.get("defaults", {})
    if not isinstance(raw_defaults, dict) or not all(isinstance(v, str) for v in raw_defaults.values()):
        raise MappingError("'defaults' must be an object of field -> text value")
    for name_ in raw_defaults:
        if name_ not in FIELDS:
            raise MappingError(f"'defaults': unknown field {name_!r}")
    defaults = {k: v.strip() for k, v in raw_defaults.items() if v.strip()}
    if "currency" in defaults:
        try:
            defaults["currency"] = normalise_currency(defaults["currency"])
        except DomainError as exc:
            raise MappingError(f"'defaults.currency': {exc.message}") from exc

    raw_required = spec.get("required", [])
    if not isinstance(raw_required, list) or not all(isinstance(r, str) and r in FIELDS for r in raw_required):
        raise MappingError("'required' must be a list of Dunwell field names")

    grouping = spec.get("grouping", "none")
    if grouping not in GROUPINGS:
        raise MappingError(f"'grouping' must be one of {', '.join(GROUPINGS)}")
    required = set(ALWAYS_REQUIRED) | set(raw_required)
    if grouping == "sum_lines":
        required.discard("total")  # an explicit total column is used when filled, else the lines are summed
        if "line_amount" not in columns and not {"quantity", "unit_amount"} <= set(columns):
            raise MappingError("grouping 'sum_lines' needs a 'line_amount' column or 'quantity' and 'unit_amount'")
    for name_ in sorted(required):
        if name_ not in columns and name_ not in defaults:
            raise MappingError(f"field {name_!r} is required: give it a column or a default")

    delimiter = spec.get("delimiter", ",")
    if delimiter not in (",", ";", "\t", "|"):
        raise MappingError("'delimiter' must be one of ',', ';', '\\t', '|'")
    decimal = spec.get("decimal_separator", ".")
    if decimal not in (".", ","):
        raise MappingError("'decimal_separator' must be '.' or ','")

    auto_detect = _flag(spec, "auto_detect", True)
    raw_detect = spec.get("detect", [])
    if not isinstance(raw_detect, list):
        raise MappingError("'detect' must be a list of column names")
    detect = tuple(_spellings(d, "each 'detect' entry") for d in raw_detect)
    if auto_detect and not detect:
        raise MappingError("'detect' must list the header columns that identify this export (or set auto_detect false)")

    return Mapping(
        name=name,
        description=description,
        columns=columns,
        detect=detect,
        auto_detect=auto_detect,
        delimiter=delimiter,
        decimal_separator=decimal,
        date_formats=_check_date_formats(spec.get("date_formats", ["%Y-%m-%d"])),
        defaults=defaults,
        required=frozenset(required),
        kind_values=_value_map(spec, "kind_values", KINDS, _BASE_KIND_VALUES),
        status_values=_value_map(spec, "status_values", STATUSES, _BASE_STATUS_VALUES),
        grouping=grouping,
        tax_included=_flag(spec, "tax_included", False),
        credit_notes_negative=_flag(spec, "credit_notes_negative", False),
        spec=dict(spec),
    )


@cache
def _builtin() -> tuple[Mapping, ...]:
    mappings = []
    for path in sorted(_MAPPINGS_DIR.glob("*.json")):
        try:
            mappings.append(Mapping.from_dict(json.loads(path.read_text(encoding="utf-8"))))
        except (MappingError, ValueError) as exc:
            raise MappingError(f"built-in mapping {path.name}: {exc}") from exc
    return tuple(mappings)


def builtin_mappings() -> tuple[Mapping, ...]:
    return _builtin()


def get_mapping(name: str, extra: Sequence[Mapping] = ()) -> Mapping:
    for mapping in (*extra, *builtin_mappings()):
        if mapping.name == name:
            return mapping
    raise KeyError(name)


@dataclass(frozen=True)
class Match:
    mapping: Mapping
    index: dict[str, int]  # field -> column index in the header


def resolve(mapping: Mapping, header: Sequence[str]) -> tuple[Match | None, list[str]]:
    """Bind a mapping to a header row. Returns the match, or None and the missing columns."""
    positions: dict[str, list[int]] = {}
    for i, cell in enumerate(header):
        positions.setdefault(normalise_header(cell), []).append(i)
    missing: list[str] = []
    index: dict[str, int] = {}
    for name, spellings in mapping.header_names.items():
        found = [positions[s] for s in spellings if s in positions]
        if not found:
            if name in mapping.required and name not in mapping.defaults:
                missing.append(mapping.columns[name][0])
            continue
        if len(found[0]) > 1:
            missing.append(f"{mapping.columns[name][0]} (appears {len(found[0])} times)")
            continue
        index[name] = found[0][0]
    if mapping.grouping == "sum_lines" and "line_amount" not in index and not {"quantity", "unit_amount"} <= set(index):
        missing.append(mapping.columns.get("line_amount", mapping.columns.get("unit_amount", ("line amount",)))[0])
    return (None, missing) if missing else (Match(mapping, index), [])


def detect_missing(mapping: Mapping, header: Sequence[str]) -> list[str]:
    present = {normalise_header(cell) for cell in header}
    return [spellings[0] for spellings in mapping.detect if not any(normalise_header(s) in present for s in spellings)]
