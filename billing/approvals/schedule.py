"""What time does to approvals: reminders, escalations and expiries of pending requests by
their account's policy, and drafts left unconfirmed. Each function runs in the caller's
transaction; the scheduler claims each step (job_runs) before calling, so it happens once."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from billing.access import Caller
from billing.approvals.rules import (
    ApprovalPolicy,
    DecisionStep,
    DueStep,
    Person,
    approve_step,
    deny_step,
    due_steps,
    timeline,
)
from billing.approvals.store import (
    approval_prompt,
    close_reached,
    message_refs,
    policy_of,
    unposted_channel,
)
from billing.events.rules import EventType
from billing.events.store import record_event, seat_change_event
from billing.models import SeatChangeRequest, Subscription
from billing.requests import RequestStatus
from billing.row_views import account_view, request_view
from billing.seats.outcomes import ApprovalPrompt, ChangeEnded, ChangeOutcome
from billing.seats.steps import settled
from billing.storage import (
    LoadedRequest,
    audit,
    execute_update,
    load_request,
    move_audited,
)

#: Drafts never confirmed are closed after this long.
DRAFT_MAX_AGE = timedelta(days=1)
REMINDER_NOTE = "Reminder: this seat change is still waiting for a decision."
ESCALATION_NOTE = (
    "Escalated to you: this seat change has waited for a decision longer than the account's "
    "policy allows. You may approve or deny it."
)


@dataclass(frozen=True, slots=True)
class DueItem:
    """A step time makes due for a pending request."""

    request_id: int
    step: DueStep
    due_at: datetime


def due_items(session: Session, now: datetime, draft_max_age: timedelta) -> list[DueItem]:
    """Every step time has made due by ``now``: reminders, escalations and expiries of
    pending requests (by their account's policy), and drafts left unconfirmed longer than
    ``draft_max_age``. Repeating a step is prevented by the caller's claim (job_runs)."""
    found: list[DueItem] = []
    pending = session.execute(
        select(SeatChangeRequest, Subscription.account_id)
        .join(Subscription, SeatChangeRequest.subscription_id == Subscription.id)
        .where(SeatChangeRequest.status == RequestStatus.PENDING_APPROVAL.value)
    ).tuples()
    policies: dict[int, ApprovalPolicy | None] = {}
    for request, account_id in pending:
        if account_id not in policies:
            policies[account_id] = policy_of(session, account_id)
        policy = policies[account_id]
        if policy is None or request.submitted_at is None:
            continue
        line = timeline(policy, request.submitted_at)
        done = frozenset({DueStep.ESCALATE}) if request.escalated_at else frozenset()
        for step in due_steps(line, now, done=done):
            when = {
                DueStep.REMIND: line.remind_at,
                DueStep.ESCALATE: line.escalate_at,
                DueStep.EXPIRE: line.expire_at,
            }[step]
            found.append(DueItem(request.id, step, when or now))
    stale_drafts = session.scalars(
        select(SeatChangeRequest).where(
            SeatChangeRequest.status == RequestStatus.DRAFT.value,
            SeatChangeRequest.created_at <= now - draft_max_age,
        )
    )
    found.extend(
        DueItem(draft.id, DueStep.EXPIRE, draft.created_at + draft_max_age)
        for draft in stale_drafts
    )
    return found


def reminder_of(session: Session, request_id: int) -> ApprovalPrompt | None:
    """What to send the deciders of a request still pending (``None`` when it is not)."""
    loaded = load_request(session, request_id)
    if RequestStatus(loaded.request.status) is not RequestStatus.PENDING_APPROVAL:
        return None
    prompt = approval_prompt(
        session, loaded.account, loaded.request, loaded.subscription, note=REMINDER_NOTE
    )
    return replace(
        prompt, unposted_channel=unposted_channel(session, loaded.account.id, request_id)
    )


def escalate_request(
    session: Session, request_id: int, at: datetime
) -> tuple[ApprovalPrompt, tuple[Person, ...]] | None:
    """Let the policy's escalation list decide too (once); the request to show them and
    who they are, or ``None`` when it is no longer pending or was escalated already."""
    loaded = load_request(session, request_id)
    policy = policy_of(session, loaded.account.id)
    if policy is None or not policy.escalate_to:
        return None
    moved = execute_update(
        session,
        update(SeatChangeRequest)
        .where(
            SeatChangeRequest.id == request_id,
            SeatChangeRequest.status == RequestStatus.PENDING_APPROVAL.value,
            SeatChangeRequest.escalated_at.is_(None),
        )
        .values(escalated_at=at, updated_at=at),
    )
    if moved != 1:
        return None
    audit(
        session,
        loaded.account.id,
        "system",
        "request.escalated",
        at,
        request_id=request_id,
        escalate_to=[f"{team}:{user}" for team, user in policy.escalate_to],
    )
    fresh = load_request(session, request_id)
    prompt = approval_prompt(
        session, fresh.account, fresh.request, fresh.subscription, note=ESCALATION_NOTE
    )
    missing = unposted_channel(session, fresh.account.id, request_id)
    return replace(prompt, unposted_channel=missing), policy.escalate_to


def expire_request(
    session: Session, request_id: int, at: datetime, *, late_decision_by: str | None = None
) -> ChangeEnded | None:
    """Close an open request time has run out on (pending too long, or a draft never
    confirmed): ``None`` when it was settled meanwhile. Time expires it (the audit's actor is
    the system), whether the scheduler found it or ``late_decision_by`` (an audit actor), whose
    decision came after the deadline; the outcome carries the approval messages to stamp."""
    loaded = load_request(session, request_id)
    status = RequestStatus(loaded.request.status)
    if status not in (RequestStatus.DRAFT, RequestStatus.PENDING_APPROVAL):
        return None
    late: dict[str, Any] = {"late_decision_by": late_decision_by} if late_decision_by else {}
    expired = move_audited(
        session,
        loaded,
        status,
        RequestStatus.EXPIRED,
        None,
        at,
        idempotency_key=loaded.request.idempotency_key,
        **late,
    )
    if not expired:
        return None
    fresh = load_request(session, request_id)
    if status is RequestStatus.PENDING_APPROVAL:  # the billing system was told it was requested
        event = seat_change_event(
            EventType.SEAT_CHANGE_EXPIRED, fresh.account, fresh.subscription, fresh.request, at
        )
        record_event(session, event)
    return ChangeEnded(
        account_view(fresh.account),
        request_view(fresh.request, fresh.subscription),
        "This seat change expired without a decision; nothing was billed.",
        message_refs(session, request_id),
    )


def end_if_late(
    session: Session,
    caller: Caller,
    loaded: LoadedRequest,
    subscription: Subscription | None,
    at: datetime,
) -> ChangeOutcome | None:
    """End the pending request if ``caller``'s decision finds it past its deadline or (an
    approval: ``subscription`` given) its target already reached; ``None`` when the decision
    stands (:func:`~billing.approvals.rules.approve_step`,
    :func:`~billing.approvals.rules.deny_step`). What it became instead when another step
    settled it meanwhile."""
    request = loaded.request
    policy = policy_of(session, loaded.account.id)
    submitted = request.submitted_at
    line = None if policy is None or submitted is None else timeline(policy, submitted)
    if subscription is None:
        step = deny_step(line, at)
    else:
        step = approve_step(line, at, new_seats=request.new_seats, seats_now=subscription.seats)
    if step is DecisionStep.NOTHING_TO_CHANGE and subscription is not None:
        return close_reached(session, caller, loaded, subscription, at)
    if step is not DecisionStep.EXPIRE or line is None or line.expire_at is None:
        return None
    expired = expire_request(session, request.id, at, late_decision_by=caller.actor)
    if expired is None:  # settled meanwhile
        return settled(session, load_request(session, request.id))
    return replace(
        expired,
        message="Too late: this seat change expired before your decision. "
        "Nothing was applied or billed; the requester is told.",
        expired_at=line.expire_at,
    )
