"""camt.053 statements: credits become payments, batches split, returns become chargebacks, streamed."""

from __future__ import annotations

import io
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest

from chalicelib.domain.money import Money
from chalicelib.domain.payments import PaymentKind
from chalicelib.formats.bank import BankItem, UnreadableFile, parse_bank_file

from .conftest import EXAMPLES, OneWay, camt, entry, errors, events, items, skipped, tx


def example() -> list[BankItem]:
    with (EXAMPLES / "camt053-example.xml").open("rb") as stream:
        statement = parse_bank_file(stream, "bank/2026-11-27.xml")
        assert statement.format == "camt.053"
        return list(statement.items)


def test_the_example_statement():
    found = example()
    assert errors(found) == []
    paid = events(found)
    assert [(e.amount, e.references) for e in paid] == [
        (Money.of("8900.00", "EUR"), ("INV20261012",)),  # RF73INV20261012, check digits verified
        (Money.of("980.50", "EUR"), ("MM-ZAHL-2026-4471", "INV-2026-1005", "C-1001")),  # batch, first transfer
        (Money.of("615.00", "EUR"), ("INV-2026-1006",)),  # batch, second transfer
        (Money.of("4000.00", "EUR"), ("INV-2026-1001", "CN-2026-0041", "PO-88121")),
    ]
    assert [e.payer_name for e in paid] == ["Fjord Outdoor AS", "Müller Maschinenbau GmbH", "Boulangerie Dupont SARL",
                                            "Müller Maschinenbau GmbH"]
    assert [e.event_id for e in paid] == [
        "camt:DE89370400440532013000:2026112700001:0", "camt:DE89370400440532013000:2026112700002:1",
        "camt:DE89370400440532013000:2026112700002:2", "camt:DE89370400440532013000:2026112700003:0"]
    assert [e.payment_ref for e in paid] == ["2026112700001-1", "2026112700002-1", "2026112700002-2",
                                             "2026112700003-1"]
    assert all(e.provider == "bank" and e.kind is PaymentKind.PAYMENT for e in paid)
    assert all(e.occurred_at == datetime(2026, 11, 27, tzinfo=UTC) for e in paid)
    assert {e.raw_type for e in paid} == {"camt.053:PMNT/RCDT/ESCT"}
    [fees] = skipped(found)
    assert "debit" in fees.reason and "2026112700004" in fees.ref


def test_parsing_twice_gives_the_same_ids():
    assert [getattr(i, "event_id", None) for i in example()] == [getattr(i, "event_id", None) for i in example()]


def test_version_02_layout():
    data = camt(entry("250.00", ref=None, ntry_ref="7", status="<Sts>BOOK</Sts>",
                      booking="<BookgDt><DtTm>2026-11-27T10:15:00</DtTm></BookgDt>",
                      txs=tx(amount="250.00", amt_dtls=True, payer="Old Layout GmbH", payer_v2=True,
                             ustrd=("Rechnung INV-2026-2001",))),
                version="02", stmt_id="S-02")
    [event] = events(items(data))
    assert event.amount == Money.of("250.00", "EUR")
    assert event.payer_name == "Old Layout GmbH"
    assert event.references == ("INV-2026-2001",)
    assert event.occurred_at == datetime(2026, 11, 27, 10, 15, tzinfo=UTC)  # no offset: UTC
    assert event.event_id == "camt:DE89370400440532013000:S-02/7:0"  # no AcctSvcrRef: statement id + NtryRef
    assert event.payment_ref == event.event_id


@pytest.mark.parametrize("version", ["02", "04", "06", "08", "10", "13"])
def test_every_version_namespace(version):
    assert len(events(items(camt(entry(txs=tx()), version=version)))) == 1


def test_booking_datetime_with_offset_and_value_date_fallback():
    data = camt(entry(ref="A", booking="<BookgDt><DtTm>2026-11-27T23:30:00+01:00</DtTm></BookgDt>"),
                entry(ref="B", booking=""))
    first, second = events(items(data))
    assert first.occurred_at == datetime(2026, 11, 27, 23, 30, tzinfo=timezone(timedelta(hours=1)))
    assert second.occurred_at == datetime(2026, 11, 27, tzinfo=UTC)


def test_entry_without_acct_svcr_ref_or_ntry_ref_uses_its_position():
    data = camt(entry(ref=None), entry(ref=None), stmt_id="S9")
    assert [e.event_id for e in events(items(data))] == ["camt:DE89370400440532013000:S9/#1:0",
                                                         "camt:DE89370400440532013000:S9/#2:0"]


