"""Resolving the account a command means costs the same few queries however many accounts the
caller holds a role in (an N+1 over memberships made every command of an owner of 400
accounts hundreds of queries slower: found by benchmarks/full_answer.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from billing.access import Caller
from billing.scope import resolve_account


@contextmanager
def counted(session: Session) -> Iterator[list[str]]:
    statements: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


def queries_to_resolve(sessions: sessionmaker[Session], caller: Caller, name: str) -> int:
    with sessions() as session, counted(session) as statements:
        account = resolve_account(session, caller, name, None)
        assert account.name == name
    return len(statements)


def test_the_queries_do_not_grow_with_the_caller_s_accounts(
    session_factory: sessionmaker[Session], seed: Any
) -> None:
    owner = Caller("T_ACME", "U_OWNER")
    seed("acct-0")
    few = queries_to_resolve(session_factory, owner, "acct-0")
    for n in range(1, 40):
        seed(f"acct-{n}")
    many = queries_to_resolve(session_factory, owner, "acct-0")
    assert many == few
    assert many <= 4
