"""What the seat-change use cases answer: frozen values the Slack edge and the CLI render.

A use case that needs the platform's users answers :class:`UsersNeeded` first (only after it has
authorised the caller); the edge lists them and calls the use case again with the listing. Every
other answer is one of the outcome types below, each carrying what is needed to show it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from billing.money import Money
from billing.products import Product
from billing.proration import Proration
from billing.seats.decrease import SeatCheck
from billing.seats.forecast import Forecast
from billing.users import UserListing
from billing.views import (
    AccountView,
    LedgerLineView,
    SeatChangeView,
    SubscriptionView,
)


@dataclass(frozen=True, slots=True)
class UsersNeeded:
    """The use case needs the complete user listing of ``product`` for ``account_id``.

    Handed out only to a caller already authorised to see those users; call the use case again
    with ``users=`` the listing (complete or unknown)."""

    account_id: int
    product: Product


#: A port to the platforms: the listing a :class:`UsersNeeded` asks for (complete or unknown,
#: never raising). A use case given one calls it at most once, outside its transaction.
UsersSource = Callable[[UsersNeeded], UserListing]


@dataclass(frozen=True)
class Quote:
    """The operator's proration preview for changing ``subscription`` to
    ``proration.new_quantity`` seats; ``check`` is the decrease rule's answer on the platform's
    users (``None`` for an increase, or when no listing was asked for)."""

    subscription: SubscriptionView
    proration: Proration
    is_decrease: bool
    check: SeatCheck | None = None

    @property
    def net(self) -> Money:
        """What the change costs (positive) or credits (negative) this period."""
        return self.proration.net


# -- reading an account -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AccountSeats:
    """``/seats status``: the account and its subscriptions at the instant asked; ``listings``
    are the products whose users the caller may see (for the "users on the platform" column)."""

    account: AccountView
    subscriptions: tuple[SubscriptionView, ...]
    listings: tuple[UsersNeeded, ...]
    #: Whether the caller may change seats (an owner), so the reply says how.
    may_change: bool = False
    #: The names of the caller's other accounts (they name one with ``account NAME``).
    other_accounts: tuple[str, ...] = ()
    #: The next invoice: each product's renewal at today's seats.
    forecast: Forecast | None = None


@dataclass(frozen=True, slots=True)
class AccountHistory:
    """``/seats history``: the account's most recent seat changes that were confirmed (applied,
    or submitted for approval and decided or not), newest first; quotes never confirmed are
    left out."""

    account: AccountView
    requests: tuple[SeatChangeView, ...]


@dataclass(frozen=True, slots=True)
class ChangeForm:
    """The seat-change form: what may be changed, and whose users the caller may see."""

    account: AccountView
    subscriptions: tuple[SubscriptionView, ...]
    listings: tuple[UsersNeeded, ...]


@dataclass(frozen=True, slots=True)
class FormPreview:
    """The live preview under the form for one product and count.

    ``problem`` replaces the quote when there is nothing to price (no count yet, the same
    count); ``check`` is the decrease rule's answer for a decrease (``None`` for an increase).
    ``users_shown`` is whether ``listing_count``/users may be shown (always, for an owner)."""

    account: AccountView
    subscription: SubscriptionView
    new_seats: int | None
    proration: Proration | None
    check: SeatCheck | None
    problem: str | None = None


# -- a seat change ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class OnRequest:
    """What every seat-change outcome carries: the account and the request as they now stand."""

    account: AccountView
    request: SeatChangeView


@dataclass(frozen=True, slots=True)
class ReadyToConfirm(OnRequest):
    """The stored quote, ready for the requester's Confirm (its buttons carry the revision).

    ``note`` says why this prompt replaces an earlier one (a re-quote); ``check`` is the
    decrease rule's answer that allowed a decrease (``None`` for an increase)."""

    check: SeatCheck | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class DecreaseBlocked(OnRequest):
    """A decrease the users on the platform forbid: ``check.must_delete`` must go first."""

    check: SeatCheck


@dataclass(frozen=True, slots=True)
class DecreaseUnverified(OnRequest):
    """A decrease that cannot be checked: the platform could not be read (fails closed)."""

    reason: str


@dataclass(frozen=True, slots=True)
class ChangeApplied(OnRequest):
    """Applied now: the seats changed and exactly these ledger lines were written."""

    ledger_lines: tuple[LedgerLineView, ...]
    confirmed_by: str
    stamps: tuple[MessageRef, ...] = ()


