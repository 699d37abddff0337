"""The one entry point the ingest service calls: pick the format, then parse lazily."""

from __future__ import annotations

import codecs
import json
import posixpath
from collections.abc import Sequence
from typing import BinaryIO

from chalicelib.formats.csv_parser import parse_csv
from chalicelib.formats.json_parser import parse_json, parse_jsonl
from chalicelib.formats.mapping import Mapping
from chalicelib.formats.records import ParsedFile, UnreadableFile
from chalicelib.formats.streams import Readable, buffered, check_utf8, open_checked, text
from chalicelib.formats.ubl import parse_ubl

_BY_EXTENSION = {
    ".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".xml": "ubl",
}
_SNIFFED = ("", ".txt")  # names that say nothing about the format: the content decides


def parse_file(
    stream: BinaryIO | Readable,
    filename: str,
    extra_mappings: Sequence[Mapping] = (),
    mapping_name: str | None = None,
) -> ParsedFile:
    """Parse a dropped invoice file.

    The format comes from the extension (.csv, .json, .jsonl/.ndjson, .xml) or, for .txt and names
    without one, from the first bytes. Whole-file problems raise UnreadableFile here; the header and
    structure are read eagerly so most are found before the first item. `items` is a lazy iterator:
    a file of any length is parsed in bounded memory, and a problem found deep in a one-pass stream
    (a bad byte, broken JSON) raises UnreadableFile from the iterator. Pass a seekable stream to
    have the encoding checked up front. `extra_mappings` (the user's CSV mappings) are tried before
    the built-ins; `mapping_name` forces one.
    """
    extension = posixpath.splitext(filename.rsplit("/", 1)[-1].lower())[1]
    if extension not in _BY_EXTENSION and extension not in _SNIFFED:
        known = ", ".join(sorted(_BY_EXTENSION))
        raise UnreadableFile(f"unsupported file type {extension!r}; Dunwell reads {known} (and .txt as CSV)")
    start, reader, head = open_checked(stream)
    fmt = _BY_EXTENSION.get(extension) or _sniff(head)
    if fmt == "json" and _looks_like_json_lines(head):
        fmt = "jsonl"
    if fmt == "ubl":
        return parse_ubl(reader)
    if start is not None:
        stream.seek(start)  # type: ignore[union-attr]
        check_utf8(stream)
        reader = buffered(stream)
    decoded = text(reader)
    try:
        if fmt == "csv":
            return parse_csv(decoded, extra_mappings, mapping_name)
        if fmt == "json":
            return parse_json(decoded)
        return parse_jsonl(decoded)
    except UnicodeDecodeError as exc:
        raise UnreadableFile("file is not UTF-8 text; export or save it as UTF-8") from exc


def _content(head: bytes) -> bytes:
    return head.removeprefix(codecs.BOM_UTF8).lstrip()


def _sniff(head: bytes) -> str:
    content = _content(head)
    if not content:
        raise UnreadableFile("file is empty")
    if content.startswith(b"<"):
        return "ubl"
    if content.startswith((b"[", b"{")):
        return "json"
    return "csv"


def _looks_like_json_lines(head: bytes) -> bool:
    """A .json file whose first line is a whole document (not a wrapper with "invoices") is JSON Lines."""
    content = _content(head)
    if not content.startswith(b"{"):
        return False
    first, newline, _ = content.partition(b"\n")
    if not newline:
        return False
    try:
        obj = json.loads(first)
    except ValueError:
        return False
    return isinstance(obj, dict) and "invoices" not in obj
