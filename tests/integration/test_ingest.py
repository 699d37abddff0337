"""Ingestion end to end inside the app: S3 object + EventBridge event -> handler -> DynamoDB and S3."""

from __future__ import annotations

import csv
import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib import bootstrap
from chalicelib.adapters.models import EventModel, ImportModel, InvoiceModel
from chalicelib.services.ports import ImportRecord
from tests.integration.helpers import drop, dunwell_csv, get_json, invoice_row, keys


def test_good_file_is_stored_reported_and_moved(client, s3, bucket, admin_headers):
    body = dunwell_csv(invoice_row("INV-1", "100.00"), invoice_row("INV-2", "250.50", customer="globex"))
    outcome = drop(client, s3, bucket, "incoming/erp/Nov export.csv", body)

    assert outcome["status"] == "processed"
    assert outcome["counts"]["invoices_created"] == 2
    assert outcome["counts"]["customers_created"] == 2
    assert keys(s3, bucket, "incoming/") == []
    moved = keys(s3, bucket, "processed/")
    assert any(k.endswith("erp/Nov export.csv") for k in moved)
    report_key = next(k for k in moved if k.endswith(".report.json"))
    report = json.loads(s3.get_object(Bucket=bucket, Key=report_key)["Body"].read())
    assert report["status"] == "processed" and report["rejected_rows"] == []
    original = next(k for k in moved if k.endswith("Nov export.csv"))
    assert s3.get_object(Bucket=bucket, Key=original)["Body"].read() == body

    status, invoice = get_json(client, "/invoices/INV-2", admin_headers)
    assert status == 200
    assert invoice["total"] == "250.50" and invoice["balance"] == "250.50" and invoice["currency"] == "EUR"
    assert invoice["customer_id"] == "globex" and invoice["status"] == "open"
    # The creation is recorded on the invoice itself: which import, when.
    stored = InvoiceModel.get("INV-2")
    assert stored.import_id == outcome["import_id"] and stored.created_at and stored.version == 1
    assert [e.type for e in EventModel.query("customer#globex")] == ["customer.created"]


def test_bad_rows_are_reported_and_good_rows_kept(client, s3, bucket, admin_headers):
    body = dunwell_csv(
        invoice_row("INV-1"),
        invoice_row("INV-2", "-5.00"),
        invoice_row("INV-3", "10.005"),
        invoice_row("INV-4", currency="XXY"),
        invoice_row("INV-5", due="2026-13-01"),
    )
    outcome = drop(client, s3, bucket, "incoming/mixed.csv", body)
    assert outcome["status"] == "processed_with_errors"
    assert outcome["destination_key"].startswith("processed/")
    assert outcome["counts"]["invoices_created"] == 1
    assert outcome["counts"]["rejected_rows"] == 4
    assert (outcome["counts"]["rows_read"], outcome["counts"]["rows_imported"], outcome["counts"]["rows_rejected"]) \
        == (5, 1, 4)
    status, record = get_json(client, f"/imports/{outcome['import_id']}", admin_headers)
    assert status == 200
    lines = sorted(row["line"] for row in record["rejected_rows"])
    assert lines == [3, 4, 5, 6]
    assert all(row["reason"] for row in record["rejected_rows"])


def test_unreadable_file_is_rejected_with_report(client, s3, bucket):
    outcome = drop(client, s3, bucket, "incoming/garbage.csv", b"\xff\xfe\x00 not a csv at all \x81")
    assert outcome["status"] == "rejected"
    rejected = keys(s3, bucket, "rejected/")
    assert any(k.endswith("garbage.csv") for k in rejected)
    report = json.loads(s3.get_object(Bucket=bucket, Key=next(k for k in rejected if k.endswith(".json")))["Body"]
                        .read())
    assert report["reason"]


