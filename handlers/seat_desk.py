"""The Slack edge's one service: gather platform facts, call billing, render a view.

Every public coroutine takes who is asking (:class:`Caller`) and returns something a listener
only has to send: a :class:`~handlers.views.Message` or a modal ``View``. Owner-facing errors
become messages here; anything unexpected is logged with a reference id and shown as a generic
message with that id. The synchronous billing service runs in a worker thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import re
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from functools import partial
from typing import ParamSpec, TypeVar
from zoneinfo import ZoneInfo

from slack_sdk.models.views import View

from billing.decrease import DecreaseVerdict as Verdict
from billing.decrease import SeatCheck as GuardResult
from billing.decrease import check_seat_change
from billing.errors import NotFound, UserFacingError
from billing.models import Role
from billing.products import MAX_SEATS
from billing.requests import RequestStatus
from billing.views import AccountView, ConfirmKind, SeatChangeView, SubscriptionView
from handlers import ids, views
from handlers.commands import ChangeSeats
from handlers.deps import HandlerDeps
from handlers.recent_users import RecentUsers
from handlers.views import (
    BlockedDecrease,
    ChangeSummary,
    HistoryEntry,
    Locale,
    Message,
    ModalModel,
    Preview,
    ProductChoice,
    StatusRow,
    UsersFact,
)
from platforms.errors import PlatformError
from platforms.guard import read_listing
from platforms.types import Platform, PlatformUser, Product

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

HISTORY_LIMIT = 15
_WHOLE_NUMBER = re.compile(r"[0-9]{1,6}")
_REQUEST_ID = re.compile(r"[1-9][0-9]{0,17}")


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking, by Slack ids; ``channel_id`` is where they asked (if known)."""

    team_id: str
    user_id: str
    channel_id: str | None = None


@dataclass(frozen=True, slots=True)
class ModalContext:
    """What the modal carries in ``private_metadata``: the account, the channel the prompt goes
    to, and each offered subscription's product and seats (to validate without I/O)."""

    account_id: int
    channel_id: str | None
    seats_by_subscription: dict[str, tuple[Product, int]]

    def dumps(self) -> str:
        subs = {
            key: [product.value, seats]
            for key, (product, seats) in self.seats_by_subscription.items()
        }
        return json.dumps({"a": self.account_id, "c": self.channel_id, "s": subs})

    @classmethod
    def loads(cls, text: str) -> ModalContext:
        data = json.loads(text)
        subs = {key: (Product(value[0]), int(value[1])) for key, value in data["s"].items()}
        return cls(int(data["a"]), data["c"], subs)


@dataclass(frozen=True, slots=True)
class ModalOpening:
    """The modal as it can be shown at once, and what is needed to fill in platform data."""

    view: View
    model: ModalModel
    account_id: int
    locale: Locale


@dataclass(frozen=True, slots=True)
class Submission:
    """A valid modal submission."""

    context: ModalContext
    subscription_id: int
    new_seats: int
    reason: str


class _ListedOnce:
    """A platform whose user list is read at most once (one preview reads it for the
    "current users" line and for the decrease guard)."""

    def __init__(self, platform: Platform) -> None:
        self._platform = platform
        self._users: list[PlatformUser] | None = None

    @property
    def product(self) -> Product:
        return self._platform.product

    @property
    def label(self) -> str:
        return self._platform.label

    async def list_users(self) -> list[PlatformUser]:
        if self._users is None:
            self._users = await self._platform.list_users()
        return list(self._users)

    async def aclose(self) -> None:
        await self._platform.aclose()


def new_reference() -> str:
    """A short id tying a generic error message to its log line."""
    return secrets.token_hex(4)


async def user_facing(work: Awaitable[T]) -> T | Message:
    """Await ``work``; owner-facing errors become a message, anything else is logged with a
    reference id and becomes a generic message showing that id (never ``str(exception)``)."""
    try:
        return await work
    except UserFacingError as exc:
        return views.error_message(exc.message)
    except Exception:
        reference = new_reference()
        logger.exception("Unexpected error handling a Slack request (reference %s)", reference)
        return views.unexpected_error_message(reference)


