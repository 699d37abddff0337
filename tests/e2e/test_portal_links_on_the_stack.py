"""Personal portal links on `make run`'s stack: the reminder in `.dunwell/outbox/` carries a link under the stack's
own API URL (PUBLIC_BASE_URL, set by the stack), staff's POST mails fresh ones, and staff's DELETE revokes them all.
(Opening a link, `/portal/open/<token>`, is the portal's: its e2e test follows the link into the pages.)"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from tests.e2e.user_tools import (
    Outbox,
    call,
    collector_key,
    first_due_date,
    import_invoices,
    invoices_csv,
    mail_of,
    module_stack,
    run_dunning,
)

pytestmark = pytest.mark.e2e

stack = module_stack("portal-links-home")
CUSTOMER, NUMBER = "pl-links", "PL-LINK-1"


def test_a_reminder_carries_a_personal_link_under_the_stacks_api_and_staff_can_revoke_it(stack) -> None:
    link = re.compile(re.escape(stack.api_url) + r"/portal/open/[A-Za-z0-9_-]{43}")
    due = first_due_date(datetime.now(UTC).date(), (0,))
    import_invoices(stack, "incoming/portal-links.csv", invoices_csv([(NUMBER, CUSTOMER, due, "100.00")], "Ltd"),
                    [NUMBER])
    outbox = Outbox.of(stack)
    run_dunning(stack, due)  # due today: the first word about it
    [reminder] = outbox.new(1)
    assert reminder.to == mail_of(CUSTOMER)
    first = link.findall(reminder.text)
    assert len(first) == 1, reminder.text

    key = collector_key(stack, "portal-links-e2e")
    assert call(stack, "POST", f"/customers/{CUSTOMER}/portal-links", key) == {"customer_id": CUSTOMER, "sent": 1}
    [fresh] = outbox.new(1)
    second = link.findall(fresh.text)
    assert fresh.to == mail_of(CUSTOMER) and len(second) == 1 and second != first
    # Both links are live until staff revoke them all.
    assert call(stack, "DELETE", f"/customers/{CUSTOMER}/portal-links", key) == {"customer_id": CUSTOMER,
                                                                               "revoked": 2}
    assert call(stack, "DELETE", f"/customers/{CUSTOMER}/portal-links", key)["revoked"] == 0
    timeline = call(stack, "GET", f"/customers/{CUSTOMER}/timeline", key)
    assert {"portal.link_sent", "portal.links_revoked"} <= {e["type"] for e in timeline["items"]}
