"""The container image: the Dockerfile read line by line, then built with podman and run.

The build test uses Debian's podman (tests/podman_harness.py). This machine reaches no
container registry, so the ``python:3.11-slim-bookworm`` base is replaced (``--build-arg
PYTHON_IMAGE``) by a Debian bookworm image with python3, made with ``mmdebstrap`` from Debian's
packages and imported once (``localhost/seatbot-test-base:bookworm``);
``SEATBOT_TEST_PYTHON_IMAGE`` names another base. Everything after ``FROM`` is the Dockerfile as
shipped. Without podman (or mmdebstrap, to make the base) the test fails under ``CI=true`` and
is skipped with the reason elsewhere.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import tomllib
from pathlib import Path

import httpx
import pytest
from deploy_harness import free_port
from podman_harness import (
    IMAGE,
    build_seatbot_image,
    container_logs,
    podman_command,
    run_limits,
)

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = ROOT / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions (continuation lines joined), as (KEYWORD, arguments)."""
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def _final_stage() -> list[tuple[str, str]]:
    instructions = _instructions()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def test_the_image_is_a_slim_python_with_the_wheel_and_a_non_root_user() -> None:
    instructions = _instructions()
    args = {rest.split("=", 1)[0]: rest.split("=", 1)[1] for k, rest in instructions if k == "ARG"
            and "=" in rest}  # fmt: skip
    assert re.fullmatch(r"python:3\.1[1-9]-slim(-\w+)?", args["PYTHON_IMAGE"])
    assert all(rest.startswith("${PYTHON_IMAGE}") for k, rest in instructions if k == "FROM")
    build = " ".join(rest for k, rest in instructions if k == "RUN")
    assert "pip wheel" in build
    assert "--wheel-dir /wheels ." in build
    final = _final_stage()
    installs = " ".join(rest for k, rest in final if k == "RUN")
    assert "--no-index --find-links /tmp/wheels seatbot" in installs
    [user] = [rest for k, rest in final if k == "USER"]
    assert user not in {"root", "0"}
    assert f"--uid 10001 --user-group --home-dir /var/lib/{user}" in installs
    # USER comes after every RUN of the final stage: nothing runs as root at run time.
    keywords = [k for k, _ in final]
    assert keywords.index("USER") > max(i for i, k in enumerate(keywords) if k == "RUN")


def test_the_entry_point_is_seatbot_serve_with_a_healthcheck() -> None:
    final = dict(_final_stage())
    assert json.loads(final["ENTRYPOINT"]) == ["seatbot"]
    assert json.loads(final["CMD"]) == ["serve"]
    assert "/healthz" in final["HEALTHCHECK"]
    assert final["STOPSIGNAL"] == "SIGTERM"
    assert final["EXPOSE"] == "3000"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert project["project"]["scripts"]["seatbot"] == "bot.cli:main"


def test_the_build_copies_every_package_and_ignores_the_rest() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    packages = {p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]}
    copied = {
        source
        for keyword, rest in _instructions()
        if keyword == "COPY" and "--from" not in rest
        for source in rest.split()[:-1]
    }
    assert {"pyproject.toml", "README.md"} | packages <= copied
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert ignored[1] == "*"  # everything but what is listed after
    assert {f"!{p}/" for p in packages} <= set(ignored)


# ---------------------------------------------------------------- built and run


@pytest.mark.slow
def test_the_image_builds_starts_answers_healthz_and_stops_cleanly(tmp_path: Path) -> None:
    podman = podman_command()
    built = build_seatbot_image(podman, tmp_path)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    port = free_port()
    name = f"seatbot-test-{port}"
    started = subprocess.run(
        [*podman, "run", "-d", "--name", name, *run_limits(), "-p", f"127.0.0.1:{port}:3000",
         "-e", "SLACK_SIGNING_SECRET=image-test-signing-secret",
         "-e", "SLACK_BOT_TOKEN=xoxb-image-test-token", IMAGE],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert started.returncode == 0, started.stderr
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).json() == {"ok": True}:
                    break
            except (httpx.HTTPError, ValueError):
                pass
            assert time.monotonic() < deadline, container_logs(podman, name)
            time.sleep(0.5)
        assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5).status_code == 200
        # The image's own HEALTHCHECK passes.
        health = subprocess.run(
            [*podman, "healthcheck", "run", name], capture_output=True, check=False
        )
        assert health.returncode == 0, health.stderr
        user = subprocess.run(
            [*podman, "exec", name, "id", "-u"], capture_output=True, text=True, check=True
        )
        assert user.stdout.strip() == "10001"
        subprocess.run([*podman, "stop", "-t", "30", name], capture_output=True, check=True)
        code = subprocess.run(
            [*podman, "inspect", name, "--format", "{{.State.ExitCode}}"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        assert code == "0", container_logs(podman, name)
        assert '"Seatbot stopped"' in container_logs(podman, name)
    finally:
        subprocess.run([*podman, "rm", "-f", name], capture_output=True, check=False)
