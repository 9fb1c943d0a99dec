"""Every bad input and bad environment: one line on stderr, the right exit status, no traceback.

Each case runs the real entry point in a separate process (``python -m bot.cli``), so the
environment handling, logging set-up and error translation are exactly what an operator gets.
Status 2 is bad input, 1 a failure.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from bot.runtime.db import upgrade

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
EXAMPLE_SANDBOX_URL = "http://127.0.0.1:8765"
#: Nothing listens here: platform and PostgreSQL connections are refused at once.
CLOSED = "127.0.0.1:9"
PASSWORD = "pa55-s3cret-word"

PRORATE = [
    "prorate", "--unit-price", "30.00", "--currency", "USD", "--period-start", "2026-01-01",
    "--period-end", "2026-02-01", "--at", "2026-01-16", "--from", "10", "--to", "12",
]  # fmt: skip

#: Every case runs the real ``seatbot`` in a process.
pytestmark = pytest.mark.slow


@dataclass(frozen=True)
class Case:
    """One command line, what to set up for it, and what the operator must see."""

    args: list[str]
    status: int
    says: str
    env: dict[str, str] = field(default_factory=dict)


def _prorate(option: str, value: str) -> list[str]:
    args = list(PRORATE)
    args[args.index(option) + 1] = value
    return args


CASES: dict[str, Case] = {
    # --- the environment ---------------------------------------------------------------------
    "DATABASE_URL not a URL": Case(
        ["accounts"],
        2,
        "DATABASE_URL: 'notaurl' is not a database URL (e.g. sqlite:///seatbot.db)",
        {"DATABASE_URL": "notaurl"},
    ),
    "DATABASE_URL with a password, malformed": Case(
        ["accounts"],
        2,
        "DATABASE_URL: 'postgresql+psycopg://seatbot:***@db:port/x' is not a database URL",
        {"DATABASE_URL": f"postgresql+psycopg://seatbot:{PASSWORD}@db:port/x"},
    ),
    "DATABASE_URL with an unknown driver": Case(
        ["ledger", "acme"],
        2,
        "DATABASE_URL: 'nosuchdb://x' names a database or driver Seatbot cannot use",
        {"DATABASE_URL": "nosuchdb://x"},
    ),
    "DATABASE_URL of MySQL": Case(
        ["accounts"],
        2,
        "DATABASE_URL: 'mysql://seatbot:***@db/x' names a database or driver Seatbot cannot "
        "use; it supports sqlite:///FILE or postgresql://USER:PASSWORD@HOST:PORT/DB",
        {"DATABASE_URL": f"mysql://seatbot:{PASSWORD}@db/x"},
    ),
    # postgresql:// and postgres:// mean psycopg 3: the connection is tried, and refused.
    "postgresql:// without a driver": Case(
        ["accounts"],
        1,
        f"cannot connect to the database server at {CLOSED} (connection refused)",
        {"DATABASE_URL": f"postgresql://seatbot:{PASSWORD}@{CLOSED}/seatbot"},
    ),
    "postgres:// without a driver": Case(
        ["accounts"],
        1,
        f"cannot connect to the database server at {CLOSED} (connection refused)",
        {"DATABASE_URL": f"postgres://seatbot:{PASSWORD}@{CLOSED}/seatbot"},
    ),
    "PostgreSQL on an unknown host": Case(
        ["accounts"],
        1,
        "cannot connect to the database server at nosuchhost.invalid:5432 (unknown host)",
        {"DATABASE_URL": f"postgresql://seatbot:{PASSWORD}@nosuchhost.invalid/seatbot"},
    ),
    "PORT not a number, for serve": Case(
        ["serve"], 2, "PORT: 'abc' is not a port number (1–65535)", {"PORT": "abc"}
    ),
    "PORT out of range, for serve": Case(
        ["serve"], 2, "PORT: '70000' is not a port number (1–65535)", {"PORT": "70000"}
    ),
    "serve --port -1": Case(
        ["serve", "--port", "-1"], 2, "--port: -1 is not a port number (0–65535)"
    ),
    "tokens rotate without keys": Case(["tokens", "rotate"], 2, "SEATBOT_TOKEN_KEYS is not set"),
    "tokens rotate, database in a missing folder": Case(
        ["tokens", "rotate"],
        1,
        "cannot create the database file at /nonexistent-seatbot-dir/x.db",
        {
            "DATABASE_URL": "sqlite:////nonexistent-seatbot-dir/x.db",
            "SEATBOT_TOKEN_KEYS": "A" * 43 + "=",  # a well-formed Fernet key
        },
    ),
    # --- the database ------------------------------------------------------------------------
    "SQLite file in a missing folder": Case(
        ["db", "upgrade"],
        1,
        "cannot create the database file at /nonexistent-seatbot-dir/x.db: "
        "the folder /nonexistent-seatbot-dir does not exist",
        {"DATABASE_URL": "sqlite:////nonexistent-seatbot-dir/x.db"},
    ),
    "unreachable PostgreSQL": Case(
        ["accounts"],
        1,
        f"cannot connect to the database server at {CLOSED} (connection refused)",
        {"DATABASE_URL": f"postgresql+psycopg://seatbot:{PASSWORD}@{CLOSED}/seatbot"},
    ),
    "unreachable PostgreSQL, load": Case(
        ["load", str(EXAMPLES / "accounts.yml")],
        1,
        f"cannot connect to the database server at {CLOSED} (connection refused)",
        {"DATABASE_URL": f"postgresql+psycopg://seatbot:{PASSWORD}@{CLOSED}/seatbot"},
    ),
    "tables not created yet": Case(
        ["accounts"],
        1,
        "has no Seatbot tables yet: run `seatbot db upgrade`",
        {"DATABASE_URL": "sqlite:///{tmp}/blank.db"},
    ),
    "read-only database file": Case(
        ["load", "{tmp}/accounts.yml"],
        1,
        "the database file {tmp}/readonly.db is read-only",
        {"DATABASE_URL": "sqlite:///file:{tmp}/readonly.db?mode=ro&uri=true"},
    ),
    # --- quote -------------------------------------------------------------------------------
    "quote: negative seats": Case(
        ["quote", "acme", "axiom", "-3"], 2, "SEATS: must be a whole number from 0 to 10,000"
    ),
    "quote: too many seats": Case(
        ["quote", "acme", "axiom", "10001"], 2, "SEATS: must be a whole number from 0 to 10,000"
    ),
    "quote: seats not a number": Case(
        ["quote", "acme", "axiom", "three"], 2, "SEATS: must be a whole number from 0 to 10,000"
    ),
    "quote: unknown product": Case(
        ["quote", "acme", "zoom", "3"],
        2,
        "'zoom' is not a product (contact-center (cc), axiom, matrix)",
    ),
    "quote: unknown account": Case(
        ["quote", "nobody", "cc", "3"], 2, "no account named 'nobody' (see `seatbot accounts`)"
    ),
    "quote: no such subscription": Case(
        ["quote", "globex", "axiom", "3"],
        2,
        "globex has no Axiom subscription (see `seatbot accounts`)",
    ),
    "quote: bad --at": Case(
        ["quote", "acme", "cc", "3", "--at", "yesterday"],
        2,
        "--at: 'yesterday' is not a date (YYYY-MM-DD) or an ISO 8601 instant",
    ),
    "quote: unchanged count": Case(
        ["quote", "acme", "cc", "25"],
        2,
        "SEATS: Contact Center already has 25 seats.",
    ),
    "quote: missing argument": Case(
        ["quote", "acme"], 2, "Missing argument 'PRODUCT' (see `seatbot quote --help`)"
    ),
    "quote: unknown option": Case(
        ["quote", "acme", "cc", "3", "--bogus"],
        2,
        "No such option: --bogus (see `seatbot quote --help`)",
    ),
    # --- ledger, accounts, users -------------------------------------------------------------
    "ledger: unknown account": Case(
        ["ledger", "nobody"], 2, "no account named 'nobody' (see `seatbot accounts`)"
    ),
    "ledger: --json and --csv": Case(
        ["ledger", "acme", "--json", "--csv"], 2, "--json and --csv cannot be combined"
    ),
    "users: unknown account": Case(
        ["users", "nobody", "axiom"], 2, "no account named 'nobody' (see `seatbot accounts`)"
    ),
    "users: unknown product": Case(
        ["users", "acme", "zoom"],
        2,
        "'zoom' is not a product (contact-center (cc), axiom, matrix)",
    ),
    "users: platform down": Case(
        ["users", "acme", "cc"], 1, "Seatbot could not reach Contact Center"
    ),
    "users validate: undecodable file": Case(
        ["users", "validate", "{tmp}/latin-broken.csv"],
        2,
        "latin-broken.csv is not text in UTF-8, UTF-16 or Windows-1252",
    ),
    "users validate: empty file": Case(
        ["users", "validate", "{tmp}/empty.csv"],
        2,
        "the file is empty; it needs the header row (User_name, Email, Ext_number, …)",
    ),
    "users validate: header only, wrong header": Case(
        ["users", "validate", "{tmp}/bad-header.csv"],
        2,
        "bad-header.csv: the header row (row 1) needs fixing",
    ),
    "users validate: a folder": Case(
        ["users", "validate", "{tmp}/folder.csv"], 2, "folder.csv is a folder, not a user file."
    ),
    "users validate: not csv or xlsx": Case(
        ["users", "validate", "{tmp}/adir.yml"], 2, "adir.yml is neither a .csv nor an .xlsx file."
    ),
    "users validate: missing file": Case(
        ["users", "validate", "{tmp}/nope.csv"], 2, "There is no file at {tmp}/nope.csv."
    ),
    "load: a folder": Case(["load", "{tmp}/adir.yml"], 2, "adir.yml"),
    # --- prorate -----------------------------------------------------------------------------
    "prorate: negative unit price": Case(
        _prorate("--unit-price", "-30"), 2, "--unit-price: the price of a seat cannot be negative"
    ),
    "prorate: huge --to": Case(
        _prorate("--to", "99999999999999999999999"),
        2,
        "--to: must be a whole number from 0 to 10,000",
    ),
    "prorate: negative --from": Case(
        _prorate("--from", "-1"), 2, "--from: must be a whole number from 0 to 10,000"
    ),
    "prorate: --at outside the period": Case(
        _prorate("--at", "2026-03-01"),
        2,
        "--at: 2026-03-01 is outside the period 1 Jan 2026 – 31 Jan 2026",
    ),
    "prorate: unknown currency": Case(_prorate("--currency", "XXQ"), 2, "--currency:"),
    "prorate: unknown time zone": Case([*PRORATE, "--tz", "Mars/Base"], 2, "--tz:"),
    "prorate: unknown rule": Case([*PRORATE, "--rule", "weekly"], 2, "--rule: 'weekly'"),
    # --- posting without Slack: said before anything is reconciled or claimed ----------------
    "digest --post without Slack": Case(
        ["digest", "acme", "--post"],
        2,
        "--post needs Slack: set SLACK_BOT_TOKEN (one workspace), or SLACK_CLIENT_ID and "
        "SLACK_CLIENT_SECRET (the app installed in each workspace)",
    ),
    "reconcile --post without Slack": Case(
        ["reconcile", "acme", "--post"], 2, "--post needs Slack: set SLACK_BOT_TOKEN"
    ),
    # --- the root ----------------------------------------------------------------------------
    "unknown command": Case(["sing"], 2, "No such command 'sing'"),
}


def _seatbot(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A loaded SQLite database whose platforms cannot be reached, and the files cases use."""
    tmp = tmp_path_factory.mktemp("cli-errors")
    for extra in EXAMPLES.iterdir():
        shutil.copy(extra, tmp / extra.name)
    accounts = (EXAMPLES / "accounts.yml").read_text(encoding="utf-8")
    (tmp / "accounts.yml").write_text(
        accounts.replace(EXAMPLE_SANDBOX_URL, f"http://{CLOSED}"), encoding="utf-8"
    )
    header = "User_name,Email,Ext_number,Password,Level_ID,Role_id,Language,Groups,Type,"
    (tmp / "latin-broken.csv").write_bytes(header.encode() + b"\r\nJos\xe9,\x81\r\n")
    (tmp / "empty.csv").write_bytes(b"")
    (tmp / "bad-header.csv").write_text("Name,Mail\n", encoding="utf-8")
    (tmp / "folder.csv").mkdir()
    (tmp / "adir.yml").mkdir()
    readonly = f"sqlite:///{tmp / 'readonly.db'}"
    upgrade(readonly)
    root = Path(__file__).resolve().parents[3]
    env = {
        key: value
        for key, value in os.environ.items()
        if key.upper() not in {"DATABASE_URL", "PORT", "SEATBOT_TOKEN_KEYS"}
        and not key.upper().startswith("SLACK_")
    }
    env.update(
        DATABASE_URL=f"sqlite:///{tmp / 'seatbot.db'}",
        PYTHONPATH=str(root),
        COLUMNS="100",
    )
    loaded = _seatbot(["load", str(tmp / "accounts.yml")], env, tmp)
    assert loaded.returncode == 0, loaded.stderr
    return tmp, env


