"""The Slack edge's one service: call a billing use case, gather the platform facts it asks
for, render what it answered.

Every public coroutine takes who is asking (a :class:`billing.access.Caller`) and returns what a
listener only has to send: a :class:`~handlers.views.Message` or a modal ``View``. No rule lives
here: who may act, whether a change is allowed, whether a quote is stale — billing decides
(:mod:`billing.seats.service`). The synchronous use cases run in a worker thread.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from slack_sdk.models.views import View
from slack_sdk.web.async_client import AsyncWebClient

from billing.access import Caller
from billing.errors import REQUEST_GONE, NotFound, UserFacingError
from billing.products import MAX_SEATS
from billing.seats import (
    ChangeForm,
    ChangeOutcome,
    FormPreview,
    UsersNeeded,
    clean_reason,
    seat_count_problem,
)
from billing.users import UserListing
from billing.views import AccountView
from handlers import ids, views
from handlers.approval_desk import Aftermath
from handlers.commands import ChangeSeats
from handlers.deps import HandlerDeps
from handlers.facts import PlatformFacts
from handlers.payloads import (
    ModalContext,
    RequestRef,
    input_value,
    positive_id,
    request_ref,
    seat_count,
    selected_value,
)
from handlers.views import Message, ModalModel, ProductChoice

logger = logging.getLogger(__name__)

R = TypeVar("R")

HISTORY_LIMIT = 15
FORM_EXPIRED = "This form has expired: close it and type /seats again."


@dataclass(frozen=True, slots=True)
class ModalOpening:
    """The form as it can be shown at once, and the listing that fills in its users."""

    view: View
    model: ModalModel
    needed: UsersNeeded
    where: ZoneInfo


def form_opening(
    form: ChangeForm, channel_id: str | None, needed: UsersNeeded, *, source: str | None = None
) -> ModalOpening:
    """The seat-change form as it can be shown at once: the account's products and seats, the
    first one selected, its users (``needed``) to come; ``source`` says where it was opened
    from, when not ``/seats``."""
    choices = [ProductChoice(str(s.id), s.product, s.seats) for s in form.subscriptions]
    seats = {c.subscription_id: (c.product, c.seats) for c in choices}
    context = ModalContext(form.account.id, channel_id, seats, source=source)
    model = ModalModel(
        account_name=form.account.display_name,
        choices=choices,
        selected=choices[0],
        users=None,
        private_metadata=context.dumps(),
    )
    where = ZoneInfo(form.account.timezone)
    return ModalOpening(views.seat_change_modal(model, where), model, needed, where)


@dataclass(frozen=True, slots=True)
class Submission:
    """A form submission that passed the checks made in the ack."""

    context: ModalContext
    subscription_id: int
    new_seats: int
    reason: str


class SeatDesk:
    """Seat changes as the Slack edge offers them."""

    def __init__(self, deps: HandlerDeps, *, facts: PlatformFacts, aftermath: Aftermath) -> None:
        self._changes = deps.seat_changes
        self._reads = deps.account_reads
        self._clock = deps.clock
        self._facts = facts
        self._aftermath = aftermath

    # ------------------------------------------------------------------ plumbing

    async def _run(self, fn: Callable[..., R], **kwargs: Any) -> R:
        return await asyncio.to_thread(partial(fn, **kwargs))

    async def _with_users(
        self, use_case: Callable[..., object], **kwargs: Any
    ) -> tuple[object, UserListing | None]:
        """Call ``use_case``; when it asks for a platform's users, list them and call it again
        with the listing. Returns its answer and the listing it was given (if any)."""
        first = await self._run(use_case, users=None, **kwargs)
        if not isinstance(first, UsersNeeded):
            return first, None
        listing = await self._facts.listing(first)
        second = await self._run(use_case, users=listing, **kwargs)
        if isinstance(second, UsersNeeded):
            raise UserFacingError("The account changed while Seatbot was checking it; try again.")
        return second, listing

    async def _outcome(
        self,
        use_case: Callable[..., object],
        client: AsyncWebClient | None = None,
        **kwargs: Any,
    ) -> Message:
        """The message for a seat-change use case's answer (listing users if it asks); the
        messages the answer sends to others (approvers, the requester) go out too."""
        outcome, _ = await self._with_users(use_case, **kwargs)
        await self._aftermath.handle(outcome, client)
        return self._render(outcome)

    def _render(self, outcome: object) -> Message:
        if not isinstance(outcome, ChangeOutcome):
            raise TypeError(f"unexpected answer {type(outcome).__name__}")
        return views.outcome_message(outcome, self._where(outcome.account))

    def _where(self, account: AccountView) -> ZoneInfo:
        return ZoneInfo(account.timezone)

    # ------------------------------------------------------------------ commands

    async def status(self, caller: Caller, channel_id: str | None, account: str | None) -> Message:
        seats = await self._run(
            self._reads.status,
            caller=caller,
            account_name=account,
            channel_id=channel_id,
            at=self._clock(),
        )
        listings = await asyncio.gather(*map(self._facts.recent_listing, seats.listings))
        return views.status_message(
            seats.account.display_name,
            seats.subscriptions,
            listings,
            self._where(seats.account),
            may_change=seats.may_change,
            other_accounts=seats.other_accounts,
            forecast=seats.forecast,
        )

    async def history(self, caller: Caller, channel_id: str | None, account: str | None) -> Message:
        history = await self._run(
            self._reads.history,
            caller=caller,
            account_name=account,
            channel_id=channel_id,
            limit=HISTORY_LIMIT,
        )
        return views.history_message(history, self._where(history.account))

    async def request_change(
        self, caller: Caller, channel_id: str | None, command: ChangeSeats
    ) -> Message:
        """``/seats add|remove|set``: the draft's prompt, or why it can't go ahead."""
        return await self._outcome(
            self._changes.request_by_command,
            caller=caller,
            account_name=command.account,
            channel_id=channel_id,
            product=command.product,
            mode=command.mode,
            count=command.count,
            at=self._clock(),
        )

    # ------------------------------------------------------------------ buttons

    async def confirm(
        self, caller: Caller, value: object, client: AsyncWebClient | None = None
    ) -> Message:
        ref = _ref(value)
        outcome = await self._run(
            self._changes.confirm,
            caller=caller,
            request_id=ref.request_id,
            revision=ref.revision,
            at=self._clock(),
            users=self._facts.port(),
        )
        await self._aftermath.handle(outcome, client)
        return self._render(outcome)

    async def check_again(
        self, caller: Caller, value: object, client: AsyncWebClient | None = None
    ) -> Message:
        ref = _ref(value)
        outcome = await self._run(
            self._changes.check_again,
            caller=caller,
            request_id=ref.request_id,
            at=self._clock(),
            users=self._facts.port(),
        )
        await self._aftermath.handle(outcome, client)
        return self._render(outcome)

    async def cancel(
        self, caller: Caller, value: object, client: AsyncWebClient | None = None
    ) -> Message:
        ref = _ref(value)
        outcome = await self._run(
            self._changes.cancel, caller=caller, request_id=ref.request_id, at=self._clock()
        )
        await self._aftermath.handle(outcome, client)
        return self._render(outcome)

    # ------------------------------------------------------------------ the form

    async def open_modal(
        self, caller: Caller, channel_id: str | None, account: str | None
    ) -> ModalOpening:
        """The form with what the database knows (products, seats); users come later."""
        form = await self._run(
            self._reads.change_form,
            caller=caller,
            account_name=account,
            channel_id=channel_id,
            at=self._clock(),
        )
        return form_opening(form, channel_id, form.listings[0])

    async def modal_with_users(self, opening: ModalOpening) -> View:
        """The opened form again, with the first product's users filled in."""
        listing = await self._facts.listing(opening.needed)
        model = opening.model
        context = ModalContext.loads(model.private_metadata)
        if context is not None:
            known = context.knowing(model.selected.subscription_id, listing.count)
            model = replace(model, private_metadata=known.dumps())
        return views.seat_change_modal(replace(model, users=listing), opening.where)

    async def modal_preview(self, caller: Caller, metadata: object, values: object) -> View | None:
        """The form redrawn for the chosen product and count, with the live preview; ``None``
        when the form's metadata is unreadable (nothing to redraw)."""
        context = ModalContext.loads(metadata)
        if context is None:
            logger.warning("A seat-change form came back with unreadable metadata; ignored")
            return None
        chosen = selected_value(values, ids.PRODUCT_BLOCK, ids.PRODUCT_ACTION)
        subscription_id = positive_id(chosen) if chosen in context.seats_by_subscription else None
        if subscription_id is None:
            subscription_id = int(next(iter(context.seats_by_subscription)))
        count = seat_count(input_value(values, ids.COUNT_BLOCK, ids.COUNT_ACTION, limit=16))
        preview, listing = await self._with_users(
            self._reads.preview,
            caller=caller,
            account_id=context.account_id,
            subscription_id=subscription_id,
            new_seats=count,
            at=self._clock(),
        )
        if not isinstance(preview, FormPreview):
            raise TypeError(f"unexpected answer {type(preview).__name__}")
        choices = [
            ProductChoice(key, product, seats)
            for key, (product, seats) in context.seats_by_subscription.items()
        ]
        subscription = preview.subscription
        selected = ProductChoice(str(subscription.id), subscription.product, subscription.seats)
        model = ModalModel(
            account_name=preview.account.display_name,
            choices=choices,
            selected=selected,
            users=listing,
            private_metadata=context.knowing(
                selected.subscription_id, listing.count if listing else None
            ).dumps(),
            preview=preview,
        )
        return views.seat_change_modal(model, self._where(preview.account))

    async def submit(self, caller: Caller, submission: Submission) -> Message:
        """A form that passed the ack's checks: the draft's prompt, or why it can't go ahead."""
        return await self._outcome(
            self._changes.request_by_form,
            caller=caller,
            account_id=submission.context.account_id,
            subscription_id=submission.subscription_id,
            new_seats=submission.new_seats,
            reason=submission.reason,
            at=self._clock(),
            source=submission.context.source,
        )


