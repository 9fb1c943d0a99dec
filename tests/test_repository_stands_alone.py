"""The repository is complete on its own: nothing in it reaches for a folder beside it."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _tracked_text_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.split(b"\0")
    files = [ROOT / name.decode() for name in listed if name]
    return [path for path in files if path.is_file() and path.suffix != ".xlsx"]


@pytest.mark.slow
def test_nothing_refers_to_a_shared_folder_beside_the_repository() -> None:
    needle = "../" + "shared"  # spelled in two parts so this file does not match itself
    offenders = [
        str(path.relative_to(ROOT))
        for path in _tracked_text_files()
        if needle in path.read_text(encoding="utf-8", errors="replace")
    ]
    assert offenders == []


def test_the_manifest_schema_is_kept_with_its_licence() -> None:
    folder = ROOT / "tests" / "data" / "slack"
    assert (folder / "manifest.schema.1.0.0.json").is_file()
    assert "MIT License" in (folder / "manifest.schema.LICENSE").read_text(encoding="utf-8")


@pytest.mark.slow
def test_the_files_seatbot_makes_beside_its_database_are_ignored_by_git() -> None:
    made = ["seatbot.db", "seatbot.db.key", "seatbot.db-wal", "seatbot.db-shm", "seatbot-dev.db"]
    checked = subprocess.run(
        ["git", "check-ignore", "--no-index", *made], cwd=ROOT, capture_output=True, text=True
    )
    assert checked.stdout.split() == made


@pytest.mark.slow
def test_every_test_file_the_repository_names_exists() -> None:
    named = {
        (str(path.relative_to(ROOT)), name)
        for path in _tracked_text_files()
        for name in re.findall(r"\btests/[\w/]+\.py\b", path.read_text("utf-8", errors="replace"))
    }
    assert sorted((where, name) for where, name in named if not (ROOT / name).is_file()) == []
