"""Cash application: which open invoices a received payment pays, and what a refund reopens."""

import itertools
from datetime import date, timedelta

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from chalicelib.domain.cash_application import (
    Allocation,
    MatchMethod,
    MatchResult,
    OpenItem,
    _oldest_subset,
    allocate_oldest_first,
    allocate_within,
    match_payment,
    net_allocations,
    oldest_first,
    refund_allocations,
)
from chalicelib.domain.errors import CurrencyMismatch, InvalidMoney
from chalicelib.domain.invoice import Document, DocumentKind, Invoice
from chalicelib.domain.money import Money

DAY0 = date(2026, 1, 1)


def eur(value):
    return Money.of(value, "EUR")


def item(number, balance, due=0, customer="acme", currency="EUR"):
    """An open item; `due` is a day offset so tables read oldest -> newest."""
    return OpenItem(invoice_id=number, number=number, customer_id=customer, currency=currency,
                    balance=Money.of(balance, currency), due_date=DAY0 + timedelta(days=due))


def numbers(result):
    return [a.number for a in result.allocations]


def amounts(result):
    return [a.amount.to_api() for a in result.allocations]


# --- building blocks ---------------------------------------------------------------------------------------


def test_open_item_of_invoice():
    document = Document(kind=DocumentKind.INVOICE, number="INV-9", customer_id="acme", issue_date=DAY0,
                        due_date=date(2026, 2, 1), total=eur("100"), paid_in_source=eur("30"))
    open_item = OpenItem.of(Invoice.from_document(document))
    assert open_item == OpenItem("INV-9", "INV-9", "acme", "EUR", eur("70"), date(2026, 2, 1))


def test_values_are_validated():
    with pytest.raises(CurrencyMismatch):
        OpenItem("I", "I", "c", "USD", eur("1"), DAY0)
    with pytest.raises(InvalidMoney):
        item("I", "-1")
    with pytest.raises(InvalidMoney):
        Allocation("I", "I", eur("0"))
    with pytest.raises(InvalidMoney):
        MatchResult(MatchMethod.NONE, (), eur("-1"), "", None)
    with pytest.raises(CurrencyMismatch):
        MatchResult(MatchMethod.REFERENCE, (Allocation("I", "I", Money.of("1", "USD")),), eur("0"), "", None)
    with pytest.raises(ValueError, match="no allocations"):
        MatchResult(MatchMethod.NONE, (Allocation("I", "I", eur("1")),), eur("0"), "", None)


def test_result_sums():
    result = MatchResult(MatchMethod.REFERENCE, (Allocation("A", "A", eur("1.50")), Allocation("B", "B", eur("2"))),
                         eur("0.25"), "", "acme")
    assert result.allocated == eur("3.50") and result.amount == eur("3.75")


# --- rule 1: references ------------------------------------------------------------------------------------


def test_reference_pays_the_quoted_invoice():
    result = match_payment(eur("100"), referenced=[item("INV-1", "100")], customer_id="acme",
                           customer_items=[item("INV-2", "100", due=-5)])
    assert result.method is MatchMethod.REFERENCE
    assert numbers(result) == ["INV-1"] and result.unapplied.is_zero
    assert result.reason == "by reference: INV-1 paid in full (100.00 EUR)"


def test_references_are_paid_in_the_order_quoted_and_the_last_one_in_part():
    result = match_payment(eur("120"), referenced=[item("NEW", "100", due=30), item("OLD", "50", due=0)],
                           customer_id="acme", customer_items=[])
    assert numbers(result) == ["NEW", "OLD"] and amounts(result) == ["100.00", "20.00"]
    assert "OLD paid in part (20.00 EUR of 50.00 EUR open)" in result.reason
    # A caller who wants the oldest first sorts before calling.
    result = match_payment(eur("120"), referenced=oldest_first([item("NEW", "100", due=30), item("OLD", "50")]),
                           customer_id="acme")
    assert numbers(result) == ["OLD", "NEW"] and amounts(result) == ["50.00", "70.00"]


