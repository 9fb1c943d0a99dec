"""What the fuzzer holds the app to: who may see which account's data, and how the database may
change. Written from the rules in :mod:`billing.access` and :mod:`billing.approvals.rules`,
independently of the code they check.

Who may see what, per account:

- an **owner** requests, confirms, checks again and cancels: the account's prices and the
  names and emails of its platform users (the form and a blocked decrease list them);
- a **manager** or **viewer** may view (``/seats status``, ``/seats history``, the App Home):
  prices there, never the platform users' names or emails;
- an **approver** (the managers, when the account's policy routes a change to approval) is
  shown what they decide: its prices in the approval request, in the answers to Approve and
  Deny and in the notices; and, when approving re-checks a decrease the platform's users block,
  those users (the same list the owner gets);
- the account's **approval channel** sees the approval requests posted there (prices, no
  platform user);
- anyone else sees no price and no platform user of it; and a person without a role in it (in
  its workspace or another) does not even learn its name, nor who owns or approves it (a mention
  of one of them), unless they typed it; only a channel of its own workspace it posts to (the
  approval channel) reads its name.

Every message's fallback ``text`` (what notifications show) is escaped exactly once
(:func:`fallback_findings`): no entity escaped again, no mention Seatbot writes shown as markup,
no broadcast or other markup from anything anyone typed.

And a decision counts only before the account's approval deadline (``expire_after`` after the
request was submitted): past it the request expired, whatever anyone clicks.

Anything a person typed may come back to them (an echo is not a leak), so a finding is only
text that their own request did not contain.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fuzz_traffic import Actor
from sqlalchemy import MetaData, delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from billing.access import Role
from billing.books.service import check_invariants
from billing.events.store import OutboxEvent
from billing.models import ApprovalMessage, AuditEvent, LedgerEntry, SeatChangeRequest, Subscription

#: Roles that may view an account (``billing.access.READERS``, restated here on purpose).
VIEWING_ROLES = frozenset({Role.OWNER.value, Role.MANAGER.value, Role.VIEWER.value})


@dataclass(frozen=True)
class AccountFacts:
    """What identifies one account's data in a message, and who holds which role in it."""

    name: str  # slug: "acme"
    display_name: str  # "Acme"
    team: str
    account_id: int
    subscription_id: int
    currency_symbol: str  # "$": every price of the account is shown with it
    email_domain: str  # "@acme.example.com": the platform users' emails
    people: frozenset[str]  # the platform users' names
    roles: Mapping[Actor, str] = field(default_factory=dict)
    approvers: frozenset[Actor] = frozenset()  # who decides a change routed to approval
    approval_channel: str | None = None  # where approval requests are posted too
    expire_after: timedelta | None = None  # a request waits this long for a decision at most

    def role_of(self, actor: Actor) -> str | None:
        return self.roles.get(actor)

    def members_to_mention(self, team: str) -> set[str]:
        """How a person of ``team`` would see the account's owners and approvers mentioned."""
        people = {a for a, role in self.roles.items() if role == "owner"} | set(self.approvers)
        return {f"<@{a.user}>" for a in people if a.team == team}

    def owners(self) -> set[str]:
        """Audit actors (``slack:T:U``) of the account's owners."""
        return {f"slack:{a.team}:{a.user}" for a, role in self.roles.items() if role == "owner"}

    def deciders(self) -> set[str]:
        """Audit actors of the account's approvers."""
        return {f"slack:{a.team}:{a.user}" for a in self.approvers}

    def price_tokens(self, text: str) -> list[str]:
        """Every amount in ``text`` written in this account's currency (``$30.00``, ``-$1``)."""
        symbol = re.escape(self.currency_symbol)
        return re.findall(rf"-?{symbol}\s?[0-9][0-9,]*(?:\.[0-9]+)?", text)


def strings_in(value: Any) -> list[str]:
    """Every string inside a JSON-like value (JSON text inside strings decoded too)."""
    found: list[str] = []
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str):
            found.append(item)
            if item.startswith(("{", "[")):
                with contextlib.suppress(ValueError):
                    pending.append(json.loads(item))
    return found


@dataclass(frozen=True)
class Audience:
    """Who sees a message: one person, or (``person`` None) everyone in ``channel`` of
    workspace ``team``; what it answers for them (``purposes``: ``"read"`` for status,
    history and the App Home, ``"decide"`` for an approval); and what they typed in the request
    it answers (echoes of it are not leaks)."""

    team: str
    person: Actor | None = None
    channel: str | None = None
    purposes: frozenset[str] = frozenset()
    typed: str = ""

    def __str__(self) -> str:
        return str(self.person) if self.person else f"everyone in {self.team}:{self.channel}"


