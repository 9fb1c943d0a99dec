"""``seatbot reconcile`` and ``seatbot digest`` as real processes, for the example accounts,
against the sandbox platforms with their known users, on SQLite and PostgreSQL.

The expected figures below are worked out by hand from ``examples/accounts.yml`` and the
sandbox's documented users (``platforms/sandbox_users.py``, seed 7, the example accounts), at
the fixed instant 2026-11-29 09:00 UTC. For user index i (0-based, user i+1, extension 100+i):

- inactive when i ≠ 0 and (31i + 7) mod 7 = 3, i.e. 3i ≡ 3 (mod 7), i.e. i ≡ 1 (mod 7):
  i = 1, 8, 15, 22;
- no last activity when (17i + 7) mod 11 = 0, i.e. i ≡ 8 (mod 11): i = 8, 19;
- otherwise last active at 2026-11-27 09:30 UTC minus (5i + 7) days, which is 30 days or more
  before 2026-11-29 09:00 exactly when 5i + 7 ≥ 29, i.e. i ≥ 5.

acme Contact Center: 23 users (i = 0..22), 25 seats at 30.00 USD a month.
  inactive 4 (i = 1, 8, 15, 22), active 19; idle 30+ days: i = 5..22 less 8 and 19 = 16.
  unused 25 − 23 = 2 → 2 × 30.00 = 60.00; inactive 4 × 30.00 = 120.00;
  idle 16 × 30.00 = 480.00; releasable 2 + 16 = 18 → 540.00; spend 25 × 30.00 = 750.00.
acme Axiom: 11 users (i = 0..10), 12 seats at 45.50 USD a month.
  inactive 2 (i = 1, 8), active 9; idle: i = 5, 6, 7, 9, 10 = 5.
  unused 1 → 45.50; inactive 2 × 45.50 = 91.00; idle 5 × 45.50 = 227.50;
  releasable 1 + 5 = 6 → 273.00; spend 12 × 45.50 = 546.00.
initech Matrix: 2 users (i = 0, 1), 3 seats at 9.750 KWD a year.
  inactive 1 (i = 1), active 1; idle 0; unused 1 → 9.750; inactive 9.750; idle 0.000;
  releasable 1 → 9.750; spend 3 × 9.750 = 29.250.
initech Axiom: no connection in the file → unknown (never zero), 6 seats.
globex Matrix: the import file lists 4 users, Ian Inactive with status 0: 3 active, 1 inactive;
  it gives no last activity, so none is idle; 4 seats at 1000 JPY: unused 0 → 0; inactive 1000;
  releasable 0 → 0; spend 4000.

What could be saved (the digest's one total, without overlap): the users not using their seat
("idle": inactive or idle 30+ days, each once) are set aside, every other seat could go.
  acme Contact Center: idle = the 16 idle ∪ inactive {1, 8, 15, 22} = 16 + {1, 8} = 18; 5 use
    a seat; could be saved 25 − 5 = 20 = 2 unused + 18 idle seats → 600.00 (idle 540.00).
  acme Axiom: idle = {5, 6, 7, 9, 10} ∪ {1, 8} = 7; 4 use a seat; 12 − 4 = 8 = 1 + 7 → 364.00
    (idle 7 × 45.50 = 318.50).
  initech Matrix: idle = {1}; 1 uses a seat; 3 − 1 = 2 = 1 + 1 → 19.500 (idle 9.750).
  globex Matrix: idle = Ian Inactive; 3 use a seat; 4 − 3 = 1 = 0 + 1 → 1000 (idle 1000).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, text

from bot.offline.standin import SlackStandIn, start_standin
from bot.offline.standin.slack_api import serve_asgi
from platforms.sandbox import SandboxApp, SandboxConfig

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
EXAMPLE_SANDBOX_URL = "http://127.0.0.1:8765"
AT = "2026-11-29T09:00:00Z"

ACME_CONTACT_CENTER = {
    "product": "contact_center",
    "status": "ok",
    "reason": None,
    "seats": 25,
    "unit_price": "30.00",
    "interval": "monthly",
    "users": {"total": 23, "active": 19, "inactive": 4, "inactive_30_days": 16, "idle": 18},
    "unused_seats": 2,
    "over_allocated": 0,
    "releasable_seats": 18,
    "spend_per_period": "750.00",
    "unused_cost_per_period": "60.00",
    "inactive_cost_per_period": "120.00",
    "inactive_30_days_cost_per_period": "480.00",
    "releasable_cost_per_period": "540.00",
    "idle_seats": 18,
    "could_be_saved_seats": 20,
    "idle_seats_cost_per_period": "540.00",
    "could_be_saved_per_period": "600.00",
}
ACME_AXIOM = {
    "product": "axiom",
    "status": "ok",
    "reason": None,
    "seats": 12,
    "unit_price": "45.50",
    "interval": "monthly",
    "users": {"total": 11, "active": 9, "inactive": 2, "inactive_30_days": 5, "idle": 7},
    "unused_seats": 1,
    "over_allocated": 0,
    "releasable_seats": 6,
    "spend_per_period": "546.00",
    "unused_cost_per_period": "45.50",
    "inactive_cost_per_period": "91.00",
    "inactive_30_days_cost_per_period": "227.50",
    "releasable_cost_per_period": "273.00",
    "idle_seats": 7,
    "could_be_saved_seats": 8,
    "idle_seats_cost_per_period": "318.50",
    "could_be_saved_per_period": "364.00",
}
INITECH_MATRIX = {
    "product": "matrix",
    "status": "ok",
    "reason": None,
    "seats": 3,
    "unit_price": "9.750",
    "interval": "annual",
    "users": {"total": 2, "active": 1, "inactive": 1, "inactive_30_days": 0, "idle": 1},
    "unused_seats": 1,
    "over_allocated": 0,
    "releasable_seats": 1,
    "spend_per_period": "29.250",
    "unused_cost_per_period": "9.750",
    "inactive_cost_per_period": "9.750",
    "inactive_30_days_cost_per_period": "0.000",
    "releasable_cost_per_period": "9.750",
    "idle_seats": 1,
    "could_be_saved_seats": 2,
    "idle_seats_cost_per_period": "9.750",
    "could_be_saved_per_period": "19.500",
}
INITECH_AXIOM_UNKNOWN = {
    "product": "axiom",
    "status": "unknown",
    "seats": 6,
    "unit_price": "29.500",
    "interval": "quarterly",
    "users": None,
    "unused_seats": None,
    "over_allocated": None,
    "releasable_seats": None,
    "spend_per_period": "177.000",
    "unused_cost_per_period": None,
    "inactive_cost_per_period": None,
    "inactive_30_days_cost_per_period": None,
    "releasable_cost_per_period": None,
    "idle_seats": None,
    "could_be_saved_seats": None,
    "idle_seats_cost_per_period": None,
    "could_be_saved_per_period": None,
}
GLOBEX_MATRIX = {
    "product": "matrix",
    "status": "ok",
    "reason": None,
    "seats": 4,
    "unit_price": "1000",
    "interval": "monthly",
    "users": {"total": 4, "active": 3, "inactive": 1, "inactive_30_days": 0, "idle": 1},
    "unused_seats": 0,
    "over_allocated": 0,
    "releasable_seats": 0,
    "spend_per_period": "4000",
    "unused_cost_per_period": "0",
    "inactive_cost_per_period": "1000",
    "inactive_30_days_cost_per_period": "0",
    "releasable_cost_per_period": "0",
    "idle_seats": 1,
    "could_be_saved_seats": 1,
    "idle_seats_cost_per_period": "1000",
    "could_be_saved_per_period": "1000",
}


async def _seatbot(env: dict[str, str], *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "from bot.cli import main; main()", *args,
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


def _environment(db_url: str, **more: str) -> dict[str, str]:
    """A ``seatbot`` process's environment: ``db_url``, a fresh key, the clock at :data:`AT`."""
    return dict(
        os.environ,
        DATABASE_URL=db_url,
        SEATBOT_TOKEN_KEYS=Fernet.generate_key().decode(),
        SEATBOT_CLOCK_START=AT,
        SEATBOT_CLOCK_SPEED="1",
        **more,
    )


