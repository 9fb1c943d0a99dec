"""A command costs the same SQL queries for an owner of 1 account and of 500 (issue 18,
"constant cost per command"): the account a command means is resolved in SQL, ``/seats status``
names a bounded few other accounts, and the App Home reads a page of accounts in a fixed number
of queries. On SQLite (fast tier) and PostgreSQL (``postgres`` cases of ``db_url``)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from billing.access import AMBIGUOUS_NAMES, AmbiguousAccount, Caller
from billing.models import Account, Member, Subscription
from billing.products import Product
from billing.seats.outcomes import ReadyToConfirm
from billing.seats.reads import OTHER_ACCOUNTS, AccountReads
from billing.seats.rules import HOME_PAGE, ChangeMode
from billing.seats.service import SeatChanges

OWNER = Caller("T_BIG", "U_BIG")
AT = datetime(2026, 1, 16, 12, 0, tzinfo=UTC)


def add_accounts(
    sessions: sessionmaker[Session], count: int, owner: Caller = OWNER, prefix: str = "acct"
) -> None:
    """``count`` accounts ``acct-000``… of the owner's workspace, owned by them, each posted to
    its own channel ``C_acct-000``… with an Axiom and a Matrix subscription, and a draft in the
    first."""
    with sessions.begin() as session:
        accounts = [
            Account(
                name=f"{prefix}-{n:03d}",
                display_name=f"Account {n:03d}",
                currency="USD",
                timezone="UTC",
                team_id=owner.team_id,
                channel_id=f"C_{prefix}-{n:03d}",
            )
            for n in range(count)
        ]
        session.add_all(accounts)
        session.flush()
        for account in accounts:
            session.add(
                Member(
                    account_id=account.id,
                    team_id=owner.team_id,
                    user_id=owner.user_id,
                    role="owner",
                )
            )
            for product in (Product.AXIOM, Product.MATRIX):
                session.add(
                    Subscription(
                        account_id=account.id,
                        product=product.value,
                        seats=10,
                        initial_seats=10,
                        started_at=datetime(2026, 1, 1, tzinfo=UTC),
                        unit_price_minor=3000,
                        currency="USD",
                        interval="monthly",
                        anchor=date(2026, 1, 1),
                        proration_rule="daily",
                        decrease_policy="prorated",
                        current_period_start=datetime(2026, 1, 1, tzinfo=UTC),
                        current_period_end=datetime(2026, 2, 1, tzinfo=UTC),
                        version=1,
                    )
                )
    # A draft in the first account, so the App Home's requests query returns rows.
    draft = SeatChanges(sessions).request_by_command(
        owner,
        account_name=f"{prefix}-000",
        channel_id=None,
        product=Product.AXIOM,
        mode=ChangeMode.ADD,
        count=1,
        at=AT,
    )
    assert isinstance(draft, ReadyToConfirm)


@contextmanager
def counted(engine: Engine) -> Iterator[list[str]]:
    statements: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


def queries(engine: Engine, call: Callable[[], object]) -> int:
    with counted(engine) as statements:
        call()
    return len(statements)


def costs(engine: Engine, reads: AccountReads, owner: Caller, prefix: str) -> dict[str, int]:
    """The queries of each read the owner of the accounts ``prefix-…`` makes."""
    first = f"{prefix}-000"
    return {
        "status by name": queries(
            engine, lambda: reads.status(owner, account_name=first, channel_id=None, at=AT)
        ),
        "status in its channel": queries(
            engine, lambda: reads.status(owner, account_name=None, channel_id=f"C_{first}", at=AT)
        ),
        "history by name": queries(
            engine, lambda: reads.history(owner, account_name=first.upper(), channel_id=None)
        ),
        "home": queries(engine, lambda: reads.home(owner, at=AT)),
    }


@pytest.mark.parametrize("accounts", [500])
def test_a_command_costs_the_same_queries_for_an_owner_of_one_account_and_of_many(
    engine: Engine, session_factory: sessionmaker[Session], accounts: int
) -> None:
    reads = AccountReads(session_factory)
    small = Caller("T_SMALL", "U_SMALL")
    add_accounts(session_factory, 1, small, "one")
    add_accounts(session_factory, accounts)
    one = costs(engine, reads, small, "one")
    many = costs(engine, reads, OWNER, "acct")
    assert many == one
    assert max(many.values()) <= 8
    # And the answers are those of all the accounts, bounded.
    seats = reads.status(OWNER, account_name=None, channel_id="C_acct-007", at=AT)
    assert seats.account.name == "acct-007"
    assert seats.other_accounts == tuple(f"acct-{n:03d}" for n in range(OTHER_ACCOUNTS))
    home = reads.home(OWNER, at=AT)
    assert (home.start, home.total, len(home.accounts)) == (0, accounts, HOME_PAGE)
    assert [len(entry.subscriptions) for entry in home.accounts] == [2] * HOME_PAGE
    assert len(home.accounts[0].my_open) == 1  # the draft
    later = reads.home(OWNER, at=AT, start=490)
    assert [e.account.name for e in later.accounts] == [f"acct-{n:03d}" for n in range(490, 500)]
    # A page past the end (a stale button) is the last one; before the start, the first.
    assert reads.home(OWNER, at=AT, start=10_000).start == accounts - 1
    assert reads.home(OWNER, at=AT, start=-5).start == 0


def test_an_owner_of_many_accounts_is_told_the_first_names_and_that_there_are_more(
    session_factory: sessionmaker[Session],
) -> None:
    add_accounts(session_factory, AMBIGUOUS_NAMES + 5)
    reads = AccountReads(session_factory)
    with pytest.raises(AmbiguousAccount) as ambiguous:
        reads.status(OWNER, account_name=None, channel_id="C_ELSEWHERE", at=AT)
    assert ambiguous.value.names == tuple(f"acct-{n:03d}" for n in range(AMBIGUOUS_NAMES))
    assert ambiguous.value.message.endswith("acct-019 and more): say which one.")
    # Named, or in an account's channel, any of them is found, the last one too.
    last = f"acct-{AMBIGUOUS_NAMES + 4:03d}"
    assert reads.status(OWNER, account_name=last, channel_id=None, at=AT).account.name == last
    in_channel = reads.status(OWNER, account_name=None, channel_id="C_acct-024", at=AT)
    assert in_channel.account.name == last