def test_reference_overpayment_is_credit_on_account():
    result = match_payment(eur("130"), referenced=[item("INV-1", "100")], customer_id="acme")
    assert result.method is MatchMethod.REFERENCE and result.unapplied == eur("30")
    assert "overpayment of 30.00 EUR left unapplied as credit on account of customer acme" in result.reason


def test_reference_to_paid_invoices_only_is_an_overpayment_and_never_spreads_to_others():
    result = match_payment(eur("100"), referenced=[item("INV-1", "0")], customer_id="acme",
                           customer_items=[item("INV-2", "100")])
    assert result.method is MatchMethod.NONE and result.unapplied == eur("100")
    assert result.reason.startswith("overpayment: INV-1 is already paid")
    assert "credit on account of customer acme" in result.reason
    assert result.customer_id == "acme"


def test_reference_in_another_currency_is_never_applied():
    result = match_payment(eur("100"), referenced=[item("INV-1", "100", currency="USD")], customer_id="acme",
                           customer_items=[item("INV-2", "100")])
    assert result.method is MatchMethod.NONE and not result.allocations
    assert "INV-1 not applied automatically: it is in USD, the payment in EUR" in result.reason
    assert "for a human" in result.reason
    mixed = match_payment(eur("100"), referenced=[item("U", "100", currency="USD"), item("E", "60")],
                          customer_id="acme")
    assert numbers(mixed) == ["E"] and mixed.unapplied == eur("40")
    assert "U not applied automatically" in mixed.reason


def test_reference_to_another_customers_invoice_is_not_applied_for_a_known_payer():
    result = match_payment(eur("100"), referenced=[item("INV-1", "100", customer="globex")], customer_id="acme")
    assert result.method is MatchMethod.NONE
    assert "belongs to customer globex, the payment came from acme" in result.reason


def test_unknown_payer_is_inferred_from_the_references():
    result = match_payment(eur("100"), referenced=[item("INV-1", "100", customer="globex")], customer_id=None)
    assert result.method is MatchMethod.REFERENCE and result.customer_id == "globex"
    paid = match_payment(eur("100"), referenced=[item("INV-1", "0", customer="globex")], customer_id=None)
    assert paid.customer_id == "globex" and "credit on account of customer globex" in paid.reason
    several = match_payment(eur("100"), referenced=[item("A", "50", customer="x"), item("B", "50", customer="y")],
                            customer_id=None)
    assert several.method is MatchMethod.NONE and several.customer_id is None
    assert "belong to several customers (x, y)" in several.reason


def test_duplicate_references_count_once_and_conflicting_duplicates_are_a_bug():
    result = match_payment(eur("150"), referenced=[item("INV-1", "100"), item("INV-1", "100")], customer_id="acme")
    assert numbers(result) == ["INV-1"] and result.unapplied == eur("50")
    with pytest.raises(ValueError, match="twice"):
        match_payment(eur("1"), referenced=[item("INV-1", "100"), item("INV-1", "90")], customer_id="acme")


# --- rule 2: exact balance ----------------------------------------------------------------------------------


def test_exact_balance_of_one_invoice():
    result = match_payment(eur("250"), customer_id="acme",
                           customer_items=[item("A", "100"), item("B", "250", due=3), item("C", "150", due=9)])
    assert result.method is MatchMethod.EXACT_BALANCE and numbers(result) == ["B"]
    assert result.reason == "exact balance: B is the only open invoice of customer acme with a balance of 250.00 EUR"


def test_exact_balance_wins_over_a_subset():
    result = match_payment(eur("250"), customer_id="acme",
                           customer_items=[item("A", "100"), item("C", "150", due=1), item("B", "250", due=9)])
    assert numbers(result) == ["B"]


