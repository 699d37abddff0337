"""CSV invoice files, read through a column mapping, one row (or one group of line-item rows) at a time."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from chalicelib.domain.ids import normalise_number
from chalicelib.formats.builder import DocumentBuilder
from chalicelib.formats.mapping import (
    LINE_FIELDS,
    Mapping,
    Match,
    builtin_mappings,
    detect_missing,
    get_mapping,
    resolve,
)
from chalicelib.formats.records import ParsedFile, ParsedItem, RowError, SourceRecord, UnreadableFile, covering
from chalicelib.formats.streams import guarded

if TYPE_CHECKING:
    from _csv import Reader

# Fields that may differ between the rows of one invoice; every other field must agree.
_PER_LINE = frozenset((*LINE_FIELDS, "description"))
_HEADER_LINES_MAX = 50


def parse_csv(text: io.TextIOWrapper, extra: Sequence[Mapping] = (), mapping_name: str | None = None) -> ParsedFile:
    header_text, header_start, header_lines = _read_header(text)
    match = choose_mapping(header_text, extra, mapping_name)
    mapping = match.mapping
    reader = csv.reader(text, delimiter=mapping.delimiter)
    header = _split(header_text, mapping.delimiter)
    labels = {name: header[i].strip().lstrip("*").strip() for name, i in match.index.items()}
    builder = DocumentBuilder(mapping, labels)
    offset = header_start + header_lines - 1  # physical lines before the first data row

    rows = _Rows(reader, offset, match, len(header))
    items = _grouped(rows, builder) if mapping.grouping != "none" else _single(rows, builder)
    return ParsedFile("csv", mapping.name, guarded(items, rows.current_line))


def _read_header(text: io.TextIOWrapper) -> tuple[str, int, int]:
    """The header record's text, the line it starts on and how many physical lines it spans."""
    line = 1
    first = text.readline()
    while first and not first.strip():
        line += 1
        first = text.readline()
    if not first:
        raise UnreadableFile("file is empty" if line == 1 else "file has no header row (only blank lines)")
    header, spanned = first, 1
    # A quoted header cell may hold a newline: read on until the quotes balance.
    while header.count('"') % 2 and spanned < _HEADER_LINES_MAX:
        more = text.readline()
        if not more:
            break
        header += more
        spanned += 1
    return header, line, spanned


def _split(header_text: str, delimiter: str) -> list[str]:
    return next(csv.reader(io.StringIO(header_text, newline=""), delimiter=delimiter), [])


def choose_mapping(header_text: str, extra: Sequence[Mapping], mapping_name: str | None) -> Match:
    """The mapping named by the caller, else the one whose identifying columns the header has.

    User mappings are tried before built-ins so a user's variant of a built-in wins. Among matches,
    the one with the most identifying columns wins (a Xero export has every column the import
    template has, plus its own); a tie is refused rather than guessed."""
    headers: dict[str, list[str]] = {}

    def header_for(mapping: Mapping) -> list[str]:
        if mapping.delimiter not in headers:
            headers[mapping.delimiter] = _split(header_text, mapping.delimiter)
        return headers[mapping.delimiter]

    if mapping_name:
        try:
            mapping = get_mapping(mapping_name, extra)
        except KeyError:
            known = ", ".join(sorted({m.name for m in (*extra, *builtin_mappings())}))
            raise UnreadableFile(f"unknown column mapping {mapping_name!r}; known: {known}") from None
        return _bind(mapping, header_for(mapping))

    for group in (extra, builtin_mappings()):
        candidates = [m for m in group if m.auto_detect and not detect_missing(m, header_for(m))]
        if not candidates:
            continue
        best = max(len(m.detect) for m in candidates)
        top = [m for m in candidates if len(m.detect) == best]
        if len(top) > 1:
            names = ", ".join(m.name for m in top)
            raise UnreadableFile(f"the header fits several column mappings ({names}); choose one by name")
        return _bind(top[0], header_for(top[0]))

    automatic = [m for m in (*extra, *builtin_mappings()) if m.auto_detect]
    if not automatic:
        raise UnreadableFile("no column mapping can be detected automatically; choose one by name")
    closest = min(automatic, key=lambda m: len(detect_missing(m, header_for(m))))
    missing = ", ".join(detect_missing(closest, header_for(closest)))
    raise UnreadableFile(
        f"the header matches no column mapping; the closest, {closest.name!r}, lacks: {missing}. "
        "Choose a mapping or add one for your export (docs/MAPPINGS.md)"
    )


def _bind(mapping: Mapping, header: list[str]) -> Match:
    match, missing = resolve(mapping, header)
    if match is None:
        raise UnreadableFile(f"the header lacks columns that mapping {mapping.name!r} requires: {', '.join(missing)}")
    return match