def test_batch_whose_amounts_do_not_add_up_stays_one_payment_with_every_reference():
    data = camt(entry("1590.50", txs=tx(amount="980.50", ustrd=("INV-2026-1005",)) +
                      tx(amount="615.00", ustrd=("INV-2026-1006",))))  # 5.00 of charges deducted
    [event] = events(items(data))
    assert event.amount == Money.of("1590.50", "EUR")
    assert event.references == ("INV-2026-1005", "INV-2026-1006")
    assert event.event_id.endswith(":0") and event.payment_ref == "REF1"


def test_batch_without_transaction_amounts_stays_one_payment():
    data = camt(entry("1595.50", btch="<Btch><NbOfTxs>2</NbOfTxs></Btch>",
                      txs=tx(ustrd=("INV-2026-1005",)) + tx(ustrd=("INV-2026-1006",))))
    [event] = events(items(data))
    assert event.amount == Money.of("1595.50", "EUR")
    assert event.references == ("INV-2026-1005", "INV-2026-1006")


def test_batch_with_a_foreign_currency_transaction_stays_one_payment():
    data = camt(entry("200.00", txs=tx(amount="100.00") + tx(amount="100.00", ccy="USD")))
    assert len(events(items(data))) == 1


def test_batch_split_without_transaction_refs_suffixes_the_entry_ref():
    data = camt(entry("300.00", txs=tx(amount="100.00") + tx(amount="200.00")))
    assert [(e.payment_ref, e.amount) for e in events(items(data))] == [
        ("REF1:1", Money.of("100.00", "EUR")), ("REF1:2", Money.of("200.00", "EUR"))]


def test_structured_references():
    data = camt(
        entry(ref="A", txs=tx(strd=("RF18 5390 0754 7034",))),  # valid RF in print form
        entry(ref="B", txs=tx(strd=("RF19539007547034",))),  # bad check digits: mined as text only
        entry(ref="C", txs=tx(strd=("+++090/9337/55493+++",))),  # a national structured reference, kept
        entry(ref="D", txs=tx(strd=("10042",))),
    )
    assert [e.references for e in events(items(data))] == [
        ("539007547034",), ("RF19539007547034",), ("+++090/9337/55493+++",), ("10042",)]


def test_end_to_end_id_is_a_candidate_unless_not_provided():
    data = camt(entry(ref="A", txs=tx(e2e="10042")), entry(ref="B", txs=tx(e2e="NOTPROVIDED")),
                entry(ref="C", txs=tx(e2e="Zahlung INV-2026-1001")))
    assert [e.references for e in events(items(data))] == [("10042",), (), ("INV-2026-1001",)]


def test_wrapped_remittance_lines_are_joined_where_the_bank_cut_them():
    first = "x" * 130 + " INV-2026-"  # exactly 140 characters: the bank cut mid-word
    assert len(first) == 140
    data = camt(entry(txs=tx(ustrd=(first, "1001 thanks", "Rechnung", "INV-2026-1005"))))
    assert events(items(data))[0].references == ("INV-2026-1001", "INV-2026-1005")


def test_additional_entry_information_is_the_fallback_for_remittance():
    data = camt(entry(extra="<AddtlNtryInf>SEPA-GUTSCHRIFT Rechnung INV-2026-1001</AddtlNtryInf>"),
                entry(ref="B", txs=tx(extra="<AddtlTxInf>Facture INV-2026-1006</AddtlTxInf>")))
    assert [e.references for e in events(items(data))] == [("INV-2026-1001",), ("INV-2026-1006",)]


def test_returned_direct_debit_is_a_chargeback():
    data = camt(
        entry("980.50", "EUR", "DBIT", ref="R1", codes=("PMNT", "IDDT", "UPDD"),
              txs=tx(e2e="DUNWELL-DD-INV-2026-1005", ustrd=("RUECKLASTSCHRIFT AM04 INV-2026-1005",))),
        entry("615.00", "EUR", "DBIT", ref="R2", reversal="true", codes=None, txs=tx(e2e="E2E-77")),
    )
    first, second = events(items(data))
    assert first.kind is PaymentKind.CHARGEBACK and first.amount == Money.of("980.50", "EUR")
    assert first.original_ref == "DUNWELL-DD-INV-2026-1005"
    assert "INV-2026-1005" in first.references
    assert first.raw_type == "camt.053:PMNT/IDDT/UPDD"
    assert second.kind is PaymentKind.CHARGEBACK and second.original_ref == "E2E-77"


def test_other_entries_are_skipped_with_a_reason():
    data = camt(
        entry("50.00", direction="DBIT", ref="D1", codes=("PMNT", "ICDT", "ESCT")),
        entry("50.00", direction="CRDT", ref="D2", reversal="true"),
        entry("50.00", ref="D3", status="<Sts><Cd>PDNG</Cd></Sts>"),
        entry("0.00", ref="D4"),
    )
    found = items(data)
    assert events(found) == []
    assert [s.reason.split(":")[0] for s in skipped(found)] == [
        "debit", "credit reversing one of our own debits", "entry status PDNG", "zero amount"]


