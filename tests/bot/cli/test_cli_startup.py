"""Start-up is per command: the CLI imports a command's module only when that command is asked
for, and ``seatbot --version`` and ``seatbot prorate`` (the pure calculator) load none of the
heavy libraries. How long they take is measured by ``benchmarks/startup.py``, not here."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest
import typer

from bot.cli import COMMAND_MODULES, COMMANDS, CommandsOnDemand, build_cli, module_commands

#: What neither command may import (directly or through anything it imports).
HEAVY = {
    "sqlalchemy",
    "alembic",
    "slack_bolt",
    "slack_sdk",
    "uvicorn",
    "httpx",
    "openpyxl",
    "matplotlib",
}

PRORATE = [
    "prorate",
    "--unit-price",
    "30.00",
    "--currency",
    "USD",
    "--period-start",
    "2026-01-01",
    "--period-end",
    "2026-02-01",
    "--at",
    "2026-01-16",
    "--from",
    "10",
    "--to",
    "12",
]

#: Runs the CLI in a fresh interpreter, then prints the modules it loaded as the last line.
_SCRIPT = """
import json, sys
from bot.cli import run
status = run(sys.argv[1:])
print(json.dumps({"status": status, "modules": sorted(sys.modules)}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("args", [["--version"], PRORATE], ids=["version", "prorate"])
def test_a_pure_command_loads_no_heavy_library(args: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["status"] == 0
    loaded = {name.split(".")[0] for name in report["modules"]}
    assert loaded & HEAVY == set()
    # and of the CLI's own modules, only the one command's
    commands = {name for name in report["modules"] if name in COMMAND_MODULES}
    assert commands == ({"bot.cli.prorate"} if "prorate" in args else set())


def test_each_command_is_listed_with_the_module_that_adds_it() -> None:
    for module_name in COMMAND_MODULES:
        listed = {name for name, module in COMMANDS.items() if module == module_name}
        assert set(module_commands(module_name)) == listed, module_name


def test_looking_up_a_command_imports_only_its_module() -> None:
    commands = CommandsOnDemand(COMMANDS)
    assert list(commands) == list(COMMANDS)
    assert "digest" in commands
    assert commands.loaded == {}
    assert commands.get("no-such-command") is None
    commands["reconcile"]
    assert set(commands.loaded) == {"reconcile", "digest"}


def test_the_version_loads_no_command(capsys: pytest.CaptureFixture[str]) -> None:
    root: Any = typer.main.get_command(build_cli())
    root.main(args=["--version"], prog_name="seatbot", standalone_mode=False)
    assert capsys.readouterr().out.startswith("seatbot ")
    assert root.commands.loaded == {}
