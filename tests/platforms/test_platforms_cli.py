"""``seatbot sandbox`` and ``seatbot users ...``, on a local Typer app built with register()."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import httpx
import typer
from platform_fakes import API_KEY, file_row, write_user_file
from typer.testing import CliRunner

from billing.errors import InvalidInput
from bot.cli import sandbox as cli_sandbox
from bot.cli.platforms import build_users_report, register, users_report_document
from platforms.connection import PlatformConnection, RetryPolicy, Timeouts
from platforms.factory import build_platform
from platforms.sandbox import Fault, SandboxApp, SandboxConfig
from platforms.types import Platform, Product

runner = CliRunner()


class RecordingServe:
    def __init__(self) -> None:
        self.calls: list[tuple[SandboxApp, str, int]] = []

    def __call__(self, app: SandboxApp, host: str, port: int, announce: Callable[[], None]) -> None:
        self.calls.append((app, host, port))
        announce()


def cli(lookup: object = None, serve: RecordingServe | None = None) -> typer.Typer:
    app = typer.Typer()
    app.callback()(lambda: None)
    cli_sandbox.register(app, serve=serve or RecordingServe())
    register(app, lookup=lookup)  # type: ignore[arg-type]
    return app


def test_validate_reports_every_bad_row(tmp_path: Path) -> None:
    rows = [file_row(i) for i in range(5)]
    rows[2][1] = rows[0][1]
    rows[3][2] = "99"
    rows[4][4], rows[4][7] = "3", ""
    path = tmp_path / "users.xlsx"
    write_user_file(path, rows)
    result = runner.invoke(cli(), ["users", "validate", str(path)], terminal_width=200)
    assert result.exit_code == 2
    assert "3 of 5 rows need fixing" in result.output
    for expected in ("duplicate of row 2", "must be between 100 and 9000", "required for managers"):
        assert expected in result.output


def test_validate_a_clean_file(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    write_user_file(path, [file_row(i) for i in range(12)])
    result = runner.invoke(cli(), ["users", "validate", str(path)])
    assert (result.exit_code, result.output) == (0, "12 rows OK (read as UTF-8)\n")


def test_validate_json(tmp_path: Path) -> None:
    rows = [file_row(i) for i in range(2)]
    rows[1][2] = "abc"
    path = tmp_path / "users.csv"
    write_user_file(path, rows)
    result = runner.invoke(cli(), ["users", "validate", "--json", str(path)])
    assert result.exit_code == 2
    assert result.stderr == f"seatbot: {path}: 1 of 2 rows needs fixing\n"
    assert json.loads(result.stdout)["encoding"] == "UTF-8"
    assert json.loads(result.stdout)["problems"] == [
        {"row": 3, "column": "Ext_number", "reason": "must be a whole number"}
    ]


def test_validate_names_the_encoding_it_read(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    write_user_file(path, [file_row(i) for i in range(3)])
    path.write_bytes(path.read_text(encoding="utf-8").encode("utf-16"))
    result = runner.invoke(cli(), ["users", "validate", str(path)])
    assert (result.exit_code, result.output) == (0, "3 rows OK (read as UTF-16 LE)\n")


def test_an_empty_file_is_one_line_not_a_table(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    path.write_bytes(b"")
    result = runner.invoke(cli(), ["users", "validate", str(path)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1
    assert "the file is empty; it needs the header row (User_name, Email" in result.stderr
    assert "of 0 rows" not in result.output


def test_a_header_only_file_has_no_users(tmp_path: Path) -> None:
    path = tmp_path / "users.csv"
    write_user_file(path, [])
    result = runner.invoke(cli(), ["users", "validate", str(path)])
    assert (result.exit_code, result.output) == (
        0,
        "no users: the file has only its header row (read as UTF-8)\n",
    )


def test_validate_an_unreadable_file(tmp_path: Path) -> None:
    result = runner.invoke(cli(), ["users", "validate", str(tmp_path / "nope.csv")])
    assert result.exit_code == 2
    assert "There is no file at" in result.output


def test_sandbox_command_builds_the_app_and_serves_it(tmp_path: Path) -> None:
    accounts = tmp_path / "accounts.json"
    accounts.write_text(json.dumps([{"tenant": "acme", "product": "axiom", "users": 7}]))
    serve = RecordingServe()
    args = [
        "sandbox",
        "--port",
        "9911",
        "--latency-ms",
        "50",
        "--fault",
        "rate_limit:times=2,retry_after=1",
        "--accounts",
        str(accounts),
    ]
    result = runner.invoke(cli(serve=serve), args)
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:9911/t/TENANT/PRODUCT" in result.output
    ((app, host, port),) = serve.calls
    assert (host, port) == ("127.0.0.1", 9911)
    assert [(f.kind, f.ms, f.times) for f in app.faults] == [
        ("latency", 50, None),
        ("rate_limit", 0, 2),
    ]
    assert len(app.users("acme", "axiom")) == 7


def test_sandbox_command_rejects_a_bad_fault() -> None:
    result = runner.invoke(cli(), ["sandbox", "--fault", "tornado"])
    assert result.exit_code == 2
    assert "a fault needs a kind" in result.output


def sandbox_lookup(app: SandboxApp, seats: int) -> object:
    def lookup(account: str, product: str) -> tuple[Platform | None, int]:
        if account != "acme":
            raise InvalidInput(f"No account named {account}.")
        connection = PlatformConnection(
            product=Product(product),
            base_url=f"http://sandbox.test/t/{account}/{product}",
            token=API_KEY,
            api_key=API_KEY,
            login_email="owner@acme.example.com",
            timeouts=Timeouts(listing_deadline_s=5),
            # Tiny backoff so the real sleep costs nothing and the server error, not the
            # deadline, is what the owner is told.
            retry=RetryPolicy(max_attempts=2, backoff_initial_s=0.001, backoff_max_s=0.001),
        )
        return build_platform(connection, transport=httpx.ASGITransport(app=app)), seats

    return lookup


def test_users_account_product_prints_the_guards_view() -> None:
    app = SandboxApp(SandboxConfig(api_key=API_KEY))
    app.set_account("acme", "matrix", users=12, seed=5)
    result = runner.invoke(
        cli(sandbox_lookup(app, 15)), ["users", "acme", "matrix"], terminal_width=200
    )
    assert result.exit_code == 0, result.output
    assert "Matrix: 12 users on 15 billed seats; 3 seat(s) can be removed now" in result.output
    result = runner.invoke(cli(sandbox_lookup(app, 10)), ["users", "acme", "matrix", "--json"])
    document = json.loads(result.output)
    assert (document["user_count"], document["removable_seats"]) == (12, 0)
    statuses = [user["status"] for user in document["users"]]
    assert statuses == sorted(statuses, key=lambda s: s != "inactive")  # inactive first


def test_users_says_why_in_one_line_when_the_platform_fails() -> None:
    app = SandboxApp(SandboxConfig(api_key=API_KEY))
    app.add_fault(Fault(kind="server_error"))
    result = runner.invoke(cli(sandbox_lookup(app, 10)), ["users", "acme", "axiom"])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("seatbot: Axiom had a server error")
    assert API_KEY not in result.output


def test_users_unknown_account_is_bad_input() -> None:
    result = runner.invoke(cli(sandbox_lookup(SandboxApp(), 1)), ["users", "zeta", "axiom"])
    assert result.exit_code == 2
    assert "No account named zeta." in result.output


async def test_report_without_a_connection() -> None:
    report = await build_users_report(None, 4, label="Axiom")
    assert report.users is None
    assert users_report_document(report)["error"] == (
        "Axiom has no platform connection; Seatbot cannot tell which users exist."
    )


def test_validate_refuses_a_shift_jis_file_until_encoding_names_it(tmp_path: Path) -> None:
    rows = [file_row(i) for i in range(2)]
    rows[0][0], rows[1][0] = "山田 太郎", "佐藤 花子"
    path = tmp_path / "users.csv"
    write_user_file(path, rows)
    path.write_bytes(path.read_text(encoding="utf-8").encode("shift_jis"))
    refused = runner.invoke(cli(), ["users", "validate", str(path)])
    assert (refused.exit_code, refused.stdout) == (2, "")
    assert refused.stderr.count("\n") == 1
    assert "cannot be told for sure" in refused.stderr
    assert "--encoding shift_jis" in refused.stderr
    read = runner.invoke(cli(), ["users", "validate", "--encoding", "shift_jis", str(path)])
    assert (read.exit_code, read.output) == (0, "2 rows OK (read as Shift-JIS)\n")
    document = runner.invoke(
        cli(), ["users", "validate", "--json", "--encoding", "shift_jis", str(path)]
    )
    assert json.loads(document.stdout)["encoding"] == "Shift-JIS"
    unknown = runner.invoke(cli(), ["users", "validate", "--encoding", "klingon", str(path)])
    assert unknown.exit_code == 2
    assert unknown.stderr.startswith("seatbot: --encoding: 'klingon' is not a text encoding")


def test_users_piped_shows_every_email_whole() -> None:
    # Not a terminal (a pipe, a file): the table is laid out wide enough for every value,
    # where rich would shrink it to 80 columns and cut `user9@acme…`.
    app = SandboxApp(SandboxConfig(api_key=API_KEY))
    app.set_account("acme", "matrix", users=12, seed=5)
    result = runner.invoke(cli(sandbox_lookup(app, 15)), ["users", "acme", "matrix"])
    assert result.exit_code == 0, result.output
    document = runner.invoke(cli(sandbox_lookup(app, 15)), ["users", "acme", "matrix", "--json"])
    emails = [user["email"] for user in json.loads(document.stdout)["users"]]
    assert len(emails) == 12
    for email in emails:
        assert email in result.stdout
    assert "…" not in result.stdout
