"""Cash application: deciding which open invoices a received payment pays. Pure: data in, decision out.

`match_payment` tries, in this order, and stops at the first rule that decides:

1. **Reference** (`MatchMethod.REFERENCE`): invoice numbers the payer quoted (metadata, remittance text),
   already looked up by the caller. Allocated in the order given, each up to its balance. The payer
   told us what they paid, so this rule is final: money left over is *not* spread over other invoices
   by guesswork; it stays unapplied as a credit on the customer's account (an overpayment).
2. **Exact balance** (`MatchMethod.EXACT_BALANCE`): one open invoice of the customer whose balance equals
   the amount. Several equal candidates (monthly subscriptions): the oldest due wins.
2b. **Payment plan** (`MatchMethod.PAYMENT_PLAN`), checked before the exact balance: the payer has an active
   payment plan and the amount is what its next instalment(s) still ask for (the next one, the next two, ...) or
   all that is left on it. The plan is the payer's stated intent: the money goes to the plan's invoices, oldest
   due first. Any other amount falls through to the rules below.
3. **Subset sum** (`MatchMethod.SUBSET_SUM`): a set of the customer's open invoices summing exactly to the
   amount, searched among the `max_subset_items` oldest that could be part of it (balance <= amount).
   Of all such sets, the *oldest* one wins: compare the sets as lists of positions in oldest-first
   order and take the lexicographically smallest. That always prefers "the N oldest invoices" when they
   match (the usual "pay everything due" payment) and, failing that, includes the oldest invoice possible.
4. Otherwise nothing is applied (`MatchMethod.NONE`): the cash is parked for a human with a reason.

Rules that hold whatever the input (and are property-tested):
- `allocated + unapplied == amount`; every allocation is positive and at most its item's balance.
- Money is never applied across currencies, nor (with a known payer) to another customer's invoice.
- Rules 2 and 3 see only the payer's own items, and give the same answer whatever the order of the
  items, thanks to the tie-break by age: (due date, invoice number, invoice id).

`OLDEST_FIRST` is never chosen by `match_payment`: applying unmatched money to the oldest invoices guesses
the payer's intent, and DESIGN.md says unmatched cash is parked for a human. `allocate_oldest_first` is
there for that human, when they decide to apply a customer's cash to the oldest invoices.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date
from enum import StrEnum

from chalicelib.domain.errors import CurrencyMismatch, InvalidMoney
from chalicelib.domain.invoice import Invoice
from chalicelib.domain.money import Money

DEFAULT_COMPONENT_ORDER: tuple[str, ...] = ("fees", "interest", "principal")


@dataclass(frozen=True, slots=True)
class OpenItem:
    """What cash application needs to know about one invoice. A zero balance means settled (or void)."""

    invoice_id: str
    number: str
    customer_id: str
    currency: str
    balance: Money
    due_date: date
    # What settles it with its early-payment discount (domain/discounts.py `open_item`): inside the window on the
    # day the money was received, or (`discount_expired`) the discounted amount a late payer sends. None: no offer.
    discounted_balance: Money | None = None
    discount_expired: bool = False

    def __post_init__(self) -> None:
        if self.balance.currency != self.currency:
            raise CurrencyMismatch(f"open item {self.number}: balance in {self.balance.currency}, item in "
                                   f"{self.currency}")
        if self.balance.is_negative:
            raise InvalidMoney(f"open item {self.number} has a negative balance {self.balance}")
        if self.discounted_balance is not None:
            if self.discounted_balance.currency != self.currency:
                raise CurrencyMismatch(f"open item {self.number}: discounted balance in another currency")
            if not (0 < self.discounted_balance.amount < self.balance.amount):
                raise InvalidMoney(f"open item {self.number}: a discounted balance of {self.discounted_balance} is "
                                   f"not between zero and the balance {self.balance}")

    @property
    def settles_with(self) -> Money:
        """The least that settles it on the payment's day: the discounted balance inside the window, else the
        balance."""
        if self.discounted_balance is not None and not self.discount_expired:
            return self.discounted_balance
        return self.balance

    @classmethod
    def of(cls, invoice: Invoice) -> OpenItem:
        return cls(
            invoice_id=invoice.invoice_id,
            number=invoice.number,
            customer_id=invoice.customer_id,
            currency=invoice.currency,
            balance=invoice.balance,
            due_date=invoice.due_date,
        )

    @property
    def age_key(self) -> tuple[date, str, str]:
        """Oldest first: earliest due date, then invoice number, then id (a total, stable order)."""
        return (self.due_date, self.number, self.invoice_id)


@dataclass(frozen=True, slots=True)
class Allocation:
    """Part of one payment applied to one invoice (always a positive amount)."""

    invoice_id: str
    number: str
    amount: Money

    def __post_init__(self) -> None:
        if self.amount.is_negative or self.amount.is_zero:
            raise InvalidMoney(f"an allocation to {self.number} must be positive, not {self.amount}")


class MatchMethod(StrEnum):
    REFERENCE = "reference"
    EXACT_BALANCE = "exact_balance"
    SUBSET_SUM = "subset_sum"
    PAYMENT_PLAN = "payment_plan"
    OLDEST_FIRST = "oldest_first"  # only by a human's decision (allocate_oldest_first), never automatic
    NONE = "none"


@dataclass(frozen=True, slots=True)
class PlanTarget:
    """An active payment plan of the payer, as cash application sees it: its open invoices and the amounts that
    pay its next instalments (the next one's remainder, then with the one after, ..., then all that is left)."""

    plan_id: str
    customer_id: str
    items: tuple[OpenItem, ...]
    instalment_amounts: tuple[Money, ...]


@dataclass(frozen=True, slots=True)
class MatchResult:
    method: MatchMethod
    allocations: tuple[Allocation, ...]
    unapplied: Money  # parked: credit on the customer's account, or cash for a human to place
    reason: str  # why matched, or why not, in words finance staff read on the timeline
    customer_id: str | None  # whose account the unapplied cash belongs to, when known

    def __post_init__(self) -> None:
        if self.unapplied.is_negative:
            raise InvalidMoney(f"unapplied cash cannot be negative ({self.unapplied})")
        for allocation in self.allocations:
            if allocation.amount.currency != self.unapplied.currency:
                raise CurrencyMismatch("a match result mixes currencies")
        if self.method is MatchMethod.NONE and self.allocations:
            raise ValueError("a result without a match has no allocations")

    @property
    def allocated(self) -> Money:
        return _sum((a.amount for a in self.allocations), self.unapplied.currency)

    @property
    def amount(self) -> Money:
        """The payment amount: what was allocated plus what was left unapplied."""
        return self.allocated + self.unapplied


def oldest_first(items: Iterable[OpenItem]) -> list[OpenItem]:
    """Sort open items by age (see `OpenItem.age_key`); callers who want references paid oldest first
    sort with this before calling `match_payment`."""
    return sorted(items, key=lambda item: item.age_key)


def match_payment(
    amount: Money,
    *,
    referenced: Sequence[OpenItem] = (),
    customer_id: str | None,
    customer_items: Sequence[OpenItem] = (),
    plans: Sequence[PlanTarget] = (),
    max_subset_items: int = 20,
    max_subset_steps: int = 200_000,
) -> MatchResult:
    """Decide where a received payment goes (see the module docstring for the rules and tie-breaks).

    `referenced`: the open items whose numbers the payment quotes, in the order quoted (one per invoice).
    `customer_items`: the payer's open items (any order; items of other customers are ignored).
    `plans`: the payer's active payment plans (plans of other customers are ignored).
    `max_subset_items`: how many of the oldest candidate items the subset search considers (0 turns it off).
    `max_subset_steps`: how many subset sums the search may evaluate before it gives up.
    """
    if amount.is_negative:
        raise InvalidMoney(f"a payment to match is never negative ({amount})", field="amount")
    if max_subset_items < 0 or max_subset_steps < 0:
        raise ValueError("subset search bounds cannot be negative")
    if amount.is_zero:
        return MatchResult(MatchMethod.NONE, (), amount, "nothing to apply: the amount is zero", customer_id)
    if referenced:
        return _by_reference(amount, _unique(referenced), customer_id)
    if customer_id is None:
        return MatchResult(MatchMethod.NONE, (), amount,
                           f"no invoice reference and the payer is not a known customer: {amount} left "
                           "unapplied for a human", None)
    for plan in plans:
        by_plan = _by_plan(amount, customer_id, plan)
        if by_plan is not None:
            return by_plan
    return _by_amount(amount, customer_id, _unique(customer_items), max_subset_items, max_subset_steps)


def allocate_oldest_first(amount: Money, *, customer_id: str, customer_items: Sequence[OpenItem]) -> MatchResult:
    """A human's decision: apply `amount` to the customer's open items, oldest due first, each up to its
    balance; what is left stays unapplied as credit on account."""
    if amount.is_negative:
        raise InvalidMoney(f"an amount to apply is never negative ({amount})", field="amount")
    items = oldest_first(_eligible(_unique(customer_items), customer_id, amount.currency))
    allocations, left = _allocate_in_order(amount, items)
    if not allocations:
        return MatchResult(MatchMethod.NONE, (), amount,
                           f"customer {customer_id} has no open {amount.currency} invoice: {amount} left as "
                           "credit on account", customer_id)
    reason = f"oldest first, as decided by a user: {_describe(allocations, items)}"
    if not left.is_zero:
        reason += f"; {left} left as credit on account of {customer_id}"
    return MatchResult(MatchMethod.OLDEST_FIRST, allocations, left, reason, customer_id)


def allocate_within(
    components: Sequence[tuple[str, Money]],
    amount: Money,
    order: Sequence[str] = DEFAULT_COMPONENT_ORDER,
) -> tuple[dict[str, Money], Money]:
    """Split a payment to one invoice across its open components (e.g. fees, interest, principal).

    Components are paid in full one after the other in `order`; returns what each component gets
    (every component is a key, in the order paid, zero when nothing reached it) and the leftover.
    The default order, costs then interest then principal, is the common contractual rule and the
    statutory default where the payer does not say otherwise (German BGB s. 367(1), Dutch BW 6:44);
    the EUR 40 compensation of Directive 2011/7/EU art. 6 is a cost (a fee) here.
    A component the order does not name is a configuration error (ValueError), never guessed.
    """
    if amount.is_negative:
        raise InvalidMoney(f"an amount to split is never negative ({amount})", field="amount")
    if len(set(order)) != len(order):
        raise ValueError(f"the component order {list(order)} names a component twice")
    open_amounts: dict[str, Money] = {}
    for name, open_amount in components:
        if name in open_amounts:
            raise ValueError(f"component {name!r} given twice")
        if name not in order:
            raise ValueError(f"component {name!r} is not in the allocation order {list(order)}")
        if open_amount.currency != amount.currency:
            raise CurrencyMismatch(f"component {name!r} is in {open_amount.currency}, the payment in "
                                   f"{amount.currency}")
        if open_amount.is_negative:
            raise InvalidMoney(f"component {name!r} has a negative open amount {open_amount}")
        open_amounts[name] = open_amount
    left = amount
    split: dict[str, Money] = {}
    for name in order:
        if name in open_amounts:
            part = min(left, open_amounts[name])
            split[name] = part
            left = left - part
    return split, left


def refund_allocations(
    original: Sequence[Allocation], amount: Money, *, unapplied: Money | None = None
) -> tuple[Allocation, ...]:
    """Which invoices a refund or chargeback of `amount` reopens, and by how much.

    `original`: what the payment still has applied, in the order it was applied (after an earlier
    partial refund, pass `net_allocations(...)`). `unapplied`: the payment's cash still unapplied.
    The rule: a refund first takes back the payment's unapplied cash (money that paid no invoice is the
    money that goes back first; the caller reduces unapplied by `min(amount, unapplied)`), then reopens
    invoices last applied first, never by more than was applied to each. Raises InvalidMoney when the
    refund is larger than the payment's applied plus unapplied money. Returns one entry per invoice
    reopened, in the order reopened.
    """
    currency = amount.currency
    for allocation in original:
        if allocation.amount.currency != currency:
            raise CurrencyMismatch(f"refund in {currency} of a payment applied in {allocation.amount.currency}")
    if unapplied is not None and unapplied.currency != currency:
        raise CurrencyMismatch(f"refund in {currency}, unapplied cash in {unapplied.currency}")
    if amount.is_negative:
        raise InvalidMoney(f"a refund amount is never negative ({amount})", field="amount")
    from_unapplied = min(amount, unapplied) if unapplied is not None else Money.zero(currency)
    rest = amount - from_unapplied
    reopened: dict[str, Money] = {}
    numbers: dict[str, str] = {}
    for allocation in reversed(original):
        if rest.is_zero:
            break
        part = min(rest, allocation.amount)
        reopened[allocation.invoice_id] = reopened.get(allocation.invoice_id, Money.zero(currency)) + part
        numbers[allocation.invoice_id] = allocation.number
        rest = rest - part
    if not rest.is_zero:
        applied = _sum((a.amount for a in original), currency)
        raise InvalidMoney(
            f"refund of {amount} is more than the payment has: {applied} applied and "
            f"{unapplied or Money.zero(currency)} unapplied",
            field="amount",
        )
    return tuple(Allocation(invoice_id, numbers[invoice_id], part) for invoice_id, part in reopened.items())


def net_allocations(original: Sequence[Allocation], reversed_: Sequence[Allocation]) -> tuple[Allocation, ...]:
    """What a payment still has applied after earlier reversals (refunds), in application order.

    Each invoice's reversals come off its last-applied entries first, as `refund_allocations` takes them.
    Raises InvalidMoney when more was reversed from an invoice than was applied to it."""
    to_remove: dict[str, Money] = {}
    for reversal in reversed_:
        previous = to_remove.get(reversal.invoice_id)
        to_remove[reversal.invoice_id] = reversal.amount if previous is None else previous + reversal.amount
    kept: list[Allocation] = []
    for allocation in reversed(original):
        remove = to_remove.get(allocation.invoice_id)
        if remove is None or remove.is_zero:
            kept.append(allocation)
            continue
        taken = min(remove, allocation.amount)
        to_remove[allocation.invoice_id] = remove - taken
        if taken < allocation.amount:
            kept.append(Allocation(allocation.invoice_id, allocation.number, allocation.amount - taken))
    left = [invoice_id for invoice_id, money in to_remove.items() if not money.is_zero]
    if left:
        raise InvalidMoney(f"more was reversed than applied for {', '.join(sorted(left))}")
    return tuple(reversed(kept))


# --- the rules ---------------------------------------------------------------------------------------


def _by_reference(amount: Money, referenced: list[OpenItem], customer_id: str | None) -> MatchResult:
    currency = amount.currency
    usable: list[OpenItem] = []
    settled: list[OpenItem] = []
    notes: list[str] = []
    for item in referenced:
        if item.currency != currency:
            notes.append(f"{item.number} not applied automatically: it is in {item.currency}, the payment "
                         f"in {currency}")
        elif customer_id is not None and item.customer_id != customer_id:
            notes.append(f"{item.number} not applied automatically: it belongs to customer {item.customer_id}, "
                         f"the payment came from {customer_id}")
        elif item.balance.is_zero:
            settled.append(item)
            notes.append(f"{item.number} is already paid")
        else:
            usable.append(item)
    owner = customer_id
    if owner is None:
        owners = sorted({item.customer_id for item in usable})
        if len(owners) > 1:
            return MatchResult(MatchMethod.NONE, (), amount,
                               f"the referenced invoices belong to several customers ({', '.join(owners)}) and "
                               f"the payer is unknown: {amount} left unapplied for a human", None)
        if owners:
            owner = owners[0]
        elif len({item.customer_id for item in settled}) == 1:
            owner = settled[0].customer_id  # overpaid: the credit goes to the owner of the paid invoices
    allocations, left = _allocate_settling(amount, usable)
    account = f"customer {owner}" if owner is not None else "an unknown customer"
    if not allocations:
        if len(settled) == len(referenced):
            reason = (f"overpayment: {'; '.join(notes)}; {amount} left unapplied as credit on account of "
                      f"{account}")
        else:
            reason = f"the referenced invoices cannot take the payment: {'; '.join(notes)}; {amount} left " \
                     "unapplied for a human"
        return MatchResult(MatchMethod.NONE, (), amount, reason, owner)
    reason = f"by reference: {_describe(allocations, usable)}"
    if notes:
        reason += "; " + "; ".join(notes)
    if not left.is_zero:
        reason += f"; overpayment of {left} left unapplied as credit on account of {account}"
    return MatchResult(MatchMethod.REFERENCE, allocations, left, reason, owner)


def _by_plan(amount: Money, customer_id: str, plan: PlanTarget) -> MatchResult | None:
    if plan.customer_id != customer_id or amount not in plan.instalment_amounts:
        return None
    items = oldest_first(_eligible(_unique(plan.items), customer_id, amount.currency))
    allocations, left = _allocate_in_order(amount, items)
    if not allocations or not left.is_zero:
        return None  # the plan's invoices cannot take it all (changed meanwhile): the other rules decide
    count = plan.instalment_amounts.index(amount) + 1
    what = "all that is left" if count == len(plan.instalment_amounts) and count > 1 else \
        f"the next {count} instalments" if count > 1 else "the next instalment"
    reason = f"payment plan {plan.plan_id}: {amount} is {what}; {_describe(allocations, items)}"
    return MatchResult(MatchMethod.PAYMENT_PLAN, allocations, left, reason, customer_id)


def _by_amount(
    amount: Money, customer_id: str, items: list[OpenItem], max_subset_items: int, max_subset_steps: int
) -> MatchResult:
    currency = amount.currency
    target = amount.minor
    smaller: list[tuple[OpenItem, int]] = []  # (item, balance in minor units) for the subset search
    exact: list[OpenItem] = []
    discounted: list[OpenItem] = []  # the amount is what settles it with its early-payment discount
    other_currencies = open_in_currency = 0
    for item in items:
        if item.customer_id != customer_id or item.balance.is_zero:
            continue
        if item.currency != currency:
            other_currencies += 1
            continue
        open_in_currency += 1
        minor = item.balance.minor
        if item.discounted_balance is not None and item.discounted_balance == amount:
            discounted.append(item)
        if minor == target:
            exact.append(item)
        elif minor < target:
            smaller.append((item, minor))
    if exact:
        chosen = min(exact, key=lambda item: item.age_key)
        allocation = Allocation(chosen.invoice_id, chosen.number, chosen.balance)
        if len(exact) == 1:
            reason = f"exact balance: {chosen.number} is the only open invoice of customer {customer_id} " \
                     f"with a balance of {amount}"
        else:
            reason = f"exact balance: {len(exact)} open invoices of customer {customer_id} have a balance of " \
                     f"{amount}; applied to the oldest due, {chosen.number} (due {chosen.due_date.isoformat()})"
        return MatchResult(MatchMethod.EXACT_BALANCE, (allocation,), Money.zero(currency), reason, customer_id)

    if discounted:
        # Inside its window first (that payer earned the discount), then the oldest.
        chosen = min(discounted, key=lambda item: (item.discount_expired, item.age_key))
        late = " after its early-payment discount expired" if chosen.discount_expired else ""
        reason = (f"exact discounted amount: {amount} is what settles {chosen.number} of customer {customer_id} "
                  f"with its early-payment discount (balance {chosen.balance}){late}")
        return MatchResult(MatchMethod.EXACT_BALANCE, (Allocation(chosen.invoice_id, chosen.number, amount),),
                           Money.zero(currency), reason, customer_id)

    elsewhere = f" ({other_currencies} open invoices in other currencies not considered)" if other_currencies else ""
    if not open_in_currency:
        return MatchResult(MatchMethod.NONE, (), amount,
                           f"no invoice reference, and customer {customer_id} has no open {currency} invoice"
                           f"{elsewhere}: {amount} left unapplied", customer_id)

    no_exact = f"no invoice reference; no open invoice of customer {customer_id} has a balance of {amount}"
    oldest = heapq.nsmallest(max_subset_items, smaller, key=lambda pair: pair[0].age_key)
    candidates = [item for item, _ in oldest]
    if max_subset_items == 0:
        subset_note = "subset matching is off"
    elif len(candidates) < 2:
        subset_note = "fewer than two open invoices are small enough to combine"
    else:
        found, limited = _oldest_subset([minor for _, minor in oldest], target, max_subset_steps)
        if found is not None:
            chosen_items = [candidates[i] for i in found]
            allocations = tuple(Allocation(i.invoice_id, i.number, i.balance) for i in chosen_items)
            reason = (f"subset sum: {', '.join(i.number for i in chosen_items)} ({len(chosen_items)} of the "
                      f"{len(candidates)} oldest open invoices of customer {customer_id} that could combine) "
                      f"sum to {amount}")
            return MatchResult(MatchMethod.SUBSET_SUM, allocations, Money.zero(currency), reason, customer_id)
        subset_note = f"no combination of the {len(candidates)} oldest open invoices with a smaller balance sums to it"
        if limited:
            subset_note = (f"the search over combinations of the {len(candidates)} oldest open invoices with a "
                           f"smaller balance found none before its limit of {max_subset_steps} steps "
                           "(search limit reached)")
    return MatchResult(MatchMethod.NONE, (), amount, f"{no_exact}; {subset_note}{elsewhere}: {amount} left unapplied",
                       customer_id)


def _oldest_subset(values: Sequence[int], target: int, max_steps: int) -> tuple[tuple[int, ...] | None, bool]:
    """The preferred set of positions whose values sum to `target` (values positive, given oldest first).

    Preferred = lexicographically smallest list of positions (see the module docstring). Meet in the
    middle: the older half `a` and the younger half `b`. All subset sums of `b` go into a table keeping,
    per sum, its preferred subset; then the subsets of `a` are visited in order of preference and the
    first whose complement is in the table wins. Between two solutions (equal sums of positive values,
    so neither contains the other) the one with the preferred `a` part is preferred, and for an equal `a`
    part the one with the preferred `b` part, so the first hit is the answer. Masks are numbered so that
    a larger mask is a preferred subset: bit (k - 1 - i) stands for position i of a half of size k.
    Each subset sum evaluated is one step; returns (positions or None, whether the step limit stopped it).
    """
    if sum(values) < target:
        return None, False
    half = len(values) // 2
    a, b = values[:half], values[half:]
    size_a, size_b = len(a), len(b)
    if (1 << size_b) > max_steps:
        return None, True
    bit_value_b = [b[size_b - 1 - k] for k in range(size_b)]
    sums_b = [0] * (1 << size_b)
    preferred_b: dict[int, int] = {0: 0}
    for mask in range(1, 1 << size_b):  # ascending, so the last mask stored for a sum is the preferred one
        low = mask & -mask
        total = sums_b[mask ^ low] + bit_value_b[low.bit_length() - 1]
        sums_b[mask] = total
        if total <= target:
            preferred_b[total] = mask
    steps = 1 << size_b
    full_a = (1 << size_a) - 1
    bit_value_a = [a[size_a - 1 - k] for k in range(size_a)]
    total_a = sum(a)
    left_out = [0] * (1 << size_a)  # sum of the `a` items NOT taken; visiting left-out masks ascending
    for out in range(1 << size_a):  # visits the taken masks (full_a ^ out) in order of preference
        if steps >= max_steps:
            return None, True
        steps += 1
        if out:
            low = out & -out
            left_out[out] = left_out[out ^ low] + bit_value_a[low.bit_length() - 1]
        mask_b = preferred_b.get(target - (total_a - left_out[out]))
        if mask_b is not None:
            taken_a = full_a ^ out
            positions = [i for i in range(size_a) if taken_a >> (size_a - 1 - i) & 1]
            positions += [size_a + j for j in range(size_b) if mask_b >> (size_b - 1 - j) & 1]
            return tuple(positions), False
    return None, False


# --- helpers -----------------------------------------------------------------------------------------


def _unique(items: Iterable[OpenItem]) -> list[OpenItem]:
    """One item per invoice, first occurrence kept; the same invoice with different data is a caller bug."""
    seen: dict[str, OpenItem] = {}
    for item in items:
        previous = seen.get(item.invoice_id)
        if previous is None:
            seen[item.invoice_id] = item
        elif previous != item:
            raise ValueError(f"invoice {item.invoice_id} given twice with different data")
    return list(seen.values())


def _eligible(items: Iterable[OpenItem], customer_id: str, currency: str) -> list[OpenItem]:
    return [i for i in items if i.customer_id == customer_id and i.currency == currency and not i.balance.is_zero]


def _allocate_settling(amount: Money, items: Sequence[OpenItem]) -> tuple[tuple[Allocation, ...], Money]:
    """In order: first each item up to what settles it (its discounted balance inside an early-payment window), then
    what is left up to each balance. Without an open discount this is `_allocate_in_order`; with one, a payment of
    the discounted amounts of several invoices settles them all instead of paying the first ones in full."""
    first, left = _allocate_in_order(amount, items, settling=True)
    if left.is_zero or all(item.settles_with == item.balance for item in items):
        return first, left
    given = {a.invoice_id: a.amount for a in first}
    rest = [replace(item, balance=item.balance - given.get(item.invoice_id, Money.zero(item.currency)),
                    discounted_balance=None, discount_expired=False) for item in items]
    second, left = _allocate_in_order(left, rest)
    more = {a.invoice_id: a.amount for a in second}
    merged = [Allocation(item.invoice_id, item.number,
                         given.get(item.invoice_id, Money.zero(item.currency))
                         + more.get(item.invoice_id, Money.zero(item.currency)))
              for item in items if item.invoice_id in given or item.invoice_id in more]
    return tuple(merged), left


def _allocate_in_order(amount: Money, items: Sequence[OpenItem], settling: bool = False
                       ) -> tuple[tuple[Allocation, ...], Money]:
    left = amount
    allocations: list[Allocation] = []
    for item in items:
        if left.is_zero:
            break
        part = min(left, item.settles_with if settling else item.balance)
        if not part.is_zero:
            allocations.append(Allocation(item.invoice_id, item.number, part))
            left = left - part
    return tuple(allocations), left


def _describe(allocations: Sequence[Allocation], items: Sequence[OpenItem]) -> str:
    balances = {item.invoice_id: item.balance for item in items}
    settling = {item.invoice_id: item.settles_with for item in items}
    parts = []
    for allocation in allocations:
        balance = balances[allocation.invoice_id]
        if allocation.amount == balance:
            parts.append(f"{allocation.number} paid in full ({allocation.amount})")
        elif allocation.amount >= settling[allocation.invoice_id]:
            parts.append(f"{allocation.number} settled with its early-payment discount ({allocation.amount} of "
                         f"{balance} open)")
        else:
            parts.append(f"{allocation.number} paid in part ({allocation.amount} of {balance} open)")
    return ", ".join(parts)


def _sum(amounts: Iterable[Money], currency: str) -> Money:
    total = Money.zero(currency)
    for amount in amounts:
        total = total + amount
    return total