def test_same_file_twice_changes_nothing(client, s3, bucket):
    body = dunwell_csv(invoice_row("INV-1"), invoice_row("INV-2"))
    first = drop(client, s3, bucket, "incoming/a.csv", body)
    before = {m.invoice_id: m.version for m in InvoiceModel.batch_get(["INV-1", "INV-2"])}
    second = drop(client, s3, bucket, "incoming/again/a.csv", body)
    assert second["status"] == "duplicate" and second["import_id"] == first["import_id"]
    after = {m.invoice_id: m.version for m in InvoiceModel.batch_get(["INV-1", "INV-2"])}
    assert before == after
    assert keys(s3, bucket, "incoming/") == []
    assert ImportModel.get(first["import_id"]).status == "processed"


def test_same_file_again_under_the_same_name_gets_a_duplicate_report(client, s3, bucket):
    body = dunwell_csv(invoice_row("INV-1"))
    first = drop(client, s3, bucket, "incoming/a.csv", body)
    second = drop(client, s3, bucket, "incoming/a.csv", body)
    assert second["status"] == "duplicate" and second["import_id"] == first["import_id"]
    report = json.loads(s3.get_object(Bucket=bucket, Key=second["destination_key"] + ".report.json")["Body"].read())
    assert report["duplicate_of"]["import_id"] == first["import_id"]


def test_original_left_behind_by_a_crash_is_moved_without_a_new_report(client, s3, bucket):
    body = dunwell_csv(invoice_row("INV-1"))
    first = drop(client, s3, bucket, "incoming/a.csv", body)
    service = bootstrap.ingest_service()
    record = service.imports.get(first["import_id"])
    # The worker copied the file and recorded the import, then died before deleting the original:
    # the original (its version) is still in incoming/.
    versions = s3.list_object_versions(Bucket=bucket, Prefix="incoming/a.csv")["Versions"]
    original = next(v for v in versions if v["VersionId"] == record.source_version)
    s3.copy_object(Bucket=bucket, Key="incoming/a.csv",
                   CopySource={"Bucket": bucket, "Key": "incoming/a.csv", "VersionId": original["VersionId"]})
    record.source_version = s3.head_object(Bucket=bucket, Key="incoming/a.csv")["VersionId"]
    service.imports.finish(record)
    before = keys(s3, bucket, "processed/")
    outcome = service.ingest(bucket, "incoming/a.csv")
    assert outcome.status == "duplicate" and outcome.destination_key == first["destination_key"]
    assert keys(s3, bucket, "processed/") == before
    assert keys(s3, bucket, "incoming/") == []


def test_redelivered_event_after_move_is_a_no_op(client, s3, bucket):
    body = dunwell_csv(invoice_row("INV-1"))
    drop(client, s3, bucket, "incoming/a.csv", body)
    s3_keys = keys(s3, bucket)
    from chalicelib.services.ingest_file import IngestOutcome
    outcome: IngestOutcome = bootstrap.ingest_service().ingest(bucket, "incoming/a.csv")
    assert outcome.status == "missing"
    assert keys(s3, bucket) == s3_keys


def test_changed_invoice_is_an_amendment_not_a_duplicate(client, s3, bucket, admin_headers):
    drop(client, s3, bucket, "incoming/1.csv", dunwell_csv(invoice_row("INV-1", "100.00")))
    outcome = drop(client, s3, bucket, "incoming/2.csv",
                   dunwell_csv(invoice_row("INV-1", "120.00", due="2026-12-20"), invoice_row("INV-9")))
    assert outcome["counts"]["invoices_amended"] == 1
    assert outcome["counts"]["invoices_created"] == 1
    _, invoice = get_json(client, "/invoices/INV-1", admin_headers)
    assert invoice["total"] == "120.00" and invoice["due_date"] == "2026-12-20" and invoice["version"] == 2
    amended = [e for e in EventModel.query("invoice#INV-1") if e.type == "invoice.amended"]
    assert len(amended) == 1
    assert {c["field"] for c in amended[0].data["changes"]} == {"total", "due_date"}