def test_several_equal_balances_pay_the_oldest_due():
    items = [item("M-03", "99", due=60), item("M-01", "99", due=0), item("M-02", "99", due=30)]
    result = match_payment(eur("99"), customer_id="acme", customer_items=items)
    assert numbers(result) == ["M-01"]
    assert "3 open invoices of customer acme have a balance of 99.00 EUR; applied to the oldest due, M-01" \
           in result.reason
    # Same due date: the invoice number decides.
    same_day = [item("B", "99"), item("A", "99")]
    assert numbers(match_payment(eur("99"), customer_id="acme", customer_items=same_day)) == ["A"]


def test_only_the_payers_items_in_the_payment_currency_count():
    items = [item("X", "100", customer="globex"), item("U", "100", currency="USD"), item("Z", "0")]
    result = match_payment(eur("100"), customer_id="acme", customer_items=items)
    assert result.method is MatchMethod.NONE
    assert result.reason == ("no invoice reference, and customer acme has no open EUR invoice (1 open invoices in "
                             "other currencies not considered): 100.00 EUR left unapplied")


# --- rule 3: subset sum -------------------------------------------------------------------------------------


def test_subset_of_open_invoices():
    items = [item("A", "100"), item("B", "70", due=1), item("C", "30", due=2), item("D", "500", due=3)]
    result = match_payment(eur("130"), customer_id="acme", customer_items=items)
    assert result.method is MatchMethod.SUBSET_SUM
    assert numbers(result) == ["A", "C"] and result.unapplied.is_zero
    assert result.reason == ("subset sum: A, C (2 of the 3 oldest open invoices of customer acme that could "
                             "combine) sum to 130.00 EUR")


def test_subset_prefers_the_oldest_invoices_over_fewer_invoices():
    # 500 = 100+400 (two invoices) = 100+150+250 (the three oldest): paying the oldest is the usual intent.
    items = [item("A", "100", due=0), item("B", "150", due=1), item("C", "250", due=2), item("D", "400", due=3)]
    result = match_payment(eur("500"), customer_id="acme", customer_items=items)
    assert numbers(result) == ["A", "B", "C"]
    # Without a matching prefix, the set holding the oldest invoice possible wins: 350 = B+D or A+C... A is older.
    result = match_payment(eur("350"), customer_id="acme", customer_items=items)
    assert numbers(result) == ["A", "C"]


def test_subset_looks_only_at_the_oldest_candidates():
    items = [item(f"I{i:02d}", "1000", due=i) for i in range(5)] + [item("N1", "3", due=50), item("N2", "4", due=51)]
    assert numbers(match_payment(eur("7"), customer_id="acme", customer_items=items)) == ["N1", "N2"]
    # Invoices larger than the payment cannot be part of it and do not use up the window.
    old = [item(f"S{i}", "1", due=i) for i in range(3)]
    result = match_payment(eur("7"), customer_id="acme", customer_items=old + items, max_subset_items=3)
    assert result.method is MatchMethod.NONE
    assert "no combination of the 3 oldest open invoices with a smaller balance sums to it" in result.reason


def test_subset_search_limit_is_reported():
    items = [item(f"I{i:02d}", str(2 * i + 2), due=i) for i in range(20)]  # 2, 4, ..., 40: only even sums
    for amount in ("101", "100"):
        result = match_payment(eur(amount), customer_id="acme", customer_items=items, max_subset_steps=50)
        assert result.method is MatchMethod.NONE
        assert result.reason.endswith("found none before its limit of 50 steps (search limit reached): "
                                      f"{amount}.00 EUR left unapplied")
    assert match_payment(eur("101"), customer_id="acme", customer_items=items).reason.endswith(
        "no combination of the 20 oldest open invoices with a smaller balance sums to it: 101.00 EUR left unapplied")
    result = match_payment(eur("100"), customer_id="acme", customer_items=items)
    assert result.method is MatchMethod.SUBSET_SUM and result.allocated == eur("100")
    # The oldest set: I00..I07 (2+4+...+16 = 72); no younger pair completes it, so the oldest single one does: I13 (28).
    assert numbers(result) == ["I00", "I01", "I02", "I03", "I04", "I05", "I06", "I07", "I13"]


