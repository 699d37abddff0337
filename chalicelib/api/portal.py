"""The customer portal's HTML pages, under `/portal/...` (issue 13 items 2, 6, 7): server-rendered, no JavaScript.

A personal link `/portal/open/<token>` starts a portal session (services/portal.py has the security design) and
sends the browser to `/portal` (a clean URL: the token is in no later URL, no Referer, no log). Every other page
needs the session cookie: without one (or when it has ended) a GET goes to `/portal/expired`, which offers to email
a fresh link. Every form carries a CSRF token; every action has a confirm step (review, then confirm); everything a
page shows is its session's customer's (another customer's invoice id is 404, like an unknown one). Every answer:
Cache-Control no-store, Referrer-Policy no-referrer, X-Robots-Tag noindex, and a CSP without scripts, third-party
origins or framing. The staff's pages and the JSON API never read this cookie, and these pages never read theirs.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qs, quote, unquote

from chalice import Blueprint, Response

from chalicelib import bootstrap
from chalicelib.api.errors import error_answer
from chalicelib.api.http import INPUT_ATTRIBUTE, PAGE_ERRORS, ROLE_ATTRIBUTE, ApiError, RouteInput, query_params
from chalicelib.api.pages import (
    FORM,
    PAGE_ATTRIBUTE,
    Redirect,
    base_path,
    client_address,
    request_cookie,
    same_origin,
    security_headers,
)
from chalicelib.domain.errors import DomainError, NotFound
from chalicelib.domain.money import Money, parse_amount
from chalicelib.domain.plans import MAX_PLAN_DAYS, add_months
from chalicelib.services.sessions import FORM_COOKIE, FORM_TTL, IDLE, PORTAL_COOKIE

if TYPE_CHECKING:  # the page renderer (Jinja2, Babel) and the portal's use cases load on the first page
    from chalicelib.formats.portal import FormState, Page
    from chalicelib.services.portal import Visitor
    from chalicelib.services.statement import Statement, StatementLine

blueprint = Blueprint(__name__)
log = logging.getLogger("dunwell")
F = TypeVar("F", bound=Callable[..., Any])

PORTAL_ATTRIBUTE = "dunwell_portal"  # set on every portal view: its own session, not a staff role
MAX_FORM_BYTES = 8192
MAX_TOKEN_CHARS = 100
STEPS = ("review", "confirm", "edit")
DONE = ("dispute", "promise", "plan", "paid", "cancelled")
DISPUTE_FIELDS = frozenset({"csrf_token", "step", "reason", "amount", "comment"})
PROMISE_FIELDS = frozenset({"csrf_token", "step", "invoice", "date", "amount"})
PLAN_FIELDS = frozenset({"csrf_token", "step", "invoice", "instalments", "first_date"})
PAY_FIELDS = frozenset({"csrf_token", "invoice"})
RESEND_FIELDS = frozenset({"csrf_token", "token", "email"})
SIGNOUT_FIELDS = frozenset({"csrf_token"})
MAX_COMMENT = 2000
MAX_PROMISE_DAYS = 90
MAX_INSTALMENTS = 36


# ------------------------------------------------------------------------------------------------ plumbing

def portal_headers() -> dict[str, str]:
    from chalicelib.formats.portal import content_security_policy

    return {**security_headers(), "Content-Security-Policy": content_security_policy(),
            "X-Robots-Tag": "noindex, nofollow"}


def portal_cookie(name: str, value: str, max_age: int) -> str:
    """HttpOnly, Secure, host-only (`__Host-`); Lax: the link is opened from a mail client (a cross-site
    navigation) and must find the cookie on the redirect to /portal. The forms' CSRF tokens guard the POSTs."""
    return f"{name}={value}; Max-Age={max_age}; Path=/; Secure; HttpOnly; SameSite=Lax"


def answer(body: str | bytes, status: int = 200, headers: Mapping[str, str] | None = None,
           cookies: Sequence[str] = ()) -> Response:
    all_headers: dict[str, str | list[str]] = {**portal_headers(), **(headers or {})}
    if cookies:
        all_headers["Set-Cookie"] = list(cookies)
    return Response(body=body, status_code=status, headers=all_headers)


