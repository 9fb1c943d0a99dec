"""Approval in Slack: the owner's "waiting for approval", the approver's request with Approve /
Deny, the form asking why a change is denied, and every message stamped with the decision.

Every message about a change says first what it does to the bill (:func:`change_details`,
shared with :mod:`handlers.views.prompts`); instants are Slack's ``<!date^…>`` so each reader
sees their own time."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    InputBlock,
    PlainTextInputElement,
)
from slack_sdk.models.views import View

from billing.seats import MAX_REASON_LENGTH, SeatCheck
from billing.views import AccountView, SeatChangeView
from handlers import ids
from handlers.ids import SEATS_COMMAND
from handlers.payloads import request_ref_value
from handlers.views.text import (
    Message,
    bill_blocks,
    bill_now,
    context,
    escape,
    mention,
    mentions,
    message,
    section,
    slack_instant,
    users_list,
)

#: The longest reason a denial may give: billing's limit for every reason (the form enforces it
#: too).
DENY_REASON_LIMIT = MAX_REASON_LENGTH
#: Slack's date markup, for the plain text of a notification: its fallback is kept.
_SLACK_DATE = re.compile(r"<!date\^[^|>]*\|([^>]*)>")


def heading(account: AccountView, request: SeatChangeView) -> str:
    """``*Axiom* for *Acme*: 25 → 20 seats``."""
    return (
        f"*{request.product.label}* for *{escape(account.display_name)}*: "
        f"{request.old_seats} → {request.new_seats} seats"
    )


def change_details(request: SeatChangeView, where: ZoneInfo) -> list[Block]:
    """What a change does to the bill (outcome, then the working), and one context line: when
    it was priced, and the reason."""
    facts = [f"Priced {slack_instant(request.effective_at, where)}"]
    if request.reason:
        facts.append(f"Reason: {escape(request.reason)}")
    return [*bill_blocks(request.effect, where), context(" · ".join(facts))]


def _ask_again(request: SeatChangeView) -> str:
    """How the requester asks again, and whom it goes to."""
    command = f"`{SEATS_COMMAND} set {request.new_seats} {request.product.slug}`"
    deciders = mentions([user for _, user in request.approvers])
    return f"To ask again, type {command}" + (f"; it goes to {deciders}." if deciders else ".")


def _check_line(request: SeatChangeView, check: SeatCheck | None) -> str | None:
    if check is None:
        return None
    label = request.product.label
    if check.unknown:
        return f":warning: {label} could not be read: {escape(check.reason or '')}"
    if check.blocked:
        return (
            f":no_entry: {check.user_count} users exist on {label}: *{check.must_delete}* must be "
            f"deleted there before this can be approved. Inactive first:\n"
            f"{users_list(check.blocking_users)}"
        )
    return f"Platform check: {check.user_count} users exist on {label}; they all keep a seat."


def _expiry(expires_at: datetime | None, where: ZoneInfo) -> str:
    if expires_at is None:
        return "It stays open until someone decides."
    return f"It expires {slack_instant(expires_at, where)} if nobody decides."


def awaiting_approval_message(
    account: AccountView,
    request: SeatChangeView,
    approvers: tuple[str, ...],
    where: ZoneInfo,
    *,
    expires_at: datetime | None = None,
) -> Message:
    """The owner's prompt once confirmed and routed to approval: who decides, until when, what
    it will do to the bill, and Cancel."""
    who = " or ".join(mention(user) for user in approvers[:10]) or "an approver"
    blocks: list[Block] = [
        section(
            f":hourglass_flowing_sand: Waiting for approval by {who}: {heading(account, request)}"
        ),
        *change_details(request, where),
        context(f"{_expiry(expires_at, where)} You will get a direct message with the decision."),
        ActionsBlock(
            block_id=ids.PROMPT_ACTIONS_BLOCK,
            elements=[
                ButtonElement(
                    text="Cancel",
                    action_id=ids.CANCEL_ACTION,
                    value=request_ref_value(request.id, request.revision),
                )
            ],
        ),
    ]
    return message(
        f"{request.product.label}: {request.old_seats} → {request.new_seats} seats is waiting "
        "for approval.",
        blocks,
    )


def approval_request_message(
    account: AccountView,
    request: SeatChangeView,
    where: ZoneInfo,
    *,
    check: SeatCheck | None = None,
    note: str | None = None,
    headline: str = "Approval needed",
    expires_at: datetime | None = None,
) -> Message:
    """What an approver sees: who asked, the product, from → to seats, what it does to the bill
    and the working, the platform check, the reason, that approving applies it at once and
    until when it may be decided, and Approve / Deny (carrying the quote revision).
    ``headline`` opens the notification text (a reminder says so)."""
    blocks: list[Block] = [
        section(f"{mention(request.requested_by_user)} asks to change {heading(account, request)}")
    ]
    if note:
        blocks.append(section(f":information_source: {escape(note)}"))
    checked = _check_line(request, check)
    if checked:
        blocks.append(section(checked))
    blocks.extend(change_details(request, where))
    blocks.append(context(f"Approving applies the change at once. {_expiry(expires_at, where)}"))
    value = request_ref_value(request.id, request.revision)
    blocks.append(
        ActionsBlock(
            block_id=ids.APPROVAL_ACTIONS_BLOCK,
            elements=[
                ButtonElement(
                    text="Approve", action_id=ids.APPROVE_ACTION, value=value, style="primary"
                ),
                ButtonElement(text="Deny", action_id=ids.DENY_ACTION, value=value, style="danger"),
            ],
        )
    )
    return message(
        f"{headline}: {request.product.label} {request.old_seats} → {request.new_seats} "
        f"seats for {escape(account.display_name)}: {bill_now(request.effect, where)}",
        blocks,
    )


def decision_text(request: SeatChangeView, where: ZoneInfo) -> str:
    """How a settled request's outcome reads: who decided, when (each reader's own time)."""
    status = str(request.status)
    when = slack_instant(request.decided_at, where) if request.decided_at else None
    by = mention(request.decided_by_user) if request.decided_by_user else None
    if status in ("applied", "approved") and by and when:
        return f":white_check_mark: Approved by {by} {when}; applied."
    if status == "denied" and by and when:
        reason = f" Reason: {escape(request.decision_reason)}" if request.decision_reason else ""
        return f":no_entry_sign: Denied by {by} {when}.{reason}"
    if status == "cancelled" and by and when:  # an approval found nothing left to change
        reason = f" {escape(request.decision_reason)}" if request.decision_reason else ""
        return (
            f":heavy_minus_sign: Closed when {by} approved it {when}:{reason} Nothing was billed."
        )
    if status == "cancelled":
        return ":no_entry_sign: Cancelled by the requester; nothing was billed."
    if status == "expired":
        return ":hourglass: Expired without a decision; nothing was billed."
    return f"This seat change is {status.replace('_', ' ')}."


def _plain_decision(request: SeatChangeView, where: ZoneInfo) -> str:
    """:func:`decision_text` for a notification: no emoji, the account's time as written."""
    stamp = decision_text(request, where).split(" ", 1)[1]
    return _SLACK_DATE.sub(r"\1", stamp)