@pytest.mark.parametrize("name", sorted(CASES))
def test_bad_input_is_one_line_with_the_right_status(
    name: str, world: tuple[Path, dict[str, str]]
) -> None:
    tmp, base_env = world
    case = CASES[name]

    def filled(text: str) -> str:
        return text.replace("{tmp}", str(tmp))

    env = dict(base_env, **{key: filled(value) for key, value in case.env.items()})
    result = _seatbot([filled(arg) for arg in case.args], env, tmp)
    assert "Traceback" not in result.stdout + result.stderr
    assert result.returncode == case.status, result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith("seatbot: ")
    assert filled(case.says) in result.stderr
    assert PASSWORD not in result.stdout + result.stderr


@pytest.mark.parametrize(
    "command",
    [
        ["serve", "--host", "127.0.0.1", "--port", "{port}"],
        ["sandbox", "--port", "{port}"],
        ["dev", "--port", "{port}", "--database", "{tmp}/dev.db"],
        ["webhooks", "listen", "--port", "{port}", "--secret", "whsec_" + "A" * 43],
    ],
    ids=lambda command: command[0],
)
def test_a_busy_port_is_one_line_naming_it(
    command: list[str], world: tuple[Path, dict[str, str]]
) -> None:
    tmp, env = world
    env = dict(env, SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET="test-signing-secret")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = [arg.replace("{port}", str(port)).replace("{tmp}", str(tmp)) for arg in command]
        result = _seatbot(args, env, tmp)
    assert (result.returncode, result.stdout) == (1, ""), result.stderr
    assert result.stderr == (
        f"seatbot: cannot listen on 127.0.0.1:{port} (port {port} is already in use)\n"
    )
    assert not (tmp / "dev.db").exists()  # `seatbot dev` fails before making its database


