"""Start-up benchmark: how long each ``seatbot`` command takes to start, against the baseline
``python -c "import typer, rich.console"`` in the same virtual environment.

Times ``seatbot --version``, ``seatbot prorate …`` (the pure calculator, whole run) and
``--help`` of the CLI, of every command and of every group's subcommand, each a fresh process.
The runs are interleaved (one of each command per round), so load from other work on the
machine falls on all of them alike; the 1-minute load average is printed before and after.
Prints a Markdown table: median and fastest wall time per command, and the median's ratio to
the baseline's. Each command runs as ``python -m bot.cli …`` (what the ``seatbot`` script does)
in ``--checkout`` (default: this one), so another checkout's code can be timed in the same
virtual environment, e.g. ``--checkout /work/main`` for the figures before a change.

    .venv/bin/python benchmarks/startup.py [--runs 10] [--only PREFIX] [--checkout DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.cli import COMMANDS, module_commands

ROOT = Path(__file__).resolve().parents[1]
SEATBOT = [sys.executable, "-m", "bot.cli"]
BASELINE = "baseline"
PRORATE = [
    "prorate", "--unit-price", "30.00", "--currency", "USD", "--period-start", "2026-01-01",
    "--period-end", "2026-02-01", "--at", "2026-01-16", "--from", "10", "--to", "12",
]  # fmt: skip


def commands() -> dict[str, list[str]]:
    """Every command to time, by the name shown in the table → its argv."""
    found: dict[str, list[str]] = {
        BASELINE: [sys.executable, "-c", "import typer, rich.console"],
        "--version": [*SEATBOT, "--version"],
        "prorate …": [*SEATBOT, *PRORATE],
        "--help": [*SEATBOT, "--help"],
    }
    loaded: dict[str, Any] = {}
    for name, module in COMMANDS.items():
        if name not in loaded:
            loaded.update(module_commands(module))
        found[f"{name} --help"] = [*SEATBOT, name, "--help"]
        for sub in getattr(loaded[name], "commands", {}):
            found[f"{name} {sub} --help"] = [*SEATBOT, name, sub, "--help"]
    return found


def run_once(argv: list[str], checkout: Path) -> float:
    """Wall time of one run of ``argv`` in ``checkout``, in seconds (it must exit 0)."""
    started = time.perf_counter()
    subprocess.run(
        argv, cwd=checkout, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="runs of each command")
    parser.add_argument(
        "--only", default="", help="time only the commands that start with this (and the baseline)"
    )
    parser.add_argument("--checkout", type=Path, default=ROOT, help="the code to time")
    args = parser.parse_args()
    table = {
        name: argv
        for name, argv in commands().items()
        if name == BASELINE or name.startswith(args.only)
    }
    load_before = os.getloadavg()[0]
    times: dict[str, list[float]] = {name: [] for name in table}
    for _ in range(args.runs):
        for name, argv in table.items():
            times[name].append(run_once(argv, args.checkout))
    load_after = os.getloadavg()[0]
    base = statistics.median(times[BASELINE])
    today = datetime.now(UTC).date().isoformat()
    print(f"{args.checkout}, {today}, {args.runs} runs each, {os.cpu_count()} cores,")
    print(f"1-minute load average {load_before:.2f} before, {load_after:.2f} after")
    print()
    print("| command | median (ms) | fastest (ms) | median ÷ baseline |")
    print("|---|---|---|---|")
    for name, found in times.items():
        median = statistics.median(found)
        label = 'python -c "import typer, rich.console"' if name == BASELINE else f"seatbot {name}"
        print(
            f"| `{label}` | {median * 1000:.0f} | {min(found) * 1000:.0f} | {median / base:.2f}× |"
        )


if __name__ == "__main__":
    main()
