"""Every message Seatbot builds escapes what people and platforms wrote exactly once, in its
fallback ``text`` (what notifications show) and in its mrkdwn blocks alike: no broadcast or
mention anyone typed comes through as markup, nothing is escaped twice, and the mentions
Seatbot writes itself stay mentions (issue 16, defect 5).

The builders are found, not listed: every public function of ``handlers.views`` that returns a
message or a view must have a case here, with hostile values wherever a person or a platform
supplies one (an account's display name, a reason, a platform user's name, a platform's or an
error's message).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any, get_type_hints

import pytest
from slack_sdk.models.views import View

import handlers.views
from billing.access import AmbiguousAccount
from billing.errors import NotAuthorised, NotFound, UserFacingError
from billing.events.service import FailureNotice
from billing.money import Money
from billing.periods import Interval
from billing.products import Product
from billing.reports.facts import AccountReconciliation, DigestFacts
from billing.reports.rules import IdleUser, ProductReadStatus, reconcile_product
from billing.requests import RequestStatus
from billing.seats.decrease import check_seat_change
from billing.seats.outcomes import (
    AccountHistory,
    AlreadyApplied,
    ApprovalPrompt,
    AwaitingApproval,
    ChangeApplied,
    ChangeCancelled,
    ChangeClosed,
    ChangeDenied,
    ChangeOutcome,
    DecreaseBlocked,
    DecreaseUnverified,
    FormPreview,
    Home,
    HomeAccount,
    ReadyToConfirm,
    UsersNeeded,
)
from billing.users import UserListing, UserStatus
from billing.views import AccountView, SeatChangeView
from bot.webhooks.notices import failure_text
from handlers.commands import Unrecognised
from handlers.views import (
    Message,
    ModalModel,
    ProductChoice,
    digest,
    home,
    modal,
    prompts,
    replies,
    rightsize,
    text,
)
from handlers.views import approvals as approval_views
from tests.handlers.test_views import AT, WHERE, change, proration, subscription, user

#: What a person may type or a platform may send: broadcasts, a mention, a literal entity.
HOSTILE = "Ops & <!channel> <!here> &amp; <@U_TYPED>"
#: The people Seatbot itself mentions in these messages.
REQUESTER, DECIDER, APPROVER, OWNER = "U_REQUESTER", "U_DECIDER", "U_APPROVER", "U_OWNER"
OWN_IDS = frozenset({REQUESTER, DECIDER, APPROVER, OWNER})
#: The channels Seatbot itself links to in these messages (``<#C0X>``).
OWN_CHANNELS = frozenset({"#C0X"})

ACCOUNT = AccountView(1, "acme", HOSTILE, "USD", "Europe/London", "T1", "C1")
AXIOM = subscription(Product.AXIOM, 10, "30", Interval.MONTHLY)
USERS = [user(1, UserStatus.INACTIVE, name=HOSTILE), user(2, name=HOSTILE)]
BLOCKED = check_seat_change(10, 1, UserListing.complete(USERS))
UNKNOWN = check_seat_change(10, 1, UserListing.unknown(HOSTILE))
ALLOWED = check_seat_change(10, 8, UserListing.complete(USERS))


def request(status: RequestStatus = RequestStatus.DRAFT, *, new: int = 8) -> SeatChangeView:
    """A seat change with a hostile reason (and denial reason), in ``status``."""
    base = replace(
        change(7, Product.AXIOM, proration(10, new), reason=HOSTILE),
        status=status,
        requested_by_user=REQUESTER,
    )
    if status is RequestStatus.DRAFT:
        return base
    submitted = replace(base, submitted_at=AT, approvers=(("T1", APPROVER),))
    if status in (RequestStatus.APPLIED, RequestStatus.DENIED):
        return replace(
            submitted,
            decided_by_team="T1",
            decided_by_user=DECIDER,
            decided_at=AT,
            applied_at=AT if status is RequestStatus.APPLIED else None,
            decision_reason=HOSTILE if status is RequestStatus.DENIED else None,
        )
    return submitted


DRAFT, PENDING = request(), request(RequestStatus.PENDING_APPROVAL)
APPLIED, DENIED = request(RequestStatus.APPLIED), request(RequestStatus.DENIED)
DECIDED = [APPLIED, DENIED, request(RequestStatus.CANCELLED), request(RequestStatus.EXPIRED)]

OUTCOMES: list[ChangeOutcome] = [
    ReadyToConfirm(ACCOUNT, DRAFT, ALLOWED, note=HOSTILE),
    DecreaseBlocked(ACCOUNT, DRAFT, BLOCKED),
    DecreaseUnverified(ACCOUNT, DRAFT, HOSTILE),
    ChangeApplied(ACCOUNT, APPLIED, (), confirmed_by=DECIDER),
    AlreadyApplied(ACCOUNT, APPLIED),
    ChangeClosed(ACCOUNT, DRAFT, f"This quote expired: {HOSTILE}"),
    ChangeCancelled(ACCOUNT, request(RequestStatus.CANCELLED), 10, cancelled_by=REQUESTER),
    AwaitingApproval(ACCOUNT, PENDING, (APPROVER,), "C1", BLOCKED),
    ApprovalPrompt(ACCOUNT, PENDING, UNKNOWN, note=HOSTILE),
    ChangeDenied(ACCOUNT, DENIED, denied_by=DECIDER),
]

ERRORS: list[UserFacingError] = [
    NotFound(f"This workspace has no Seatbot account called “{HOSTILE}”."),
    NotAuthorised(f"Only the owners of {HOSTILE} can change seats.", contacts=(OWNER,)),
    AmbiguousAccount(["acme", HOSTILE]),
    UserFacingError(f"{HOSTILE} could not be read."),
]


def _reconciliation() -> AccountReconciliation:
    idle = IdleUser(HOSTILE, "a&b@example.com", 101, UserStatus.INACTIVE, None, idle=False)
    known = reconcile_product(
        Product.AXIOM,
        seats=10,
        unit_price=Money.parse("30", "USD"),
        interval=Interval.MONTHLY,
        listing=UserListing.complete(USERS),
        at=AT,
    )
    unknown = reconcile_product(
        Product.MATRIX,
        seats=5,
        unit_price=Money.parse("20", "USD"),
        interval=Interval.MONTHLY,
        listing=UserListing.unknown(HOSTILE),
        at=AT,
    )
    assert unknown.status is ProductReadStatus.UNKNOWN
    many = replace(known, idle_users=(idle,) * 500)  # enough for a thread of several parts
    return AccountReconciliation(ACCOUNT, 1, AT, AT.date(), (many, unknown), {}, None)


RUN = _reconciliation()
FACTS = DigestFacts(
    ACCOUNT, AT, AT - timedelta(days=1), RUN, (AXIOM,), (), (APPLIED,), (PENDING,), None, ()
)


def _modal(**changes: Any) -> ModalModel:
    choice = ProductChoice("11", Product.AXIOM, 10)
    model = ModalModel(HOSTILE, [choice], choice, UserListing.complete(USERS), "{}")
    return replace(model, **changes)


#: Every builder, with what it is shown and the mentions its fallback text must carry.
Built = list[Message] | list[View]
CASES: dict[str, Callable[[], Built]] = {
    "message": lambda: [
        text.message(f"{text.escape(HOSTILE)} for {text.mention(OWNER)}", [text.section("x")])
    ],
    "help_message": lambda: [replies.help_message()],
    "unrecognised_message": lambda: [
        replies.unrecognised_message(Unrecognised(HOSTILE, f"“{HOSTILE}” is no product.", "x"))
    ],
    "error_message": lambda: [replies.error_message(error) for error in ERRORS],
    "unexpected_error_message": lambda: [replies.unexpected_error_message(HOSTILE)],
    "status_message": lambda: [
        replies.status_message(HOSTILE, [AXIOM], [UserListing.unknown(HOSTILE)], WHERE),
        replies.status_message(HOSTILE, [AXIOM], [UserListing.complete(USERS)], WHERE),
    ],
    "history_message": lambda: [
        replies.history_message(AccountHistory(ACCOUNT, ()), WHERE),
        replies.history_message(AccountHistory(ACCOUNT, (DRAFT, *DECIDED)), WHERE),
    ],
    "confirmation_prompt": lambda: [
        prompts.confirmation_prompt(ACCOUNT, DRAFT, WHERE, check=ALLOWED, note=HOSTILE)
    ],
    "applied_message": lambda: [prompts.applied_message(ACCOUNT, APPLIED, WHERE, DECIDER)],
    "already_applied_message": lambda: [prompts.already_applied_message(APPLIED)],
    "cancelled_message": lambda: [prompts.cancelled_message(DRAFT, 10, REQUESTER)],
    "closed_message": lambda: [prompts.closed_message(f"Closed: {HOSTILE}")],
    "blocked_decrease_message": lambda: [prompts.blocked_decrease_message(DRAFT, BLOCKED)],
    "platform_unknown_message": lambda: [prompts.platform_unknown_message(DRAFT, HOSTILE)],
    "outcome_message": lambda: [prompts.outcome_message(o, WHERE) for o in OUTCOMES],
    "awaiting_approval_message": lambda: [
        approval_views.awaiting_approval_message(ACCOUNT, PENDING, (APPROVER,), WHERE)
    ],
    "approval_request_message": lambda: [
        approval_views.approval_request_message(
            ACCOUNT, PENDING, WHERE, check=check, note=HOSTILE, headline="Reminder"
        )
        for check in (None, BLOCKED, UNKNOWN, ALLOWED)
    ],
    "stamped_message": lambda: [approval_views.stamped_message(ACCOUNT, r, WHERE) for r in DECIDED],
    "already_decided_message": lambda: [
        approval_views.already_decided_message(r, WHERE) for r in DECIDED
    ],
    "requester_notice": lambda: [
        approval_views.requester_notice(ACCOUNT, r, WHERE) for r in DECIDED
    ],
    "deny_form": lambda: [approval_views.deny_form("7.1", PENDING)],
    "approvals_channel_notice": lambda: [approval_views.approvals_channel_notice(ACCOUNT, "C0X")],
    "digest_messages": lambda: digest.digest_messages(FACTS, WHERE, late_since=AT),
    "details_messages": lambda: digest.details_messages(RUN, WHERE),
    "reconciliation_messages": lambda: digest.reconciliation_messages(RUN, WHERE),
    "recheck_message": lambda: [rightsize.recheck_message(1, p) for p in RUN.products],
    "split_message": lambda: digest.split_message(
        f"Report for {text.escape(HOSTILE)}", [text.section(f"• {text.escape(HOSTILE)}")] * 120
    ),
    "home_view": lambda: [
        home.home_view(
            Home(
                (
                    HomeAccount(
                        ACCOUNT,
                        (AXIOM,),
                        (UsersNeeded(1, Product.AXIOM),),
                        (DRAFT,),
                        (PENDING,),
                        tuple(DECIDED),
                    ),
                )
            ),
            [[UserListing.unknown(HOSTILE)]],
            [WHERE],
        )
    ],
    "seat_change_modal": lambda: [
        modal.seat_change_modal(_modal(), WHERE),
        modal.seat_change_modal(_modal(users=UserListing.unknown(HOSTILE)), WHERE),
        *(
            modal.seat_change_modal(
                _modal(preview=FormPreview(ACCOUNT, AXIOM, 1, proration(10, 1), check)), WHERE
            )
            for check in (BLOCKED, UNKNOWN)
        ),
        modal.seat_change_modal(
            _modal(preview=FormPreview(ACCOUNT, AXIOM, 1, None, None, problem=HOSTILE)), WHERE
        ),
    ],
}

#: Whom some of a builder's fallback texts must mention (the decision's stamp names who decided).
FALLBACK_MENTIONS = {
    "message": {OWNER},
    "stamped_message": {DECIDER},
    "already_decided_message": {DECIDER},
    "requester_notice": {DECIDER},
}


def message_builders() -> Iterator[str]:
    """Every public function in ``handlers.views`` that returns a message or a view."""
    built = {Message, list[Message], View}
    for module_info in pkgutil.iter_modules(handlers.views.__path__):
        module = importlib.import_module(f"handlers.views.{module_info.name}")
        for name, function in inspect.getmembers(module, inspect.isfunction):
            if function.__module__ != module.__name__ or name.startswith("_"):
                continue
            if get_type_hints(function).get("return") in built:
                yield name


def test_every_message_builder_has_a_case() -> None:
    assert sorted(set(message_builders())) == sorted(CASES)


MARKUP = re.compile(r"<([^<>]*)>")
#: The one other markup Seatbot writes: an instant each reader sees in their own zone, with
#: the account's wall-clock time as the fallback.
OWN_DATE = re.compile(r"!date\^\d+\^\{date_short_pretty\} \{time\}\|[^<>&|]+")


def shown(text: str) -> tuple[list[str], str]:
    """What Slack makes of mrkdwn ``text``: its markup (``@U1`` for ``<@U1>``), and the text
    around it with the three entities decoded once."""
    tokens = MARKUP.findall(text)
    rest = MARKUP.sub(" ", text)
    return tokens, rest.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def escaping_problems(text: str) -> list[str]:
    """How ``text`` is not escaped exactly once."""
    tokens, rest = shown(text)
    problems = [
        f"markup <{token}> that Seatbot did not write"
        for token in tokens
        if (token.removeprefix("@") not in OWN_IDS or not token.startswith("@"))
        and not OWN_DATE.fullmatch(token)
        and token not in OWN_CHANNELS
    ]
    # Whatever was hostile reads back as typed; anything else still holding an entity was
    # escaped twice (Seatbot's own text has none).
    for entity in ("&amp;", "&lt;", "&gt;"):
        if entity in rest.replace(HOSTILE, ""):
            problems.append(f"{entity} shown as text: escaped twice")
    problems.extend(
        f"Seatbot's mention of {user} escaped" for user in OWN_IDS if f"&lt;@{user}" in text
    )
    return problems


def mrkdwn_texts(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        if value.get("type") == "mrkdwn" and isinstance(value.get("text"), str):
            yield value["text"]
        for item in value.values():
            yield from mrkdwn_texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from mrkdwn_texts(item)


@pytest.mark.parametrize("builder", sorted(CASES))
def test_fallback_text_and_blocks_are_escaped_exactly_once(builder: str) -> None:
    built = CASES[builder]()
    assert built
    mentioned: set[str] = set()
    for item in built:
        blocks = [block.to_dict() for block in item.blocks]
        for mrkdwn in mrkdwn_texts(blocks):
            assert escaping_problems(mrkdwn) == [], mrkdwn
        if isinstance(item, View):
            continue
        assert escaping_problems(item.text) == [], item.text
        # Whoever Seatbot names in a notification is a mention there, never markup as text.
        named = [user for user in OWN_IDS if user in item.text]
        assert all(f"<@{user}>" in item.text for user in named), item.text
        mentioned |= {token.removeprefix("@") for token in shown(item.text)[0]}
    assert FALLBACK_MENTIONS.get(builder, set()) <= mentioned


def test_a_hostile_value_in_a_fallback_text_reads_as_typed() -> None:
    # Not dropped, not mangled: escaped once, so Slack shows exactly what was typed.
    status = replies.status_message(HOSTILE, [AXIOM], [UserListing.complete(USERS)], WHERE)
    assert HOSTILE in shown(status.text)[1]
    denied = approval_views.requester_notice(ACCOUNT, DENIED, WHERE)
    assert HOSTILE in shown(denied.text)[1]
    assert "<@U_DECIDER>" in denied.text


def test_a_fallback_text_is_clipped_without_cutting_markup() -> None:
    long_reason = replace(DENIED, decision_reason="&" * 400)
    for clipped in (
        approval_views.requester_notice(ACCOUNT, long_reason, WHERE),
        approval_views.stamped_message(ACCOUNT, long_reason, WHERE),
    ):
        assert len(clipped.text) <= 300
        assert clipped.text.endswith("&amp;…")
        assert "<@U_DECIDER>" in clipped.text


def test_the_webhook_failure_notice_escapes_once() -> None:
    notice = FailureNotice(
        event_id=3,
        webhook_id="msg_1",
        event_type="seat_change.applied",
        account_name="acme",
        account_display_name=HOSTILE,
        request_id=7,
        attempts=5,
        last_error=f"HTTP 500: {HOSTILE}",
        owners=(("T1", OWNER),),
    )
    text = failure_text(notice)
    assert escaping_problems(text) == []
    assert shown(text)[1].count(HOSTILE) == 2
