"""``seatbot audit``: every step of a seat change, exported as CSV or JSON, through the CLI's
entry point."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from billing.access import Caller
from billing.approvals.service import Approvals
from billing.books.service import SeatService
from billing.seats.outcomes import AwaitingApproval, ChangeApplied, ReadyToConfirm
from billing.seats.service import SeatChanges
from billing.users import UserListing
from bot.runtime.db import make_engine, make_session_factory
from tests.bot.cli.conftest import RunSeatbot

ROOT = Path(__file__).resolve().parents[3]
KEY = "c2VhdGJvdC1sb2NhbC1zYW5kYm94LW9ubHkta2V5ISE="


Seatbot = Callable[[list[str], Path], subprocess.CompletedProcess[str]]


@pytest.fixture
def seatbot(run_seatbot: RunSeatbot) -> Seatbot:
    def on(args: list[str], database: Path) -> subprocess.CompletedProcess[str]:
        return run_seatbot(
            args, {"DATABASE_URL": f"sqlite:///{database}", "SEATBOT_TOKEN_KEYS": KEY}
        )

    return on


def test_the_audit_lists_every_step_of_an_approved_decrease(
    tmp_path: Path, seatbot: Seatbot
) -> None:
    database = tmp_path / "seatbot.db"
    assert seatbot(["load", str(ROOT / "examples" / "accounts.yml")], database).returncode == 0
    engine = make_engine(f"sqlite:///{database}")
    try:
        sessions = make_session_factory(engine)
        acme = SeatService(sessions).account_by_name("acme")
        assert acme is not None
        now = datetime.now(UTC)
        [cc] = [
            s
            for s in SeatService(sessions).subscriptions(acme.id, now)
            if s.product.value == "contact_center"
        ]
        owner, manager = Caller(acme.team_id, "U0ACMEOWNER"), Caller(acme.team_id, "U0ACMEMGR")
        none = UserListing.complete([])
        changes = SeatChanges(sessions)
        draft = changes.request_by_form(
            owner, account_id=acme.id, subscription_id=cc.id, new_seats=20, at=now, users=none
        )
        assert isinstance(draft, ReadyToConfirm)
        waiting = changes.confirm(
            owner, request_id=draft.request.id, revision=1, at=now, users=none
        )
        assert isinstance(waiting, AwaitingApproval)
        applied = Approvals(sessions).approve(
            manager, request_id=draft.request.id, revision=1, at=now, users=none
        )
        assert isinstance(applied, ChangeApplied)
    finally:
        engine.dispose()

    exported = seatbot(["audit", "acme", "--csv"], database)
    assert exported.returncode == 0, exported.stderr
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    steps = [
        (row["action"], row["from"], row["to"], row["actor"])
        for row in rows
        if row["request_id"] == str(draft.request.id)
    ]
    assert steps == [
        ("request.created", "", "draft", "slack:T0ACME001:U0ACMEOWNER"),
        ("request.submitted", "draft", "pending_approval", "slack:T0ACME001:U0ACMEOWNER"),
        ("request.approved", "pending_approval", "approved", "slack:T0ACME001:U0ACMEMGR"),
        ("request.applied", "approved", "applied", "slack:T0ACME001:U0ACMEMGR"),
    ]
    applied_row = next(row for row in rows if row["action"] == "request.applied")
    assert applied_row["idempotency_key"].startswith("scr_")
    assert applied_row["net"] == applied.request.net.to_decimal_string()
    assert applied_row["currency"] == applied.request.net.currency

    document = json.loads(seatbot(["audit", "--json"], database).stdout)
    assert {event["account"] for event in document["events"]} >= {"acme", "globex"}
    later = json.loads(seatbot(["audit", "--json", "--since", "2999-01-01"], database).stdout)
    assert later == {"events": []}
    bad = seatbot(["audit", "--since", "yesterday"], database)
    assert bad.returncode == 2
    assert bad.stderr.startswith("seatbot: --since:")
    assert bad.stderr.count("\n") == 1
