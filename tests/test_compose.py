"""compose.yaml brought up with podman-compose: PostgreSQL, then Seatbot with its keys from the
env file and the accounts file (with the import file it names) mounted; ``/readyz`` answers 200
and ``seatbot load`` reads the mounted file inside the container.

It builds the Seatbot image as tests/test_container_image.py does (its layers cached: seconds
after that test).
No container registry is reachable, so the compose file's ``postgres:15-bookworm`` is replaced
(``SEATBOT_POSTGRES_IMAGE``) by Debian bookworm's PostgreSQL made with ``mmdebstrap`` and an
entry point that behaves like the official image's (``tests/data/compose``), made once.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from deploy_harness import free_port, require_binary
from podman_harness import ROOT, podman_command, seatbot_image

POSTGRES_IMAGE = "localhost/seatbot-test-postgres:bookworm"
POSTGRES_FILES = ROOT / "tests" / "data" / "compose"
PASSWORD = "compose-test-password"
IMAGE_UID = 10001  # the Dockerfile's `useradd --uid`


def _postgres_image(podman: list[str], folder: Path) -> str:
    exists = subprocess.run([*podman, "image", "exists", POSTGRES_IMAGE], check=False)
    if exists.returncode == 0:
        return POSTGRES_IMAGE
    mmdebstrap = require_binary(
        "mmdebstrap", shutil.which("mmdebstrap"), "apt-get install mmdebstrap"
    )
    tarball, base = folder / "postgres.tar", f"{POSTGRES_IMAGE}-base"
    subprocess.run(
        [mmdebstrap, "--variant=minbase", "--include=postgresql-15", "--format=tar", "bookworm",
         str(tarball)],
        check=True, capture_output=True, timeout=900,
    )  # fmt: skip
    subprocess.run([*podman, "import", str(tarball), base], check=True, capture_output=True)
    subprocess.run(
        [*podman, "build", "-f", str(POSTGRES_FILES / "postgres.Containerfile"),
         "--build-arg", f"BASE={base}", "-t", POSTGRES_IMAGE, str(POSTGRES_FILES)],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    return POSTGRES_IMAGE


def _containers_conf(folder: Path) -> Path:
    """runc and the resource limits this sandbox allows (tests/podman_harness.py), for every
    container podman-compose starts."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    nproc = resource.getrlimit(resource.RLIMIT_NPROC)[0]
    nproc = 4096 if nproc == resource.RLIM_INFINITY else min(4096, nproc - 1)
    conf = folder / "containers.conf"
    runtime = shutil.which("runc")
    engine = f'[engine]\nruntime = "{runtime}"\n' if runtime else ""
    conf.write_text(
        f'[containers]\ndefault_ulimits = ["nofile={soft}:{hard}", "nproc={nproc}:{nproc}"]\n'
        + engine,
        encoding="utf-8",
    )
    return conf


def _private_to_the_image_user(podman: list[str], path: Path) -> None:
    """What docs/slack-setup.md step 8 says to do with the accounts file (it holds credentials
    in clear): ``chmod 600``, owned by the image's user, uid 10001 (Dockerfile) — ``chown`` as
    root (Docker, rootful podman), ``podman unshare chown`` for rootless podman."""
    path.chmod(0o600)
    if os.geteuid() == 0:
        os.chown(path, IMAGE_UID, -1)
    else:
        subprocess.run([*podman, "unshare", "chown", str(IMAGE_UID), str(path)], check=True)


@pytest.mark.slow
def test_compose_brings_up_seatbot_on_postgresql_and_it_is_ready(tmp_path: Path) -> None:
    podman = podman_command()
    compose = require_binary(
        "podman-compose", shutil.which("podman-compose"), "apt-get install podman-compose"
    )
    image = seatbot_image(podman, tmp_path)
    postgres = _postgres_image(podman, tmp_path)
    project = tmp_path / "deploy"
    project.mkdir()
    shutil.copy(ROOT / "compose.yaml", project / "compose.yaml")
    shutil.copytree(ROOT / "examples", project / "config")  # accounts.yml and its import files
    _private_to_the_image_user(podman, project / "config" / "accounts.yml")
    (project / "db.env").write_text(f"POSTGRES_PASSWORD={PASSWORD}\n", encoding="utf-8")
    (project / "seatbot.env").write_text(
        "SLACK_SIGNING_SECRET=compose-test-signing-secret\n"
        "SLACK_BOT_TOKEN=xoxb-compose-test-token\n"
        f"SEATBOT_TOKEN_KEYS={Fernet.generate_key().decode()}\n"
        f"DATABASE_URL=postgresql://seatbot:{PASSWORD}@db:5432/seatbot\n",
        encoding="utf-8",
    )
    port = free_port()
    name = f"seatbot-compose-{port}"
    env = dict(
        os.environ,
        CONTAINERS_CONF=str(_containers_conf(tmp_path)),
        SEATBOT_IMAGE=image,
        SEATBOT_POSTGRES_IMAGE=postgres,
        SEATBOT_PORT=str(port),
    )
    command = [compose, "-p", name, "-f", str(project / "compose.yaml")]

    def run(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*command, *args], env=env, cwd=project, capture_output=True, text=True,
            timeout=timeout, check=False,
        )  # fmt: skip

    try:
        up = run("up", "-d")
        assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-3000:]
        deadline = time.monotonic() + 180
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                logs = run("logs")
                raise AssertionError(logs.stdout[-4000:] + logs.stderr[-4000:])
            time.sleep(0.5)
        [container] = subprocess.run(
            [*podman, "ps", "--filter", f"label=io.podman.compose.project={name}",
             "--filter", "label=com.docker.compose.service=seatbot", "--format", "{{.Names}}"],
            capture_output=True, text=True, check=True,
        ).stdout.split()  # fmt: skip
        loaded = subprocess.run(
            [*podman, "exec", container, "seatbot", "load", "/etc/seatbot/accounts.yml"],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        assert loaded.returncode == 0, loaded.stderr
        assert "acme: account created" in loaded.stdout
        assert "key file" not in loaded.stderr  # the keys came from the env file
    finally:
        run("down", "-v", timeout=120)
