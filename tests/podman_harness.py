"""podman for the container tests (tests/test_container_image.py, tests/test_compose.py): the
command (with runc), the resource limits this sandbox allows, the Debian base that stands in for
``python:3.11-slim-bookworm`` (no container registry is reachable here), and the Seatbot image
built from the Dockerfile, made once and reused."""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

from deploy_harness import require_binary

ROOT = Path(__file__).resolve().parents[1]
BASE_IMAGE = "localhost/seatbot-test-base:bookworm"
IMAGE = "localhost/seatbot:test"


def podman_command() -> list[str]:
    podman = require_binary("podman", shutil.which("podman"), "apt-get install podman")
    command = [podman]
    # crun refuses this machine's hybrid cgroup layout; runc copes (CI installs it).
    runc = shutil.which("runc")
    if runc is not None:
        command += ["--runtime", runc]
    return command


def run_limits() -> list[str]:
    """podman's default rlimits are higher than this sandbox lets a process raise them (no
    CAP_SYS_RESOURCE); ask for what the current process already has."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)[0]
    nproc = 4096 if nproc == resource.RLIM_INFINITY else min(4096, nproc - 1)
    return ["--ulimit", f"nofile={soft}:{hard}", "--ulimit", f"nproc={nproc}:{nproc}"]


def base_image(podman: list[str], folder: Path) -> str:
    chosen = os.environ.get("SEATBOT_TEST_PYTHON_IMAGE")
    if chosen:
        return chosen
    exists = subprocess.run([*podman, "image", "exists", BASE_IMAGE], check=False)
    if exists.returncode == 0:
        return BASE_IMAGE
    mmdebstrap = require_binary(
        "mmdebstrap", shutil.which("mmdebstrap"), "apt-get install mmdebstrap"
    )
    tarball = folder / "base.tar"
    subprocess.run(
        [mmdebstrap, "--variant=minbase", "--include=python3,python3-venv,ca-certificates",
         "--format=tar", "bookworm", str(tarball)],
        check=True, capture_output=True, timeout=900,
    )  # fmt: skip
    subprocess.run([*podman, "import", str(tarball), BASE_IMAGE], check=True, capture_output=True)
    return BASE_IMAGE


def proxy_arguments() -> list[str]:
    """Pass this machine's pip mirror or proxy CA (if any) to the build stage."""
    found: list[str] = []
    for name in ("PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL"):
        value = os.environ.get(name)
        if value and not value.startswith("file:"):
            found += ["--build-arg", f"{name}={value}"]
    cert = os.environ.get("PIP_CERT") or os.environ.get("REQUESTS_CA_BUNDLE") or _pip_cert()
    if cert and Path(cert).is_file():
        folder = Path(cert).resolve().parent
        found += [
            "-v",
            f"{folder}:/build-ca:ro",
            "--build-arg",
            f"PIP_CERT=/build-ca/{Path(cert).name}",
        ]
    return found


def _pip_cert() -> str | None:
    """The CA bundle pip is configured with (``pip config``), if any."""
    shown = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"],
        capture_output=True, text=True, check=False, timeout=60,
    ).stdout  # fmt: skip
    for line in shown.splitlines():
        name, _, value = line.partition("=")
        if name.endswith(".cert"):
            return value.strip().strip("'\"")
    return None


def build_seatbot_image(podman: list[str], folder: Path) -> subprocess.CompletedProcess[str]:
    """Build :data:`IMAGE` from the Dockerfile as shipped, on :func:`base_image`."""
    base = base_image(podman, folder)
    return subprocess.run(
        [*podman, "build", "--format", "docker", *run_limits(), *proxy_arguments(),
         "--build-arg", f"PYTHON_IMAGE={base}", "-t", IMAGE, str(ROOT)],
        capture_output=True, text=True, timeout=1200, check=False,
    )  # fmt: skip


def seatbot_image(podman: list[str], folder: Path) -> str:
    """:data:`IMAGE` built from this tree: after tests/test_container_image.py's build every
    layer is cached, so this costs seconds."""
    built = build_seatbot_image(podman, folder)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    return IMAGE


def container_logs(podman: list[str], name: str) -> str:
    shown = subprocess.run([*podman, "logs", name], capture_output=True, text=True, check=False)
    return shown.stdout[-4000:] + shown.stderr[-4000:]
