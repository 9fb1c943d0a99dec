"""The README's command and settings tables say what the CLI and the settings model have, so
that they cannot drift apart again: every command and every setting is in them, and they name
nothing that does not exist."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import typer

from bot.cli import build_cli
from bot.runtime.settings import Settings

README = Path(__file__).resolve().parents[3] / "README.md"
#: Read from the environment outside the settings model (by prometheus_client).
OTHER_VARIABLES = {"PROMETHEUS_MULTIPROC_DIR"}


def _section(title: str) -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def _first_cells(section: str, header: str | None = None) -> list[str]:
    """The first cell of each row of the section's tables (only of the table whose first
    column is headed ``header``, when given)."""
    cells: list[str] = []
    heading: str | None = None
    for line in section.splitlines():
        if not line.startswith("|"):
            heading = None
            continue
        first = line.split(" | ")[0].removeprefix("| ").strip()
        if heading is None:
            heading = first
        elif line.startswith("| `") and header in (None, heading):
            cells.append(first)
    return cells


def _commands() -> set[str]:
    """Every command that does something (groups excluded), as its words: ``tokens new-key``."""
    found: set[str] = set()

    def walk(command: Any, prefix: tuple[str, ...]) -> None:
        for name, sub in getattr(command, "commands", {}).items():
            if getattr(sub, "commands", None):
                walk(sub, (*prefix, name))
            else:
                found.add(" ".join((*prefix, name)))

    walk(typer.main.get_command(build_cli()), ())
    return found


def _documented_commands() -> list[str]:
    """The command words of each row of the README's command table (``seatbot users show
    ACCOUNT …`` → ``users show``): the lower-case words after ``seatbot``."""
    documented = []
    for cell in _first_cells(_section("Commands"), header="command"):
        words = cell.strip("`").split()
        assert words[0] == "seatbot", cell
        names = [w for w in words[1:] if re.fullmatch(r"[a-z][a-z-]*", w)]
        documented.append(" ".join(names))
    return documented


def test_the_command_table_has_one_row_per_command() -> None:
    rows = _documented_commands()
    assert sorted({row for row in rows if rows.count(row) > 1}) == []


def test_every_table_ends_before_the_text_after_it() -> None:
    """A table row is closed by ``|``, and what follows a table is a blank line: a line of text
    after a row is rendered inside the table, as one more row."""
    lines = README.read_text(encoding="utf-8").splitlines()
    glued = [
        f"line {number}: {line[:60]}"
        for number, (line, after) in enumerate(zip(lines, [*lines[1:], ""], strict=True), 1)
        if line.startswith("|") and not (line.endswith("|") and after[:1] in ("", "|"))
    ]
    assert glued == []


def test_the_command_table_lists_every_command_and_only_those() -> None:
    documented = set(_documented_commands())
    assert _commands() - documented == set(), "commands missing from the README"
    assert documented - _commands() == set(), "README rows for no command"


def test_the_settings_table_lists_every_setting_and_only_those() -> None:
    documented = {
        name
        for cell in _first_cells(_section("Configuration"))
        for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", cell)
    }
    settings = {name.upper() for name in Settings.model_fields}
    assert settings - documented == set(), "settings missing from the README"
    assert documented - settings - OTHER_VARIABLES == set(), "README rows for no setting"
