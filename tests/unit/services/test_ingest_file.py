"""IngestService with in-memory ports and the real parsers: a re-drop writes nothing, amendments keep money applied,
a bad row is rejected without stopping its file, and a crashed attempt hands its file on at once."""

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.domain.money import Money
from chalicelib.formats import parse_file
from chalicelib.services.ingest_file import PROCESSED, PROCESSED_WITH_ERRORS, IngestService
from tests.unit.services.fakes import Files, Imports, Ledger, Metrics

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
HEADER = "invoice_number,kind,customer_id,customer_name,issue_date,due_date,currency,total,amount_paid\n"


def csv(*rows: str) -> bytes:
    return (HEADER + "".join(row + "\n" for row in rows)).encode()


INV_1 = "INV-1,invoice,acme,Acme Ltd,2026-11-01,2026-12-01,EUR,1000.00,0.00"
INV_2 = "INV-2,invoice,acme,Acme Ltd,2026-11-03,2026-12-03,EUR,500.00,0.00"


class World:
    def __init__(self) -> None:
        self.files = Files()
        self.imports = Imports()
        self.ledger = Ledger()
        self.metrics = Metrics()
        self.service = IngestService(
            self.files, self.imports, self.ledger, self.ledger, parse_file, lambda: (), max_bytes=1_000_000,
            lease=timedelta(minutes=15), stale_after=timedelta(hours=1), clock=lambda: NOW, metrics=self.metrics)

    def drop(self, data: bytes, name: str = "invoices.csv"):
        self.files.put(f"incoming/{name}", data)
        return self.service.ingest("bucket", f"incoming/{name}")


def test_a_clean_file_is_processed_and_moved_with_its_report() -> None:
    world = World()
    outcome = world.drop(csv(INV_1, INV_2))
    assert outcome.status == PROCESSED and outcome.counts["invoices_created"] == 2
    assert "incoming/invoices.csv" not in world.files.objects
    assert world.files.documents[outcome.report_key]["status"] == PROCESSED


def test_an_identical_redrop_writes_nothing() -> None:
    world = World()
    world.drop(csv(INV_1, INV_2))
    writes = world.ledger.writes
    again = world.drop(csv(INV_1, INV_2), "invoices-again.csv")
    assert again.status == "duplicate"
    assert world.ledger.writes == writes


def test_an_amendment_keeps_the_money_already_applied() -> None:
    world = World()
    world.drop(csv(INV_1))
    paid, _ = world.ledger.invoices["INV-1"].with_payment(Money.of("400.00", "EUR"))
    world.ledger.invoices["INV-1"] = paid
    outcome = world.drop(csv(INV_1.replace("1000.00", "1100.00")), "amended.csv")
    amended = world.ledger.invoices["INV-1"]
    assert outcome.counts["invoices_amended"] == 1
    assert amended.total == Money.of("1100.00", "EUR") and amended.balance == Money.of("700.00", "EUR")


def test_one_bad_row_is_rejected_and_the_file_still_ends_processed_with_errors() -> None:
    world = World()
    outcome = world.drop(csv(INV_1, "INV-3,invoice,acme,Acme Ltd,2026-11-03,2026-12-03,EUR,not money,0.00", INV_2))
    assert outcome.status == PROCESSED_WITH_ERRORS
    assert outcome.counts["invoices_created"] == 2 and outcome.counts["rows_rejected"] == 1
    assert [error["line"] for error in world.files.documents[outcome.report_key]["rejected_rows"]] == [3]


def test_an_amendment_that_keeps_conflicting_rejects_its_row_counted_and_the_rest_lands() -> None:
    world = World()
    world.drop(csv(INV_1))
    world.ledger.conflicts = 3
    outcome = world.drop(csv(INV_1.replace("1000.00", "1100.00"), INV_2), "amended.csv")
    assert outcome.status == PROCESSED_WITH_ERRORS
    assert outcome.counts["invoices_created"] == 1 and outcome.counts["rows_rejected"] == 1
    assert world.ledger.invoices["INV-1"].total == Money.of("1000.00", "EUR")
    assert world.metrics.counts == {"ConflictRetriesExhausted": 1}


def test_a_crashed_attempt_releases_its_lease_so_the_retry_takes_over_at_once() -> None:
    world = World()

    class StoreDown(Exception):
        pass

    def insert_fails(*args: object) -> dict[str, str]:
        raise StoreDown()

    world.ledger.insert_invoices = insert_fails  # type: ignore[method-assign]
    with pytest.raises(StoreDown):
        world.drop(csv(INV_1))
    assert len(world.imports.released) == 1
    assert "incoming/invoices.csv" in world.files.objects  # left for the retry

    del world.ledger.insert_invoices
    outcome = world.service.ingest("bucket", "incoming/invoices.csv")
    assert outcome.status == PROCESSED and "INV-1" in world.ledger.invoices