def test_an_unrelated_bad_variable_does_not_stop_a_command(
    world: tuple[Path, dict[str, str]],
) -> None:
    tmp, env = world
    result = _seatbot(["accounts", "--json"], dict(env, PORT="abc"), tmp)
    assert (result.returncode, result.stderr) == (0, "")
    assert [a["name"] for a in json.loads(result.stdout)["accounts"]] == [
        "acme",
        "globex",
        "initech",
    ]


def test_platform_retries_are_summed_up_in_one_line_unless_verbose(
    world: tuple[Path, dict[str, str]],
) -> None:
    tmp, env = world
    quiet = _seatbot(["quote", "acme", "cc", "20", "--json"], env, tmp)
    # The decrease would be refused: a failure (exit 1), said in the one line, tries summed up.
    assert quiet.returncode == 1, quiet.stderr
    assert json.loads(quiet.stdout)["platform_check"]["status"] == "unknown"
    assert quiet.stderr.count("\n") == 1
    assert "could not reach Contact Center (4 tries)" in quiet.stderr
    assert "retrying" not in quiet.stderr

    loud = _seatbot(["--verbose", "quote", "acme", "cc", "20", "--json"], env, tmp)
    assert loud.returncode == 1
    retries = [line for line in loud.stderr.splitlines() if "retrying" in line]
    assert len(retries) >= 2
    assert all(line.startswith("seatbot: warning: platforms.http_requests: ") for line in retries)


