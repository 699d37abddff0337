"""Builders for bank statement test files."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

from chalicelib.domain.payments import PaymentEvent
from chalicelib.formats.bank import BankItem, SkippedEntry, parse_bank_file
from chalicelib.formats.records import RowError

EXAMPLES = Path(__file__).resolve().parents[3] / "examples" / "bank"


def camt(*entries: str, version: str = "08", stmt_id: str = "STMT-1", iban: str = "DE89370400440532013000",
         statements: str | None = None) -> bytes:
    statement = f"""
    <Stmt>
      <Id>{stmt_id}</Id>
      <CreDtTm>2026-11-27T18:00:00+01:00</CreDtTm>
      <Acct><Id><IBAN>{iban}</IBAN></Id><Ccy>EUR</Ccy></Acct>
      <Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">1.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>
        <Dt><Dt>2026-11-27</Dt></Dt></Bal>
      {''.join(entries)}
    </Stmt>"""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.{version}">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>M1</MsgId><CreDtTm>2026-11-27T18:00:00+01:00</CreDtTm></GrpHdr>
    {statements if statements is not None else statement}
  </BkToCstmrStmt>
</Document>
""".encode()


def entry(amount: str = "100.00", ccy: str = "EUR", direction: str = "CRDT", *,
          status: str = "<Sts><Cd>BOOK</Cd></Sts>", booking: str = "<BookgDt><Dt>2026-11-27</Dt></BookgDt>",
          ref: str | None = "REF1", ntry_ref: str | None = None,
          codes: tuple[str, str, str] | None = ("PMNT", "RCDT", "ESCT"), reversal: str | None = None,
          txs: str = "", extra: str = "", btch: str = "") -> str:
    parts = [f"<NtryRef>{ntry_ref}</NtryRef>" if ntry_ref else "", f'<Amt Ccy="{ccy}">{amount}</Amt>',
             f"<CdtDbtInd>{direction}</CdtDbtInd>", f"<RvslInd>{reversal}</RvslInd>" if reversal else "", status,
             booking, "<ValDt><Dt>2026-11-27</Dt></ValDt>", f"<AcctSvcrRef>{ref}</AcctSvcrRef>" if ref else ""]
    if codes:
        domain, family, subfamily = codes
        parts.append(f"<BkTxCd><Domn><Cd>{domain}</Cd><Fmly><Cd>{family}</Cd><SubFmlyCd>{subfamily}</SubFmlyCd>"
                     f"</Fmly></Domn></BkTxCd>")
    if txs or btch:
        parts.append(f"<NtryDtls>{btch}{txs}</NtryDtls>")
    parts.append(extra)
    return "<Ntry>" + "".join(parts) + "</Ntry>"


def tx(*, amount: str | None = None, ccy: str = "EUR", e2e: str | None = "NOTPROVIDED", ref: str | None = None,
       payer: str | None = "Payer Ltd", payer_v2: bool = False, ustrd: tuple[str, ...] = (),
       strd: tuple[str, ...] = (), amt_dtls: bool = False, extra: str = "") -> str:
    parts = []
    refs = (f"<AcctSvcrRef>{ref}</AcctSvcrRef>" if ref else "") + (f"<EndToEndId>{e2e}</EndToEndId>" if e2e else "")
    if refs:
        parts.append(f"<Refs>{refs}</Refs>")
    if amount is not None:
        if amt_dtls:
            parts.append(f'<AmtDtls><TxAmt><Amt Ccy="{ccy}">{amount}</Amt></TxAmt></AmtDtls>')
        else:
            parts.append(f'<Amt Ccy="{ccy}">{amount}</Amt>')
    if payer:
        name = f"<Nm>{payer}</Nm>" if payer_v2 else f"<Pty><Nm>{payer}</Nm></Pty>"
        parts.append(f"<RltdPties><Dbtr>{name}</Dbtr></RltdPties>")
    if ustrd or strd:
        lines = "".join(f"<Ustrd>{line}</Ustrd>" for line in ustrd)
        structured = "".join(f"<Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry><Issr>ISO</Issr></Tp>"
                             f"<Ref>{r}</Ref></CdtrRefInf></Strd>" for r in strd)
        parts.append(f"<RmtInf>{lines}{structured}</RmtInf>")
    parts.append(extra)
    return "<TxDtls>" + "".join(parts) + "</TxDtls>"


def items(data: bytes, filename: str = "statement.xml", seekable: bool = True) -> list[BankItem]:
    stream = io.BytesIO(data) if seekable else OneWay(data)
    return list(parse_bank_file(stream, filename).items)


def events(found: list[BankItem]) -> list[PaymentEvent]:
    return [i for i in found if isinstance(i, PaymentEvent)]


def errors(found: list[BankItem]) -> list[RowError]:
    return [i for i in found if isinstance(i, RowError)]


def skipped(found: list[BankItem]) -> list[SkippedEntry]:
    return [i for i in found if isinstance(i, SkippedEntry)]


class OneWay:
    """A stream that can only be read forward, like an S3 StreamingBody."""

    def __init__(self, data: bytes | Iterator[bytes]) -> None:
        self._chunks = iter([data]) if isinstance(data, bytes) else data
        self._buffer = b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        if size < 0:
            out, self._buffer = self._buffer, b""
        else:
            out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out
