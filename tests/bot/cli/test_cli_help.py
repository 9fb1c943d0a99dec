"""``--help`` on every command, written for the terminal's width, not the source file's."""

from __future__ import annotations

import re
from typing import Any

import pytest
import typer
from typer.core import TyperArgument
from typer.testing import CliRunner

from bot.cli import COMMAND_MODULES, build_cli
from bot.cli.commands import negative_numbers_as_arguments, unwrap_help


def _command_paths() -> list[tuple[str, ...]]:
    """Every command and group of the CLI, as the words that reach it."""
    root: Any = typer.main.get_command(build_cli())
    paths: list[tuple[str, ...]] = [()]

    def walk(command: Any, prefix: tuple[str, ...]) -> None:
        for name, sub in getattr(command, "commands", {}).items():
            paths.append((*prefix, name))
            walk(sub, (*prefix, name))

    walk(root, ())
    return paths


PATHS = _command_paths()


def _help(path: tuple[str, ...], width: int) -> str:
    result = CliRunner().invoke(
        build_cli(), [*path, "--help"], terminal_width=width, env={"COLUMNS": str(width)}
    )
    assert result.exit_code == 0, result.output
    return result.output


def test_every_documented_command_is_there() -> None:
    names = {path for path in PATHS if len(path) == 1}
    for expected in (
        "demo", "dev", "serve", "db", "load", "accounts", "quote", "ledger",
        "users", "sandbox", "prorate", "tokens",
    ):  # fmt: skip
        assert (expected,) in names
    assert ("db", "upgrade") in PATHS
    assert ("users", "validate") in PATHS


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "seatbot")
def test_help_paragraphs_are_not_broken_mid_sentence(path: tuple[str, ...]) -> None:
    root: Any = typer.main.get_command(build_cli())
    command = root
    for word in path:
        command = command.commands[word]
    text = command.help or ""
    assert text, f"`seatbot {' '.join(path)}` has no help text"
    # Within a paragraph no line break: the terminal wraps, the author does not.
    for paragraph in text.split("\n\n"):
        assert "\n" not in paragraph, paragraph


@pytest.mark.parametrize("width", [80, 120])
@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "seatbot")
def test_help_reads_whole_at_80_and_120_columns(path: tuple[str, ...], width: int) -> None:
    shown = _help(path, width)
    assert all(len(line) <= width for line in shown.splitlines())
    root: Any = typer.main.get_command(build_cli())
    command = root
    for word in path:
        command = command.commands[word]
    # The first paragraph comes out whole once the terminal's wrapping is undone.
    first = (command.help or "").split("\n\n")[0]
    flowing = " ".join(re.sub(r"[│╭╮╰╯─]", " ", shown).split())
    assert " ".join(first.split()) in flowing


def test_the_command_list_shows_each_summary_on_one_line_at_120_columns() -> None:
    shown = _help((), 120)
    root: Any = typer.main.get_command(build_cli())
    for name, command in root.commands.items():
        summary = command.get_short_help_str(limit=200)
        line = next(line for line in shown.splitlines() if f"│ {name} " in line)
        assert summary.rstrip(".") in line, (name, line)


def test_every_command_module_registers_something() -> None:
    assert len(COMMAND_MODULES) == len(set(COMMAND_MODULES))
    for module_name in COMMAND_MODULES:
        app = typer.Typer()
        app.callback()(lambda: None)
        __import__(module_name, fromlist=["register"]).register(app)
        assert app.registered_commands or app.registered_groups, module_name


def test_unwrap_help_keeps_paragraphs() -> None:
    doc = """First line
    continues here.

    Second paragraph
        indented."""
    assert unwrap_help(doc) == "First line continues here.\n\nSecond paragraph indented."


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["acme", "axiom", "3"], ["acme", "axiom", "3"]),
        (["acme", "axiom", "-3"], ["--", "acme", "axiom", "-3"]),
        (["acme", "axiom", "-3", "--json"], ["--json", "--", "acme", "axiom", "-3"]),
        (
            ["--at", "2026-01-01", "acme", "-1", "x"],
            ["--at", "2026-01-01", "--", "acme", "-1", "x"],
        ),
        (["acme", "--", "-1"], ["acme", "--", "-1"]),
    ],
)
def test_negative_numbers_stay_arguments(args: list[str], expected: list[str]) -> None:
    root: Any = typer.main.get_command(build_cli())
    assert negative_numbers_as_arguments(root.commands["quote"], args) == expected


def _command(path: tuple[str, ...]) -> Any:
    command: Any = typer.main.get_command(build_cli())
    for word in path:
        command = command.commands[word]
    return command


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "seatbot")
def test_flags_show_as_flags_and_every_option_has_help(path: tuple[str, ...]) -> None:
    shown = _help(path, 200)
    assert "<bool>" not in shown
    options = shown.split("─ Options ─", 1)[-1]
    assert not re.search(r"<[a-z]", options), options  # a value is named, not typed: --at AT
    for param in _command(path).params:
        assert param.help, f"`seatbot {' '.join(path)}`: {param.name} has no help"


# One name per kind of argument, wherever a command takes it.
ARGUMENT_NAMES = {"ACCOUNT", "PRODUCT", "SEATS", "FILE", "ID"}


@pytest.mark.parametrize("path", PATHS, ids=lambda p: " ".join(p) or "seatbot")
def test_arguments_are_named_one_way(path: tuple[str, ...]) -> None:
    shown = _help(path, 200)
    usage = next(line for line in shown.splitlines() if "Usage:" in line)
    assert "{" not in usage  # typer's {ACCOUNT}: the README writes ACCOUNT
    arguments = [p for p in _command(path).params if isinstance(p, TyperArgument)]
    words = usage.split("[OPTIONS]", 1)[1].split()
    if not arguments:
        assert words in ([], ["COMMAND", "[ARGS]..."]), usage
        return
    assert len(words) == len(arguments), usage
    for word in words:
        assert word.strip("[]") in ARGUMENT_NAMES, (path, word)


def test_serve_help_names_every_route_a_load_balancer_and_prometheus_use() -> None:
    shown = " ".join(_help(("serve",), 200).split())
    for route in ("/slack/events", "/healthz", "/readyz", "/metrics"):
        assert route in shown
