"""Byte streams as the parsers need them: buffered, peekable, decoded as UTF-8 without owning the caller's stream."""

from __future__ import annotations

import codecs
import io
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO, Protocol, TypeVar

from chalicelib.formats.records import UnreadableFile

_CHUNK = 1 << 20
_BUFFER = 1 << 16

T = TypeVar("T")


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _RawAdapter(io.RawIOBase):
    """Lets io.BufferedReader wrap anything with read(n) (an S3 StreamingBody, a socket file) and
    keeps our wrappers from closing the caller's stream when they are garbage-collected."""

    def __init__(self, source: Readable) -> None:
        self._source = source

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self._source.read(len(view))
        size = len(data)
        view[:size] = data
        return size


def buffered(stream: BinaryIO | Readable) -> io.BufferedReader:
    return io.BufferedReader(_RawAdapter(stream), buffer_size=_BUFFER)


def check_utf8(stream: Any) -> None:
    """Decode a seekable stream once up front so a bad byte deep in the file rejects the file before
    any row is imported; a one-pass stream (S3 body) is checked as it is parsed instead."""
    seekable = getattr(stream, "seekable", None)
    if seekable is None or not seekable():
        return
    file = stream
    start = file.tell()
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines = 0
    try:
        while chunk := file.read(_CHUNK):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                raise not_utf8(lines + chunk.count(b"\n", 0, exc.start) + 1) from exc
            lines += chunk.count(b"\n")
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise not_utf8(lines + 1) from exc
    finally:
        file.seek(start)


def not_utf8(line: int | None = None) -> UnreadableFile:
    where = f" (first bad byte on line {line})" if line else ""
    return UnreadableFile(f"file is not UTF-8 text{where}; export or save it as 'CSV UTF-8' / UTF-8")


def sniff_encoding_problem(head: bytes) -> str | None:
    """A clear reason for files that are plainly not UTF-8 text, from their first bytes."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "file is UTF-16 text; save it as UTF-8 (in Excel: 'CSV UTF-8')"
    if head.startswith(b"PK\x03\x04"):
        return "file is a ZIP archive or an Excel workbook (.xlsx); export the sheet as CSV UTF-8"
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        return "file is a legacy Excel workbook (.xls); export the sheet as CSV UTF-8"
    if head.startswith(b"%PDF"):
        return "file is a PDF; Dunwell reads CSV, JSON, JSON Lines and UBL XML"
    if head.startswith(b"\x1f\x8b"):
        return "file is gzip-compressed; upload it uncompressed"
    return None


def text(reader: io.BufferedReader) -> io.TextIOWrapper:
    """UTF-8 text with a leading BOM dropped; newline='' leaves CR/LF handling to the csv module."""
    return io.TextIOWrapper(reader, encoding="utf-8-sig", errors="strict", newline="")


def guarded(items: Iterator[T], line: Callable[[], int]) -> Iterator[T]:
    """Turn a decoding failure found mid-stream into the whole-file error it is."""
    try:
        yield from items
    except UnicodeDecodeError as exc:
        raise not_utf8(line()) from exc


PEEK_BYTES = 4096


def stream_position(stream: BinaryIO | Readable) -> int | None:
    """Where a seekable stream is now (to read it again after a whole-file check); None if it cannot seek."""
    seekable = getattr(stream, "seekable", None)
    if seekable is None or not seekable():
        return None
    position: int = stream.tell()  # type: ignore[union-attr]
    return position


def open_checked(stream: BinaryIO | Readable) -> tuple[int | None, io.BufferedReader, bytes]:
    """The stream's start position, a buffered reader over it, and its first bytes, after refusing
    files that are not text we read (UTF-16, spreadsheets, archives) with a reason."""
    start = stream_position(stream)
    reader = buffered(stream)
    head = reader.peek(PEEK_BYTES)[:PEEK_BYTES]
    problem = sniff_encoding_problem(head)
    if problem:
        raise UnreadableFile(problem)
    return start, reader, head