def _accounts_file(folder: Path, sandbox_url: str) -> Path:
    for extra in EXAMPLES.iterdir():
        if extra.name != "accounts.yml":
            (folder / extra.name).write_bytes(extra.read_bytes())
    text = (EXAMPLES / "accounts.yml").read_text(encoding="utf-8")
    target = folder / "accounts.yml"
    target.write_text(text.replace(EXAMPLE_SANDBOX_URL, sandbox_url), encoding="utf-8")
    return target


def _without_change(product: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in product.items() if k not in ("change_since_previous_run", "week_ago")}


def _runs(db_url: str) -> int:
    """How many reconciliation runs the database holds."""
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            return int(
                connection.execute(text("SELECT count(*) FROM reconciliation_runs")).scalar_one()
            )
    finally:
        engine.dispose()


@pytest.mark.slow
async def test_reconcile_and_digest_json_equal_the_figures_worked_out_by_hand(
    db_url: str, tmp_path: Path
) -> None:
    server = serve_asgi(SandboxApp(SandboxConfig()))
    env = _environment(db_url)
    try:
        code, _, err = await _seatbot(env, "load", str(_accounts_file(tmp_path, server.url)))
        assert code == 0, err

        code, out, err = await _seatbot(env, "reconcile", "--json")
        assert code == 1, err  # initech's Axiom could not be read: the report is still whole
        assert "initech axiom" in err
        assert "unknown, not zero" in err
        document = json.loads(out)
        assert document["generated_at"].startswith("2026-11-29T09:00")
        accounts = {a["account"]: a for a in document["accounts"]}
        assert sorted(accounts) == ["acme", "globex", "initech"]
        assert [a["currency"] for a in document["accounts"]] == ["USD", "JPY", "KWD"]
        acme = {p["product"]: _without_change(p) for p in accounts["acme"]["products"]}
        assert acme == {"contact_center": ACME_CONTACT_CENTER, "axiom": ACME_AXIOM}
        initech = {p["product"]: _without_change(p) for p in accounts["initech"]["products"]}
        assert initech["matrix"] == INITECH_MATRIX
        unknown = initech["axiom"]
        assert "No Axiom connection is set up" in unknown.pop("reason")
        assert unknown == INITECH_AXIOM_UNKNOWN
        globex = [_without_change(p) for p in accounts["globex"]["products"]]
        assert globex == [GLOBEX_MATRIX]
        # The first run has nothing to compare with.
        assert all(
            p["change_since_previous_run"] is None
            for a in document["accounts"]
            for p in a["products"]
        )

        runs_before = _runs(db_url)
        code, out, err = await _seatbot(env, "digest", "acme", "--json")
        assert code == 0, err
        # A preview reads the platforms and stores nothing (issue 19 item 8).
        assert _runs(db_url) == runs_before == 3
        digest = json.loads(out)["accounts"]
        assert len(digest) == 1
        found = digest[0]
        assert found["account"] == "acme"
        assert found["currency"] == "USD"
        assert found["date"] == "2026-11-29"
        assert found["timezone"] == "Europe/London"
        products = {p["product"]: p for p in found["products"]}
        assert _without_change(products["contact_center"]) == ACME_CONTACT_CENTER
        assert _without_change(products["axiom"]) == ACME_AXIOM
        # Nothing changed since the reconcile run just before; no run a week ago.
        for product in products.values():
            assert product["change_since_previous_run"] == {"seats": 0, "users": 0}
            assert product["week_ago"] is None
        assert found["proration_since_last_digest"] == {"charges": "0.00", "credits": "0.00"}
        assert found["changes_applied"] == []
        assert found["requests_pending"] == []
        assert found["trend_days"] == 1
        assert found["chart"] is False

        code, _, err = await _seatbot(env, "digest", "acme", "--chart", str(tmp_path / "c.png"))
        assert code == 1
        assert "needs 7" in err
        assert not (tmp_path / "c.png").exists()
    finally:
        await server.stop()