def see_other(location: str, cookies: Sequence[str] = ()) -> Response:
    return answer("", 303, {"Location": location}, cookies)


def form_state(values: Mapping[str, Any] | None = None, errors: Mapping[str, str] | None = None,
               review: bool = False) -> FormState:
    from chalicelib.formats.portal import FormState

    return FormState(values or {}, errors or {}, review)


def page_for(visitor: Visitor | None) -> Page:
    from chalicelib.formats.portal import Page, locale_for, negotiate

    if visitor is not None:
        locale = locale_for(visitor.language, visitor.timezone)
    else:
        locale = locale_for(negotiate(str(blueprint.current_request.headers.get("accept-language") or "")))
    return Page(locale, base_path())


def seller_name() -> str:
    return bootstrap.container().seller.name


def read_form(allowed: Collection[str]) -> dict[str, list[str]]:
    """The form's fields, every value of each (checkboxes repeat a name); an unknown field is 400."""
    raw = blueprint.current_request.raw_body or b""
    if len(raw) > MAX_FORM_BYTES:
        raise ApiError(413, "body_too_large", f"The form is at most {MAX_FORM_BYTES} bytes.")
    try:
        fields = parse_qs(raw.decode("utf-8") if isinstance(raw, bytes) else raw, keep_blank_values=True,
                          max_num_fields=100)
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "invalid_request", "The form could not be read.") from None
    unknown = sorted(set(fields) - set(allowed))
    if unknown:
        raise ApiError(400, "invalid_parameter", f"The form has no field {unknown[0]!r}.", unknown[0])
    return fields


def first(fields: Mapping[str, list[str]], name: str) -> str:
    values = fields.get(name) or [""]
    return values[0].strip()


