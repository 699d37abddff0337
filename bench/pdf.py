"""Invoice PDFs: time to render one (fpdf2, DejaVu Sans subset, EPC QR code), the first one in a fresh process
(imports and font parsing included), what the PDF stack adds to the deployment zip, and `import app` against a bare
`import boto3` (fpdf2 and segno must not load at cold start)."""

from __future__ import annotations

import importlib.util
import io
import os
import statistics
import subprocess
import sys
import time
import zipfile
from datetime import date
from decimal import Decimal
from pathlib import Path

from bench import coldstart

ROOT = Path(__file__).resolve().parents[1]
RUNS = 50
_FIRST = (
    "import time; t = time.perf_counter(); from bench.pdf import render_once; render_once(); "
    "print((time.perf_counter() - t) * 1000)"
)


def render_once() -> bytes:
    from chalicelib.domain.customer import Address, Customer
    from chalicelib.domain.invoice import Invoice, LedgerCharge
    from chalicelib.domain.money import Money
    from chalicelib.domain.terms import PaymentTerms
    from chalicelib.formats.invoice_pdf import InvoicePdfRenderer
    from chalicelib.formats.messages import Seller

    def eur(text: str) -> Money:
        return Money.of(Decimal(text), "EUR")

    invoice = Invoice("INV-2026-1001", "INV-2026-1001", "acme", date(2026, 11, 1), date(2026, 12, 1), eur("1234.56"),
                      eur("0"), eur("200.00"), eur("34.56"), eur("0"), buyer_reference="PO 4711",
                      charges=(LedgerCharge("fee", eur("5.00"), "fee", "k", date(2026, 11, 3)),))
    customer = Customer("acme", "Acme Maschinenbau GmbH", language="de",
                        payment_terms=PaymentTerms.parse("2/10 net 30"),
                        address=Address(line1="Hauptstraße 5", postal_code="10115", city="Berlin", country="DE"))
    seller = Seller("Nordlicht Handels GmbH", "ar@nordlicht.example", "+49 40 123456", "DE89370400440532013000",
                    "COBADEFFXXX", ("Speicherstadt 1", "20457 Hamburg"))
    return InvoicePdfRenderer(seller, "https://pay.example.com/i/{invoice_id}")(invoice, customer, date(2026, 11, 5))


def render_letter_once() -> tuple[bytes, int]:
    """A final notice by post (de) about three invoices: the email's wording (templates) laid out as a DIN 5008
    letter, with the RF references table, as the dunning service makes it for a `letter` step."""
    from chalicelib.domain.customer import Address, Contact, Customer
    from chalicelib.formats.letter_pdf import LetterInvoice, LetterPdfInput, render_letter_pdf
    from chalicelib.formats.messages import InvoiceLine, Seller, render_reminder_email

    seller = Seller("Nordlicht Handels GmbH", "ar@nordlicht.example", "+49 40 123456", "DE89370400440532013000",
                    "COBADEFFXXX", ("Speicherstadt 1", "20457 Hamburg"))
    customer = Customer("acme", "Acme Maschinenbau GmbH", (Contact("Frau Meier", "ap@acme.example"),), language="de",
                        address=Address(line1="Hauptstraße 5", postal_code="10115", city="Berlin", country="DE"))
    numbers = ("INV-2026-1001", "INV-2026-1002", "INV-2026-1003")
    lines = [InvoiceLine(n, date(2026, 9, 1), date(2026, 10, 1), "EUR", Decimal("1234.56"), Decimal("1234.56"), 67,
                         (("late_fee", Decimal("40.00")),)) for n in numbers]
    mail = render_reminder_email("final", "de", customer.name, lines, seller, date(2026, 12, 7),
                                 contact_name="Frau Meier", deadline=date(2026, 12, 14))
    letter = render_letter_pdf(LetterPdfInput(seller, customer, "de", date(2026, 12, 7), mail.subject, mail.text, [
        LetterInvoice(n, date(2026, 10, 1), "EUR", Decimal("1274.56"), f"RF00 {n}") for n in numbers]))
    return letter.body, letter.pages


