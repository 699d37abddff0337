"""Property tests: once-only sends over any run schedule, no compounding, statutory sums at most once."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from chalicelib.domain.dunning.charges import DEFAULT_RATE_TABLE, charges_due, simple_interest
from chalicelib.domain.dunning.decision import History, InvoiceState, decide
from chalicelib.domain.dunning.policy import FeeRule, Step, default_policy
from chalicelib.domain.money import Money
from tests.unit.dunning.factories import customer, invoice

ZONES = ("Europe/Berlin", "Europe/London", "Pacific/Auckland", "America/Los_Angeles", "Asia/Kolkata")
COUNTRIES = {"Europe/Berlin": "DE", "Europe/London": "GB", "Pacific/Auckland": "NZ",
             "America/Los_Angeles": "US", "Asia/Kolkata": "IN"}

runs = st.lists(st.tuples(st.integers(0, 9), st.integers(0, 23 * 60 + 59)), min_size=1, max_size=60)


@settings(max_examples=150, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    due_offset=st.integers(0, 700),
    schedule=runs,
    scheme=st.sampled_from(("none", "eu_2011_7", "uk_late_payment")),
    paid_part=st.integers(0, 99_999),
)
def test_any_run_schedule_sends_each_step_channel_once_in_order(zone, due_offset, schedule, scheme, paid_part):
    """Runs at random instants with random gaps (0 = another run the same day): every (step, channel) is
    sent at most once, steps never go backwards, at most one message a customer-day, and every step below
    the last one sent was either sent or reported superseded."""
    policy = default_policy(scheme)
    currency = "GBP" if scheme == "uk_late_payment" else "EUR"
    due = date(2024, 1, 15) + timedelta(days=due_offset)
    inv = replace(invoice(total="1000.00", currency=currency, due=due),
                  applied_payments=Money.from_minor(paid_part, currency))
    cust = customer(timezone=zone, country=COUNTRIES[zone])
    state = InvoiceState(inv)
    history = History()
    now = datetime.combine(due - timedelta(days=10), datetime.min.time(), tzinfo=UTC)
    sends: list[tuple[int, tuple[str, ...]]] = []
    accounted: set[str] = set()
    charged: list[str] = []
    days_sent: set[date] = set()
    for gap_days, minute in schedule:
        now = now + timedelta(days=gap_days, minutes=minute)
        decision = decide(state, cust, policy, history, now, rate_table=DEFAULT_RATE_TABLE)
        if decision.action != "send":
            continue
        assert decision.step is not None
        index = policy.index_of(decision.step.name)
        assert index is not None
        for channel in decision.channels:
            assert (decision.step.name, channel) not in history.sent
        assert not sends or index >= sends[-1][0]
        local_today = now.astimezone(ZoneInfo(zone)).date()
        assert local_today not in days_sent
        days_sent.add(local_today)
        sends.append((index, decision.channels))
        accounted.add(decision.step.name)
        accounted.update(name for name, reason in decision.skipped_steps if reason == "superseded")
        charged.extend(c.key for c in decision.charges)
        history = History(
            sent=history.sent | {(decision.step.name, c) for c in decision.channels},
            charged_keys=history.charged_keys | {c.key for c in decision.charges},
            customer_last_sent_on=local_today,
        )
    assert len(charged) == len(set(charged))  # no charge key twice
    assert sum(1 for key in charged if key.endswith((":eu40", ":uk_fixed"))) <= 1
    if sends:
        top = max(index for index, _ in sends)
        assert {s.name for s in policy.steps[: top + 1]} <= accounted  # nothing skipped silently


FINAL = Step("final", 35, ("email",), "final_notice", "final", fee=FeeRule(compensation=True, interest=True))


@settings(max_examples=200, deadline=None)
@given(
    principal=st.integers(1, 10**9),
    start=st.integers(0, 700),
    first=st.integers(1, 400),
    second=st.integers(1, 400),
    rate=st.decimals(min_value=0, max_value=30, places=2),
)
def test_contractual_interest_is_additive_within_a_segment(principal, start, first, second, rate):
    amount = Money.from_minor(principal, "EUR")
    a = date(2024, 1, 1) + timedelta(days=start)
    b = a + timedelta(days=first)
    c = b + timedelta(days=second)
    whole = simple_interest(amount, rate, a, c)
    parts = simple_interest(amount, rate, a, b) + simple_interest(amount, rate, b, c)
    assert abs(whole.minor - parts.minor) <= 1  # one minor unit of rounding per charge, nothing compounded


@settings(max_examples=100, deadline=None)
@given(
    principal=st.integers(1, 10**8),
    cut_points=st.lists(st.integers(1, 880), min_size=1, max_size=6, unique=True),
)
def test_statutory_interest_charged_in_pieces_equals_one_charge(principal, cut_points):
    """Charging interest at any set of later days never overlaps periods and never charges interest on
    interest: the pieces add up to one charge over the whole period within a minor unit per piece."""
    policy = default_policy("eu_2011_7")
    inv = invoice(total=str(Decimal(principal).scaleb(-2)), due=date(2024, 1, 10))
    keys: set[str] = set()
    pieces = Decimal(0)
    days = sorted(cut_points)
    for offset in days:
        result = charges_due(inv, policy, FINAL, frozenset(keys), inv.due_date + timedelta(days=offset))
        for charge in result.charges:
            assert charge.key not in keys
            keys.add(charge.key)
            if charge.kind == "interest":
                pieces += charge.amount.amount
    assert sum(1 for k in keys if k.endswith(":eu40")) == 1
    whole = simple_interest(inv.balance, Decimal(8), inv.due_date, inv.due_date + timedelta(days=days[-1]),
                            rate_table=DEFAULT_RATE_TABLE, scheme="ecb_mro")
    assert abs(pieces - whole.amount) <= Decimal("0.01") * len(days)
