"""What approval stores: an account's policy, where a pending request was announced, the
submission of a confirmed change to its approvers (draft → pending approval), and its closing
when an approval finds its target already reached."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.access import Caller, Role
from billing.approvals.rules import ApprovalPolicy, Person, default_approvers, timeline
from billing.errors import UserFacingError
from billing.events.rules import EventType
from billing.events.store import record_event, seat_change_event
from billing.models import (
    Account,
    ApprovalMessage,
    ApprovalPolicyRow,
    SeatChangeRequest,
    Subscription,
)
from billing.products import Product
from billing.requests import RequestStatus
from billing.row_views import account_view, people, people_json, request_view
from billing.seats.decrease import SeatCheck
from billing.seats.outcomes import (
    ApprovalPrompt,
    AwaitingApproval,
    ChangeDenied,
    ChangeEnded,
    MessageRef,
)
from billing.seats.steps import Moved
from billing.storage import (
    LoadedRequest,
    get_subscription,
    load_request,
    members_with_role,
    move_audited,
)


def policy_of(session: Session, account_id: int) -> ApprovalPolicy | None:
    """The account's approval policy, or ``None`` when changes need no approval."""
    row = session.scalars(
        select(ApprovalPolicyRow).where(ApprovalPolicyRow.account_id == account_id)
    ).one_or_none()
    if row is None:
        return None

    def seconds(value: int | None) -> timedelta | None:
        return None if value is None else timedelta(seconds=value)

    return ApprovalPolicy(
        approvers=people(row.approvers),
        channel_id=row.channel_id,
        require_decrease=row.require_decrease,
        increase_over_seats=row.increase_over_seats,
        net_charge_over_minor=row.net_charge_over_minor,
        remind_after=seconds(row.remind_after_s),
        escalate_after=seconds(row.escalate_after_s),
        escalate_to=people(row.escalate_to),
        expire_after=seconds(row.expire_after_s),
    )


def expiry_of(session: Session, account_id: int, submitted_at: datetime | None) -> datetime | None:
    """When a request submitted at ``submitted_at`` expires undecided under the account's
    policy (aware UTC); ``None`` when it was not submitted or the policy sets no deadline."""
    policy = policy_of(session, account_id)
    if policy is None or submitted_at is None:
        return None
    return timeline(policy, submitted_at).expire_at


def approval_prompt(
    session: Session,
    account: Account,
    request: SeatChangeRequest,
    subscription: Subscription,
    check: SeatCheck | None = None,
    note: str | None = None,
) -> ApprovalPrompt:
    """The request with Approve / Deny, with when it expires undecided."""
    return ApprovalPrompt(
        account_view(account),
        request_view(request, subscription),
        check,
        note,
        expiry_of(session, account.id, request.submitted_at),
    )


def message_refs(session: Session, request_id: int) -> tuple[MessageRef, ...]:
    """Every Slack message posted about the request to its approvers."""
    rows = session.scalars(
        select(ApprovalMessage)
        .where(ApprovalMessage.request_id == request_id)
        .order_by(ApprovalMessage.id)
    )
    return tuple(MessageRef(row.team_id, row.channel_id, row.ts, row.recipient) for row in rows)


def cards_by_recipient(session: Session, request_id: int) -> dict[str, MessageRef]:
    """Each recipient's first message about the request (their card), by user id."""
    rows = session.scalars(
        select(ApprovalMessage)
        .where(ApprovalMessage.request_id == request_id, ApprovalMessage.recipient.is_not(None))
        .order_by(ApprovalMessage.id.desc())
    )
    return {
        str(row.recipient): MessageRef(row.team_id, row.channel_id, row.ts, row.recipient)
        for row in rows
    }


def recipient_of(session: Session, request_id: int, channel_id: str, ts: str) -> Person | None:
    """Whom the message ``channel_id``/``ts`` about the request was sent to (an approver's
    DM), or ``None`` for a shared post or a message not posted about it."""
    row = session.scalars(
        select(ApprovalMessage).where(
            ApprovalMessage.request_id == request_id,
            ApprovalMessage.channel_id == channel_id,
            ApprovalMessage.ts == ts,
        )
    ).one_or_none()
    if row is None or row.recipient is None:
        return None
    return (row.team_id, row.recipient)


def unposted_channel(session: Session, account_id: int, request_id: int) -> str | None:
    """The account's approvals channel when the request's card never landed there (the bot was
    not in it when the request was announced), else ``None``."""
    policy = policy_of(session, account_id)
    if policy is None or policy.channel_id is None:
        return None
    posted = session.scalars(
        select(ApprovalMessage.id).where(
            ApprovalMessage.request_id == request_id,
            ApprovalMessage.channel_id == policy.channel_id,
        )
    ).first()
    return None if posted is not None else policy.channel_id