def test_an_unexpected_error_is_one_line_and_verbose_shows_the_traceback(
    world: tuple[Path, dict[str, str]],
) -> None:
    tmp, env = world
    # A bug stand-in: an account whose time zone was corrupted in the database behind our back.
    database = tmp / "corrupt.db"
    upgrade(f"sqlite:///{database}")
    loaded = _seatbot(
        ["load", str(tmp / "accounts.yml")], dict(env, DATABASE_URL=f"sqlite:///{database}"), tmp
    )
    assert loaded.returncode == 0
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE accounts SET timezone = 'Not/AZone'")
    corrupt_env = dict(env, DATABASE_URL=f"sqlite:///{database}")
    quiet = _seatbot(["accounts"], corrupt_env, tmp)
    assert quiet.returncode == 1
    assert quiet.stderr.count("\n") == 1
    assert "Traceback" not in quiet.stderr
    loud = _seatbot(["-v", "accounts"], corrupt_env, tmp)
    assert loud.returncode == 1
    assert "Traceback" in loud.stderr
    assert loud.stderr.rstrip().splitlines()[-1].startswith("seatbot: ")


@pytest.mark.parametrize("at", ["2025-01-01", "2030-01-01"])
def test_quote_outside_the_subscriptions_life_is_refused_in_one_line(
    at: str, world: tuple[Path, dict[str, str]]
) -> None:
    tmp, env = world
    result = _seatbot(["quote", "acme", "axiom", "14", "--at", at], env, tmp)
    assert "Traceback" not in result.stdout + result.stderr
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("seatbot: ")
    assert result.stdout == ""
