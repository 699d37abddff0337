"""Dunning policies as data: a ladder of steps around the due date, validated and (de)serialisable.

A policy is what an admin edits and the API stores as JSON, so every field has a plain-dict form and
every invalid value is reported as a `PolicyError` naming the field (`steps[2].channels`) and the reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import time
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal, cast, get_args

from chalicelib.domain.errors import DomainError

Channel = Literal["email", "sms", "letter"]  # letter: a PDF for the post (services/letters.py)
Tone = Literal["friendly", "firm", "final", "escalation"]
Action = Literal["credit_hold", "collector_task", "notify_finance", "agency_handoff"]
LateFeeScheme = Literal["none", "contractual", "eu_2011_7", "uk_late_payment"]
PaymentAllocation = Literal["charges_first", "principal_first"]

CHANNELS: Final = cast(tuple[str, ...], get_args(Channel))
# Where a step's own channels cannot reach the customer, these may stand in; never a letter (postage, and a
# policy asks for paper on purpose).
FALLBACK_CHANNELS: Final = ("email", "sms")
TONES: Final = cast(tuple[str, ...], get_args(Tone))
ACTIONS: Final = cast(tuple[str, ...], get_args(Action))
LATE_FEE_SCHEMES: Final = cast(tuple[str, ...], get_args(LateFeeScheme))
PAYMENT_ALLOCATIONS: Final = cast(tuple[str, ...], get_args(PaymentAllocation))
STATUTORY_SCHEMES: Final = ("eu_2011_7", "uk_late_payment")
POLICY_FIELDS: Final = ("policy_id", "name", "steps", "send_window", "business_days_only", "late_fee_scheme",
                        "contractual_annual_rate", "default_timezone", "payment_allocation", "min_notice_gap_days")

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
MAX_OFFSET_DAYS: Final = 3650
MAX_NOTICE_GAP_DAYS: Final = 90
# What a step says or does that only makes sense after earlier notices: "despite our reminders", a credit hold,
# a hand-over to an agency. Such a step needs MIN_PRIOR_NOTICES notices really sent first (decision.py).
PRESUPPOSING_TONES: Final = ("final", "escalation")
PRESUPPOSING_ACTIONS: Final = ("credit_hold", "agency_handoff")
MIN_PRIOR_NOTICES: Final = 2


class PolicyError(DomainError):
    """A policy field is invalid; `field` is a path such as `steps[2].fee.percent`."""

    code = "invalid_policy"

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}", field=field)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class FeeRule:
    """What reaching a step may charge. Each part is an independent charge, never compounded.

    fixed: a fee in the invoice's currency, once per (invoice, step).
    percent: a fee of this percentage of the outstanding principal, once per (invoice, step).
    compensation: the statutory fixed compensation of the policy's scheme (EU EUR 40 / UK fixed sum),
        once per invoice whatever step asks for it again.
    interest: simple interest on the overdue principal up to the charge day, for the days not charged
        yet, at the policy's rate (contractual, or the statutory reference rate + 8 points).
    """

    fixed: Decimal | None = None
    percent: Decimal | None = None
    compensation: bool = False
    interest: bool = False

    def validate(self, path: str) -> None:
        if self.fixed is not None and (not self.fixed.is_finite() or self.fixed < 0):
            raise PolicyError(f"{path}.fixed", "must be a non-negative amount")
        if self.percent is not None and (not self.percent.is_finite() or not (0 < self.percent <= 100)):
            raise PolicyError(f"{path}.percent", "must be more than 0 and at most 100")
        if self.fixed is None and self.percent is None and not self.compensation and not self.interest:
            raise PolicyError(path, "a fee rule must charge something (fixed, percent, compensation or interest)")

    def to_dict(self) -> dict[str, Any]:
        return {
            "fixed": None if self.fixed is None else str(self.fixed),
            "percent": None if self.percent is None else str(self.percent),
            "compensation": self.compensation,
            "interest": self.interest,
        }

    @classmethod
    def from_dict(cls, data: object, path: str = "fee") -> FeeRule:
        raw = _mapping(data, path)
        _no_unknown_keys(raw, {"fixed", "percent", "compensation", "interest"}, path)
        rule = cls(
            fixed=_optional_decimal(raw.get("fixed"), f"{path}.fixed"),
            percent=_optional_decimal(raw.get("percent"), f"{path}.percent"),
            compensation=_bool(raw.get("compensation", False), f"{path}.compensation"),
            interest=_bool(raw.get("interest", False), f"{path}.interest"),
        )
        rule.validate(path)
        return rule


@dataclass(frozen=True, slots=True)
class Step:
    name: str
    offset_days: int
    channels: tuple[Channel, ...]
    template: str
    tone: Tone
    fee: FeeRule | None = None
    actions: tuple[Action, ...] = ()

    @property
    def presupposes_notices(self) -> bool:
        return self.tone in PRESUPPOSING_TONES or any(a in PRESUPPOSING_ACTIONS for a in self.actions)

    def validate(self, path: str) -> None:
        if not isinstance(self.name, str) or not _NAME.match(self.name):
            raise PolicyError(f"{path}.name", "must be 1-64 of a-z, 0-9, '_' or '-', starting with a letter or digit")
        if isinstance(self.offset_days, bool) or not isinstance(self.offset_days, int):
            raise PolicyError(f"{path}.offset_days", "must be an integer number of days")
        if abs(self.offset_days) > MAX_OFFSET_DAYS:
            raise PolicyError(f"{path}.offset_days", f"must be within +/-{MAX_OFFSET_DAYS} days of the due date")
        if not self.channels:
            raise PolicyError(f"{path}.channels", "needs at least one channel")
        for channel in self.channels:
            if channel not in CHANNELS:
                raise PolicyError(f"{path}.channels", f"unknown channel {channel!r}; expected one of {CHANNELS}")
        if len(set(self.channels)) != len(self.channels):
            raise PolicyError(f"{path}.channels", "lists a channel twice")
        if not isinstance(self.template, str) or not _NAME.match(self.template):
            raise PolicyError(f"{path}.template", "must be a template name of a-z, 0-9, '_' or '-'")
        if self.tone not in TONES:
            raise PolicyError(f"{path}.tone", f"unknown tone {self.tone!r}; expected one of {TONES}")
        for action in self.actions:
            if action not in ACTIONS:
                raise PolicyError(f"{path}.actions", f"unknown action {action!r}; expected one of {ACTIONS}")
        if len(set(self.actions)) != len(self.actions):
            raise PolicyError(f"{path}.actions", "lists an action twice")
        if self.fee is not None:
            self.fee.validate(f"{path}.fee")

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "offset_days": self.offset_days,
            "channels": list(self.channels),
            "template": self.template,
            "tone": self.tone,
            "fee": None if self.fee is None else self.fee.to_dict(),
            "actions": list(self.actions),
        }

    @classmethod
    def from_dict(cls, data: object, path: str = "step") -> Step:
        raw = _mapping(data, path)
        _no_unknown_keys(raw, {"name", "offset_days", "channels", "template", "tone", "fee", "actions"}, path)
        for required in ("name", "offset_days", "channels", "template", "tone"):
            if required not in raw:
                raise PolicyError(f"{path}.{required}", "is required")
        offset = raw["offset_days"]
        if isinstance(offset, bool) or not isinstance(offset, int):
            raise PolicyError(f"{path}.offset_days", "must be an integer number of days")
        fee_raw = raw.get("fee")
        step = cls(
            name=_str(raw["name"], f"{path}.name"),
            offset_days=offset,
            channels=cast(tuple[Channel, ...], _str_tuple(raw["channels"], f"{path}.channels")),
            template=_str(raw["template"], f"{path}.template"),
            tone=cast(Tone, _str(raw["tone"], f"{path}.tone")),
            fee=None if fee_raw is None else FeeRule.from_dict(fee_raw, f"{path}.fee"),
            actions=cast(tuple[Action, ...], _str_tuple(raw.get("actions", []), f"{path}.actions")),
        )
        step.validate(path)
        return step


@dataclass(frozen=True, slots=True)
class SendWindow:
    """Local wall-clock hours in which messages may go: start inclusive, end exclusive."""

    start: time = time(9, 0)
    end: time = time(17, 0)

    def validate(self, path: str = "send_window") -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise PolicyError(path, "window times are local wall-clock times without a timezone")
        if not self.start < self.end:
            raise PolicyError(path, "start must be before end (a window cannot span midnight)")

    def to_dict(self) -> dict[str, str]:
        return {"start": self.start.strftime("%H:%M"), "end": self.end.strftime("%H:%M")}

    @classmethod
    def from_dict(cls, data: object, path: str = "send_window") -> SendWindow:
        raw = _mapping(data, path)
        _no_unknown_keys(raw, {"start", "end"}, path)
        window = cls(start=_time(raw.get("start", "09:00"), f"{path}.start"),
                     end=_time(raw.get("end", "17:00"), f"{path}.end"))
        window.validate(path)
        return window


@dataclass(frozen=True, slots=True)
class Policy:
    policy_id: str
    name: str
    steps: tuple[Step, ...]
    send_window: SendWindow = field(default_factory=SendWindow)
    business_days_only: bool = True
    late_fee_scheme: LateFeeScheme = "none"
    contractual_annual_rate: Decimal | None = None  # percent per year, e.g. Decimal("8")
    default_timezone: str = "UTC"
    # Within an invoice, payments settle charges (fees, compensation, interest) before the principal, or after.
    payment_allocation: PaymentAllocation = "charges_first"
    # The least time between two notices about one invoice when the ladder is behind, and before any step that
    # presupposes earlier notices: catching up never sends a burst.
    min_notice_gap_days: int = 7

    @property
    def charges_first(self) -> bool:
        return self.payment_allocation == "charges_first"

    def __post_init__(self) -> None:
        # Steps are kept sorted by offset so "higher step" always means "later on the ladder".
        object.__setattr__(self, "steps", tuple(sorted(self.steps, key=lambda s: s.offset_days)))
        self.validate()

    def validate(self) -> None:
        if not isinstance(self.policy_id, str) or not _NAME.match(self.policy_id):
            raise PolicyError("policy_id", "must be 1-64 of a-z, 0-9, '_' or '-'")
        if not isinstance(self.name, str) or not self.name.strip():
            raise PolicyError("name", "is required")
        if not self.steps:
            raise PolicyError("steps", "a policy needs at least one step")
        for index, step in enumerate(self.steps):
            step.validate(f"steps[{index}]")
        names = [s.name for s in self.steps]
        if len(set(names)) != len(names):
            raise PolicyError("steps", "step names must be unique (history records sends by step name)")
        offsets = [s.offset_days for s in self.steps]
        if len(set(offsets)) != len(offsets):
            raise PolicyError("steps", "two steps have the same offset; which one is 'higher' would be ambiguous")
        self.send_window.validate()
        if self.late_fee_scheme not in LATE_FEE_SCHEMES:
            raise PolicyError("late_fee_scheme",
                              f"unknown scheme {self.late_fee_scheme!r}; expected one of {LATE_FEE_SCHEMES}")
        rate = self.contractual_annual_rate
        if rate is not None and (not rate.is_finite() or not (0 <= rate <= 100)):
            raise PolicyError("contractual_annual_rate", "must be a percentage between 0 and 100")
        for index, step in enumerate(self.steps):
            if step.fee is None:
                continue
            if step.fee.compensation and self.late_fee_scheme == "contractual":
                raise PolicyError(f"steps[{index}].fee.compensation",
                                  "statutory compensation needs late_fee_scheme eu_2011_7 or uk_late_payment")
            if step.fee.interest and self.late_fee_scheme == "contractual" and rate is None:
                raise PolicyError("contractual_annual_rate", "is required for contractual interest")
        if not isinstance(self.default_timezone, str) or not self.default_timezone:
            raise PolicyError("default_timezone", "is required")
        if self.payment_allocation not in PAYMENT_ALLOCATIONS:
            raise PolicyError("payment_allocation", f"expected one of {PAYMENT_ALLOCATIONS}")
        gap = self.min_notice_gap_days
        if isinstance(gap, bool) or not isinstance(gap, int) or not 1 <= gap <= MAX_NOTICE_GAP_DAYS:
            raise PolicyError("min_notice_gap_days", f"must be a whole number of days from 1 to {MAX_NOTICE_GAP_DAYS}")

    def index_of(self, step_name: str) -> int | None:
        for index, step in enumerate(self.steps):
            if step.name == step_name:
                return index
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy_id": self.policy_id,
            "name": self.name,
            "steps": [s.to_dict() for s in self.steps],
            "send_window": self.send_window.to_dict(),
            "business_days_only": self.business_days_only,
            "late_fee_scheme": self.late_fee_scheme,
            "contractual_annual_rate": None if self.contractual_annual_rate is None else str(
                self.contractual_annual_rate),
            "default_timezone": self.default_timezone,
            "payment_allocation": self.payment_allocation,
            "min_notice_gap_days": self.min_notice_gap_days,
        }

    @classmethod
    def from_dict(cls, data: object) -> Policy:
        raw = _mapping(data, "policy")
        _no_unknown_keys(raw, set(POLICY_FIELDS), "policy")
        for required in ("policy_id", "name", "steps"):
            if required not in raw:
                raise PolicyError(required, "is required")
        steps_raw = raw["steps"]
        if not isinstance(steps_raw, list):
            raise PolicyError("steps", "must be a list")
        return cls(
            policy_id=_str(raw["policy_id"], "policy_id"),
            name=_str(raw["name"], "name"),
            steps=tuple(Step.from_dict(s, f"steps[{i}]") for i, s in enumerate(steps_raw)),
            send_window=SendWindow.from_dict(raw.get("send_window", {})),
            business_days_only=_bool(raw.get("business_days_only", True), "business_days_only"),
            late_fee_scheme=cast(LateFeeScheme, _str(raw.get("late_fee_scheme", "none"), "late_fee_scheme")),
            contractual_annual_rate=_optional_decimal(raw.get("contractual_annual_rate"), "contractual_annual_rate"),
            default_timezone=_str(raw.get("default_timezone", "UTC"), "default_timezone"),
            payment_allocation=cast(PaymentAllocation, _str(raw.get("payment_allocation", "charges_first"),
                                                            "payment_allocation")),
            min_notice_gap_days=_int(raw.get("min_notice_gap_days", 7), "min_notice_gap_days"),
        )


def default_policy(late_fee_scheme: LateFeeScheme = "none", contractual_annual_rate: Decimal | None = None) -> Policy:
    """The ladder Dunwell ships. With scheme "none" the final notice's fee rule charges nothing;
    a seller under EU or UK law picks `eu_2011_7` / `uk_late_payment` to charge the statutory sums."""
    return Policy(
        policy_id="default",
        name="Default reminder ladder",
        steps=(
            Step("upcoming", -7, ("email",), "reminder_upcoming", "friendly"),
            Step("due_today", 0, ("email",), "reminder_due_today", "friendly"),
            Step("overdue_7", 7, ("email", "sms"), "reminder_overdue", "firm"),
            Step("overdue_21", 21, ("email",), "reminder_overdue_second", "firm"),
            Step("final_notice", 35, ("email",), "final_notice", "final",
                 fee=FeeRule(compensation=late_fee_scheme != "contractual", interest=True)),
            Step("escalation", 50, ("email",), "escalation_notice", "escalation",
                 actions=("credit_hold", "collector_task", "notify_finance")),
        ),
        late_fee_scheme=late_fee_scheme,
        contractual_annual_rate=contractual_annual_rate,
    )


DEFAULT_POLICY: Final = default_policy()


# --- parsing helpers: every failure names its field ------------------------------------------------

def _mapping(data: object, path: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise PolicyError(path, "must be an object")
    return cast(dict[str, Any], data)


def _no_unknown_keys(raw: dict[str, Any], allowed: set[str], path: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise PolicyError(f"{path}.{unknown[0]}", "is not a known field")


def _str(value: object, path: str) -> str:
    if not isinstance(value, str):
        raise PolicyError(path, "must be a string")
    return value


def _int(value: object, path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PolicyError(path, "must be a whole number")
    return value


def _bool(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise PolicyError(path, "must be true or false")
    return value


def _str_tuple(value: object, path: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise PolicyError(path, "must be a list of strings")
    return tuple(value)


def _optional_decimal(value: object, path: str) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, float | bool):
        raise PolicyError(path, "must be a decimal string or an integer, never a float")
    if not isinstance(value, str | int | Decimal):
        raise PolicyError(path, "must be a decimal string")
    try:
        number = Decimal(value)
    except InvalidOperation as exc:
        raise PolicyError(path, f"{value!r} is not a number") from exc
    if not number.is_finite():
        raise PolicyError(path, "must be a finite number")
    return number


def _time(value: object, path: str) -> time:
    if not isinstance(value, str) or not (m := _TIME.match(value)):
        raise PolicyError(path, "must be a local time 'HH:MM'")
    return time(int(m[1]), int(m[2]))