def test_amendment_keeps_credits_already_applied(client, s3, bucket, admin_headers):
    drop(client, s3, bucket, "incoming/1.csv", dunwell_csv(
        invoice_row("INV-1", "100.00"),
        invoice_row("CN-1", "30.00", kind="credit_note", applies_to="INV-1", due="")))
    _, invoice = get_json(client, "/invoices/INV-1", admin_headers)
    assert invoice["balance"] == "70.00" and invoice["credited"] == "30.00"
    drop(client, s3, bucket, "incoming/2.csv", dunwell_csv(invoice_row("INV-1", "150.00")))
    _, invoice = get_json(client, "/invoices/INV-1", admin_headers)
    assert invoice["total"] == "150.00" and invoice["balance"] == "120.00" and invoice["credited"] == "30.00"
    # Lowering the total below what was credited is refused with a reason, not clamped.
    outcome = drop(client, s3, bucket, "incoming/3.csv", dunwell_csv(invoice_row("INV-1", "20.00")))
    assert outcome["counts"]["rejected_rows"] == 1
    _, invoice = get_json(client, "/invoices/INV-1", admin_headers)
    assert invoice["total"] == "150.00"


def test_conflicting_duplicates_inside_one_file_are_reported(client, s3, bucket):
    outcome = drop(client, s3, bucket, "incoming/dup.csv", dunwell_csv(
        invoice_row("INV-1", "100.00"), invoice_row("INV-1", "100.00"), invoice_row("INV-1", "999.00")))
    assert outcome["counts"]["invoices_created"] == 1
    assert outcome["counts"]["duplicates_in_file"] == 1
    assert outcome["counts"]["rejected_rows"] == 1
    report = json.loads(s3.get_object(Bucket=bucket, Key=outcome["destination_key"] + ".report.json")["Body"].read())
    assert [(r["line"], r["reason"]) for r in report["rejected_rows"]] == [
        (4, "conflicts with line 2: the same document number with different data")]


def test_credit_note_without_invoice_stays_as_customer_credit(client, s3, bucket, admin_headers):
    drop(client, s3, bucket, "incoming/cn.csv", dunwell_csv(
        invoice_row("INV-1", "100.00"), invoice_row("CN-7", "40.00", kind="credit_note", due="")))
    status, customer = get_json(client, "/customers/acme", admin_headers)
    assert status == 200
    assert customer["balance"]["outstanding"] == [{"currency": "EUR", "amount": "100.00"}]
    assert customer["balance"]["unapplied_credit"] == [{"currency": "EUR", "amount": "40.00"}]


def test_oversize_file_is_rejected_without_reading_it(client, s3, bucket, monkeypatch):
    service = bootstrap.ingest_service()
    monkeypatch.setattr(service, "max_bytes", 10)
    outcome = drop(client, s3, bucket, "incoming/big.csv", dunwell_csv(invoice_row("INV-1")))
    assert outcome["status"] == "rejected"
    assert InvoiceModel.count() == 0


def test_crashed_import_is_taken_over_after_its_lease(client, s3, bucket):
    body = dunwell_csv(invoice_row("INV-1"))
    s3.put_object(Bucket=bucket, Key="incoming/a.csv", Body=body)
    service = bootstrap.ingest_service()
    # A worker claimed the file and died: the claim blocks a second worker until the lease runs out.
    import_id = "imp_" + hashlib.sha256(body).hexdigest()[:24]
    now = datetime.now(UTC)
    dead = ImportRecord(import_id, "incoming/a.csv", "in_progress", now, "dead-worker", now + timedelta(minutes=5))
    assert service.imports.claim(dead, now)
    assert service.ingest(bucket, "incoming/a.csv").status == "busy"
    assert keys(s3, bucket, "incoming/") == ["incoming/a.csv"]

    # Later the redrive schedule announces the forgotten file again; the new event takes over.
    service.clock = lambda: now + timedelta(minutes=30)
    assert service.redrive_stale() == ["incoming/a.csv"]
    assert s3.head_object(Bucket=bucket, Key="incoming/a.csv")["Metadata"]["dunwell-redrives"] == "1"
    assert service.ingest(bucket, "incoming/a.csv").status == "processed"
    assert keys(s3, bucket, "incoming/") == []
    assert InvoiceModel.get("INV-1").import_id == import_id


