"""Adyen standard notifications: every item's HMAC verified (published vectors), then normalised."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from chalicelib.domain.money import Money
from chalicelib.domain.payments import PaymentKind
from chalicelib.formats.processors import MalformedWebhook, SignatureError, verify_and_parse_adyen
from chalicelib.formats.processors.adyen import sign_item, signing_string

from .conftest import adyen_body, adyen_sign, example

# Adyen's published sample key and vector (adyen-python-api-library test/UtilTest.py, also
# adyen-ruby-api-library spec/utils/hmac_validator_spec.rb).
SAMPLE_KEY = "44782DEF547AAA06C910C43932B1EB0C71FC68D9D0C057550C48EC2ACF6BA056"
SAMPLE_ITEM = {
    "pspReference": "7914073381342284", "merchantReference": "TestPayment-1407325143704",
    "merchantAccountCode": "TestMerchant", "amount": {"currency": "EUR", "value": 1130},
    "eventCode": "AUTHORISATION", "success": "true", "eventDate": "2019-05-06T17:15:34.121+02:00",
    "operations": ["CANCEL", "CAPTURE", "REFUND"], "paymentMethod": "visa",
}
SAMPLE_SIGNATURE = "coqCmt/IZ4E3CzPvMY8zTjQVL5hYJUiBRg8UU+iCWo0="
# adyen-php-api-library tests/Adyen/Util/HmacSignatureTest.php: same fields, another key.
PHP_KEY = "DFB1EB5485895CFA84146406857104ABB4CBCABDC8AAF103A624C8F6A3EAAB00"
PHP_SIGNATURE = "Ny9gS2veKo5E4w8/OL6xz1/wvT/hYkAXy1xNc/QvO4I="
# Notifications really sent by Adyen's test platform, kept in adyen-python-api-library test/mocks/util/:
# ":" "\\" and "/" in merchantReference, signed without any escaping.
REAL_KEY = "74F490DD33F7327BAECC88B2947C011FC02D014A473AAA33A8EC93E4DC069174"
REAL_ITEMS = [
    ("M8NB66SBZSGLNK82", ":slashes are fun", "2EQYm7YJpKO4EtHSPu55SQTyWf8dkW5u2nD1tJFpViA=",
     "2023-01-10T13:40:54+01:00"),
    ("T7FD4VM4D3RZNN82", "\\\\slashes are fun", "nIgT81gaB5oJpn2jPXupDq68iRo2wUlBsuYjtYfwKqo=",
     "2023-01-09T16:27:29+01:00"),
    ("X3GWNS6KJ8NKGK82", "//slashes are fun", "9Z0xdpG9Xi3zcmXv14t/BvMBut77O/Xq9D4CQXSDUi4=",
     "2023-01-10T13:37:30+01:00"),
]
KEY = "44554e57454c4c2d4c4f43414c2d414459454e2d484d41432d4b45592d303031"
OLD_KEY = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"


def item(event_code: str = "CAPTURE", success: str = "true", **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"pspReference": "QFQTPCQ8HXSKGK82", "originalReference": "XB7XNCQ8HXSKGK82",
            "merchantAccountCode": "DunwellDemoECOM", "merchantReference": "INV-2026-1008",
            "amount": {"currency": "USD", "value": 780000}, "eventCode": event_code, "success": success,
            "eventDate": "2026-11-25T16:02:11+01:00", "reason": "", "additionalData": {}}
    data.update(overrides)
    return data


def signed(*items: dict[str, Any], key: str = KEY) -> bytes:
    return adyen_body(*(adyen_sign(i, key) for i in items))


MANUAL = frozenset({"DunwellDemoECOM"})  # item()'s merchant account, captured by hand unless a test says otherwise


def one(raw: bytes, **kwargs: Any) -> Any:
    kwargs.setdefault("manual_capture_accounts", MANUAL)
    batch = verify_and_parse_adyen(raw, [KEY], **kwargs)
    assert batch.provider == "adyen"
    return batch.events[0] if batch.events else batch.ignored[0]


def test_signing_string_matches_adyens_published_one():
    assert signing_string(SAMPLE_ITEM) == \
        "7914073381342284::TestMerchant:TestPayment-1407325143704:1130:EUR:AUTHORISATION:true"


def test_published_sample_vector():
    assert sign_item(SAMPLE_ITEM, SAMPLE_KEY) == SAMPLE_SIGNATURE
    assert sign_item(SAMPLE_ITEM, PHP_KEY) == PHP_SIGNATURE
    raw = adyen_body({**SAMPLE_ITEM, "additionalData": {"hmacSignature": SAMPLE_SIGNATURE}})
    batch = verify_and_parse_adyen(raw, [SAMPLE_KEY], manual_capture_accounts={"TestMerchant"})
    assert batch.events == () and batch.ignored[0].event_id == "7914073381342284:AUTHORISATION:true"
    [event] = verify_and_parse_adyen(raw, [SAMPLE_KEY]).events  # automatic capture, Adyen's default
    assert event.event_id == "7914073381342284:AUTHORISATION:true" and event.kind is PaymentKind.PAYMENT


@pytest.mark.parametrize(("psp", "reference", "signature", "event_date"), REAL_ITEMS)
def test_real_adyen_notifications_with_colons_and_slashes_verify(psp, reference, signature, event_date):
    notification = {
        "additionalData": {"hmacSignature": signature, "authCode": "039404", "cardSummary": "1111"},
        "amount": {"currency": "EUR", "value": 1000}, "eventCode": "AUTHORISATION", "eventDate": event_date,
        "merchantAccountCode": "AntoniStroinski", "merchantReference": reference,
        "operations": ["CANCEL", "CAPTURE", "REFUND"], "paymentMethod": "visa", "pspReference": psp,
        "reason": "039404:1111:03/2030", "success": "true",
    }
    batch = verify_and_parse_adyen(adyen_body(notification), [REAL_KEY])
    [event] = batch.events
    assert event.amount == Money.of("10.00", "EUR") and event.references == (reference,)


def test_the_example_is_signed_with_the_sample_key():
    [event] = verify_and_parse_adyen(example("adyen-capture.json"), [SAMPLE_KEY], manual_capture_accounts=MANUAL).events
    assert event.kind is PaymentKind.PAYMENT
    assert event.amount == Money.of("7800.00", "USD")
    assert event.references == ("INV-2026-1008",)
    assert event.payer_email == "billing@northwind-analytics.com"


def test_batch_with_one_forged_item_is_rejected_whole():
    good = adyen_sign(item(pspReference="A1"), KEY)
    forged = adyen_sign(item(pspReference="A2", amount={"currency": "USD", "value": 1}), "ab" * 32)
    with pytest.raises(SignatureError, match=r"notificationItems\[1\]"):
        verify_and_parse_adyen(adyen_body(good, forged), [KEY])
    with pytest.raises(SignatureError, match=r"notificationItems\[0\]"):
        verify_and_parse_adyen(adyen_body(forged, good), [KEY])


def test_item_without_signature_is_rejected():
    with pytest.raises(SignatureError, match="hmacSignature"):
        verify_and_parse_adyen(adyen_body(adyen_sign(item(), KEY), item(pspReference="B")), [KEY])


def test_tampered_amount_is_rejected():
    tampered = adyen_sign(item(), KEY)
    tampered["amount"] = {"currency": "USD", "value": 7800000}
    with pytest.raises(SignatureError):
        verify_and_parse_adyen(adyen_body(tampered), [KEY])


def test_tampering_an_unsigned_field_is_not_detectable_and_not_used_for_money():
    # Adyen signs only eight fields: eventDate or additionalData can change without breaking the HMAC.
    changed = adyen_sign(item(), KEY)
    changed["eventDate"] = "2026-11-26T00:00:00+00:00"
    assert one(adyen_body(changed)).amount == Money.of("7800.00", "USD")


@pytest.mark.parametrize("signing_key", [KEY, OLD_KEY])
def test_rotation_either_key_verifies(signing_key):
    verify_and_parse_adyen(signed(item(), key=signing_key), [OLD_KEY, KEY])


def test_reason_does_not_echo_keys():
    with pytest.raises(SignatureError) as excinfo:
        verify_and_parse_adyen(signed(item(), key=OLD_KEY), [KEY])
    assert KEY not in excinfo.value.reason and KEY.upper() not in excinfo.value.reason


def test_key_that_is_not_hex_is_a_deployment_error():
    with pytest.raises(ValueError, match="hexadecimal"):
        verify_and_parse_adyen(signed(item()), ["not-hex"])
    with pytest.raises(ValueError):
        verify_and_parse_adyen(signed(item()), [])


def test_capture_is_the_payment():
    event = one(signed(item()))
    assert event.kind is PaymentKind.PAYMENT
    assert event.event_id == "QFQTPCQ8HXSKGK82:CAPTURE:true"
    assert event.payment_ref == "XB7XNCQ8HXSKGK82"  # the payment's pspReference, named by refunds
    assert event.occurred_at == datetime(2026, 11, 25, 16, 2, 11, tzinfo=timezone(timedelta(hours=1)))
    assert event.occurred_at == datetime(2026, 11, 25, 15, 2, 11, tzinfo=UTC)
    assert event.raw_type == "CAPTURE"


def test_on_a_manual_capture_account_the_authorisation_is_not_money_yet():
    ignored = one(signed(item("AUTHORISATION", originalReference=None)))
    assert "CAPTURE" in ignored.reason and not ignored.needs_review


def test_with_automatic_capture_the_authorisation_is_the_payment_and_the_capture_is_not():
    event = one(signed(item("AUTHORISATION", pspReference="XB7XNCQ8HXSKGK82", originalReference=None)),
                manual_capture_accounts=())
    assert event.kind is PaymentKind.PAYMENT and event.payment_ref == "XB7XNCQ8HXSKGK82"
    ignored = one(signed(item("CAPTURE")), manual_capture_accounts={"SomeOtherAccount"})
    assert "AUTHORISATION" in ignored.reason


@pytest.mark.parametrize("code", ["AUTHORISATION", "CAPTURE"])
def test_unsuccessful_authorisation_or_capture_is_a_failure(code):
    event = one(signed(item(code, success="false", reason="Refused")))
    assert event.kind is PaymentKind.FAILURE
    assert event.event_id == f"QFQTPCQ8HXSKGK82:{code}:false"


def test_success_false_then_true_are_distinct_events():
    failed = one(signed(item("CAPTURE", success="false")))
    captured = one(signed(item("CAPTURE", success="true")))
    assert failed.event_id != captured.event_id


def test_refund():
    event = one(signed(item("REFUND", pspReference="RF0000000000001", amount={"currency": "USD", "value": 100000})))
    assert event.kind is PaymentKind.REFUND
    assert event.payment_ref == "RF0000000000001"
    assert event.original_ref == "XB7XNCQ8HXSKGK82"
    assert event.amount == Money.of("1000.00", "USD")


def test_failed_refund_is_ignored():
    assert not one(signed(item("REFUND", success="false"))).needs_review


def test_cancel_or_refund_depends_on_what_adyen_did():
    refund = item("CANCEL_OR_REFUND", additionalData={"modification.action": "refund"})
    assert one(signed(refund)).kind is PaymentKind.REFUND
    cancel = item("CANCEL_OR_REFUND", additionalData={"modification.action": "cancel"})
    assert "cancel" in one(signed(cancel)).reason


def test_chargeback():
    event = one(signed(item("CHARGEBACK", pspReference="XB7XNCQ8HXSKGK82", originalReference=None)))
    assert event.kind is PaymentKind.CHARGEBACK and event.original_ref == "XB7XNCQ8HXSKGK82"
    event = one(signed(item("CHARGEBACK", pspReference="DSP1")))
    assert event.payment_ref == "DSP1" and event.original_ref == "XB7XNCQ8HXSKGK82"


@pytest.mark.parametrize("code", ["CHARGEBACK_REVERSED", "REFUND_FAILED", "REFUNDED_REVERSED"])
def test_money_coming_back_needs_review(code):
    assert one(signed(item(code))).needs_review


@pytest.mark.parametrize("code", ["CANCELLATION", "REPORT_AVAILABLE", "NOTIFICATION_OF_CHARGEBACK", "PENDING"])
def test_other_codes_are_ignored(code):
    ignored = one(signed(item(code)))
    assert ignored.type == code and not ignored.needs_review


@pytest.mark.parametrize(("currency", "value", "expected"), [
    ("EUR", 61500, Money.of("615.00", "EUR")),
    ("JPY", 385000, Money.of(385000, "JPY")),
    ("KWD", 12345, Money.of("12.345", "KWD")),
    ("ISK", 50000, Money.of(500, "ISK")),  # Adyen: two decimals for ISK
    ("CLP", 1500000, Money.of(15000, "CLP")),  # Adyen: two decimals for CLP
    ("IDR", 150000, Money.of(150000, "IDR")),  # Adyen: no decimals for IDR
    ("CVE", 2500, Money.of(2500, "CVE")),  # Adyen: no decimals for CVE
])
def test_amounts_per_adyens_currency_table(currency, value, expected):
    assert one(signed(item(amount={"currency": currency, "value": value}))).amount == expected


def test_fractional_isk_is_flagged():
    assert one(signed(item(amount={"currency": "ISK", "value": 50050}))).needs_review


def test_several_invoice_numbers_in_merchant_reference_and_shopper_details():
    event = one(signed(item(merchantReference="INV-2026-1005,INV-2026-1006",
                            additionalData={"shopperEmail": "a@b.example", "shopperName": "Ann"})))
    assert event.references == ("INV-2026-1005", "INV-2026-1006")
    assert (event.payer_email, event.payer_name) == ("a@b.example", "Ann")


def test_batch_normalises_every_item():
    batch = verify_and_parse_adyen(signed(item("AUTHORISATION", pspReference="P1", originalReference=None),
                                          item("CAPTURE", pspReference="C1", originalReference="P1")), [KEY],
                                   manual_capture_accounts=MANUAL)
    assert [e.event_id for e in batch.events] == ["C1:CAPTURE:true"]
    assert [i.event_id for i in batch.ignored] == ["P1:AUTHORISATION:true"]


@pytest.mark.parametrize("raw", [
    b"", b"nope", b"[]", b'{"live": "false"}', b'{"live": "false", "notificationItems": []}',
    b'{"live": "false", "notificationItems": [{"Other": {}}]}',
    b'{"live": "false", "notificationItems": ["x"]}',
])
def test_malformed_bodies_are_rejected(raw):
    with pytest.raises(MalformedWebhook):
        verify_and_parse_adyen(raw, [KEY])


@pytest.mark.parametrize("bad", [
    {"success": "yes"}, {"eventDate": None}, {"eventDate": "yesterday"}, {"pspReference": None},
    {"amount": {"currency": "USD", "value": "780000"}}, {"amount": {"currency": "USD"}},
])
def test_signed_but_malformed_items_are_rejected(bad):
    with pytest.raises(MalformedWebhook):
        verify_and_parse_adyen(signed(item(**bad)), [KEY], manual_capture_accounts=MANUAL)


def test_signed_fields_of_the_wrong_type_are_malformed():
    raw = json.loads(signed(item()))
    raw["notificationItems"][0]["NotificationRequestItem"]["merchantReference"] = ["INV-2026-1008"]
    with pytest.raises(MalformedWebhook):
        verify_and_parse_adyen(json.dumps(raw).encode(), [KEY])