class SeatDesk:
    """Seat changes as the Slack edge offers them."""

    def __init__(self, deps: HandlerDeps) -> None:
        self._deps = deps
        self._service = deps.seat_service
        self._recent_users = RecentUsers(deps.status_users_ttl_s)

    # ------------------------------------------------------------------ helpers

    async def _run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await asyncio.to_thread(partial(fn, *args, **kwargs))

    def _locale(self, account: AccountView) -> Locale:
        return Locale(self._deps.locale, ZoneInfo(account.timezone))

    async def _account(self, caller: Caller, name: str | None) -> AccountView:
        """The account this request acts on: only the caller's workspace's accounts; by name,
        else the only one, else the channel's."""
        accounts = await self._run(self._service.accounts_for_team, caller.team_id)
        if name is not None:
            named = [a for a in accounts if a.name.lower() == name.lower()]
            if not named:
                raise NotFound(f"This workspace has no account called “{name}”.")
            return named[0]
        if len(accounts) == 1:
            return accounts[0]
        in_channel = [a for a in accounts if a.channel_id and a.channel_id == caller.channel_id]
        if len(in_channel) == 1:
            return in_channel[0]
        if not accounts:
            raise NotFound("No Seatbot account is connected to this Slack workspace yet.")
        names = ", ".join(sorted(a.name for a in accounts))
        raise UserFacingError(
            f"This workspace has several accounts ({names}): add `account NAME`, "
            "e.g. `/seats status account " + sorted(a.name for a in accounts)[0] + "`."
        )

    async def _owner_refusal(self, caller: Caller, account: AccountView) -> Message | None:
        role = await self._run(self._service.role_of, account.id, caller.team_id, caller.user_id)
        if role is Role.OWNER:
            return None
        owners = await self._run(self._service.members_with_role, account.id, Role.OWNER)
        same_workspace = [m.user_id for m in owners if m.team_id == caller.team_id]
        return views.not_owner_message(account.display_name, same_workspace)

    @contextlib.asynccontextmanager
    async def _platform(self, account_id: int, product: Product) -> AsyncIterator[Platform | None]:
        """The account's platform for ``product`` for one step, closed afterwards (the
        directory builds a client per call on a shared transport)."""
        platform = await self._run(self._deps.platform_for, account_id, product)
        try:
            yield platform
        finally:
            if platform is not None:
                await platform.aclose()

    async def _users(self, platform: Platform | None, product: Product) -> UsersFact:
        if platform is None:
            return UsersFact(problem=f"No {product.label} connection is set up.")
        try:
            async with asyncio.timeout(self._deps.platform_deadline_s):
                return UsersFact(users=await platform.list_users())
        except TimeoutError:
            return UsersFact(problem=f"{platform.label} did not answer in time.")
        except PlatformError as exc:
            return UsersFact(problem=exc.message)

    async def _guard(self, platform: Platform | None, old: int, new: int) -> GuardResult:
        product = platform.product if platform is not None else None
        if new >= old or product is None:
            listing = (
                None
                if product is None
                else await read_listing(platform, product, self._deps.platform_deadline_s)
            )
            return check_seat_change(old, new, listing)
        listing = await read_listing(platform, product, self._deps.platform_deadline_s)
        return check_seat_change(old, new, listing)

    def _summary(self, request: SeatChangeView, account: AccountView) -> ChangeSummary:
        return ChangeSummary(
            request_id=str(request.id),
            account_name=account.display_name,
            product=Product(request.product),
            old_seats=request.old_seats,
            new_seats=request.new_seats,
            lines=request.lines,
            net=request.net,
            fraction=Fraction(request.fraction),
            period=request.period,
            effective_at=request.effective_at,
            reason=request.reason or None,
        )

    async def _prompt(self, request: SeatChangeView, account: AccountView) -> Message:
        """The confirmation prompt, or why it can't be offered (blocked / unknown decrease)."""
        product = Product(request.product)
        note = None
        if request.new_seats < request.old_seats:
            async with self._platform(account.id, product) as platform:
                guard = await self._guard(platform, request.old_seats, request.new_seats)
            refusal = self._refusal(request, product, guard)
            if refusal is not None:
                return refusal
            note = f"{guard.user_count} users exist on {product.label}: they all keep a seat."
        return views.confirmation_prompt(
            self._summary(request, account), self._locale(account), note=note
        )

    def _refusal(
        self, request: SeatChangeView, product: Product, guard: GuardResult
    ) -> Message | None:
        if guard.verdict is Verdict.BLOCKED:
            return views.blocked_decrease_message(
                BlockedDecrease(
                    request_id=str(request.id),
                    product=product,
                    current_seats=request.old_seats,
                    new_seats=request.new_seats,
                    user_count=guard.user_count or 0,
                    must_delete=guard.must_delete,
                    blocking_users=guard.blocking_users,
                )
            )
        if guard.verdict is Verdict.UNKNOWN:
            return views.platform_unknown_message(
                str(request.id), product, guard.reason or "The platform gave no answer."
            )
        return None

    async def _own_request(
        self, caller: Caller, request_id: str
    ) -> tuple[SeatChangeView, AccountView]:
        """The request named by a button, if it belongs to an account of the caller's workspace
        (button values are never trusted)."""
        if _REQUEST_ID.fullmatch(request_id) is None:
            raise NotFound("This seat change no longer exists.")
        request = await self._run(self._service.get_request, int(request_id))
        accounts = await self._run(self._service.accounts_for_team, caller.team_id)
        for account in accounts:
            if account.id == request.account_id:
                return request, account
        raise NotFound("This seat change no longer exists.")

    # ------------------------------------------------------------------ commands

    async def status(self, caller: Caller, account_name: str | None) -> Message:
        account = await self._account(caller, account_name)
        subscriptions = await self._run(self._service.subscriptions, account.id, self._deps.clock())
        facts = await asyncio.gather(
            *(self._subscription_users(account.id, sub) for sub in subscriptions)
        )
        rows = [
            StatusRow(
                product=Product(sub.product),
                seats=sub.seats,
                unit_price=sub.unit_price,
                interval=str(sub.interval),
                period=sub.period,
                users=len(fact.users) if fact.users is not None else None,
                users_problem=fact.problem,
            )
            for sub, fact in zip(subscriptions, facts, strict=True)
        ]
        return views.status_message(account.display_name, rows, self._locale(account))

    async def _subscription_users(self, account_id: int, sub: SubscriptionView) -> UsersFact:
        product = Product(sub.product)

        async def list_users() -> UsersFact:
            async with self._platform(account_id, product) as platform:
                return await self._users(platform, product)

        # Display only: a decrease never uses this, it lists the users afresh.
        return await self._recent_users.get((account_id, product), list_users)

    async def history(self, caller: Caller, account_name: str | None) -> Message:
        account = await self._account(caller, account_name)
        requests = await self._run(self._service.history, account.id, HISTORY_LIMIT)
        entries = [
            HistoryEntry(
                when=request.created_at,
                product=Product(request.product),
                old_seats=request.old_seats,
                new_seats=request.new_seats,
                status=str(request.status).replace("_", " "),
                requested_by=request.requested_by_user,
                net=request.net,
            )
            for request in requests
        ]
        return views.history_message(account.display_name, entries, self._locale(account))

    async def request_change(self, caller: Caller, command: ChangeSeats) -> Message:
        """``/seats add|remove|set``: create the request and show its prompt."""
        account = await self._account(caller, command.account)
        refusal = await self._owner_refusal(caller, account)
        if refusal is not None:
            return refusal
        subscriptions = await self._run(self._service.subscriptions, account.id, self._deps.clock())
        matching = [sub for sub in subscriptions if Product(sub.product) is command.product]
        if not matching:
            raise NotFound(f"{account.display_name} has no {command.product.label} subscription.")
        sub = matching[0]
        new_seats = command.target_seats(sub.seats)
        if new_seats < 0:
            raise UserFacingError(
                f"{command.product.label} has {sub.seats} seats, so at most {sub.seats} can be "
                f"removed. Did you mean `/seats set 0 {command.product.value.replace('_', '-')}`?"
            )
        return await self._create(caller, account, sub.id, new_seats, "")

    async def _create(
        self,
        caller: Caller,
        account: AccountView,
        subscription_id: int,
        new_seats: int,
        reason: str,
    ) -> Message:
        request = await self._run(
            self._service.create_request,
            subscription_id,
            new_seats,
            team_id=caller.team_id,
            user_id=caller.user_id,
            reason=reason,
            at=self._deps.clock(),
        )
        return await self._prompt(request, account)

    # ------------------------------------------------------------------ buttons

    async def confirm(self, caller: Caller, request_id: str) -> Message:
        """Apply the request exactly once, re-checking the platform for a decrease."""
        request, account = await self._own_request(caller, request_id)
        summary = self._summary(request, account)
        if request.status is RequestStatus.APPLIED:
            return views.already_applied_message(summary)
        product = Product(request.product)
        if request.new_seats < request.old_seats and request.status is RequestStatus.DRAFT:
            async with self._platform(account.id, product) as platform:
                guard = await self._guard(platform, request.old_seats, request.new_seats)
            refusal = self._refusal(request, product, guard)
            if refusal is not None:
                return refusal
        outcome = await self._run(
            self._service.confirm,
            request.id,
            team_id=caller.team_id,
            user_id=caller.user_id,
            at=self._deps.clock(),
            platform_check_passed=True,
        )
        fresh = self._summary(outcome.request, account)
        where = self._locale(account)
        if outcome.kind is ConfirmKind.APPLIED:
            return views.applied_message(fresh, where, caller.user_id)
        if outcome.kind is ConfirmKind.ALREADY_APPLIED:
            return views.already_applied_message(fresh)
        if outcome.kind in (ConfirmKind.STALE, ConfirmKind.CONFLICT):
            note = outcome.message or "The price changed since this was quoted: confirm again."
            return views.confirmation_prompt(fresh, where, note=note)
        return views.closed_message(outcome.message or "This seat change can't be applied.")

    async def cancel(self, caller: Caller, request_id: str) -> Message:
        request, account = await self._own_request(caller, request_id)
        cancelled = await self._run(
            self._service.cancel,
            request.id,
            team_id=caller.team_id,
            user_id=caller.user_id,
            at=self._deps.clock(),
        )
        return views.cancelled_message(self._summary(cancelled, account), caller.user_id)

    async def check_again(self, caller: Caller, request_id: str) -> Message:
        """Re-read the platform for a blocked or unchecked decrease."""
        request, account = await self._own_request(caller, request_id)
        if request.status is not RequestStatus.DRAFT:
            return views.closed_message(
                f"This seat change is {str(request.status).replace('_', ' ')}."
            )
        quote = await self._run(
            self._service.quote, request.subscription_id, request.new_seats, self._deps.clock()
        )
        if quote.subscription.seats != request.old_seats:
            # The seats changed meanwhile: start again from the current count.
            return await self._create(
                caller, account, request.subscription_id, request.new_seats, request.reason
            )
        return await self._prompt(request, account)

    # ------------------------------------------------------------------ the modal

    async def open_modal(self, caller: Caller, account_name: str | None) -> ModalOpening | Message:
        """The modal with what the database knows (products, seats); users come later."""
        account = await self._account(caller, account_name)
        refusal = await self._owner_refusal(caller, account)
        if refusal is not None:
            return refusal
        subs = await self._run(self._service.subscriptions, account.id, self._deps.clock())
        if not subs:
            raise NotFound(f"{account.display_name} has no subscriptions yet.")
        choices = [ProductChoice(str(s.id), Product(s.product), s.seats) for s in subs]
        context = ModalContext(
            account.id,
            caller.channel_id,
            {c.subscription_id: (c.product, c.seats) for c in choices},
        )
        model = ModalModel(
            account_name=account.display_name,
            choices=choices,
            selected=choices[0],
            users=UsersFact(loading=True),
            private_metadata=context.dumps(),
        )
        where = self._locale(account)
        return ModalOpening(views.seat_change_modal(model, where), model, account.id, where)

    async def modal_with_users(self, opening: ModalOpening) -> View:
        """The opened modal again, with the selected product's users filled in."""
        model = opening.model
        async with self._platform(opening.account_id, model.selected.product) as platform:
            users = await self._users(platform, model.selected.product)
        return views.seat_change_modal(dataclasses.replace(model, users=users), opening.locale)

    async def modal_preview(
        self, caller: Caller, metadata: str, subscription_id: str | None, count: str | None
    ) -> View:
        """The modal redrawn for the chosen product and count, with the live preview."""
        context = ModalContext.loads(metadata)
        accounts = await self._run(self._service.accounts_for_team, caller.team_id)
        account = next(a for a in accounts if a.id == context.account_id)
        choices = [
            ProductChoice(key, product, seats)
            for key, (product, seats) in context.seats_by_subscription.items()
        ]
        selected = next((c for c in choices if c.subscription_id == subscription_id), choices[0])
        async with self._platform(account.id, selected.product) as platform:
            listed = _ListedOnce(platform) if platform is not None else None
            users = await self._users(listed, selected.product)
            preview = await self._preview(selected, listed, parse_count(count))
        model = ModalModel(
            account_name=account.display_name,
            choices=choices,
            selected=selected,
            users=users,
            private_metadata=metadata,
            preview=preview,
        )
        return views.seat_change_modal(model, self._locale(account))

    async def _preview(
        self, selected: ProductChoice, platform: Platform | None, new_seats: int | None
    ) -> Preview:
        if new_seats is None:
            return Preview(message="Enter the new number of seats (a whole number).")
        if new_seats == selected.seats:
            return Preview(message=f"{selected.product.label} already has {new_seats} seats.")
        quote = await self._run(
            self._service.quote, int(selected.subscription_id), new_seats, self._deps.clock()
        )
        if not quote.is_decrease:
            return Preview(proration=quote.proration)
        guard = await self._guard(platform, selected.seats, new_seats)
        blocked = None
        if guard.verdict is Verdict.BLOCKED:
            blocked = BlockedDecrease(
                "",
                selected.product,
                selected.seats,
                new_seats,
                guard.user_count or 0,
                guard.must_delete,
                guard.blocking_users,
            )
        problem = guard.reason or "no answer" if guard.verdict is Verdict.UNKNOWN else None
        return Preview(proration=quote.proration, blocked=blocked, platform_problem=problem)

    async def submit(self, caller: Caller, submission: Submission) -> Message:
        """A valid modal submission: create the request and return its prompt."""
        accounts = await self._run(self._service.accounts_for_team, caller.team_id)
        account = next((a for a in accounts if a.id == submission.context.account_id), None)
        if account is None:
            raise NotFound("This account is no longer connected to this workspace.")
        refusal = await self._owner_refusal(caller, account)
        if refusal is not None:
            return refusal
        return await self._create(
            caller, account, submission.subscription_id, submission.new_seats, submission.reason
        )