def test_redrive_gives_up_after_three_announcements(client, s3, bucket):
    s3.put_object(Bucket=bucket, Key="incoming/stuck.csv", Body=b"x")
    service = bootstrap.ingest_service()
    service.clock = lambda: datetime.now(UTC) + timedelta(hours=1)
    assert [len(service.redrive_stale()) for _ in range(4)] == [1, 1, 1, 0]
    assert keys(s3, bucket, "incoming/") == ["incoming/stuck.csv"]


def test_redrive_schedule_handler_runs(client, s3, bucket):
    response = client.lambda_.invoke("redrive_inbox", client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]))
    assert response.payload == {"redriven": []}


# --- rows, not problems; bad input is a rejected row, never a stall ----------------------------------------------

def report_of(s3, bucket, outcome) -> dict:
    return json.loads(s3.get_object(Bucket=bucket, Key=outcome["destination_key"] + ".report.json")["Body"].read())


def assert_rows_add_up(counts) -> None:
    assert counts["rows_read"] == counts["rows_imported"] + counts["rows_rejected"] + counts["rows_skipped"], counts


def test_a_29_digit_total_rejects_its_row_and_keeps_the_good_ones(client, s3, bucket, admin_headers):
    outcome = drop(client, s3, bucket, "incoming/big-total.csv", dunwell_csv(
        invoice_row("INV-1"), invoice_row("INV-2", "1" * 26 + ".00"), invoice_row("INV-3")))
    assert outcome["status"] == "processed_with_errors"
    assert outcome["destination_key"].startswith("processed/")
    counts = outcome["counts"]
    assert (counts["rows_read"], counts["rows_imported"], counts["rows_rejected"]) == (3, 2, 1)
    (rejected,) = report_of(s3, bucket, outcome)["rejected_rows"]
    assert (rejected["line"], rejected["field"], rejected["number"]) == (3, "total", "INV-2")
    assert "15 digits" in rejected["reason"]
    assert {m.invoice_id for m in InvoiceModel.scan()} == {"INV-1", "INV-3"}
    status, record = get_json(client, f"/imports/{outcome['import_id']}", admin_headers)
    assert status == 200 and record["status"] == "processed_with_errors" and record["counts"]["rows_rejected"] == 1


def json_invoice(number: str, total: str = '"100.00"', **extra: str) -> dict:
    document = {"invoice_number": number, "customer_id": "acme", "customer_name": "Acme Ltd",
                "issue_date": "2026-11-01", "due_date": "2026-12-01", "currency": "EUR", "total": total}
    return {**document, **extra}


def json_file(*documents: dict) -> bytes:
    """Dunwell JSON, amounts spliced in as written (a JSON number of 5,000 digits cannot be a Python int)."""
    parts = []
    for document in documents:
        total = document["total"]
        body = json.dumps({k: v for k, v in document.items() if k != "total"}, ensure_ascii=False)
        parts.append(body[:-1] + f', "total": {total}}}')
    return ("[\n" + ",\n".join(parts) + "\n]\n").encode()


def test_an_item_dynamodb_refuses_rejects_its_row_and_the_rest_of_its_batch_is_stored(client, s3, bucket):
    # ~450 KB of buyer reference: the invoice item would be over DynamoDB's 400 KB, inside JSON's 1 MB a document.
    documents = [json_invoice(f"INV-{i}") for i in range(1, 30)]
    documents[9] = json_invoice("INV-10", buyer_reference="x" * 450_000)
    outcome = drop(client, s3, bucket, "incoming/huge.json", json_file(*documents))
    assert outcome["status"] == "processed_with_errors"
    counts = outcome["counts"]
    assert (counts["rows_imported"], counts["rows_rejected"], counts["invoices_created"]) == (28, 1, 28)
    assert_rows_add_up(counts)
    (rejected,) = report_of(s3, bucket, outcome)["rejected_rows"]
    assert rejected["number"] == "INV-10" and "DynamoDB refused the item" in rejected["reason"]
    assert "size" in rejected["reason"].lower()
    stored = {m.invoice_id: m.version for m in InvoiceModel.scan()}
    assert set(stored) == {f"INV-{i}" for i in range(1, 30)} - {"INV-10"}
    assert set(stored.values()) == {1}