def test_subset_matching_can_be_turned_off():
    items = [item("A", "1"), item("B", "2")]
    result = match_payment(eur("3"), customer_id="acme", customer_items=items, max_subset_items=0)
    assert result.method is MatchMethod.NONE and "subset matching is off" in result.reason


# --- rule 4: nothing matches ----------------------------------------------------------------------------------


def test_no_match_says_why():
    items = [item("A", "100"), item("B", "70", due=1), item("U", "5", currency="USD")]
    result = match_payment(eur("120"), customer_id="acme", customer_items=items)
    assert result.method is MatchMethod.NONE and result.unapplied == eur("120") and result.customer_id == "acme"
    assert result.reason == (
        "no invoice reference; no open invoice of customer acme has a balance of 120.00 EUR; no combination of the "
        "2 oldest open invoices with a smaller balance sums to it (1 open invoices in other currencies not "
        "considered): 120.00 EUR left unapplied")


def test_one_small_invoice_cannot_combine():
    result = match_payment(eur("120"), customer_id="acme", customer_items=[item("A", "100"), item("B", "700")])
    assert "fewer than two open invoices are small enough to combine" in result.reason


def test_unknown_customer_without_reference():
    result = match_payment(eur("100"), customer_id=None, customer_items=[item("A", "100")])
    assert result.method is MatchMethod.NONE and result.customer_id is None
    assert "payer is not a known customer" in result.reason


def test_zero_and_negative_amounts():
    assert match_payment(eur("0"), customer_id="acme", customer_items=[item("A", "0")]).method is MatchMethod.NONE
    with pytest.raises(InvalidMoney):
        match_payment(eur("-1"), customer_id="acme")
    with pytest.raises(ValueError):
        match_payment(eur("1"), customer_id="acme", max_subset_items=-1)


# --- a customer with 5,000 open invoices ----------------------------------------------------------------------


def big_ledger():
    """5,000 open invoices, balances 1,000.00-5,999.99 EUR, distinct, ages spread over ten years."""
    return [item(f"INV-{i:05d}", Money.from_minor(100_000 + (i * 7919) % 500_000, "EUR").to_api(), due=i % 3650)
            for i in range(5000)]


def test_large_customer_exact_hit():
    items = big_ledger()
    target = items[4321].balance
    result = match_payment(target, customer_id="acme", customer_items=items)
    assert result.method is MatchMethod.EXACT_BALANCE and numbers(result) == ["INV-04321"]


def test_large_customer_subset_hit():
    items = big_ledger()
    window = oldest_first(items)[:20]
    amount = window[2].balance + window[5].balance + window[11].balance  # above every balance: not an exact hit
    result = match_payment(amount, customer_id="acme", customer_items=items)
    assert result.method is MatchMethod.SUBSET_SUM
    assert result.allocated == amount
    assert {a.invoice_id for a in result.allocations} <= {i.invoice_id for i in window}


def test_large_customer_no_match():
    result = match_payment(eur("0.01"), customer_id="acme", customer_items=big_ledger())
    assert result.method is MatchMethod.NONE
    result = match_payment(eur("123456789.01"), customer_id="acme", customer_items=big_ledger())
    assert result.method is MatchMethod.NONE and "20 oldest" in result.reason


# --- oldest first, by a human's decision ------------------------------------------------------------------------


