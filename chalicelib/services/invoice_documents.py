"""Use case: an invoice as a document. The ERP's own PDF where it dropped one (the document of record), else
Dunwell's rendering in the customer's language; the UBL XML of an invoice that came as UBL."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import IO, Protocol

from chalicelib.domain.customer import Customer
from chalicelib.domain.errors import NotFound
from chalicelib.domain.invoice import Invoice
from chalicelib.services.ingest_file import invoice_document_key
from chalicelib.services.ports import ObjectInfo, utc_now


class DocumentFiles(Protocol):
    def head(self, key: str) -> ObjectInfo | None: ...
    def open(self, key: str) -> IO[bytes]: ...


class InvoiceReader(Protocol):
    def get_invoices(self, invoice_ids: Iterable[str]) -> dict[str, Invoice]: ...


class CustomerReader(Protocol):
    def get_customer(self, customer_id: str) -> Customer | None: ...


@dataclass(frozen=True)
class InvoiceDocument:
    body: bytes
    source: str  # "original": the ERP's PDF; "rendered": Dunwell's; "ubl": the UBL XML as received
    filename: str


# (invoice, customer, today) -> PDF bytes; formats/invoice_pdf.py behind bootstrap (fpdf2 loads only then).
PdfRenderer = Callable[[Invoice, Customer | None, date], bytes]


class InvoiceDocuments:
    def __init__(self, files: DocumentFiles, ledger: InvoiceReader, customers: CustomerReader,
                 render: PdfRenderer, clock: Callable[[], datetime] | None = None) -> None:
        self.files = files
        self.ledger = ledger
        self.customers = customers
        self.render = render
        self.clock = clock or utc_now

    def pdf(self, invoice_id: str) -> InvoiceDocument:
        invoice = self._invoice(invoice_id)
        name = _filename(invoice.number, "pdf")
        original = self._read(invoice_document_key(invoice.invoice_id, "pdf"))
        if original is not None:
            return InvoiceDocument(original, "original", name)
        customer = self.customers.get_customer(invoice.customer_id)
        return InvoiceDocument(self.render(invoice, customer, self.clock().date()), "rendered", name)

    def ubl(self, invoice_id: str) -> InvoiceDocument:
        invoice = self._invoice(invoice_id)
        original = self._read(invoice_document_key(invoice.invoice_id, "xml"))
        if original is None:
            raise NotFound("UBL document of invoice", invoice_id)
        return InvoiceDocument(original, "ubl", _filename(invoice.number, "xml"))

    def _invoice(self, invoice_id: str) -> Invoice:
        invoice = self.ledger.get_invoices([invoice_id]).get(invoice_id)
        if invoice is None:
            raise NotFound("invoice", invoice_id)
        return invoice

    def _read(self, key: str) -> bytes | None:
        if self.files.head(key) is None:
            return None
        body = self.files.open(key)
        try:
            return body.read()
        finally:
            body.close()


def _filename(number: str, extension: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in number)
    return f"{safe or 'invoice'}.{extension}"