def test_a_storage_validation_error_rejects_that_row_only(client, s3, bucket, monkeypatch):
    from botocore.exceptions import ClientError

    drop(client, s3, bucket, "incoming/1.csv", dunwell_csv(invoice_row("INV-1"), invoice_row("INV-2")))
    ledger = bootstrap.ingest_service().ledger
    real_save = ledger.save_invoice

    def save_invoice(invoice, events, now):
        if invoice.invoice_id == "INV-1":
            raise ClientError({"Error": {"Code": "ValidationException", "Message": "Invalid UpdateExpression"}},
                              "TransactWriteItems")
        return real_save(invoice, events, now)

    monkeypatch.setattr(ledger, "save_invoice", save_invoice)
    outcome = drop(client, s3, bucket, "incoming/2.csv",
                   dunwell_csv(invoice_row("INV-1", "120.00"), invoice_row("INV-2", "130.00")))
    assert outcome["status"] == "processed_with_errors"
    assert (outcome["counts"]["invoices_amended"], outcome["counts"]["rows_rejected"]) == (1, 1)
    (rejected,) = report_of(s3, bucket, outcome)["rejected_rows"]
    assert rejected["number"] == "INV-1" and "Invalid UpdateExpression" in rejected["reason"]
    assert InvoiceModel.get("INV-2").version == 2 and InvoiceModel.get("INV-1").version == 1


def test_json_numbers_outside_the_amount_grammar_are_rejected_rows(client, s3, bucket):
    outcome = drop(client, s3, bucket, "incoming/numbers.json", json_file(
        json_invoice("INV-1"),
        json_invoice("INV-2", "9" * 5000),
        json_invoice("INV-3", "1e30"),
        json_invoice("INV-4", '"\u0661\u0662\u0663.00"'),
        json_invoice("INV-5", '"\uff11\uff12\uff13.00"'),
    ))
    assert outcome["status"] == "processed_with_errors"
    counts = outcome["counts"]
    assert (counts["rows_read"], counts["rows_imported"], counts["rows_rejected"]) == (5, 1, 4)
    rejected = report_of(s3, bucket, outcome)["rejected_rows"]
    assert {(r["number"], r["field"]) for r in rejected} == {(f"INV-{i}", "total") for i in range(2, 6)}
    assert [m.invoice_id for m in InvoiceModel.scan()] == ["INV-1"]


