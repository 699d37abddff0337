from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote_plus

from chalice.test import Client

HEADER = ("invoice_number,kind,customer_id,customer_name,email,phone,language,timezone,country,issue_date,"
          "due_date,terms,currency,total,amount_paid,applies_to,status,buyer_reference")


def dunwell_csv(*rows: str) -> bytes:
    return ("\n".join([HEADER, *rows]) + "\n").encode()


def invoice_row(number: str, total: str = "100.00", *, customer: str = "acme", due: str = "2026-12-01",
                paid: str = "0", currency: str = "EUR", status: str = "open", kind: str = "invoice",
                applies_to: str = "", email: str = "ap@acme.example") -> str:
    return (f"{number},{kind},{customer},{customer.title()} Ltd,{email},,en,Europe/Berlin,DE,2026-11-01,"
            f"{due},,{currency},{total},{paid},{applies_to},{status},")


def drop(client: Client, s3: Any, bucket: str, key: str, body: bytes, *, encode: bool = True) -> dict[str, Any]:
    """Put a file and deliver its EventBridge event to the handler, as S3 -> EventBridge would: the key
    URL-encoded ('+' for a space, '%2B' for a '+'), or as it is (`encode=False`, as moto delivers it)."""
    s3.put_object(Bucket=bucket, Key=key, Body=body)
    event = client.events.generate_cw_event(
        source="aws.s3", detail_type="Object Created",
        detail={"bucket": {"name": bucket},
                "object": {"key": quote_plus(key, safe="/") if encode else key, "size": len(body)}},
        resources=[f"arn:aws:s3:::{bucket}"])
    response = client.lambda_.invoke("ingest_upload", event)
    return dict(response.payload)


def get_json(client: Client, path: str, headers: dict[str, str]) -> tuple[int, Any]:
    response = client.http.get(path, headers=headers)
    return response.status_code, json.loads(response.body) if response.body else None


def keys(s3: Any, bucket: str, prefix: str = "") -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []))