def render_statement_once() -> tuple[bytes, int]:
    """A German statement of account: 40 open invoices, two credit notes, five recent payments."""
    from chalicelib.domain.customer import Address, Customer
    from chalicelib.domain.money import Money
    from chalicelib.formats.messages import Seller
    from chalicelib.formats.statement_pdf import StatementPdfInput, render_statement_pdf
    from chalicelib.services.statement import Statement, StatementCredit, StatementLine, StatementPayment

    def eur(text: str) -> Money:
        return Money.of(Decimal(text), "EUR")

    seller = Seller("Nordlicht Handels GmbH", "ar@nordlicht.example", "+49 40 123456", "DE89370400440532013000",
                    "COBADEFFXXX", ("Speicherstadt 1", "20457 Hamburg"))
    customer = Customer("acme", "Acme Maschinenbau GmbH", language="de",
                        address=Address(line1="Hauptstraße 5", postal_code="10115", city="Berlin", country="DE"))
    lines = tuple(StatementLine(f"INV-2026-{n}", f"INV-2026-{n}", date(2026, 9, 1), date(2026, 10, 1 + n % 28),
                                30 + n, eur("1234.56"), "open", None) for n in range(40))
    credits = (StatementCredit("GS-1", date(2026, 11, 1), eur("100.00")),
               StatementCredit("GS-2", date(2026, 11, 2), eur("50.00")))
    payments = tuple(StatementPayment(date(2026, 11, 20 + n), eur("500.00"), f"INV-2025-{n}") for n in range(5))
    statement = Statement(customer, date(2026, 12, 7), lines, credits, payments, {"EUR": eur("49232.40")})
    rendered = render_statement_pdf(StatementPdfInput(seller, statement, None))
    return rendered.body, rendered.pages


def _zipped_size(paths: list[Path]) -> tuple[int, int]:
    """(deflated, raw) bytes of these files and folders, zipped the way `chalice package` zips them."""
    buffer = io.BytesIO()
    raw = 0
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for root in paths:
            for path in [root] if root.is_file() else root.rglob("*"):
                if path.is_file() and "__pycache__" not in path.parts:
                    archive.write(path, path.relative_to(root.parent).as_posix())
                    raw += path.stat().st_size
    return len(buffer.getvalue()), raw


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.origin is not None, name
    return Path(spec.origin).parent


def run() -> None:
    render_once()  # warm: imports, font parsing
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        pdf = render_once()
        times.append((time.perf_counter() - started) * 1000)
    env = {**os.environ, "AWS_DEFAULT_REGION": "eu-west-1"}
    first = [float(subprocess.run([sys.executable, "-c", _FIRST], cwd=ROOT, env=env, capture_output=True, text=True,
                                  check=True).stdout.strip().splitlines()[-1]) for _ in range(3)]
    print(f"render one invoice PDF (de, QR code, 1 page, {len(pdf) / 1024:.0f} KB): mean {statistics.mean(times):.1f} "
          f"ms, p95 {sorted(times)[int(RUNS * 0.95) - 1]:.1f} ms over {RUNS}; the first in a fresh process "
          f"(imports + font) median {statistics.median(first):.0f} ms")

    render_letter_once()
    letter_times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        letter, pages = render_letter_once()
        letter_times.append((time.perf_counter() - started) * 1000)
    print(f"render one dunning letter (de final notice, 3 invoices, templates + PDF, {pages} pages, "
          f"{len(letter) / 1024:.0f} KB): mean {statistics.mean(letter_times):.1f} ms, "
          f"p95 {sorted(letter_times)[int(RUNS * 0.95) - 1]:.1f} ms over {RUNS}")

    render_statement_once()
    statement_times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        statement, pages = render_statement_once()
        statement_times.append((time.perf_counter() - started) * 1000)
    print(f"render one statement of account (de, 40 open invoices, {pages} pages, {len(statement) / 1024:.0f} KB): "
          f"mean {statistics.mean(statement_times):.1f} ms, p95 {sorted(statement_times)[int(RUNS * 0.95) - 1]:.1f} "
          f"ms over {RUNS}")

    stack = [_package_dir(n) for n in ("fpdf", "segno", "PIL", "fontTools")] + [ROOT / "chalicelib" / "fonts"]
    bundled = _package_dir("PIL").parent / "pillow.libs"  # the manylinux wheel's own copies of libjpeg, zlib, ...
    if bundled.is_dir():
        stack.append(bundled)
    deflated, raw = _zipped_size(stack)
    print(f"the PDF stack in the deployment zip (fpdf2, segno, Pillow, fontTools, DejaVu Sans): +{deflated / 1e6:.1f} "
          f"MB zipped, +{raw / 1e6:.1f} MB unzipped (this venv's wheels; `make package` builds Lambda's)")
    built = ROOT / "build" / "prod" / "deployment.zip"
    if built.is_file():
        print(f"build/prod/deployment.zip as last built by `make package`: {built.stat().st_size / 1e6:.1f} MB")

    boto3_ms, app_ms = coldstart._median_ms("boto3"), coldstart._median_ms("app")
    print(f"cold import (median of 7): import boto3 {boto3_ms:.0f} ms, import app {app_ms:.0f} ms "
          f"= {app_ms / boto3_ms:.2f}x (budget 1.5x; fpdf2 and segno load only when a PDF is made)")
