"""Approval in Slack: the owner's "waiting for approval", the approver's request with Approve /
Deny, the form asking why a change is denied, and every message stamped with the decision."""

from __future__ import annotations

from fractions import Fraction
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    InputBlock,
    MarkdownTextObject,
    PlainTextInputElement,
    SectionBlock,
)
from slack_sdk.models.views import View

from billing.formatting import format_instant, format_money, format_period
from billing.seats import MAX_REASON_LENGTH, SeatCheck
from billing.views import AccountView, SeatChangeView
from handlers import ids
from handlers.payloads import request_ref_value
from handlers.views.text import (
    Message,
    context,
    escape,
    mention,
    mentions,
    message,
    proration_lines,
    section,
    users_list,
)

#: The longest reason a denial may give: billing's limit for every reason (the form enforces it
#: too).
DENY_REASON_LIMIT = MAX_REASON_LENGTH


def _heading(account: AccountView, request: SeatChangeView) -> str:
    return (
        f"*{request.product.label}* for *{escape(account.display_name)}*: "
        f"{request.old_seats} → {request.new_seats} seats"
    )


def _details(request: SeatChangeView, where: ZoneInfo) -> list[Block]:
    blocks: list[Block] = [
        section(proration_lines(request.lines, request.net, Fraction(request.fraction))),
        SectionBlock(
            fields=[
                MarkdownTextObject(text=f"*Period*\n{format_period(request.period, where)}"),
                MarkdownTextObject(text=f"*Asked by*\n{mention(request.requested_by_user)}"),
            ]
        ),
    ]
    if request.reason:
        blocks.append(context(f"Reason: {escape(request.reason)}"))
    return blocks


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


def awaiting_approval_message(
    account: AccountView,
    request: SeatChangeView,
    approvers: tuple[str, ...],
    where: ZoneInfo,
) -> Message:
    """The owner's prompt once confirmed and routed to approval: who decides, and Cancel."""
    who = " or ".join(mention(user) for user in approvers[:10]) or "an approver"
    blocks: list[Block] = [
        section(
            f":hourglass_flowing_sand: Waiting for approval by {who}: {_heading(account, request)}"
        ),
        *_details(request, where),
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
) -> Message:
    """What an approver sees: who asked, the product, from → to seats, the exact lines and net,
    the platform check, the reason, and Approve / Deny (carrying the quote revision).
    ``headline`` opens the notification text (a reminder says so)."""
    blocks: list[Block] = [
        section(f"{mention(request.requested_by_user)} asks to change {_heading(account, request)}")
    ]
    if note:
        blocks.append(section(f":information_source: {escape(note)}"))
    checked = _check_line(request, check)
    if checked:
        blocks.append(section(checked))
    blocks.extend(_details(request, where))
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
        f"seats for {escape(account.display_name)}, net {format_money(request.net)}",
        blocks,
    )


def decision_text(request: SeatChangeView, where: ZoneInfo) -> str:
    """How a settled request's outcome reads: who decided, when (the account's time)."""
    status = str(request.status)
    when = format_instant(request.decided_at, where) if request.decided_at else None
    by = mention(request.decided_by_user) if request.decided_by_user else None
    if status in ("applied", "approved") and by and when:
        return f":white_check_mark: Approved by {by} at {when}; applied."
    if status == "denied" and by and when:
        reason = f" Reason: {escape(request.decision_reason)}" if request.decision_reason else ""
        return f":no_entry_sign: Denied by {by} at {when}.{reason}"
    if status == "cancelled" and by and when:  # an approval found nothing left to change
        reason = escape(request.decision_reason or "")
        return (
            f":heavy_minus_sign: Closed when {by} approved it at {when}: {reason} "
            "Nothing was billed."
        )
    if status == "cancelled":
        return ":no_entry_sign: Cancelled by the requester; nothing was billed."
    if status == "expired":
        return ":hourglass: Expired without a decision; nothing was billed."
    return f"This seat change is {status.replace('_', ' ')}."


def stamped_message(account: AccountView, request: SeatChangeView, where: ZoneInfo) -> Message:
    """An approval message once decided: the same details, no buttons, and the decision."""
    stamp = decision_text(request, where)
    blocks: list[Block] = [
        section(
            f"{mention(request.requested_by_user)} asked to change {_heading(account, request)}"
        ),
        *_details(request, where),
        section(stamp),
    ]
    return message(
        f"{request.product.label} {request.old_seats} → {request.new_seats} seats: "
        + stamp.split(" ", 1)[1],
        blocks,
    )


def already_decided_message(request: SeatChangeView, where: ZoneInfo) -> Message:
    """An approver clicked a request someone already decided."""
    text = f"Already decided. {decision_text(request, where)}"
    return message(text, [section(text)])


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
    """The DM telling the requester what became of their request."""
    stamp = decision_text(request, where)
    return message(
        f"Your seat change ({request.product.label} {request.old_seats} → {request.new_seats}): "
        + stamp.split(" ", 1)[1],
        [section(f"Your seat change: {_heading(account, request)}"), section(stamp)],
    )


__all__ = [
    "DENY_REASON_LIMIT",
    "already_decided_message",
    "approval_request_message",
    "awaiting_approval_message",
    "decision_text",
    "deny_form",
    "mentions",
    "requester_notice",
    "stamped_message",
]
