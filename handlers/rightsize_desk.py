"""The digest's right-size buttons at the Slack edge: call billing's right-size use cases
(:mod:`billing.seats.rightsize`), gather the platform facts they ask for, render the answer.
No rule here: who may act, the preset and every figure are billing's, recomputed at the click
(a button's value names only the account and the product)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from functools import partial

from slack_sdk.models.views import View

from billing.access import Caller
from billing.errors import NotFound
from billing.products import Product
from billing.seats import FormPreview, RightSizeForm, UsersNeeded, right_size_target
from handlers import views
from handlers.deps import HandlerDeps
from handlers.facts import PlatformFacts
from handlers.payloads import ModalContext, rightsize_ref
from handlers.seat_desk import ModalOpening, form_opening
from handlers.views import Message
from handlers.views.rightsize import recheck_message

STALE_BUTTON = "This button is no longer valid: use the one in today's digest."


def _ref(value: object) -> tuple[int, Product]:
    ref = rightsize_ref(value)
    if ref is None:
        raise NotFound(STALE_BUTTON)
    return ref


class RightSizeDesk:
    """ "Remove 3 unused seats" and "I removed some of them — check again"."""

    def __init__(self, deps: HandlerDeps, *, facts: PlatformFacts) -> None:
        self._sizing = deps.seat_changes.right_sizing
        self._reads = deps.account_reads
        self._clock = deps.clock
        self._facts = facts

    async def open_form(
        self, caller: Caller, value: object, channel_id: str | None
    ) -> ModalOpening:
        """The seat-change form for the button's account and product, as it can be shown at
        once (an owner only: anyone else gets billing's refusal)."""
        account_id, product = _ref(value)
        found: RightSizeForm = await asyncio.to_thread(
            partial(
                self._sizing.form,
                caller,
                account_id=account_id,
                product=product,
                at=self._clock(),
            )
        )
        return form_opening(found.form, channel_id, found.needed, source=found.source)

    async def filled(self, caller: Caller, opening: ModalOpening) -> View:
        """The opened form with today's users, the count preset to them and its live preview
        (the credit), when there are seats nobody holds."""
        listing = await self._facts.listing(opening.needed)
        model = opening.model
        selected = model.selected
        target = right_size_target(selected.seats, listing)
        context = ModalContext.loads(model.private_metadata)
        if context is not None:
            known = context.knowing(selected.subscription_id, listing.count)
            model = replace(model, private_metadata=known.dumps())
        preview: FormPreview | None = None
        if target is not None:
            answer = await asyncio.to_thread(
                partial(
                    self._reads.preview,
                    caller,
                    account_id=opening.needed.account_id,
                    subscription_id=int(selected.subscription_id),
                    new_seats=target,
                    at=self._clock(),
                    users=listing,
                )
            )
            preview = answer if isinstance(answer, FormPreview) else None
        model = replace(model, users=listing, preview=preview, initial_count=target)
        return views.seat_change_modal(model, opening.where)

    async def recheck(self, caller: Caller, value: object) -> Message:
        """What can be removed now, read from the platform for an owner."""
        account_id, product = _ref(value)
        found = await asyncio.to_thread(
            partial(
                self._sizing.recheck,
                caller,
                account_id=account_id,
                product=product,
                at=self._clock(),
                users=self._facts.port(),
            )
        )
        if isinstance(found, UsersNeeded):  # given the port, billing asks it instead
            raise TypeError("the right-size check asked for users it was given a port for")
        return recheck_message(account_id, found)