@dataclass(frozen=True, slots=True)
class AlreadyApplied(OnRequest):
    """An earlier click applied it; nothing more was written."""


@dataclass(frozen=True, slots=True)
class ChangeClosed(OnRequest):
    """The request can no longer be acted on (cancelled, denied, expired…): ``message`` says
    what became of it."""

    message: str


@dataclass(frozen=True, slots=True)
class ChangeEnded(OnRequest):
    """A request pending approval (or a draft) closed just now without anything applied: it
    expired (its deadline passed, found by the scheduler or by a decision that came too late),
    or an approval found its target already reached (cancelled: nothing to change).
    ``message`` says what happened to whoever's step found it; ``stamps`` are the approval
    messages to mark; its requester is to be told. ``expired_at`` is the deadline a decision
    came too late for (shown in each reader's own time)."""

    message: str
    stamps: tuple[MessageRef, ...] = ()
    expired_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class MessageRef:
    """A Slack message Seatbot posted about a pending request (to update it later):
    ``recipient`` is whom it was sent to (an approver's DM), ``None`` for a shared post."""

    team_id: str
    channel_id: str
    ts: str
    recipient: str | None = None


@dataclass(frozen=True, slots=True)
class ChangeCancelled(OnRequest):
    """Withdrawn; the subscription keeps ``seats_now`` seats. ``stamps`` are the approval
    messages to mark as cancelled (empty for a draft)."""

    seats_now: int
    cancelled_by: str
    stamps: tuple[MessageRef, ...] = ()


@dataclass(frozen=True, slots=True)
class AwaitingApproval(OnRequest):
    """Confirmed, and routed to approval by the account's policy: ``approvers`` (Slack user
    ids, in the requester's workspace) decide; ``channel_id`` is the approvals channel, if
    any; ``check`` is what the users on the platform allowed at submission (a decrease)."""

    approvers: tuple[str, ...]
    channel_id: str | None
    check: SeatCheck | None = None
    #: When it expires undecided (aware UTC), ``None`` when the policy sets no deadline.
    expires_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ApprovalPrompt(OnRequest):
    """A pending request as an approver sees it, with Approve / Deny (carrying the revision).
    ``note`` says why it is shown again (the figures changed: approve again)."""

    check: SeatCheck | None = None
    note: str | None = None
    #: When it expires undecided (aware UTC), ``None`` when the policy sets no deadline.
    expires_at: datetime | None = None
    #: The approvals channel the card never landed in (the bot was not in it), for a reminder.
    unposted_channel: str | None = None


@dataclass(frozen=True, slots=True)
class ChangeDenied(OnRequest):
    """Denied by ``denied_by`` for ``request.decision_reason``; ``stamps`` are the approval
    messages to mark."""

    denied_by: str
    stamps: tuple[MessageRef, ...] = ()


@dataclass(frozen=True, slots=True)
class HomeAccount:
    """One account on a member's App Home: its subscriptions at a glance (``listings`` for the
    users column), the member's open requests, those awaiting their approval, and recent
    decisions."""

    account: AccountView
    subscriptions: tuple[SubscriptionView, ...]
    listings: tuple[UsersNeeded, ...]
    my_open: tuple[SeatChangeView, ...]
    awaiting_me: tuple[SeatChangeView, ...]
    recent: tuple[SeatChangeView, ...]
    #: Whether the member may change seats (an owner): the tab offers "Change seats".
    may_change: bool = False
    #: The next invoice: each product's renewal at today's seats.
    forecast: Forecast | None = None


@dataclass(frozen=True, slots=True)
class Home:
    """A member's App Home: a page of the accounts they hold a role in, by name, the first of
    them the ``start``-th of their ``total``."""

    accounts: tuple[HomeAccount, ...]
    start: int = 0
    total: int = 0


ChangeOutcome = (
    ReadyToConfirm
    | DecreaseBlocked
    | DecreaseUnverified
    | ChangeApplied
    | AlreadyApplied
    | ChangeClosed
    | ChangeEnded
    | ChangeCancelled
    | AwaitingApproval
    | ApprovalPrompt
    | ChangeDenied
)

#: The outcomes that close a request for good, after which its approval messages are stamped.
Concluded = ChangeApplied | ChangeDenied | ChangeCancelled | ChangeEnded