def record_posted(
    session: Session,
    request_id: int,
    posted: list[MessageRef] | tuple[MessageRef, ...],
    at: datetime,
) -> None:
    """Remember where the request was announced (each message once)."""
    known = {(ref.channel_id, ref.ts) for ref in message_refs(session, request_id)}
    for message in posted:
        if (message.channel_id, message.ts) in known:
            continue
        session.add(
            ApprovalMessage(
                request_id=request_id,
                channel_id=message.channel_id,
                ts=message.ts,
                team_id=message.team_id,
                recipient=message.recipient,
                posted_at=at,
            )
        )


def submit(
    session: Session,
    caller: Caller,
    loaded: LoadedRequest,
    revision: int,
    policy: ApprovalPolicy,
    check: SeatCheck | None,
    at: datetime,
) -> AwaitingApproval:
    """draft → pending approval (compare-and-set on status and revision), remembering whom it
    was submitted to. The account's managers decide when the policy names nobody."""
    request, account = loaded.request, loaded.account
    requester: Person = (request.requested_by_team, request.requested_by_user)
    managers = [
        (m.team_id, m.user_id) for m in members_with_role(session, account.id, Role.MANAGER)
    ]
    deciders = tuple(p for p in policy.approvers if p != requester) or default_approvers(
        managers, requester
    )
    if not deciders:
        raise UserFacingError(
            f"This change needs approval, but {account.display_name} has no one who can "
            "approve it: ask the operator to name approvers (or managers)."
        )
    if not move_audited(
        session,
        loaded,
        RequestStatus.DRAFT,
        RequestStatus.PENDING_APPROVAL,
        caller,
        at,
        at_revision=revision,
        columns={"submitted_at": at, "approvers": people_json(deciders)},
        revision=revision,
        approvers=[f"{team}:{user}" for team, user in deciders],
        net_minor=request.net_minor,
        currency=request.currency,
    ):
        raise Moved
    session.refresh(request)
    subscription = get_subscription(session, request.subscription_id)
    event = seat_change_event(EventType.SEAT_CHANGE_REQUESTED, account, subscription, request, at)
    record_event(session, event)
    return AwaitingApproval(
        account_view(account),
        request_view(request, subscription),
        tuple(user for team, user in deciders if team == caller.team_id),
        policy.channel_id,
        check,
        timeline(policy, at).expire_at,
    )


def close_reached(
    session: Session,
    caller: Caller,
    loaded: LoadedRequest,
    subscription: Subscription,
    at: datetime,
) -> ChangeEnded:
    """pending approval → cancelled, when ``caller``'s approval finds that ``subscription``
    already has the seats the request asks for (another change reached them): nothing to
    change, nothing billed. The approver decided (``decided_by``, the audit's actor); the
    billing system, told it was requested, gets its ``seat_change.cancelled``; the outcome
    carries the approval messages to stamp. :class:`Moved` when the request moved meanwhile."""
    request, account = loaded.request, loaded.account
    label = Product(subscription.product).label
    if not move_audited(
        session,
        loaded,
        RequestStatus.PENDING_APPROVAL,
        RequestStatus.CANCELLED,
        caller,
        at,
        at_revision=request.quote_revision,
        decided=True,
        columns={
            "decision_reason": f"{label} already had {subscription.seats} seats; nothing to change."
        },
        reason="no_change",
        seats_now=subscription.seats,
    ):
        raise Moved
    session.refresh(request)
    event = seat_change_event(EventType.SEAT_CHANGE_CANCELLED, account, subscription, request, at)
    record_event(session, event)
    return ChangeEnded(
        account_view(account),
        request_view(request, subscription),
        f"{label} already has {subscription.seats} seats: another change reached them, so "
        "this request is closed without changing anything; nothing was billed. The requester "
        "is told.",
        message_refs(session, request.id),
    )


def deny_request(
    session: Session, caller: Caller, loaded: LoadedRequest, reason: str, at: datetime
) -> ChangeDenied | None:
    """pending approval → denied by ``caller`` for ``reason``: audited, and the billing system
    told (``seat_change.denied``). ``None`` when the request moved meanwhile."""
    request, account = loaded.request, loaded.account
    if not move_audited(
        session,
        loaded,
        RequestStatus.PENDING_APPROVAL,
        RequestStatus.DENIED,
        caller,
        at,
        decided=True,
        columns={"decision_reason": reason},
        reason=reason,
        idempotency_key=request.idempotency_key,
    ):
        return None
    fresh = load_request(session, request.id)
    event = seat_change_event(
        EventType.SEAT_CHANGE_DENIED,
        account,
        fresh.subscription,
        fresh.request,
        at,
        (caller.team_id, caller.user_id),
    )
    record_event(session, event)
    return ChangeDenied(
        account_view(account),
        request_view(fresh.request, fresh.subscription),
        caller.user_id,
        message_refs(session, request.id),
    )