def findings(text: str, audience: Audience, accounts: Iterable[AccountFacts]) -> list[str]:
    """What in ``text`` (shown to ``audience``) they may not see."""
    accounts = list(accounts)
    person, purposes = audience.person, audience.purposes
    problems: list[str] = []

    def role_in(account: AccountFacts) -> str | None:
        return account.role_of(person) if person is not None else None

    def sees_people(account: AccountFacts) -> bool:
        deciding = person in account.approvers and "decide" in purposes
        return role_in(account) == Role.OWNER.value or deciding

    known_people = set().union(*(a.people for a in accounts if sees_people(a)))

    def new(needle: str) -> bool:
        return needle in text and needle not in audience.typed

    for account in accounts:
        role = role_in(account)
        if not sees_people(account):
            if new(account.email_domain):
                problems.append(f"an email of {account.name}'s platform users")
            problems.extend(
                f"{account.name}'s platform user {name!r}"
                for name in sorted(account.people - known_people)
                if new(name)
            )
        sees_prices = (
            role == Role.OWNER.value
            or (role in VIEWING_ROLES and "read" in purposes)
            or (person in account.approvers and "decide" in purposes)
            or (
                person is None
                and audience.team == account.team
                and audience.channel is not None
                and audience.channel == account.approval_channel
            )
        )
        if not sees_prices:
            problems.extend(
                f"{account.name}'s price {token!r}"
                for token in account.price_tokens(text)
                if token not in audience.typed
            )
        deciding = person in account.approvers and "decide" in purposes
        if person is not None and role is None and not deciding:
            if new(account.display_name):
                problems.append(f"the name of {account.name}, to someone without a role in it")
            problems.extend(
                f"{account.name}'s member {mention}, to someone without a role in it"
                for mention in sorted(account.members_to_mention(audience.team))
                if new(mention)
            )
        elif role is None and audience.team != account.team and new(account.display_name):
            problems.append(f"the name of {account.name}, another workspace's account")
    return problems


#: Slack's markup: ``<@U123>``, ``<!channel>``, ``<https://…|label>``, ``<#C1|name>``.
MARKUP = re.compile(r"<[^<>]*>")
#: The only markup Seatbot writes in a fallback text: a mention of a user by id.
OWN_MENTION = re.compile(r"<@[A-Z0-9_]+>")


def fallback_findings(text: str, typed: str) -> list[str]:
    """How a message's fallback ``text`` is not escaped exactly once, given everything anyone
    ``typed`` before it was sent (their words come back escaped once, whatever they were):
    markup that Seatbot does not write (a broadcast such as ``<!channel>``, a link: someone's
    words unescaped), an entity escaped a second time (``&amp;lt;``), or a mention Seatbot
    wrote shown as text (``&lt;@U…``)."""
    problems = [
        f"markup {token!r} unescaped"
        for token in MARKUP.findall(text)
        if not OWN_MENTION.fullmatch(token)
    ]
    for entity in ("&amp;", "&lt;", "&gt;"):
        if "&amp;" + entity[1:] in text and entity not in typed:
            problems.append(f"{entity!r} escaped twice")
    if "&lt;@" in text and "<@" not in typed and "&lt;@" not in typed:
        problems.append("a mention shown as markup")
    return problems


# -- the database --------------------------------------------------------------------------------

#: The tables a seat change writes; every other table must never change.
CHANGING_TABLES = (
    "seat_change_requests",
    "approval_messages",
    "ledger_entries",
    "outbox_events",
    "audit_events",
    "subscriptions",
)


@dataclass(frozen=True)
class Baseline:
    """The database before a program: every row of every table (but Alembic's) as sorted text,
    and each subscription's seats and version."""

    tables: dict[str, list[tuple[str, ...]]]
    seats: dict[int, tuple[int, int]]


def _tables(session: Session) -> dict[str, list[tuple[str, ...]]]:
    metadata = MetaData()
    metadata.reflect(bind=session.connection())
    taken: dict[str, list[tuple[str, ...]]] = {}
    for table in metadata.sorted_tables:
        if table.name == "alembic_version":
            continue
        rows = session.execute(select(table)).mappings().all()
        taken[table.name] = sorted(
            tuple(f"{key}={value!r}" for key, value in sorted((str(k), v) for k, v in row.items()))
            for row in rows
        )
    return taken


def take_baseline(sessions: sessionmaker[Session]) -> Baseline:
    """The database as it is now."""
    with sessions() as session:
        seats = {s.id: (s.seats, s.version) for s in session.scalars(select(Subscription))}
        return Baseline(_tables(session), seats)