def _ref(value: object) -> RequestRef:
    ref = request_ref(value)
    if ref is None:
        raise NotFound(REQUEST_GONE)
    return ref


def read_submission(metadata: object, values: object) -> Submission | dict[str, str]:
    """Check the form's inputs without I/O (for the ack): a :class:`Submission`, or field
    errors (``{block_id: message}``) for ``response_action="errors"``. Uses billing's own seat
    count rule; billing checks everything again when the submission is acted on."""
    context = ModalContext.loads(metadata)
    if context is None:
        return {ids.PRODUCT_BLOCK: FORM_EXPIRED}
    chosen = selected_value(values, ids.PRODUCT_BLOCK, ids.PRODUCT_ACTION)
    if chosen is None or chosen not in context.seats_by_subscription:
        return {ids.PRODUCT_BLOCK: "Choose one of your products."}
    product, seats = context.seats_by_subscription[chosen]
    count = seat_count(input_value(values, ids.COUNT_BLOCK, ids.COUNT_ACTION, limit=16))
    if count is None:
        return {ids.COUNT_BLOCK: f"Enter a whole number of seats from 0 to {MAX_SEATS:,}."}
    problem = seat_count_problem(
        count, seats, product, users=context.users_by_subscription.get(chosen)
    )
    if problem is not None:
        return {ids.COUNT_BLOCK: f"{problem} Enter a different number."}
    # Read whatever came (the edge bounds the body): billing's rule says if it is too long.
    typed = input_value(values, ids.REASON_BLOCK, ids.REASON_ACTION, limit=None)
    try:
        reason = clean_reason(typed or "")
    except UserFacingError as exc:
        return {ids.REASON_BLOCK: exc.message}
    return Submission(context, int(chosen), count, reason)


__all__ = [
    "ModalOpening",
    "SeatDesk",
    "Submission",
    "read_submission",
]
