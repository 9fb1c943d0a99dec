"""Right-sizing from the digest: the use cases behind its "Remove 3 unused seats" button and the
thread's "I removed some of them — check again".

A button's value names only an account and a product; everything else is decided here, when it
is clicked, from today's figures: who may act (an owner: :attr:`Action.REQUEST_CHANGE`, the
same check as ``/seats``), the subscription's seats now, and the users the platform lists now.
The change itself is then made like any other (the form's submission,
:meth:`billing.seats.service.SeatChanges.request_by_form` with ``source="digest"``): the
platform guard re-checks at Confirm and the account's approval policy applies.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from billing.access import Action, Caller
from billing.errors import NotFound
from billing.periods import require_aware
from billing.products import Product
from billing.reports.rules import ProductReconciliation, reconcile_product
from billing.requests import RequestSource
from billing.row_views import account_view
from billing.scope import authorise_on, current_views, visible_account
from billing.seats.outcomes import ChangeForm, UsersNeeded
from billing.seats.steps import Users, with_users
from billing.storage import Storage
from billing.users import UserListing
from billing.views import SubscriptionView


@dataclass(frozen=True, slots=True)
class RightSizeForm:
    """The seat-change form opened from a right-size button: every product the owner may change,
    the clicked one (``selected``) first, and the listing its preset needs."""

    form: ChangeForm
    selected: SubscriptionView
    needed: UsersNeeded
    #: What the form carries to its submission, so the change records where it started.
    source: str = RequestSource.DIGEST.value


def right_size_target(seats: int, listing: UserListing) -> int | None:
    """The seat count a right-size form is preset to: the users that exist on the platform now,
    when that is fewer than the seats (``None``: nothing to preset — unknown, or no unused
    seat)."""
    count = listing.count
    return count if count is not None and count < seats else None


class RightSizing:
    """The right-size use cases (see the module docstring)."""

    def __init__(self, storage: Storage) -> None:
        self._storage = storage

    def _authorised(
        self, caller: Caller, account_id: int, product: Product, at: datetime
    ) -> tuple[ChangeForm, SubscriptionView]:
        require_aware(at)
        with self._storage.read() as session:
            account = visible_account(session, caller, account_id)
            authorise_on(session, caller, account, Action.REQUEST_CHANGE)
            subscriptions = current_views(session, account, at)
            selected = next((s for s in subscriptions if s.product is product), None)
            if selected is None:
                raise NotFound(f"{account.display_name} has no {product.label} subscription.")
            ordered = (selected, *(s for s in subscriptions if s is not selected))
            needed = tuple(UsersNeeded(account.id, s.product) for s in ordered)
            return ChangeForm(account_view(account), ordered, needed), selected

    def form(
        self, caller: Caller, *, account_id: int, product: Product, at: datetime
    ) -> RightSizeForm:
        """The form for an owner's click, with today's seats (:class:`NotAuthorised` for anyone
        else, telling them only what :func:`billing.access.refusal_for` allows)."""
        form, selected = self._authorised(caller, account_id, product, at)
        return RightSizeForm(form, selected, form.listings[0])

    def recheck(
        self,
        caller: Caller,
        *,
        account_id: int,
        product: Product,
        at: datetime,
        users: Users = None,
    ) -> ProductReconciliation | UsersNeeded:
        """ "I removed some of them — check again": the product reconciled now, for an owner.
        ``users``: the listing, or the port asked for it once the caller is authorised
        (:func:`billing.seats.steps.with_users`)."""

        def needed() -> UsersNeeded:
            return self._authorised(caller, account_id, product, at)[0].listings[0]

        def run(listing: UserListing | None) -> ProductReconciliation | UsersNeeded:
            form, selected = self._authorised(caller, account_id, product, at)
            if listing is None:
                return form.listings[0]
            return reconcile_product(
                product,
                seats=selected.seats,
                unit_price=selected.unit_price,
                interval=selected.interval,
                listing=listing,
                at=at,
            )

        return with_users(run, users, needed)