def parse_count(text: str | None) -> int | None:
    """A seat count typed in the modal, or ``None`` when it is not a whole number in range."""
    if text is None or _WHOLE_NUMBER.fullmatch(text.strip()) is None:
        return None
    value = int(text.strip())
    return value if value <= MAX_SEATS else None


def read_submission(
    metadata: str, values: dict[str, dict[str, dict[str, object]]]
) -> Submission | dict[str, str]:
    """Validate the modal's inputs without I/O: a :class:`Submission`, or field errors
    (``{block_id: message}``) for ``response_action="errors"``."""
    try:
        context = ModalContext.loads(metadata)
    except (ValueError, KeyError, TypeError, IndexError):
        return {ids.PRODUCT_BLOCK: "This form has expired: close it and type /seats again."}
    product_state = values.get(ids.PRODUCT_BLOCK, {}).get(ids.PRODUCT_ACTION, {})
    option = product_state.get("selected_option")
    subscription_id = option.get("value") if isinstance(option, dict) else None
    if not isinstance(subscription_id, str) or subscription_id not in context.seats_by_subscription:
        return {ids.PRODUCT_BLOCK: "Choose one of your products."}
    product, seats = context.seats_by_subscription[subscription_id]
    raw = values.get(ids.COUNT_BLOCK, {}).get(ids.COUNT_ACTION, {}).get("value")
    count = parse_count(raw if isinstance(raw, str) else None)
    if count is None:
        return {ids.COUNT_BLOCK: f"Enter a whole number of seats from 0 to {MAX_SEATS:,}."}
    if count == seats:
        return {
            ids.COUNT_BLOCK: f"{product.label} already has {seats} seats: enter a different number."
        }
    reason = values.get(ids.REASON_BLOCK, {}).get(ids.REASON_ACTION, {}).get("value")
    return Submission(
        context, int(subscription_id), count, reason.strip() if isinstance(reason, str) else ""
    )


__all__: Sequence[str] = (
    "Caller",
    "ModalContext",
    "ModalOpening",
    "SeatDesk",
    "Submission",
    "parse_count",
    "read_submission",
    "user_facing",
)