def test_a_failed_attempt_gives_up_its_lease_and_the_retry_takes_over(client, s3, bucket, monkeypatch):
    from botocore.exceptions import ClientError

    body = dunwell_csv(invoice_row("INV-1"), invoice_row("INV-2"))
    s3.put_object(Bucket=bucket, Key="incoming/a.csv", Body=body)
    service = bootstrap.ingest_service()
    real_put_json = service.files.put_json
    calls = []

    def throttled_once(key, document):
        calls.append(key)
        if len(calls) == 1:
            raise ClientError({"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}},
                              "PutObject")
        return real_put_json(key, document)

    monkeypatch.setattr(service.files, "put_json", throttled_once)
    with pytest.raises(ClientError):
        service.ingest(bucket, "incoming/a.csv")  # rows stored, then the report could not be written
    import_id = "imp_" + hashlib.sha256(body).hexdigest()[:24]
    crashed = ImportModel.get(import_id)
    assert crashed.status == "in_progress" and crashed.lease_until < datetime(2000, 1, 1, tzinfo=UTC)
    assert keys(s3, bucket, "incoming/") == ["incoming/a.csv"]

    retry = service.ingest(bucket, "incoming/a.csv")  # at once: there is no lease to wait for
    assert retry.status == "processed"
    assert (retry.counts["invoices_unchanged"], retry.counts["rows_imported"]) == (2, 2)
    assert keys(s3, bucket, "incoming/") == []
    assert {m.invoice_id: m.version for m in InvoiceModel.scan()} == {"INV-1": 1, "INV-2": 1}


def test_a_file_unreadable_after_rows_were_stored_is_processed_with_errors(client, s3, bucket, monkeypatch):
    from chalicelib.services import ingest_file

    monkeypatch.setattr(ingest_file, "CHUNK_ROWS", 1)
    good = json_file(json_invoice("INV-1"), json_invoice("INV-2"))
    outcome = drop(client, s3, bucket, "incoming/cut.json", good.rstrip().rstrip(b"]") + b',\n{"invoice_number": ')
    assert outcome["status"] == "processed_with_errors"
    assert outcome["destination_key"].startswith("processed/")
    assert outcome["counts"]["invoices_created"] == 2
    assert_rows_add_up(outcome["counts"])
    report = report_of(s3, bucket, outcome)
    assert report["reason"].startswith("JSON is malformed")
    assert report["rejected_rows"][-1]["reason"].startswith("the rest of the file could not be read")

    nothing_stored = drop(client, s3, bucket, "incoming/broken.json", b'[{"invoice_number": ')
    assert nothing_stored["status"] == "rejected"


def test_skipped_rows_are_counted_per_reason(client, s3, bucket):
    from pathlib import Path

    example = Path(__file__).resolve().parents[2] / "examples" / "xero-export.csv"
    outcome = drop(client, s3, bucket, "incoming/xero.csv", example.read_bytes())
    counts = outcome["counts"]
    assert outcome["status"] == "processed"
    assert counts["skipped_reasons"] == {"bill": 1, "draft": 1}
    assert counts["rows_skipped"] == 2 and counts["rows_rejected"] == 0
    assert_rows_add_up(counts)
    report = report_of(s3, bucket, outcome)
    assert report["rejected_rows"] == []
    assert {(e["number"], e["field"]) for e in report["skipped_entries"]} == {("PM-7781", "Type"),
                                                                              ("INV-0456", "Status")}
    # Every row of a grouped invoice counts: the file's rows, not its invoices.
    with example.open(newline="", encoding="utf-8-sig") as source:
        data_rows = sum(1 for row in csv.reader(source) if any(row)) - 1
    assert counts["rows_read"] == data_rows > counts["invoices_created"] + counts["credit_notes_created"] + 2


@pytest.mark.parametrize("encode", [True, False], ids=["url-encoded", "as-is"])
def test_keys_with_plus_spaces_and_unicode_are_ingested(client, s3, bucket, encode):
    key = "incoming/März Rechnungen+Q1 (2).csv"
    outcome = drop(client, s3, bucket, key, dunwell_csv(invoice_row("INV-1")), encode=encode)
    assert outcome["status"] == "processed" and outcome["source_key"] == key
    assert outcome["destination_key"].endswith("/März Rechnungen+Q1 (2).csv")
    assert keys(s3, bucket, "incoming/") == []
    assert set(keys(s3, bucket, "processed/")) == {outcome["destination_key"], outcome["destination_key"]
                                                   + ".report.json"}
    assert report_of(s3, bucket, outcome)["source_key"] == key


def test_a_bank_statement_key_with_plus_spaces_and_unicode_is_ingested(client, s3, bucket):
    from pathlib import Path

    statement = (Path(__file__).resolve().parents[2] / "examples" / "bank" / "statement.csv").read_bytes()
    key = "bank/Kontoauszug März+Q1 (2).csv"
    outcome = drop(client, s3, bucket, key, statement)
    assert outcome["status"] in ("processed", "processed_with_errors") and outcome["source_key"] == key
    assert outcome["destination_key"].endswith("/bank/Kontoauszug März+Q1 (2).csv")
    assert outcome["counts"]["skipped_reasons"] == {"debit": 1}
    assert_rows_add_up(outcome["counts"])
    assert keys(s3, bucket, "bank/") == []