def test_allocate_oldest_first():
    items = [item("B", "50", due=5), item("A", "30", due=1), item("X", "10", customer="globex")]
    result = allocate_oldest_first(eur("60"), customer_id="acme", customer_items=items)
    assert result.method is MatchMethod.OLDEST_FIRST
    assert numbers(result) == ["A", "B"] and amounts(result) == ["30.00", "30.00"]
    over = allocate_oldest_first(eur("100"), customer_id="acme", customer_items=items)
    assert over.unapplied == eur("20") and "credit on account of acme" in over.reason
    none = allocate_oldest_first(eur("100"), customer_id="nobody", customer_items=items)
    assert none.method is MatchMethod.NONE and none.unapplied == eur("100")


# --- allocation within one invoice ------------------------------------------------------------------------------


def test_allocate_within_pays_fees_then_interest_then_principal():
    components = [("principal", eur("1000")), ("interest", eur("12.50")), ("fees", eur("40"))]
    split, left = allocate_within(components, eur("100"))
    assert list(split) == ["fees", "interest", "principal"]
    assert split == {"fees": eur("40"), "interest": eur("12.50"), "principal": eur("47.50")} and left.is_zero
    split, left = allocate_within(components, eur("30"))
    assert split == {"fees": eur("30"), "interest": eur("0"), "principal": eur("0")}
    split, left = allocate_within(components, eur("1100"))
    assert left == eur("47.50")


def test_allocate_within_custom_order_and_validation():
    split, _ = allocate_within([("principal", eur("10")), ("fees", eur("5"))], eur("12"),
                               order=("principal", "fees"))
    assert split == {"principal": eur("10"), "fees": eur("2")}
    with pytest.raises(ValueError, match="not in the allocation order"):
        allocate_within([("discount", eur("1"))], eur("1"))
    with pytest.raises(ValueError, match="twice"):
        allocate_within([("fees", eur("1")), ("fees", eur("1"))], eur("1"))
    with pytest.raises(ValueError, match="twice"):
        allocate_within([], eur("1"), order=("fees", "fees"))
    with pytest.raises(CurrencyMismatch):
        allocate_within([("fees", Money.of("1", "USD"))], eur("1"))
    with pytest.raises(InvalidMoney):
        allocate_within([("fees", eur("-1"))], eur("1"))
    with pytest.raises(InvalidMoney):
        allocate_within([("fees", eur("1"))], eur("-1"))


# --- refunds and chargebacks ------------------------------------------------------------------------------------


def alloc(number, value):
    return Allocation(number, number, eur(value))


def test_refund_takes_unapplied_cash_first_then_reopens_last_applied_first():
    applied = [alloc("A", "100"), alloc("B", "50"), alloc("C", "30")]
    assert refund_allocations(applied, eur("20"), unapplied=eur("25")) == ()
    assert refund_allocations(applied, eur("60"), unapplied=eur("25")) == (alloc("C", "30"), alloc("B", "5"))
    assert refund_allocations(applied, eur("205"), unapplied=eur("25")) == (
        alloc("C", "30"), alloc("B", "50"), alloc("A", "100"))
    assert refund_allocations(applied, eur("40")) == (alloc("C", "30"), alloc("B", "10"))


def test_refund_merges_entries_of_one_invoice_and_rejects_too_much():
    applied = [alloc("A", "10"), alloc("B", "10"), alloc("A", "5")]
    assert refund_allocations(applied, eur("20")) == (alloc("A", "10"), alloc("B", "10"))
    with pytest.raises(InvalidMoney, match="more than the payment has"):
        refund_allocations(applied, eur("30"), unapplied=eur("4.99"))
    with pytest.raises(CurrencyMismatch):
        refund_allocations(applied, Money.of("1", "USD"))
    with pytest.raises(CurrencyMismatch):
        refund_allocations(applied, eur("1"), unapplied=Money.of("1", "USD"))
    with pytest.raises(InvalidMoney):
        refund_allocations(applied, eur("-1"))


