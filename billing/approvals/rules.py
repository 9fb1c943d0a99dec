"""Approval by managers, as pure rules: which changes need it, who may decide, when to remind,
escalate and expire, and what a decision does to a request time or another change overtook. No
database, no clock: the use cases in :mod:`billing.approvals.service` load the values and persist
the answers.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

#: A Slack user who may decide: (team id, user id).
Person = tuple[str, str]


@dataclass(frozen=True, slots=True)
class ApprovalPolicy:
    """An account's approval policy (the ``approval:`` key of the accounts file).

    ``approvers`` are the people who decide (empty: the account's managers, resolved when a
    request is submitted); ``channel_id`` is where requests are posted too. A change needs
    approval when any of ``require_decrease`` (every decrease), ``increase_over_seats`` (an
    increase of more seats than this at once) or ``net_charge_over_minor`` (a net charge above
    this, in minor units of the account's currency) matches. Durations are from submission.
    """

    approvers: tuple[Person, ...] = ()
    channel_id: str | None = None
    require_decrease: bool = False
    increase_over_seats: int | None = None
    net_charge_over_minor: int | None = None
    remind_after: timedelta | None = None
    escalate_after: timedelta | None = None
    escalate_to: tuple[Person, ...] = ()
    expire_after: timedelta | None = None


def needs_approval(policy: ApprovalPolicy | None, old: int, new: int, net_minor: int) -> bool:
    """Whether a confirmed change from ``old`` to ``new`` seats costing ``net_minor`` (minor
    units; negative for a credit) must wait for an approver."""
    if policy is None:
        return False
    if new < old and policy.require_decrease:
        return True
    if (
        new > old
        and policy.increase_over_seats is not None
        and new - old > policy.increase_over_seats
    ):
        return True
    return policy.net_charge_over_minor is not None and net_minor > policy.net_charge_over_minor


@dataclass(frozen=True, slots=True)
class Deciders:
    """Who may decide one pending request: the approvers it was submitted to, and (once it was
    escalated) the escalation list."""

    approvers: tuple[Person, ...]
    escalate_to: tuple[Person, ...] = ()
    escalated: bool = False

    @property
    def everyone(self) -> tuple[Person, ...]:
        people = list(self.approvers)
        if self.escalated:
            people += [p for p in self.escalate_to if p not in people]
        return tuple(people)


@dataclass(frozen=True, slots=True)
class ClickedMessage:
    """The message a decision button was clicked on, as Slack describes it: its conversation
    (``channel_id``), its ``ts``, and whether it is ephemeral (shown to the clicker alone)."""

    channel_id: str
    ts: str
    ephemeral: bool = False


class AnswerPlace(enum.StrEnum):
    """Where the answer to a click on an approval message goes."""

    IN_PLACE = "in_place"  # it replaces the clicked message, which only the clicker sees
    CLICKER_ONLY = "clicker_only"  # a message the clicker alone sees; the clicked one stays


def answer_place(
    clicked: ClickedMessage | None, recipient: Person | None, clicker: Person
) -> AnswerPlace:
    """Where the answer to ``clicker``'s click on ``clicked`` goes; ``recipient`` is whom
    Seatbot sent that message to (an approver's DM), ``None`` for a shared post (the approvals
    channel's) or a message it did not send.

    An answer is meant for the clicker: it may refuse them, name the platform users that block
    a decrease, or show figures for them to approve again. So it replaces the clicked message
    only when nobody else sees that message (an ephemeral one, or a DM to the clicker); a
    shared post is changed only by the decision's stamp, which everyone there may see.
    """
    if clicked is None:
        return AnswerPlace.CLICKER_ONLY
    if clicked.ephemeral or recipient == clicker:
        return AnswerPlace.IN_PLACE
    return AnswerPlace.CLICKER_ONLY


def default_approvers(managers: Sequence[Person], requester: Person) -> tuple[Person, ...]:
    """The account's managers (not the requester, who cannot approve their own request)."""
    return tuple(person for person in managers if person != requester)


class DueStep(enum.StrEnum):
    """What the passing of time does to a pending request."""

    REMIND = "remind"
    ESCALATE = "escalate"
    EXPIRE = "expire"


@dataclass(frozen=True, slots=True)
class Timeline:
    """When a pending request is reminded, escalated and expired (aware UTC), or ``None``."""

    remind_at: datetime | None
    escalate_at: datetime | None
    expire_at: datetime | None


def timeline(policy: ApprovalPolicy, submitted_at: datetime) -> Timeline:
    """The instants the policy's durations give a request submitted at ``submitted_at``."""

    def after(duration: timedelta | None) -> datetime | None:
        return None if duration is None else submitted_at + duration

    escalate = after(policy.escalate_after) if policy.escalate_to else None
    return Timeline(after(policy.remind_after), escalate, after(policy.expire_after))


def due_steps(
    line: Timeline, now: datetime, *, done: frozenset[DueStep] = frozenset()
) -> list[DueStep]:
    """The steps due at ``now`` that were not ``done`` yet, expiry last (it ends the request)."""
    due: list[DueStep] = []
    for step, at in (
        (DueStep.REMIND, line.remind_at),
        (DueStep.ESCALATE, line.escalate_at),
        (DueStep.EXPIRE, line.expire_at),
    ):
        if at is not None and at <= now and step not in done:
            due.append(step)
    return due


class DecisionStep(enum.StrEnum):
    """What an approver's Approve or Deny does to a request pending approval."""

    EXPIRE = "expire"  # its deadline passed: it expired, as the scheduler makes it; nothing applies
    NOTHING_TO_CHANGE = "nothing_to_change"  # the subscription already has the seats it asks for
    DECIDE = "decide"  # the decision stands: deny it, or approve (re-priced, re-checked)


def deny_step(line: Timeline | None, now: datetime) -> DecisionStep:
    """What a denial at ``now`` does to a request whose timeline is ``line`` (``None``: no
    policy, so no deadline). Once its expiry is due (:func:`due_steps`), the request expired,
    whether or not the scheduler has got to it: the decision came too late."""
    if line is not None and DueStep.EXPIRE in due_steps(line, now):
        return DecisionStep.EXPIRE
    return DecisionStep.DECIDE


def approve_step(
    line: Timeline | None, now: datetime, *, new_seats: int, seats_now: int
) -> DecisionStep:
    """What an approval at ``now`` does to a request for ``new_seats`` when the subscription has
    ``seats_now``: too late past its deadline (:func:`deny_step`); nothing to change when
    another change already reached its target (the owner confirmed the same change twice);
    otherwise the approval stands."""
    late = deny_step(line, now)
    if late is not DecisionStep.DECIDE:
        return late
    if new_seats == seats_now:
        return DecisionStep.NOTHING_TO_CHANGE
    return DecisionStep.DECIDE


@dataclass(frozen=True, slots=True)
class Decision:
    """Who decided a request, and when (aware UTC)."""

    team_id: str
    user_id: str
    at: datetime
    reason: str = ""
    extra: dict[str, str] = field(default_factory=dict)
