"""Right-sizing from the digest, in billing (issue 20): only an owner gets the form or a fresh
check, the listing is asked for only after authorising, the preset is today's users, and a
change started from the digest records ``source: digest`` on the request, in its audit entries
and in its webhook events — a source billing does not know is not recorded."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from billing.access import Caller
from billing.books.service import SeatService
from billing.errors import NotAuthorised, NotFound
from billing.events.store import OutboxEvent
from billing.products import Product
from billing.reports import ProductReconciliation
from billing.seats.outcomes import ChangeApplied, ReadyToConfirm, UsersNeeded
from billing.seats.rightsize import right_size_target
from billing.seats.service import SeatChanges
from billing.users import UserListing
from tests.billing.seats.test_seat_changes import JAN_16, OWNER, T, users

Seed = Any


@pytest.fixture
def changes(session_factory: sessionmaker[Session]) -> SeatChanges:
    return SeatChanges(session_factory)


def test_the_preset_is_the_users_that_exist_when_fewer_than_the_seats() -> None:
    assert right_size_target(10, users(8)) == 8
    assert right_size_target(10, users(10)) is None  # nothing unused
    assert right_size_target(10, users(12)) is None
    assert right_size_target(10, UserListing.unknown("down")) is None  # never zero


@pytest.mark.parametrize("user_id", ["U_MANAGER", "U_VIEWER", "U_STRANGER"])
def test_only_an_owner_gets_the_form_or_a_fresh_check(
    changes: SeatChanges, seed: Seed, user_id: str
) -> None:
    acme = seed()
    sizing = changes.right_sizing
    caller = Caller(T, user_id)
    for use in (sizing.form, sizing.recheck):
        with pytest.raises(NotAuthorised) as refused:
            use(caller, account_id=acme.account_id, product=Product.AXIOM, at=JAN_16)
        # Someone without a role learns nothing of the account, not even its name.
        assert ("Acme" in refused.value.message) is (user_id != "U_STRANGER")
    with pytest.raises(NotFound):  # another workspace: the account does not exist for them
        sizing.form(
            Caller("T_OTHER", "U_OWNER"),
            account_id=acme.account_id,
            product=Product.AXIOM,
            at=JAN_16,
        )


def test_an_owner_gets_todays_seats_and_a_check_that_lists_only_then(
    changes: SeatChanges, seed: Seed
) -> None:
    acme = seed()
    sizing = changes.right_sizing
    found = sizing.form(OWNER, account_id=acme.account_id, product=Product.AXIOM, at=JAN_16)
    assert (found.selected.product, found.selected.seats) == (Product.AXIOM, 10)
    assert found.needed == UsersNeeded(acme.account_id, Product.AXIOM)
    assert found.source == "digest"
    asked = sizing.recheck(OWNER, account_id=acme.account_id, product=Product.AXIOM, at=JAN_16)
    assert asked == UsersNeeded(acme.account_id, Product.AXIOM)
    now = sizing.recheck(
        OWNER, account_id=acme.account_id, product=Product.AXIOM, at=JAN_16, users=users(7)
    )
    assert isinstance(now, ProductReconciliation)
    assert (now.seats, now.unused_seats) == (10, 3)
    with pytest.raises(NotFound):
        sizing.form(OWNER, account_id=acme.account_id, product=Product.MATRIX, at=JAN_16)


def _apply(changes: SeatChanges, acme: Any, source: object) -> ChangeApplied:
    prompt = changes.request_by_form(
        OWNER,
        account_id=acme.account_id,
        subscription_id=acme.subscription_id,
        new_seats=8,
        at=JAN_16,
        users=users(8),
        source=source,
    )
    assert isinstance(prompt, ReadyToConfirm), prompt
    done = changes.confirm(
        OWNER, request_id=prompt.request.id, revision=1, at=JAN_16, users=users(8)
    )
    assert isinstance(done, ChangeApplied), done
    return done


@pytest.mark.parametrize(
    ("source", "recorded"), [("digest", "digest"), ("evil", None), (None, None)]
)
def test_the_source_is_recorded_by_billing_only_when_it_knows_it(
    changes: SeatChanges,
    seed: Seed,
    session_factory: sessionmaker[Session],
    source: object,
    recorded: str | None,
) -> None:
    acme = seed()
    done = _apply(changes, acme, source)
    assert done.request.source == recorded
    trail = SeatService(session_factory).audit_trail(acme.account_id)
    steps = {e.action: e.details for e in trail if e.action.startswith("request.")}
    assert steps["request.created"].get("source") == recorded
    assert steps["request.applied"].get("source") == recorded
    with session_factory() as session:
        [body] = [json.loads(row.body) for row in session.scalars(select(OutboxEvent))]
    assert body["type"] == "seat_change.applied"
    assert body["data"].get("source") == recorded
    assert ("source" in body["data"]) is (recorded is not None)
