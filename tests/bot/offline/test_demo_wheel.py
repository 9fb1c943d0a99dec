"""An installed wheel runs ``seatbot demo`` from any folder: its data ships in the package.

Builds the wheel from this checkout (a copy, so the working tree gets no build folders), installs
it into a fresh virtual environment with pip (dependencies from the machine's usual indexes and
wheel cache), and runs the installed ``seatbot demo`` in an empty folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[3]
_NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis"
)


def _run(args: list[str], cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    # Without PYTHONPATH or the checkout as working folder, only the installed package is seen.
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    return subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_the_installed_wheel_runs_the_demo_from_an_empty_folder(tmp_path: Path) -> None:
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=_NOT_SOURCES)
    wheels = tmp_path / "wheels"
    built = _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(source)],
        tmp_path,
        timeout=600,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = wheels.glob("seatbot-*.whl")

    environment = tmp_path / "venv"
    venv.create(environment, with_pip=True)
    python = environment / "bin" / "python"
    installed = _run([str(python), "-m", "pip", "install", "-q", str(wheel)], tmp_path, 900)
    assert installed.returncode == 0, installed.stderr

    empty = tmp_path / "empty"
    empty.mkdir()
    seatbot = str(environment / "bin" / "seatbot")
    version = _run([seatbot, "--version"], empty, timeout=120)
    expected = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert (version.returncode, version.stdout.strip()) == (0, f"seatbot {expected}")
    demo = _run([seatbot, "demo"], empty, timeout=600)
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr
    assert "every step did what it should" in demo.stdout
    assert "Traceback" not in demo.stdout + demo.stderr
    assert list(empty.iterdir()) == []  # the demo works in a temporary folder of its own