@pytest.mark.slow
async def test_digest_post_waits_for_the_invitation_then_posts_once(
    db_url: str, tmp_path: Path
) -> None:
    """``digest --post`` to a channel the bot is not in says so and exits 1 (nothing was posted;
    the owners are told); once the bot is invited it posts, and a second run posts nothing."""
    server = serve_asgi(SandboxApp(SandboxConfig()))
    standin = SlackStandIn(strict_channels=True)  # a channel not added is one Seatbot is not in
    standin.add_workspace("T0ACME001", "xoxb-cli-post")
    env = _environment(db_url, SLACK_BOT_TOKEN="xoxb-cli-post")
    try:
        async with start_standin(standin) as slack:
            env["SLACK_API_URL"] = slack.api_url
            code, _, err = await _seatbot(env, "load", str(_accounts_file(tmp_path, server.url)))
            assert code == 0, err

            code, out, err = await _seatbot(env, "digest", "acme", "--post")
            assert code == 1, (out, err)
            assert "acme: digest not posted" in err
            assert "once Seatbot is invited" in err
            assert standin.messages("C0ACMESEATS") == []

            standin.add_channel("C0ACMESEATS", name="acme-seats")  # the bot is invited
            # The run waits for its next look (the scheduler's, every 10 minutes); --force now.
            code, out, err = await _seatbot(env, "digest", "acme", "--post")
            assert code == 1, (out, err)
            assert "digest not posted yet" in err
            assert "--force tries now" in err
            assert standin.messages("C0ACMESEATS") == []
            code, out, err = await _seatbot(env, "digest", "acme", "--post", "--force")
            assert code == 0, err
            assert "acme: " in out
            assert len(standin.messages("C0ACMESEATS")) >= 1
            posted = len(standin.messages("C0ACMESEATS"))

            code, out, err = await _seatbot(env, "digest", "acme", "--post")
            assert code == 0, err
            assert "already posted" in out
            assert len(standin.messages("C0ACMESEATS")) == posted
    finally:
        await server.stop()
