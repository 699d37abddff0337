"""Items are produced lazily from a stream, never from a list of the whole file."""

from __future__ import annotations

import io
import itertools
import json
from collections.abc import Iterator

from chalicelib.formats import SourceRecord, parse_file


class GeneratedStream(io.RawIOBase):
    """A one-pass byte stream fed by a generator; records how much of it has been produced."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""
        self.produced = 0
        self.exhausted = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                self.exhausted = True
                return 0
            self.produced += 1
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


ROWS = 200_000


def csv_rows() -> Iterator[bytes]:
    yield b"invoice_number,customer_name,issue_date,due_date,currency,total\r\n"
    for i in range(ROWS):
        day = 1 + i % 28
        yield f'INV-{i:06d},Customer {i % 500},2026-10-{day:02d},2026-12-01,EUR,"1,{i % 1000:03d}.50"\r\n'.encode()


def test_csv_items_arrive_before_the_stream_is_read():
    stream = GeneratedStream(csv_rows())
    parsed = parse_file(stream, "big.csv")
    first = next(parsed.items)
    assert isinstance(first, SourceRecord) and first.document.number == "INV-000000"
    assert not stream.exhausted and stream.produced < 5_000
    batch = list(itertools.islice(parsed.items, 9_999))
    assert batch[-1].document.number == "INV-009999" and batch[-1].line == 10_001
    assert not stream.exhausted and stream.produced < 20_000


def test_grouped_csv_is_lazy_too():
    def rows() -> Iterator[bytes]:
        yield b"*ContactName,*InvoiceNumber,*InvoiceDate,*DueDate,*Description,*Quantity,*UnitAmount," \
              b"*AccountCode,*TaxType,Currency\n"
        for i in range(ROWS):
            yield f"Acme,INV-{i // 4},01/10/2026,31/10/2026,Line,1,2.50,200,GST,AUD\n".encode()

    stream = GeneratedStream(rows())
    parsed = parse_file(stream, "lines.csv")
    first = next(parsed.items)
    assert first.document.number == "INV-0" and str(first.document.total) == "10.00 AUD"
    assert not stream.exhausted and stream.produced < 5_000


def test_json_array_and_lines_stream():
    def array() -> Iterator[bytes]:
        yield b'{"invoices": [\n'
        for i in range(ROWS):
            doc = {"invoice_number": f"J-{i}", "customer_name": "Acme", "issue_date": "2026-10-01",
                   "currency": "EUR", "total": "1.00"}
            yield (("," if i else "") + json.dumps(doc) + "\n").encode()
        yield b"]}\n"

    stream = GeneratedStream(array())
    parsed = parse_file(stream, "big.json")
    assert next(parsed.items).document.number == "J-0"
    assert [r.line for r in itertools.islice(parsed.items, 2)] == [3, 4]
    assert not stream.exhausted and stream.produced < 5_000

    def lines() -> Iterator[bytes]:
        for i in range(ROWS):
            yield (json.dumps({"invoice_number": f"L-{i}", "customer_name": "Acme", "issue_date": "2026-10-01",
                               "currency": "EUR", "total": "1.00"}) + "\n").encode()

    stream = GeneratedStream(lines())
    parsed = parse_file(stream, "big.jsonl")
    assert next(parsed.items).document.number == "L-0"
    assert not stream.exhausted and stream.produced < 5_000