@pytest.mark.parametrize(("bad_entry", "field"), [
    (entry("12,50"), "Amt"),
    (entry("-12.50"), "Amt"),
    (entry("12.50", ccy="XXY"), "Amt"),
    (entry("12.505"), "Amt"),  # more decimals than EUR has
    (entry("12", ccy="JPY").replace('Ccy="JPY">12<', 'Ccy="JPY">12.5<'), "Amt"),
    (entry(booking="", extra="").replace("<ValDt><Dt>2026-11-27</Dt></ValDt>", ""), "BookgDt"),
    (entry(booking="<BookgDt><Dt>27.11.2026</Dt></BookgDt>"), "BookgDt"),
    (entry(direction="CRED"), "CdtDbtInd"),
])
def test_bad_entries_are_row_errors_and_the_rest_imports(bad_entry, field):
    found = items(camt(bad_entry, entry(ref="GOOD")))
    [error] = errors(found)
    assert error.field == field and error.line == 0 and "entry 1" in (error.number or "")
    assert [e.payment_ref for e in events(found)] == ["GOOD"]


def test_several_statements_and_accounts_in_one_file():
    one = f"<Stmt><Id>S1</Id><Acct><Id><IBAN>DE89370400440532013000</IBAN></Id></Acct>{entry(ref='X')}</Stmt>"
    two = f"<Stmt><Id>S2</Id><Acct><Id><Othr><Id>12345678</Id></Othr></Id></Acct>{entry(ref='X')}</Stmt>"
    found = events(items(camt(statements=one + two)))
    assert [e.event_id for e in found] == ["camt:DE89370400440532013000:X:0", "camt:12345678:X:0"]


@pytest.mark.parametrize(("data", "reason"), [
    (b"", "malformed XML"),
    (b"<Document><BkToCstmrStmt>", "malformed XML"),
    (b'<?xml version="1.0"?><Invoice xmlns="urn:oasis:names:specification:ubl:schema:xsd:Invoice-2"/>', "root"),
    (b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"><BkToCstmrDbtCdtNtfctn/></Document>',
     "camt.054"),
    (b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrAcctRpt/></Document>',
     "BkToCstmrStmt"),
    (b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY x "boom">]><Document>&x;</Document>', "DTD"),
    (b'<?xml version="1.0"?><!DOCTYPE d SYSTEM "file:///etc/passwd"><Document/>', "DTD"),
])
def test_unreadable_documents_are_rejected_before_anything_is_returned(data, reason):
    with pytest.raises(UnreadableFile, match=reason):
        parse_bank_file(io.BytesIO(data), "statement.xml")


def test_broken_one_way_stream_fails_from_the_iterator_after_earlier_entries():
    data = camt(entry(ref="A"), entry(ref="B"))
    truncated = data[: data.index(b"<AcctSvcrRef>B")]
    statement = parse_bank_file(OneWay(truncated), "statement.xml")
    iterator = statement.items
    assert next(iterator).payment_ref == "A"  # type: ignore[union-attr]
    with pytest.raises(UnreadableFile, match="malformed XML"):
        list(iterator)


def test_the_same_truncated_file_when_seekable_is_rejected_up_front():
    data = camt(entry(ref="A"), entry(ref="B"))
    with pytest.raises(UnreadableFile):
        parse_bank_file(io.BytesIO(data[: data.index(b"<AcctSvcrRef>B")]), "statement.xml")


def test_seekable_stream_is_parsed_from_where_the_caller_left_it():
    data = camt(entry(ref="A"))
    stream = io.BytesIO(b"JUNK" + data)
    stream.seek(4)
    assert [e.payment_ref for e in events(list(parse_bank_file(stream, "s.xml").items))] == ["A"]


def _peak_memory(count: int) -> int:
    def chunks() -> Iterator[bytes]:
        head, tail = camt("@@").split(b"@@")
        yield head
        for n in range(count):
            yield entry(f"{n % 997 + 1}.00", ref=f"R{n}",
                        txs=tx(ustrd=(f"Rechnung INV-2026-{n:05d} " + "lorem ipsum " * 10,))).encode()
        yield tail

    tracemalloc.start()
    try:
        total = len([1 for _ in parse_bank_file(OneWay(chunks()), "big.xml").items])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == count
    return peak


def test_statement_streams_in_flat_memory():
    small, large = _peak_memory(300), _peak_memory(2500)  # ~0.2 MB and ~1.5 MB of XML
    assert large < small * 1.5 + 256 * 1024


def test_sniffed_when_the_name_says_nothing():
    data = camt(entry())
    statement = parse_bank_file(io.BytesIO(b"\xef\xbb\xbf  " + data.split(b"?>", 1)[1]), "bank/statement")
    assert statement.format == "camt.053" and len(events(list(statement.items))) == 1