def stamped_message(account: AccountView, request: SeatChangeView, where: ZoneInfo) -> Message:
    """An approval message once decided: the same details, no buttons, and the decision."""
    blocks: list[Block] = [
        section(
            f"{mention(request.requested_by_user)} asked to change {heading(account, request)}"
        ),
        *change_details(request, where),
        section(decision_text(request, where)),
    ]
    return message(
        f"{request.product.label} {request.old_seats} → {request.new_seats} seats: "
        + _plain_decision(request, where),
        blocks,
    )


def already_decided_message(request: SeatChangeView, where: ZoneInfo) -> Message:
    """An approver clicked a request someone already decided."""
    text = f"Already decided. {decision_text(request, where)}"
    return message(f"Already decided. {_plain_decision(request, where)}", [section(text)])


def deny_form(request_ref: str, request: SeatChangeView) -> View:
    """The form asking why a change is denied (the reason goes to the owner)."""
    return View(
        type="modal",
        callback_id=ids.DENY_MODAL_CALLBACK,
        title="Deny seat change",
        submit="Deny",
        close="Back",
        private_metadata=request_ref,
        blocks=[
            section(
                f"Deny *{request.product.label}* {request.old_seats} → {request.new_seats} "
                f"seats asked by {mention(request.requested_by_user)}?"
            ),
            InputBlock(
                block_id=ids.DENY_REASON_BLOCK,
                label="Why? (the requester sees this)",
                element=PlainTextInputElement(
                    action_id=ids.DENY_REASON_ACTION, multiline=True, max_length=DENY_REASON_LIMIT
                ),
            ),
        ],
    )


def requester_notice(account: AccountView, request: SeatChangeView, where: ZoneInfo) -> Message:
    """The DM telling the requester what became of their request: applied (what it did to the
    bill), or not (and how to ask again, and whom)."""
    blocks: list[Block] = [
        section(f"Your seat change: {heading(account, request)}"),
        section(decision_text(request, where)),
    ]
    if str(request.status) == "applied":
        blocks[1:1] = bill_blocks(request.effect, where)
    else:
        blocks.append(context(_ask_again(request)))
    return message(
        f"Your seat change ({request.product.label} {request.old_seats} → {request.new_seats}): "
        + _plain_decision(request, where),
        blocks,
    )


__all__ = [
    "DENY_REASON_LIMIT",
    "already_decided_message",
    "approval_request_message",
    "awaiting_approval_message",
    "change_details",
    "decision_text",
    "deny_form",
    "heading",
    "mentions",
    "requester_notice",
    "stamped_message",
]


def approvals_channel_notice(account: AccountView, channel_id: str) -> Message:
    """The DM to the requester: their request went to the approvers directly, but not to the
    account's approvals channel, which the bot is not in."""
    text = (
        f"Your seat change for {escape(account.display_name)} is with the approvers by direct "
        f"message, but I could not post it in <#{channel_id}>: I am not in that channel. Invite "
        f"me there (type `/invite @Seatbot` in <#{channel_id}>) and I will post it there with "
        "the next reminder."
    )
    return message(text, [section(text)])