class _Rows:
    """Data rows as (first physical line, {field: text}) with blank rows skipped; a malformed row
    becomes a RowError in its place."""

    def __init__(self, reader: Reader, offset: int, match: Match, width: int) -> None:
        self.reader = reader
        self.offset = offset
        self.fields = tuple(match.index.items())
        self.width = width
        self.delimiter = match.mapping.delimiter
        self.number_index = match.index.get("number")
        self._line = offset

    def current_line(self) -> int:
        return self._line + 1

    def __iter__(self) -> Iterator[tuple[int, dict[str, str] | RowError]]:
        reader, offset, fields, width = self.reader, self.offset, self.fields, self.width
        previous = 0
        try:
            for cells in reader:
                start = offset + previous + 1
                previous = reader.line_num
                self._line = offset + previous
                size = len(cells)
                if not size or (size == 1 and not cells[0].strip()):
                    continue
                if size > width and any(c.strip() for c in cells[width:]):
                    number = cells[self.number_index].strip() or None if self.number_index is not None else None
                    yield start, RowError(
                        start, None,
                        f"row has {size} cells but the header has {width}: a value with an unquoted "
                        f"{self.delimiter!r} (such as 1,234.00) shifts the columns; quote it", None, number,
                    )
                    continue
                values: dict[str, str] = {}
                for name, index in fields:
                    if index < size:
                        value = cells[index].strip()
                        if value:
                            values[name] = value
                if values:
                    yield start, values
        except csv.Error as exc:
            raise UnreadableFile(f"CSV structure is broken near line {self._line + 1}: {exc} "
                                 "(an unclosed quote?)") from exc


def _single(rows: _Rows, builder: DocumentBuilder) -> Iterator[ParsedItem]:
    for line, values in rows:
        if isinstance(values, RowError):
            yield values
        else:
            yield from builder.build(values, line)


def _grouped(rows: _Rows, builder: DocumentBuilder) -> Iterator[ParsedItem]:
    """Consecutive rows with one invoice number make one invoice. Only the current invoice's rows
    are held, so memory stays flat; the price is that an invoice's rows must be contiguous."""
    done: dict[str, tuple[int, int]] = {}  # invoice number -> (first, last) line of its finished group
    group = _Group()
    number_label = builder.label("number")
    for line, values in rows:
        number = values.number if isinstance(values, RowError) else values.get("number")
        if not number:
            error = values if isinstance(values, RowError) else RowError(
                line, number_label, "document number is missing", None, None)
            if group.lines or group.errors:
                # The line most likely belongs to the invoice above; importing that invoice without it
                # would understate its total.
                group.errors.append(error)
            else:
                yield error
            continue
        row_key = normalise_number(number)
        if row_key != group.key:
            if group.lines or group.errors:
                yield from group.finish(builder)
                assert group.key is not None
                done[group.key] = (group.first, group.last)
            group = _Group(row_key, number)
        if row_key in done:
            first, last = done[row_key]
            yield RowError(
                line, number_label,
                f"lines of invoice {number} are not contiguous: the invoice was already read from lines "
                f"{first}-{last}, so this line was not added; put all its lines together and send the file again",
                number, number,
            )
            continue
        if isinstance(values, RowError):
            group.errors.append(values)
        else:
            group.lines.append((line, values))
        group.first, group.last = min(group.first, line), max(group.last, line)
    if group.lines or group.errors:
        yield from group.finish(builder)


class _Group:
    """The rows of the invoice being read."""

    def __init__(self, key: str | None = None, number: str | None = None) -> None:
        self.key, self.number = key, number
        self.lines: list[tuple[int, dict[str, str]]] = []
        self.errors: list[RowError] = []
        self.first, self.last = 1 << 62, 0

    def finish(self, builder: DocumentBuilder) -> list[ParsedItem]:
        # The invoice is read even when one of its rows could not be: its own problems (an unknown currency,
        # a bad date) are what the user has to fix, and an unreadable row must not hide them.
        own = _flush(self.lines, builder) if self.lines else []
        if not self.errors:
            return own
        if not any(isinstance(item, SourceRecord) for item in own):
            return [*own, *self.errors]
        bad = ", ".join(str(e.line) for e in self.errors)
        return [*self.errors, RowError(
            self.first, builder.label("number"),
            f"invoice {self.number} not imported: its line(s) on line {bad} could not be read", self.number,
            self.number, rows=len(self.lines),
        )]


def _flush(group: list[tuple[int, dict[str, str]]], builder: DocumentBuilder) -> list[ParsedItem]:
    first_line, header = group[0][0], dict(group[0][1])
    origin = dict.fromkeys(header, first_line)
    conflicts: list[ParsedItem] = []
    number = header.get("number")
    for line, values in group[1:]:
        for name, value in values.items():
            if name in _PER_LINE:
                continue
            seen = header.get(name)
            if seen is None:
                # ERPs often fill invoice-level cells on the first row only: a blank later cell inherits.
                header[name], origin[name] = value, line
            elif seen != value:
                label = builder.label(name)
                conflicts.append(RowError(
                    line, label, f"invoice {number}: {label} is {value!r} here but {seen!r} on line {origin[name]}; "
                    "all lines of one invoice must agree", value, number,
                ))
    if conflicts:
        return covering(conflicts, len(group))
    lines = group if builder.mapping.grouping == "sum_lines" else ()
    return covering(builder.build(header, first_line, lines), len(group))
