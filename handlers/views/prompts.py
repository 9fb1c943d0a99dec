"""One seat change as the owner sees it: the confirmation prompt with its exact lines, and what
each click led to (applied, cancelled, blocked by users that exist, not checkable).

Buttons carry the request id and the revision of the quote the message shows
(:func:`handlers.payloads.request_ref_value`); billing re-checks both, and who clicked,
server-side.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
)

from billing.formatting import format_instant
from billing.seats import (
    AlreadyApplied,
    ApprovalPrompt,
    AwaitingApproval,
    ChangeApplied,
    ChangeCancelled,
    ChangeClosed,
    ChangeDenied,
    ChangeEnded,
    ChangeOutcome,
    DecreaseBlocked,
    DecreaseUnverified,
    ReadyToConfirm,
    SeatCheck,
)
from billing.views import AccountView, SeatChangeView
from handlers import ids
from handlers.payloads import request_ref_value
from handlers.views.approvals import (
    approval_request_message,
    awaiting_approval_message,
    change_details,
    heading,
    stamped_message,
)
from handlers.views.text import (
    Message,
    bill_blocks,
    bill_now,
    context,
    escape,
    mention,
    message,
    section,
    slack_instant,
    users_list,
)


def _buttons(request: SeatChangeView, primary: str, primary_text: str) -> ActionsBlock:
    value = request_ref_value(request.id, request.revision)
    return ActionsBlock(
        block_id=ids.PROMPT_ACTIONS_BLOCK,
        elements=[
            ButtonElement(text=primary_text, action_id=primary, value=value, style="primary"),
            ButtonElement(text="Cancel", action_id=ids.CANCEL_ACTION, value=value),
        ],
    )


def confirmation_prompt(
    account: AccountView,
    request: SeatChangeView,
    where: ZoneInfo,
    *,
    check: SeatCheck | None = None,
    note: str | None = None,
) -> Message:
    """What the change does to the bill (now, and each period from the next), the working,
    the period, when it was priced, and Confirm / Cancel."""
    blocks: list[Block] = [section(f"Please confirm: {heading(account, request)}")]
    if note:
        blocks.append(section(f":information_source: {escape(note)}"))
    if check is not None and check.user_count is not None:
        blocks.append(
            context(
                f"{check.user_count} users exist on {request.product.label}: they all keep a seat."
            )
        )
    blocks.extend(change_details(request, where))
    blocks.append(_buttons(request, ids.CONFIRM_ACTION, "Confirm"))
    return message(
        f"Confirm {request.product.label}: {request.old_seats} → {request.new_seats} seats: "
        f"{bill_now(request.effect, where)}",
        blocks,
    )


def applied_message(
    account: AccountView, request: SeatChangeView, where: ZoneInfo, confirmed_by: str
) -> Message:
    blocks: list[Block] = [
        section(f":white_check_mark: Done. {heading(account, request)}"),
        *bill_blocks(request.effect, where),
        context(
            f"Approved by {mention(confirmed_by)}."
            if request.submitted_at is not None
            else f"Confirmed by {mention(confirmed_by)}."
        ),
    ]
    return message(f"{request.product.label} now has {request.new_seats} seats.", blocks)


def already_applied_message(request: SeatChangeView) -> Message:
    text = (
        f"This change was already applied: {request.product.label} went from "
        f"{request.old_seats} to {request.new_seats} seats. Nothing more was billed."
    )
    return message(text, [section(f":white_check_mark: {text}")])


def cancelled_message(request: SeatChangeView, seats_now: int, cancelled_by: str) -> Message:
    text = f"Cancelled: {request.product.label} stays at {seats_now} seats. Nothing was billed."
    return message(
        text, [section(f":no_entry_sign: {text}"), context(f"By {mention(cancelled_by)}.")]
    )


def closed_message(
    text: str, where: ZoneInfo | None = None, expired_at: datetime | None = None
) -> Message:
    """A prompt that can no longer be acted on: ``text`` says why; ``expired_at`` (read in
    ``where``) is the deadline a decision came too late for."""
    why = escape(text)
    if expired_at is None or where is None:
        return message(why, [section(f":warning: {why}")])
    return message(
        f"{why} It expired {format_instant(expired_at, where)}.",
        [section(f":warning: {why}"), context(f"It expired {slack_instant(expired_at, where)}.")],
    )


def blocked_decrease_message(request: SeatChangeView, check: SeatCheck) -> Message:
    """A decrease the users on the platform forbid, the likeliest users to delete first, and
    Check again / Cancel."""
    label = request.product.label
    text = (
        f":no_entry: *{label}* can't go from {request.old_seats} to "
        f"{request.new_seats} seats: {check.user_count} users exist on {label}, so "
        f"*{check.must_delete}* of them must be deleted on {label} first. "
        "Deleting a user is permanent, so Seatbot never does it for you."
    )
    candidates = (
        f"Candidates, inactive users first:\n{users_list(check.blocking_users)}"
        if check.blocking_users
        else "The platform listed no users to suggest."
    )
    return message(
        f"{label}: delete {check.must_delete} users on {label} before removing seats.",
        [
            section(text),
            section(candidates),
            _buttons(request, ids.CHECK_AGAIN_ACTION, "Check again"),
        ],
    )


def platform_unknown_message(request: SeatChangeView, reason: str) -> Message:
    """A decrease that can't be checked: the platform could not be read. Fails closed."""
    text = (
        f"{request.product.label} could not be reached: a decrease can't be checked right now, "
        "so nothing was changed."
    )
    return message(
        text,
        [
            section(f":warning: {text}"),
            context(escape(reason)),
            _buttons(request, ids.CHECK_AGAIN_ACTION, "Check again"),
        ],
    )


def outcome_message(outcome: ChangeOutcome, where: ZoneInfo) -> Message:
    """The message for whatever a seat-change use case answered."""
    match outcome:
        case ReadyToConfirm(account=account, request=request, check=check, note=note):
            return confirmation_prompt(account, request, where, check=check, note=note)
        case DecreaseBlocked(request=request, check=check):
            return blocked_decrease_message(request, check)
        case DecreaseUnverified(request=request, reason=reason):
            return platform_unknown_message(request, reason)
        case ChangeApplied(account=account, request=request, confirmed_by=who):
            return applied_message(account, request, where, who)
        case AlreadyApplied(request=request):
            return already_applied_message(request)
        case ChangeCancelled(request=request, seats_now=seats, cancelled_by=who):
            return cancelled_message(request, seats, who)
        case ChangeEnded(message=text, expired_at=datetime() as deadline):
            return closed_message(text, where, deadline)
        case ChangeClosed(message=text) | ChangeEnded(message=text):
            return closed_message(text)
        case AwaitingApproval(account=account, request=request, approvers=approvers):
            return awaiting_approval_message(
                account, request, approvers, where, expires_at=outcome.expires_at
            )
        case ApprovalPrompt(account=account, request=request, check=check, note=note):
            return approval_request_message(
                account, request, where, check=check, note=note, expires_at=outcome.expires_at
            )
        case ChangeDenied(account=account, request=request):
            return stamped_message(account, request, where)
