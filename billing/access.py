"""Who may do what to an account: pure rules over roles, by Slack ids (never display names).

Every use case asks :func:`authorise` before it loads anything it would show or change, so an
answer never depends on what a button, a modal or a command claimed.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from billing.errors import NO_ROLE, NotAuthorised, NotFound, UserFacingError
from billing.views import AccountView


class Role(enum.StrEnum):
    """A Slack user's role in one account."""

    OWNER = "owner"  # requests seat changes
    MANAGER = "manager"  # approves or denies them (when the policy routes them)
    VIEWER = "viewer"  # sees reports


@dataclass(frozen=True)
class MemberView:
    """A Slack user's role in an account."""

    account_id: int
    team_id: str
    user_id: str
    role: Role


class Action(enum.StrEnum):
    """What a caller asks to do."""

    VIEW = "view"  # /seats status, /seats history
    REQUEST_CHANGE = "request_change"  # /seats add|remove|set, the modal and its preview
    CONFIRM = "confirm"  # the requester confirms their own quote
    CHECK_AGAIN = "check_again"  # re-read the platform for a blocked decrease
    CANCEL = "cancel"  # withdraw an open request
    DECIDE = "decide"  # approve or deny a pending request: one of its deciders, never its requester


#: The roles that may see an account's seats, prices and history.
READERS = frozenset({Role.OWNER, Role.MANAGER, Role.VIEWER})


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking: a Slack user in a Slack workspace."""

    team_id: str
    user_id: str

    @property
    def actor(self) -> str:
        """The audit actor for this caller: ``slack:T…:U…``."""
        return f"slack:{self.team_id}:{self.user_id}"


def may(
    action: Action, role: Role | None, *, is_requester: bool = False, is_decider: bool = False
) -> bool:
    """Whether a caller with ``role`` in the account may do ``action``.

    ``is_requester`` says the caller asked for the seat change the action is about;
    ``is_decider`` that they are one of those who may decide it (its approvers, and the
    escalation list once it was escalated). Nobody decides their own request.
    """
    if action is Action.VIEW:
        return role in READERS
    if action is Action.CONFIRM:
        return is_requester and role is Role.OWNER
    if action is Action.CANCEL:
        return is_requester or role is Role.OWNER
    if action is Action.DECIDE:
        return is_decider and not is_requester
    # Requesting a change and re-checking the platform (which lists users' names and emails).
    return role is Role.OWNER


def may_know(
    account_team_id: str, caller: Caller, role: Role | None, *, listed: bool = False
) -> bool:
    """Whether the caller may know the account exists: it belongs to their workspace, they hold
    a role in it, or (``listed``) a request of it names them as an approver."""
    return account_team_id == caller.team_id or role is not None or listed


def authorise(
    action: Action,
    role: Role | None,
    *,
    account_name: str,
    contacts: tuple[str, ...],
    is_requester: bool = False,
    is_decider: bool = False,
) -> None:
    """Raise :class:`NotAuthorised` unless ``role`` may do ``action``.

    The message says only who may, and ``contacts`` (the account's owners in the caller's
    workspace; a request's deciders there, for :attr:`Action.DECIDE`) whom to ask; it shows
    none of the account's data. A caller without a role learns not even that much
    (:func:`refusal_for`).
    """
    if may(action, role, is_requester=is_requester, is_decider=is_decider):
        return
    refusal = NotAuthorised(_refusal(action, account_name, is_requester), contacts=contacts)
    raise refusal_for(role, refusal)


def refusal_for(role: Role | None, refusal: NotAuthorised) -> NotAuthorised:
    """``refusal`` as a caller with ``role`` in the account may read it: one without a role
    is told nothing about the account, neither its name nor whom to ask (its owners or
    approvers), only :data:`billing.errors.NO_ROLE`."""
    return refusal if role is not None else NotAuthorised(NO_ROLE)


def _refusal(action: Action, account_name: str, is_requester: bool) -> str:
    if action is Action.DECIDE:
        if is_requester:
            return "You asked for this seat change, so someone else must approve it."
        return "Only the approvers of this seat change can decide it."
    if action is Action.VIEW:
        return f"Only members of {account_name} can see its seats; ask an owner to add you."
    if action is Action.CONFIRM:
        return "Only the owner who asked for this seat change can confirm it."
    if action is Action.CANCEL:
        return "Only the owner who asked, or another owner, can cancel this seat change."
    return f"Only the owners of {account_name} can change seats."


#: The most accounts an ambiguous command names (an owner of hundreds is told the first ones).
AMBIGUOUS_NAMES = 20


class AmbiguousAccount(UserFacingError):
    """The caller holds a role in several accounts and nothing says which one is meant;
    ``names`` lists those (slugs), the first :data:`AMBIGUOUS_NAMES` of them (``more``: there
    are others)."""

    def __init__(self, names: Sequence[str], *, more: bool = False) -> None:
        self.names = tuple(names)
        listed = ", ".join(self.names) + (" and more" if more else "")
        super().__init__(f"You hold a role in several Seatbot accounts ({listed}): say which one.")


def choose_account(
    accounts: Sequence[AccountView],
    *,
    name: str | None,
    channel_id: str | None,
    member_of: Collection[int],
) -> AccountView:
    """The account a request from a workspace acts on.

    ``accounts`` are those the caller's workspace may see; ``member_of`` the ids of those the
    caller has a role in. Only those are chosen from, so the answer never names an account
    the caller holds no role in, nor tells whether one by the name they typed exists: by
    ``name`` (case-insensitive) if given; else the only one; else the one posted to
    ``channel_id``. A caller with no role in any of them is told :data:`NO_ROLE`.

    ``accounts`` need not be all of them (:func:`billing.scope.resolve_account` reads only
    those that can change the answer): the first :data:`AMBIGUOUS_NAMES` + 1 of the caller's
    by name, those by ``name`` and two in ``channel_id``; else one of the workspace's.
    """
    if not accounts:
        raise NotFound("No Seatbot account is connected to this Slack workspace yet.")
    mine = [account for account in accounts if account.id in member_of]
    if not mine:
        raise NotAuthorised(NO_ROLE)
    if name is not None:
        wanted = name.strip().lower()
        for account in mine:
            if account.name.lower() == wanted:
                return account
        raise NotFound(f"You hold no role in a Seatbot account called “{name.strip()[:64]}”.")
    if len(mine) == 1:
        return mine[0]
    in_channel = [a for a in mine if a.channel_id is not None and a.channel_id == channel_id]
    if len(in_channel) == 1:
        return in_channel[0]
    names = sorted(account.name for account in mine)
    raise AmbiguousAccount(names[:AMBIGUOUS_NAMES], more=len(names) > AMBIGUOUS_NAMES)