def database_findings(
    sessions: sessionmaker[Session],
    baseline: Baseline,
    accounts: Iterable[AccountFacts],
    acted: set[str],
) -> list[str]:
    """How the database breaks the rule "changed only by its legitimate owners and approvers":
    compared with ``baseline``, given the accounts whose owners sent anything (``acted``, by
    name). Only the seat-change tables may change; every request was made by an owner of its
    account and decided by its requester (no approval) or one of the account's approvers
    (never the requester); every audit event is by one of those (or records someone's
    refused Approve or Deny); every ledger line belongs to an applied
    request and adds up to its quote; seats and versions follow the applied changes; and
    :func:`billing.books.service.check_invariants` finds nothing."""
    accounts = list(accounts)
    problems: list[str] = []
    with sessions() as session:
        tables = _tables(session)
        requests = list(session.scalars(select(SeatChangeRequest)))
        ledger = list(session.scalars(select(LedgerEntry)))
        events = list(session.scalars(select(AuditEvent)))
        subscriptions = {s.id: s for s in session.scalars(select(Subscription))}
        problems.extend(str(v) for v in check_invariants(session).violations)
    for name, rows in baseline.tables.items():
        if name not in CHANGING_TABLES and tables.get(name) != rows:
            problems.append(f"table {name} changed")
    by_subscription = {a.subscription_id: a for a in accounts}
    known = {r.id: r for r in requests}
    for request in requests:
        account = by_subscription.get(request.subscription_id)
        if account is None:
            problems.append(f"request {request.id} is for an unknown subscription")
            continue
        requester = f"slack:{request.requested_by_team}:{request.requested_by_user}"
        if requester not in account.owners():
            problems.append(f"request {request.id} on {account.name} made by {requester}")
        if account.name not in acted:
            problems.append(f"request {request.id} on {account.name}, whose owner did nothing")
        # Decided by its requester's confirmation, or (once submitted for approval) by one of
        # the account's approvers, never the requester.
        decided = f"slack:{request.decided_by_team}:{request.decided_by_user}"
        may_decide = (
            account.deciders() - {requester} if request.submitted_at is not None else {requester}
        )
        if request.decided_by_user is not None and decided not in may_decide:
            problems.append(f"request {request.id} decided by {decided}")
        if (request.status == "applied") != (request.applied_at is not None):
            problems.append(f"request {request.id} is {request.status}, applied_at disagrees")
        problems.extend(late_decisions(request, account))
    for event in events:
        account = next((a for a in accounts if a.account_id == event.account_id), None)
        if account is None:
            problems.append(f"audit event {event.action} on unknown account {event.account_id}")
            continue
        # Anyone who clicks Approve or Deny on a request without being allowed (from any
        # workspace, with a guessed id) leaves a trace of it on the request's account
        # (billing.approvals.service audits refusals): a record of the try, not a change. Time, no
        # person, expires a request.
        refused = event.action == "approval.refused"
        timed = event.action == "request.expired" and event.actor == "system"
        if event.actor not in account.owners() | account.deciders() and not (refused or timed):
            problems.append(f"audit event {event.action} on {account.name} by {event.actor}")
        elif account.name not in acted:
            problems.append(
                f"audit event {event.action} on {account.name}, whose owner did nothing"
            )
    sums: Counter[int] = Counter()
    for entry in ledger:
        owner = known.get(entry.request_id) if entry.request_id is not None else None
        if owner is None or owner.status != "applied":
            problems.append(f"ledger entry {entry.id} belongs to no applied request")
            continue
        if entry.subscription_id != owner.subscription_id:
            problems.append(f"ledger entry {entry.id} is on another subscription")
        if entry.idempotency_key != f"{owner.idempotency_key}:{entry.kind}":
            problems.append(f"ledger entry {entry.id} has a key not derived from its request")
        sums[owner.id] += entry.amount_minor
    for subscription_id, (start_seats, start_version) in baseline.seats.items():
        applied = [
            r for r in requests if r.subscription_id == subscription_id and r.status == "applied"
        ]
        for request in applied:
            if sums[request.id] != request.net_minor:
                problems.append(f"request {request.id}: ledger {sums[request.id]} ≠ its quote")
        row = subscriptions[subscription_id]
        expected = (
            start_seats + sum(r.new_seats - r.old_seats for r in applied),
            start_version + len(applied),
        )
        if (row.seats, row.version) != expected:
            problems.append(
                f"subscription {subscription_id} has (seats, version) {(row.seats, row.version)};"
                f" its applied changes make {expected}"
            )
    return problems


def late_decisions(request: SeatChangeRequest, account: AccountFacts) -> list[str]:
    """A decision (an approval, a denial, or an approval that found nothing to change) made at
    or after the request's deadline: ``expire_after`` after it was submitted, the request had
    expired, scheduler or not."""
    if account.expire_after is None or request.submitted_at is None:
        return []
    deadline = request.submitted_at + account.expire_after
    if request.decided_at is not None and request.decided_at >= deadline:
        return [
            f"request {request.id} was {request.status} by a decision at "
            f"{request.decided_at.isoformat()}, its deadline {deadline.isoformat()}"
        ]
    return []


def restore(sessions: sessionmaker[Session], baseline: Baseline) -> None:
    """Undo every seat change: no requests, ledger or audit events; baseline seats."""
    with sessions.begin() as session:
        session.execute(delete(LedgerEntry))
        session.execute(delete(AuditEvent))
        session.execute(delete(ApprovalMessage))
        session.execute(delete(OutboxEvent))
        session.execute(delete(SeatChangeRequest))
        for subscription_id, (seats, version) in baseline.seats.items():
            session.execute(
                update(Subscription)
                .where(Subscription.id == subscription_id)
                .values(seats=seats, version=version)
            )
    if take_baseline(sessions) != baseline:
        raise AssertionError("the database could not be put back as it was")