def test_second_partial_refund_continues_where_the_first_stopped():
    applied = [alloc("A", "100"), alloc("B", "50")]
    first = refund_allocations(applied, eur("30"))
    assert first == (alloc("B", "30"),)
    remaining = net_allocations(applied, first)
    assert remaining == (alloc("A", "100"), alloc("B", "20"))
    assert refund_allocations(remaining, eur("40")) == (alloc("B", "20"), alloc("A", "20"))
    with pytest.raises(InvalidMoney, match="more was reversed"):
        net_allocations(applied, [alloc("B", "51")])


# --- properties -------------------------------------------------------------------------------------------------

CUSTOMERS = ("acme", "globex", "initech")


@st.composite
def open_items(draw, max_size=12):
    count = draw(st.integers(0, max_size))
    result = []
    for n in range(count):
        currency = draw(st.sampled_from(("EUR", "EUR", "EUR", "USD")))
        result.append(OpenItem(
            invoice_id=f"INV-{n}", number=f"INV-{n}", customer_id=draw(st.sampled_from(CUSTOMERS)),
            currency=currency, balance=Money.from_minor(draw(st.integers(0, 5000)), currency),
            due_date=DAY0 + timedelta(days=draw(st.integers(0, 40))),
        ))
    return result


@st.composite
def payments(draw):
    items = draw(open_items())
    by_reference = draw(st.booleans())
    referenced = draw(st.lists(st.sampled_from(items), max_size=4)) if by_reference and items else []
    customer_id = draw(st.none() | st.sampled_from(CUSTOMERS))
    # Amounts often equal a balance or a sum of balances, so every rule gets exercised.
    sums = [sum(i.balance.minor for i in combo) for r in (1, 2, 3) for combo in itertools.combinations(items[:6], r)]
    minor = draw(st.sampled_from(sums) | st.integers(0, 20000)) if sums else draw(st.integers(0, 20000))
    return Money.from_minor(minor, draw(st.sampled_from(("EUR", "EUR", "USD")))), referenced, customer_id, items


def check_result(result, amount, referenced, customer_id, items):
    by_id = {i.invoice_id: i for i in items}
    assert result.allocated + result.unapplied == amount
    assert result.unapplied.currency == amount.currency
    assert (result.method is MatchMethod.NONE) == (not result.allocations)
    ids = [a.invoice_id for a in result.allocations]
    assert len(ids) == len(set(ids))
    allowed = {i.invoice_id for i in referenced} if referenced else {
        i.invoice_id for i in items if i.customer_id == customer_id}
    for allocation in result.allocations:
        source = by_id[allocation.invoice_id]
        assert allocation.invoice_id in allowed
        assert allocation.amount.currency == amount.currency == source.currency
        assert Money.zero(amount.currency) < allocation.amount <= source.balance
        if customer_id is not None:
            assert source.customer_id == customer_id
    if result.method in (MatchMethod.EXACT_BALANCE, MatchMethod.SUBSET_SUM):
        assert result.unapplied.is_zero and result.allocated == amount
        assert all(by_id[a.invoice_id].balance == a.amount for a in result.allocations)
        assert customer_id is not None and result.customer_id == customer_id
    if result.method is MatchMethod.REFERENCE:
        # Every referenced invoice before the last one paid is paid in full.
        assert all(by_id[a.invoice_id].balance == a.amount for a in result.allocations[:-1])
        if not result.unapplied.is_zero:
            assert all(by_id[a.invoice_id].balance == a.amount for a in result.allocations)
    assert result.reason


@settings(max_examples=400)
@given(case=payments(), seed=st.randoms(use_true_random=False))
def test_match_payment_properties(case, seed):
    amount, referenced, customer_id, items = case
    result = match_payment(amount, referenced=referenced, customer_id=customer_id, customer_items=items)
    check_result(result, amount, referenced, customer_id, items)
    assert match_payment(amount, referenced=referenced, customer_id=customer_id, customer_items=items) == result
    shuffled = list(items)
    seed.shuffle(shuffled)
    assert match_payment(amount, referenced=referenced, customer_id=customer_id, customer_items=shuffled) == result


