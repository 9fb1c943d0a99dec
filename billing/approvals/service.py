"""Approval by managers, the application layer: approve, deny, record where a request was
announced, and what time does to it (remind, escalate, expire). What is stored, and the
submission of a confirmed change, are in :mod:`billing.approvals.store`; the time steps in
:mod:`billing.approvals.schedule`.

Every step authorises first (nobody decides their own request; only the request's approvers,
or the escalation list once it was escalated) and moves the request by compare-and-set on its
status and quote revision, so two approvers clicking at once, or Approve racing Deny, give one
outcome everywhere. A decision checks the request's deadline and target itself
(:func:`billing.approvals.rules.approve_step`): after the policy's ``expire_after`` the request
expired, whether or not the scheduler got to it; a target another change already reached closes
it with nothing to change. Approving re-checks the platform for a decrease and re-prices the
change at the moment of applying: when the amounts moved, the approver is shown the new figures
and approves again — nobody applies numbers nobody saw.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from billing.access import Action, Caller
from billing.approvals.rules import (
    AnswerPlace,
    ClickedMessage,
    Deciders,
    Person,
    answer_place,
)
from billing.approvals.schedule import (
    DRAFT_MAX_AGE,
    DueItem,
    due_items,
    end_if_late,
    escalate_request,
    expire_request,
    reminder_of,
)
from billing.approvals.store import (
    approval_prompt,
    cards_by_recipient,
    deny_request,
    message_refs,
    policy_of,
    recipient_of,
    record_posted,
)
from billing.errors import NotAuthorised, NotFound, SeatbotError, UserFacingError
from billing.models import (
    SeatChangeRequest,
    Subscription,
)
from billing.products import Product
from billing.requests import RequestStatus
from billing.row_views import account_view, people, request_view
from billing.scope import authorised_request, require_aware
from billing.seats.decrease import check_seat_change
from billing.seats.outcomes import (
    ApprovalPrompt,
    ChangeEnded,
    ChangeOutcome,
    MessageRef,
    UsersNeeded,
)
from billing.seats.renewal import renew_due
from billing.seats.rules import (
    OLDER_MESSAGE_NOTE,
    Staleness,
    clean_reason,
    quote_moved,
)
from billing.seats.steps import (
    Moved,
    Users,
    apply,
    requote,
    same_amounts_now,
    settled,
    users_needed,
    with_users,
)
from billing.storage import (
    LoadedRequest,
    Storage,
    audit,
    get_subscription,
    load_request,
)
from billing.users import UserListing

#: What an approver is told when the figures moved since the request was submitted.
REPRICED_NOTE = (
    "The price changed since this was requested (time passed, or the subscription changed): "
    "here are the figures that would apply now. Approve again to apply them."
)


class _Refused(SeatbotError):
    """A caller may not decide this request, or may not even see it (carried out of the
    transaction to be audited on the request's account)."""

    def __init__(self, error: UserFacingError, account_id: int, request_id: int) -> None:
        super().__init__(error.message)
        self.error = error
        self.account_id = account_id
        self.request_id = request_id


class Approvals:
    """Approving and denying pending seat changes (authorised per call), and the steps time
    makes due. ``quote_ttl`` is how long a stored quote stays good."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        quote_ttl: timedelta = timedelta(minutes=10),
    ) -> None:
        self._storage = Storage(session_factory)
        self._quote_ttl = quote_ttl

    # ------------------------------------------------------------------ deciding

    def approve(
        self,
        caller: Caller,
        *,
        request_id: int,
        revision: int,
        at: datetime,
        users: Users = None,
    ) -> ChangeOutcome | UsersNeeded:
        """An approver clicked Approve on the message showing quote ``revision``: apply exactly
        those figures once — or show the current ones and apply nothing. ``users``: the
        platform facts (:func:`billing.seats.steps.with_users`)."""
        require_aware(at)

        def once(listing: UserListing | None) -> ChangeOutcome | UsersNeeded:
            try:
                with self._storage.write() as session:
                    return self._approve(session, caller, request_id, revision, at, listing)
            except Moved:
                return self._after_race(caller, request_id, at, listing)

        def needed() -> UsersNeeded | None:
            with self._storage.read() as session:
                return users_needed(self._deciding(session, caller, request_id, at))

        try:
            return with_users(once, users, needed)
        except _Refused as refused:
            raise self._audited(refused, caller, at) from None

    def _after_race(
        self, caller: Caller, request_id: int, at: datetime, users: UserListing | None
    ) -> ChangeOutcome | UsersNeeded:
        """Another decision, or another change of the subscription, won a compare-and-set:
        the state it left, shown to the (already authorised) approver. A few attempts, since
        each may race yet another click."""
        for _ in range(3):
            try:
                with self._storage.write() as session:
                    loaded = load_request(session, request_id)
                    if RequestStatus(loaded.request.status) is not RequestStatus.PENDING_APPROVAL:
                        return settled(session, loaded)
                    subscription = get_subscription(session, loaded.request.subscription_id)
                    ended = end_if_late(session, caller, loaded, subscription, at)
                    if ended is not None:
                        return ended
                    moved = self._moved(loaded.request, subscription, at)
                    return self._show_current(session, caller, request_id, at, users, moved)
            except Moved:
                continue
        with self._storage.read() as session:
            return settled(session, load_request(session, request_id))

    def _approve(
        self,
        session: Session,
        caller: Caller,
        request_id: int,
        revision: int,
        at: datetime,
        users: UserListing | None,
    ) -> ChangeOutcome | UsersNeeded:
        loaded = self._deciding(session, caller, request_id, at)
        request, account = loaded.request, loaded.account
        if RequestStatus(request.status) is not RequestStatus.PENDING_APPROVAL:
            return settled(session, loaded)
        renew_due(session, request.subscription_id, account, at)
        subscription = get_subscription(session, request.subscription_id)
        ended = end_if_late(session, caller, loaded, subscription, at)
        if ended is not None:
            return ended
        moved = self._moved(request, subscription, at)
        if moved is not None or revision != request.quote_revision:
            return self._show_current(session, caller, request_id, at, users, moved)
        if not same_amounts_now(request, subscription, account, at):
            # The owner's figures would not be what applies now: price it afresh, show it.
            return self._show_current(session, caller, request_id, at, users, Staleness.EXPIRED)
        if request.new_seats < request.old_seats:
            if users is None:
                return UsersNeeded(account.id, Product(subscription.product))
            check = check_seat_change(request.old_seats, request.new_seats, users)
            if not check.allowed:
                return approval_prompt(session, account, request, subscription, check)
        stamps = message_refs(session, request.id)
        applied = apply(
            session,
            caller,
            loaded,
            subscription,
            revision,
            at,
            from_status=RequestStatus.PENDING_APPROVAL,
        )
        return replace(applied, stamps=stamps)

    def deny(self, caller: Caller, *, request_id: int, reason: str, at: datetime) -> ChangeOutcome:
        """An approver denies the pending request, saying why."""
        require_aware(at)
        try:
            return self._deny(caller, request_id, reason, at)
        except _Refused as refused:
            raise self._audited(refused, caller, at) from None

    def _deny(self, caller: Caller, request_id: int, reason: str, at: datetime) -> ChangeOutcome:
        cleaned = clean_reason(reason)
        with self._storage.write() as session:
            loaded = self._deciding(session, caller, request_id, at)
            request = loaded.request
            if RequestStatus(request.status) is not RequestStatus.PENDING_APPROVAL:
                return settled(session, loaded)
            ended = end_if_late(session, caller, loaded, None, at)
            if ended is not None:
                return ended
            denied = deny_request(session, caller, loaded, cleaned, at)
            return denied or settled(session, load_request(session, request_id))

    def deny_form(self, caller: Caller, *, request_id: int, at: datetime) -> ApprovalPrompt:
        """The request an approver is about to deny (for the reason form), authorised."""
        try:
            with self._storage.read() as session:
                loaded = self._deciding(session, caller, request_id, at)
                return ApprovalPrompt(
                    account_view(loaded.account),
                    request_view(loaded.request, loaded.subscription),
                )
        except _Refused as refused:
            raise self._audited(refused, caller, at) from None

    def where_to_answer(
        self, caller: Caller, *, request_id: int | None, clicked: ClickedMessage | None
    ) -> AnswerPlace:
        """Where the answer to the caller's click on ``clicked`` (a button naming
        ``request_id``) goes (:func:`billing.approvals.rules.answer_place`): in place of a DM
        Seatbot sent them, to them alone on anything others see."""
        recipient = None
        if request_id is not None and clicked is not None and not clicked.ephemeral:
            with self._storage.read() as session:
                recipient = recipient_of(session, request_id, clicked.channel_id, clicked.ts)
        return answer_place(clicked, recipient, (caller.team_id, caller.user_id))

    # ------------------------------------------------------------------ announcements

    def record_messages(self, request_id: int, posted: Sequence[MessageRef], at: datetime) -> None:
        """Remember where the request was announced, to stamp every message with its outcome."""
        with self._storage.write() as session:
            record_posted(session, request_id, tuple(posted), at)

    # ------------------------------------------------------------------ what time does

    def due(self, now: datetime, *, draft_max_age: timedelta = DRAFT_MAX_AGE) -> list[DueItem]:
        """Every step time has made due by ``now``
        (:func:`billing.approvals.schedule.due_items`)."""
        require_aware(now)
        with self._storage.read() as session:
            return due_items(session, now, draft_max_age)

    def cards(self, request_id: int) -> dict[str, MessageRef]:
        """Where each approver's card about the request is, so later notes reply under it."""
        with self._storage.read() as session:
            return cards_by_recipient(session, request_id)

    def reminder(self, request_id: int) -> ApprovalPrompt | None:
        """What to send the deciders of a request still pending (``None`` when it is not)."""
        with self._storage.read() as session:
            return reminder_of(session, request_id)

    def escalate(
        self, request_id: int, at: datetime
    ) -> tuple[ApprovalPrompt, tuple[Person, ...]] | None:
        """Let the policy's escalation list decide too, once (:func:`escalate_request`)."""
        require_aware(at)
        with self._storage.write() as session:
            return escalate_request(session, request_id, at)

    def expire(self, request_id: int, at: datetime) -> ChangeEnded | None:
        """Close an open request time has run out on (:func:`expire_request`)."""
        require_aware(at)
        with self._storage.write() as session:
            return expire_request(session, request_id, at)

    # ------------------------------------------------------------------ helpers

    def _deciding(
        self, session: Session, caller: Caller, request_id: int, at: datetime
    ) -> LoadedRequest:
        """The request, if the caller may decide it (:attr:`Action.DECIDE`); a refusal is
        carried out to be written to the audit trail."""

        def deciders(loaded: LoadedRequest) -> tuple[Person, ...]:
            policy = policy_of(session, loaded.account.id)
            return Deciders(
                people(loaded.request.approvers),
                policy.escalate_to if policy is not None else (),
                escalated=loaded.request.escalated_at is not None,
            ).everyone

        try:
            return authorised_request(session, caller, request_id, Action.DECIDE, deciders=deciders)
        except (NotFound, NotAuthorised) as refused:
            # A forged or guessed id, or someone who may not decide: the owning account's
            # audit trail records the try.
            account_id = load_request(session, request_id).account.id
            raise _Refused(refused, account_id, request_id) from None

    def _audited(self, refused: _Refused, caller: Caller, at: datetime) -> UserFacingError:
        """Write the refusal to the audit trail (after the refused transaction rolled back) and
        return the error to raise."""
        with self._storage.write() as session:
            audit(
                session,
                refused.account_id,
                caller.actor,
                "approval.refused",
                at,
                request_id=refused.request_id,
                reason=refused.error.message,
            )
        return refused.error

    def _moved(
        self, request: SeatChangeRequest, subscription: Subscription, at: datetime
    ) -> Staleness | None:
        """Whether the subscription changed or a period ended since the quote (the quote's
        age alone is judged by the amounts, :func:`~billing.seats.steps.same_amounts_now`)."""
        return quote_moved(
            quoted_version=request.quoted_version,
            quoted_period=request.quoted_period,
            subscription_version=subscription.version,
            at=at,
        )

    def _show_current(
        self,
        session: Session,
        caller: Caller,
        request_id: int,
        at: datetime,
        users: UserListing | None,
        moved: Staleness | None,
    ) -> ChangeOutcome | UsersNeeded:
        loaded = load_request(session, request_id)
        if RequestStatus(loaded.request.status) is not RequestStatus.PENDING_APPROVAL:
            return settled(session, loaded)
        subscription = get_subscription(session, loaded.request.subscription_id)
        note = OLDER_MESSAGE_NOTE
        if moved is not None:
            closed = requote(session, caller, loaded, subscription, moved, at)
            if closed is not None:
                return closed
            loaded = load_request(session, request_id)
            note = REPRICED_NOTE
        request = loaded.request
        check = None
        if request.new_seats < request.old_seats:
            if users is None:
                return UsersNeeded(loaded.account.id, Product(subscription.product))
            check = check_seat_change(request.old_seats, request.new_seats, users)
        return approval_prompt(session, loaded.account, request, subscription, check, note)


__all__ = [
    "REPRICED_NOTE",
    "AnswerPlace",
    "Approvals",
    "ClickedMessage",
    "DueItem",
]