class PortalContext:
    """What a portal view gets: who (None on the pages that need no session), the clock, the page renderer."""

    def __init__(self, visitor: Visitor | None, now: datetime) -> None:
        self.visitor = visitor
        self.now = now
        self.page = page_for(visitor)
        self.t = self.page.t

    @property
    def me(self) -> Visitor:
        assert self.visitor is not None
        return self.visitor

    @property
    def today(self) -> date:
        return bootstrap.portal().today(self.me, self.now)

    def csrf(self) -> str:
        return bootstrap.portal().sessions.csrf_token(self.me.session)

    def render(self, template: str, title: str, status: int = 200, **context: Any) -> Response:
        extra: dict[str, Any] = {}
        if self.visitor is not None:
            extra = {"customer_name": self.visitor.customer.name, "csrf_token": self.csrf(),
                     "session_until": self.visitor.session.idle_until,
                     "idle_minutes": int(IDLE.total_seconds() // 60)}
        body = self.page.render(template, page_title=title, seller=seller_name(), **extra, **context)
        return answer(body, status)


def portal_page(*, query: Collection[str] = (), form: Collection[str] | None = None,
                session: bool = True) -> Callable[[F], F]:
    """Wraps a portal view: the query parameters it takes (anything else is 400), the session (needed unless
    `session=False`: without one a GET goes to the expired-link page, a POST is 403), the CSRF token of a form
    posted in a session, and errors as pages in the visitor's language. Each answer within a session renews the
    session cookie (the idle timeout starts again)."""
    accepts = RouteInput(frozenset(query), None if form is None else frozenset(form))

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Response:
            portal = bootstrap.portal()
            now = bootstrap.container().now()
            visitor: Visitor | None = None
            request = blueprint.current_request
            try:
                unknown = sorted(set(request.query_params or ()) - accepts.query)
                if unknown:
                    raise ApiError(400, "invalid_parameter", f"This page takes no parameter {unknown[0]!r}.",
                                   unknown[0])
                visitor = portal.visitor(request_cookie(PORTAL_COOKIE), now) if session else None
                if session and visitor is None:
                    if request.method == "GET":
                        raise Redirect(f"{base_path()}/portal/expired")
                    raise ApiError(403, "forbidden", "no portal session")
                if session and request.method == "POST":
                    fields = read_form(accepts.body or ())
                    if not same_origin() or visitor is None or not portal.sessions.check_csrf(
                            visitor.session, first(fields, "csrf_token")):
                        raise ApiError(403, "forbidden", "the form's CSRF token does not match the session")
                    kwargs["fields"] = fields
                response: Response = view(*args, ctx=PortalContext(visitor, now), **kwargs)
            except Redirect as redirect:
                response = see_other(redirect.location)
            except Exception as exc:  # every error is a page, in the visitor's language
                response = error_page(exc, visitor)
            if visitor is not None and not _clears_session(response):
                _add_cookie(response, portal_cookie(PORTAL_COOKIE, portal.sessions.cookie_value(visitor.session),
                                                    int(IDLE.total_seconds())))
            return response

        setattr(wrapper, ROLE_ATTRIBUTE, None)
        setattr(wrapper, INPUT_ATTRIBUTE, accepts)
        setattr(wrapper, PAGE_ATTRIBUTE, True)
        setattr(wrapper, PORTAL_ATTRIBUTE, True)
        return wrapper  # type: ignore[return-value]

    return decorate


def _clears_session(response: Response) -> bool:
    cookies = response.headers.get("Set-Cookie") or []
    return any(str(c).startswith(f"{PORTAL_COOKIE}=;") for c in cookies)


def _add_cookie(response: Response, value: str) -> None:
    existing = response.headers.get("Set-Cookie")
    cookies = list(existing) if isinstance(existing, list) else ([existing] if existing else [])
    response.headers["Set-Cookie"] = [*cookies, value]


def error_page(exc: BaseException, visitor: Visitor | None) -> Response:
    status, headers = 500, {}
    wait = getattr(exc, "retry_after", None)
    if isinstance(exc, ApiError):
        status = exc.status
    elif isinstance(wait, int):
        status = 429
    else:
        known = error_answer(exc)
        if known is not None:
            status = known.status
    if status == 429:
        headers["Retry-After"] = str(wait if isinstance(wait, int) else 60)
    if status >= 500:
        log.exception("unhandled error in a portal page", exc_info=exc)
    else:
        log.info("portal page refused", extra={"status": status, "error": type(exc).__name__,
                                               "reason": getattr(exc, "message", "")[:200]})
    page = page_for(visitor)
    t = page.t
    status = status if f"error_{status}" in t else (400 if status < 500 else 500)
    if status == 422:
        status = 400
    body = page.render("error", page_title=t[f"title_{status}"], seller=seller_name(), title=t[f"title_{status}"],
                       message=t[f"error_{status}"], signed_in=visitor is not None)
    return answer(body, status, headers)


def is_portal(view: Callable[..., Any]) -> bool:
    return bool(getattr(view, PORTAL_ATTRIBUTE, False))


def _chalice_error(status: int, message: str) -> Response:
    return error_page(ApiError(status, "invalid_request", message), None)


PORTAL_PATHS = ("/portal", "/portal/open/{token}", "/p/{token}", "/portal/expired", "/portal/resend", "/portal/signout",
                "/portal/invoices/{invoice_id}", "/portal/invoices/{invoice_id}/pdf",
                "/portal/invoices/{invoice_id}/dispute", "/portal/promise", "/portal/plan", "/portal/pay")
for _path in PORTAL_PATHS:
    PAGE_ERRORS[_path] = _chalice_error


def _id(value: str) -> str:
    """A path id as given; ids longer than any the API issues are not found."""
    if not value or len(value) > 200:
        raise NotFound("invoice", "-")
    return value


# ------------------------------------------------------------------------------------------------ links, sessions

@blueprint.route("/portal/open/{token}", methods=["GET"])
@portal_page(session=False)
def open_link(token: str, ctx: PortalContext) -> Response:
    """Opens a personal link: a session cookie and 303 to /portal; the expired-link page for anything else. Opening
    never uses the link up (mail scanners open links first)."""
    portal = bootstrap.portal()
    session = portal.open(token, client_address(), ctx.now) if 0 < len(token) <= MAX_TOKEN_CHARS else None
    if session is None:
        return _expired_page(ctx, token=token if len(token) <= MAX_TOKEN_CHARS else "", status=404)
    value = portal.sessions.cookie_value(session)
    log.info("portal session opened", extra={"customer_id": session.customer_id, "link_id": session.link_id})
    return see_other(f"{base_path()}/portal", [portal_cookie(PORTAL_COOKIE, value, int(IDLE.total_seconds()))])


@blueprint.route("/p/{token}", methods=["GET"])
@portal_page(session=False)
def short_link(token: str, ctx: PortalContext) -> Response:
    """The SMS form of a personal link (a link's short form): on to /portal/open/<token>."""
    return see_other(f"{base_path()}/portal/open/{quote(unquote(token)[:MAX_TOKEN_CHARS], safe='')}")


def _expired_page(ctx: PortalContext, *, token: str = "", status: int = 200, sent: bool = False,
                  form: FormState | None = None, signed_out: bool = False) -> Response:
    sessions = bootstrap.portal().sessions
    nonce = sessions.form_nonce(ctx.now)
    title = ctx.t["expired_title"]
    body = ctx.page.render("expired", page_title=title, seller=seller_name(), token=token, sent=sent,
                           form_token=sessions.form_token(nonce), form=form or form_state(), signed_out=signed_out)
    return answer(body, status, cookies=[portal_cookie(FORM_COOKIE, nonce, int(FORM_TTL.total_seconds()))])


@blueprint.route("/portal/expired", methods=["GET"])
@portal_page(session=False, query=("signed_out",))
def expired_page(ctx: PortalContext) -> Response:
    signed_out = query_params(blueprint).get("signed_out") == "1"
    return _expired_page(ctx, signed_out=signed_out)


@blueprint.route("/portal/resend", methods=["POST"], content_types=[FORM])
@portal_page(session=False, form=RESEND_FIELDS)
def resend(ctx: PortalContext) -> Response:
    """"Email me a fresh link": the same answer whether or not the address (or the old link) is known; only
    addresses on file get mail (PortalLinks.resend); rate-limited per client and overall."""
    fields = read_form(RESEND_FIELDS)
    sessions = bootstrap.portal().sessions
    if not same_origin() or not sessions.check_form_token(request_cookie(FORM_COOKIE), first(fields, "csrf_token"),
                                                           ctx.now):
        raise ApiError(403, "forbidden", "the form had expired")
    email, token = first(fields, "email"), first(fields, "token")
    if email and ("@" not in email or len(email) > 320 or any(c.isspace() for c in email)):
        return _expired_page(ctx, token=token, status=400,
                             form=form_state({"email": email}, {"email": ctx.t["err_email"]}))
    bootstrap.portal().resend(email or None, token[:MAX_TOKEN_CHARS] or None, client_address(), ctx.now)
    return _expired_page(ctx, sent=True)


@blueprint.route("/portal/signout", methods=["POST"], content_types=[FORM])
@portal_page(form=SIGNOUT_FIELDS)
def signout(ctx: PortalContext, fields: dict[str, list[str]]) -> Response:
    return see_other(f"{base_path()}/portal/expired?signed_out=1", [portal_cookie(PORTAL_COOKIE, "", 0)])


# ------------------------------------------------------------------------------------------------ reading

def _notice(ctx: PortalContext) -> str | None:
    done = query_params(blueprint).get("done")
    return ctx.t[f"done_{done}"] if done in DONE else None


def _can_act() -> bool:
    return bootstrap.portal().actions is not None


def _can_pay() -> bool:
    return bootstrap.portal().payments is not None


@blueprint.route("/portal", methods=["GET"])
@portal_page(query=("done",))
def statement_page(ctx: PortalContext) -> Response:
    statement = bootstrap.portal().statement(ctx.me, ctx.now)
    from chalicelib.formats.portal import totals_rows

    totals = totals_rows(statement.open_totals, statement.overdue_totals, _credit_totals(statement),
                         statement.totals)
    return ctx.render("statement", ctx.t["statement_title"], statement=statement, totals=totals,
                      notice=_notice(ctx), can_act=_can_act(), can_pay=_can_pay())


def _credit_totals(statement: Statement) -> dict[str, Money]:
    totals: dict[str, Money] = {}
    for credit in statement.credits:
        totals[credit.amount.currency] = totals.get(credit.amount.currency, Money.zero(credit.amount.currency)) \
            + credit.amount
    return totals


@blueprint.route("/portal/invoices/{invoice_id}", methods=["GET"])
@portal_page(query=("done",))
def invoice_page(invoice_id: str, ctx: PortalContext) -> Response:
    page = bootstrap.portal().invoice(ctx.me, _id(invoice_id), ctx.now)
    return ctx.render("invoice", ctx.page.t["invoice_title"].format(number=page.invoice.number), page=page,
                      notice=_notice(ctx), can_act=_can_act(), can_pay=_can_pay())


@blueprint.route("/portal/invoices/{invoice_id}/pdf", methods=["GET"])
@portal_page()
def invoice_pdf(invoice_id: str, ctx: PortalContext) -> Response:
    document = bootstrap.portal().invoice_pdf(ctx.me, _id(invoice_id), ctx.now)
    return answer(document.body, 200, {"Content-Type": "application/pdf",
                                       "Content-Disposition": f"attachment; filename=\"{document.filename}\""})


# ------------------------------------------------------------------------------------------------ actions

def _amount(text: str, currency: str, ctx: PortalContext) -> Money:
    """An amount as a person types it in their language (`1.234,50` in German), in the invoice's currency."""
    from babel.numbers import get_decimal_symbol

    separator = "," if get_decimal_symbol(ctx.page.locale.formatting) == "," else "."
    return Money.of(parse_amount(text, separator), currency)


def _positive_money(text: str, currency: str, ctx: PortalContext) -> Money | None:
    """The amount typed, when it is one and more than zero; None otherwise (the form says so)."""
    try:
        amount = _amount(text, currency, ctx)
    except (DomainError, ValueError):
        return None
    return amount if amount.amount > 0 else None


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


@blueprint.route("/portal/invoices/{invoice_id}/dispute", methods=["GET"])
@portal_page()
def dispute_form(invoice_id: str, ctx: PortalContext) -> Response:
    return dispute_page(invoice_id, ctx)


@blueprint.route("/portal/invoices/{invoice_id}/dispute", methods=["POST"], content_types=[FORM])
@portal_page(form=DISPUTE_FIELDS)
def dispute_submit(invoice_id: str, ctx: PortalContext, fields: dict[str, list[str]]) -> Response:
    return dispute_page(invoice_id, ctx, fields)


def dispute_page(invoice_id: str, ctx: PortalContext, fields: dict[str, list[str]] | None = None) -> Response:
    from chalicelib.domain.collections import DISPUTE_REASONS

    portal = bootstrap.portal()
    [invoice] = portal.own_invoices(ctx.me, [_id(invoice_id)])
    title = ctx.t["dispute_title"].format(number=invoice.number)
    if invoice.balance.amount <= 0:
        raise NotFound("invoice", invoice.invoice_id)  # nothing left to dispute
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    step = first(fields, "step") if fields is not None else "edit"
    if fields is not None:
        values = {"reason": first(fields, "reason"), "amount": first(fields, "amount"),
                  "comment": (fields.get("comment") or [""])[0].strip()}
        if values["reason"] not in DISPUTE_REASONS:
            errors["reason"] = ctx.t["err_reason"]
        if values["amount"]:
            amount = _positive_money(values["amount"], invoice.currency, ctx)
            if amount is None:
                errors["amount"] = ctx.t["err_amount"]
            elif amount > invoice.balance:
                errors["amount"] = ctx.t["err_amount_too_much"]
            values["amount_money"] = amount
        if len(values["comment"]) > MAX_COMMENT:
            errors["comment"] = ctx.t["err_comment"]
        if step not in STEPS:
            raise ApiError(400, "invalid_parameter", "unknown step", "step")
        if step == "confirm" and not errors:
            try:
                portal.dispute(ctx.me, client_address(), invoice.invoice_id, values["reason"],
                               values.get("amount_money"), values["comment"], ctx.now)
            except DomainError as exc:
                _reject(exc, errors, ("reason", "amount", "comment"), ctx)
            else:
                return see_other(f"{base_path()}/portal/invoices/{quote(invoice.invoice_id)}?done=dispute")
    review = fields is not None and step == "review" and not errors
    return ctx.render("dispute", title, 400 if errors else 200, invoice=invoice, reasons=DISPUTE_REASONS,
                      form=form_state(values, errors, review))


def _open_lines(ctx: PortalContext) -> tuple[StatementLine, ...]:
    return bootstrap.portal().statement(ctx.me, ctx.now).lines


def _chosen(fields: Mapping[str, list[str]], lines: Sequence[StatementLine]) -> list[str]:
    """The invoice ids ticked, each an open invoice of this customer (another id: 404, like an unknown one)."""
    ids = list(dict.fromkeys(v.strip() for v in fields.get("invoice") or () if v.strip()))
    known = {line.invoice_id for line in lines}
    for invoice_id in ids:
        if invoice_id not in known:
            raise NotFound("invoice", invoice_id[:200])
    return ids


def _reject(exc: DomainError, errors: dict[str, str], fields: Sequence[str], ctx: PortalContext) -> None:
    if error_answer(exc) is None or getattr(exc, "retry_after", None) is not None or isinstance(exc, NotFound):
        raise exc
    field = exc.field if exc.field is not None and exc.field in fields else fields[0]
    errors[field] = ctx.t["err_rejected"].format(reason=exc.message)


@blueprint.route("/portal/promise", methods=["GET"])
@portal_page()
def promise_form(ctx: PortalContext) -> Response:
    return promise_page(ctx)


@blueprint.route("/portal/promise", methods=["POST"], content_types=[FORM])
@portal_page(form=PROMISE_FIELDS)
def promise_submit(ctx: PortalContext, fields: dict[str, list[str]]) -> Response:
    return promise_page(ctx, fields)


def promise_page(ctx: PortalContext, fields: dict[str, list[str]] | None = None) -> Response:
    portal = bootstrap.portal()
    lines = _open_lines(ctx)
    today = ctx.today
    latest = today + timedelta(days=MAX_PROMISE_DAYS)
    values: dict[str, Any] = {"invoices": [line.invoice_id for line in lines] if len(lines) == 1 else []}
    errors: dict[str, str] = {}
    step = first(fields, "step") if fields is not None else "edit"
    chosen: list[StatementLine] = []
    if fields is not None:
        if step not in STEPS:
            raise ApiError(400, "invalid_parameter", "unknown step", "step")
        ids = _chosen(fields, lines)
        chosen = [line for line in lines if line.invoice_id in ids]
        values = {"invoices": ids, "date": first(fields, "date"), "amount": first(fields, "amount")}
        if not ids:
            errors["invoice"] = ctx.t["err_invoice"]
        until = _day(values["date"])
        if until is None:
            errors["date"] = ctx.t["err_date"]
        elif not today <= until <= latest:
            errors["date"] = ctx.t["err_date_range"]
        values["until"] = until
        if values["amount"]:
            currencies = {line.open_amount.currency for line in chosen}
            amount = _positive_money(values["amount"], currencies.pop(), ctx) if len(currencies) == 1 else None
            if amount is None:
                errors["amount"] = ctx.t["err_amount"]
            elif amount > sum((line.open_amount for line in chosen), Money.zero(amount.currency)):
                errors["amount"] = ctx.t["err_amount_too_much"]
            values["amount_money"] = amount
        if step == "confirm" and not errors and until is not None:
            try:
                portal.promise(ctx.me, client_address(), ids, until, values.get("amount_money"), ctx.now)
            except DomainError as exc:
                _reject(exc, errors, ("date", "amount", "invoice"), ctx)
            else:
                return see_other(f"{base_path()}/portal?done=promise")
    review = fields is not None and step == "review" and not errors
    return ctx.render("promise", ctx.t["promise_title"], 400 if errors else 200, lines=lines, chosen=chosen,
                      form=form_state(values, errors, review), today=today, latest=latest)


@blueprint.route("/portal/plan", methods=["GET"])
@portal_page()
def plan_form(ctx: PortalContext) -> Response:
    return plan_page(ctx)


@blueprint.route("/portal/plan", methods=["POST"], content_types=[FORM])
@portal_page(form=PLAN_FIELDS)
def plan_submit(ctx: PortalContext, fields: dict[str, list[str]]) -> Response:
    return plan_page(ctx, fields)


def plan_page(ctx: PortalContext, fields: dict[str, list[str]] | None = None) -> Response:
    portal = bootstrap.portal()
    lines = _open_lines(ctx)
    today = ctx.today
    values: dict[str, Any] = {"invoices": [line.invoice_id for line in lines] if len(lines) == 1 else []}
    errors: dict[str, str] = {}
    step = first(fields, "step") if fields is not None else "edit"
    chosen: list[StatementLine] = []
    if fields is not None:
        if step not in STEPS:
            raise ApiError(400, "invalid_parameter", "unknown step", "step")
        ids = _chosen(fields, lines)
        chosen = [line for line in lines if line.invoice_id in ids]
        values = {"invoices": ids, "instalments": first(fields, "instalments"),
                  "first_date": first(fields, "first_date")}
        if not ids:
            errors["invoice"] = ctx.t["err_invoice"]
        count = int(values["instalments"]) if values["instalments"].isdigit() and len(values["instalments"]) < 4 \
            else 0
        if not 2 <= count <= MAX_INSTALMENTS:
            errors["instalments"] = ctx.t["err_instalments"]
        first_day = _day(values["first_date"])
        if first_day is None or first_day < today or first_day > today + timedelta(days=366):
            errors["first_date"] = ctx.t["err_first_date"]
        elif count and add_months(first_day, count - 1) > today + timedelta(days=MAX_PLAN_DAYS):
            # The plan rule (domain/plans.py) said in the customer's language before the use case says it in English.
            errors["instalments"] = ctx.t["err_plan_too_long"]
        values["first"] = first_day
        if step == "confirm" and not errors and first_day is not None:
            try:
                portal.request_plan(ctx.me, client_address(), ids, count, first_day, ctx.now)
            except DomainError as exc:
                _reject(exc, errors, ("instalments", "first_date", "invoice"), ctx)
            else:
                return see_other(f"{base_path()}/portal?done=plan")
    review = fields is not None and step == "review" and not errors
    return ctx.render("plan", ctx.t["plan_title"], 400 if errors else 200, lines=lines, chosen=chosen,
                      form=form_state(values, errors, review), today=today, max_instalments=MAX_INSTALMENTS)


# ------------------------------------------------------------------------------------------------ paying

def public_base() -> str:
    """Where the customer's browser reaches the API: PUBLIC_BASE_URL where set, else this request's host."""
    configured = getattr(bootstrap.container().settings, "public_base_url", None)
    if isinstance(configured, str) and configured:
        return configured.rstrip("/")
    headers = blueprint.current_request.headers
    scheme = str(headers.get("x-forwarded-proto") or "https").split(",")[0].strip()
    return f"{scheme}://{headers.get('host') or 'localhost'}{base_path()}"


@blueprint.route("/portal/pay", methods=["GET"])
@portal_page(query=("invoice",))
def pay_form(ctx: PortalContext) -> Response:
    return pay_page(ctx)


@blueprint.route("/portal/pay", methods=["POST"], content_types=[FORM])
@portal_page(form=PAY_FIELDS)
def pay_submit(ctx: PortalContext, fields: dict[str, list[str]]) -> Response:
    return pay_page(ctx, fields)


def pay_page(ctx: PortalContext, fields: dict[str, list[str]] | None = None) -> Response:
    """GET: the amounts, bank details, RF references and EPC QR codes (the chosen invoices, or every open one);
    POST: a card checkout (services/portal_payments.py) for the ticked invoices, then a page with the link to the
    processor's page (a form posts only to this site: CSP form-action 'self')."""
    portal = bootstrap.portal()
    if portal.payments is None:
        raise NotFound("page", "pay")
    if fields is not None:
        ids = list(dict.fromkeys(v.strip() for v in fields.get("invoice") or () if v.strip()))
        if not ids:
            options = portal.pay_options(ctx.me, (), ctx.now)
            return ctx.render("pay", ctx.t["pay_title"], 400, options=options,
                              form=form_state({}, {"invoice": ctx.t["err_invoice"]}))
        base = public_base()
        url = portal.checkout(ctx.me, ids, f"{base}/portal?done=paid", f"{base}/portal?done=cancelled", ctx.now)
        return ctx.render("checkout", ctx.t["checkout_title"], checkout_url=url)
    request = blueprint.current_request
    chosen = [v for v in (request.query_params.getlist("invoice") if request.query_params else []) if v][:50]
    options = portal.pay_options(ctx.me, chosen, ctx.now)
    return ctx.render("pay", ctx.t["pay_title"], options=options, form=form_state())