@given(case=payments())
def test_exact_balance_or_subset_is_found_when_one_exists(case):
    amount, _, customer_id, items = case
    assume(customer_id is not None and not amount.is_zero)
    own = [i for i in items if i.customer_id == customer_id and i.currency == amount.currency
           and not i.balance.is_zero]
    result = match_payment(amount, customer_id=customer_id, customer_items=items)
    exists = any(sum(i.balance.minor for i in combo) == amount.minor
                 for r in range(1, len(own) + 1) for combo in itertools.combinations(own, r))
    assert (result.method is not MatchMethod.NONE) == exists  # 12 items < the 20-item window: search is complete


def brute_force_oldest(values, target):
    solutions = [combo for r in range(1, len(values) + 1) for combo in itertools.combinations(range(len(values)), r)
                 if sum(values[i] for i in combo) == target]
    return min(solutions) if solutions else None


@settings(max_examples=300)
@given(values=st.lists(st.integers(1, 60), max_size=11), target=st.integers(1, 200))
def test_subset_search_finds_the_oldest_solution(values, target):
    found, limited = _oldest_subset(values, target, 10**6)
    assert not limited
    assert found == brute_force_oldest(values, target)


@given(components=st.lists(st.integers(0, 10_000), min_size=3, max_size=3), pay=st.integers(0, 40_000))
def test_allocate_within_properties(components, pay):
    named = list(zip(("principal", "interest", "fees"), (Money.from_minor(c, "EUR") for c in components),
                     strict=True))
    split, left = allocate_within(named, Money.from_minor(pay, "EUR"))
    assert sum(m.minor for m in split.values()) + left.minor == pay
    open_amounts = dict(named)
    parts = list(split.items())
    for index, (name, part) in enumerate(parts):
        assert Money.zero("EUR") <= part <= open_amounts[name]
        if index and not part.is_zero:  # a later component gets money only once the earlier ones are paid
            previous_name, previous = parts[index - 1]
            assert previous == open_amounts[previous_name]
    if not left.is_zero:
        assert all(split[name] == open_amounts[name] for name in split)


@given(applied=st.lists(st.tuples(st.sampled_from("ABCD"), st.integers(1, 1000)), max_size=6),
       unapplied=st.integers(0, 1000), data=st.data())
def test_refund_properties(applied, unapplied, data):
    original = [Allocation(n, n, Money.from_minor(v, "EUR")) for n, v in applied]
    capacity = sum(v for _, v in applied) + unapplied
    first = data.draw(st.integers(0, capacity))
    second = data.draw(st.integers(0, capacity - first))
    cash = Money.from_minor(unapplied, "EUR")
    reopened = refund_allocations(original, Money.from_minor(first, "EUR"), unapplied=cash)
    from_unapplied = min(first, unapplied)
    assert sum(a.amount.minor for a in reopened) + from_unapplied == first
    per_invoice: dict[str, int] = {}
    for n, v in applied:
        per_invoice[n] = per_invoice.get(n, 0) + v
    assert all(a.amount.minor <= per_invoice[a.invoice_id] for a in reopened)
    # Two refunds in a row reopen exactly what one refund of the total would.
    remaining = net_allocations(original, reopened)
    again = refund_allocations(remaining, Money.from_minor(second, "EUR"),
                               unapplied=Money.from_minor(unapplied - from_unapplied, "EUR"))
    at_once = refund_allocations(original, Money.from_minor(first + second, "EUR"), unapplied=cash)
    total_twice: dict[str, int] = {}
    for allocation in (*reopened, *again):
        total_twice[allocation.invoice_id] = total_twice.get(allocation.invoice_id, 0) + allocation.amount.minor
    assert total_twice == {a.invoice_id: a.amount.minor for a in at_once}
    with pytest.raises(InvalidMoney):
        refund_allocations(original, Money.from_minor(capacity + 1, "EUR"), unapplied=cash)
