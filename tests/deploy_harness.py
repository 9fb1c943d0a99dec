"""Seatbot deployed as an operator would: PostgreSQL, several ``seatbot serve`` replicas, and
HAProxy in front of them, all on loopback ports (the load-balancer tests and the benchmarks).

* :class:`PrivatePostgres` — a throw-away PostgreSQL server of our own (``initdb`` into a
  temporary folder, ``pg_ctl`` on a free port), which a test may stop and start again without
  touching the shared server other tests use. As root it runs as the ``postgres`` user
  (``initdb`` refuses root).
* :class:`Replica` — one ``seatbot serve`` process on its own port, its output in a log file.
* :class:`LoadBalancer` — HAProxy (Debian's package) with a generated configuration: round
  robin, health checks on ``/readyz`` every 500 ms, and retries of requests that never reached
  a replica or got no answer at all (``retry-on conn-failure empty-response``, redispatched to
  another replica). A request in flight at the moment its replica is killed may still be
  closed without an answer (``SD`` in the log): Slack shows the person an error, who clicks
  again. HAProxy's log (one line per request, ``option httplog``) is ``haproxy.log`` beside
  the replicas' logs.

A missing binary fails the test under ``CI=true`` and skips it with the reason otherwise
(:func:`require_binary`), as ``tests/conftest.py`` does for PostgreSQL.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_BINARIES = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: p.parent.name)


def require_binary(name: str, found: str | Path | None, install: str) -> str:
    """``found`` as a path, or fail (under ``CI=true``) / skip (elsewhere) naming ``install``."""
    if found is not None and Path(found).exists():
        return str(found)
    reason = f"{name} is not installed ({install})"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}, and CI must run this test")
    pytest.skip(reason)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_LISTENING = re.compile(rb"Seatbot listening on http://[^\s/]+:(\d+)/")


def listening_port(process: subprocess.Popen[bytes], log: Path, within_s: float = 60.0) -> int:
    """The port a ``seatbot serve --port 0`` process listens on, as its log (``log``) says.

    The system chose it when the process bound it, so no other process can hold it: a port
    picked beforehand and passed on may be taken meanwhile by another test's server, which
    then answers in its place. The log is in the error when the process stops first."""
    deadline = time.monotonic() + within_s
    while True:
        text = log.read_bytes()
        if found := _LISTENING.findall(text):
            return int(found[-1])
        if process.poll() is not None or time.monotonic() > deadline:
            shown = text.decode(errors="replace")
            raise RuntimeError(f"seatbot serve never said where it listens:\n{shown}")
        time.sleep(0.05)


def wait_for_status(url: str, status: int = 200, *, within_s: float = 60.0) -> httpx.Response:
    """Poll ``GET url`` until it answers ``status``; TimeoutError after ``within_s`` s."""
    deadline = time.monotonic() + within_s
    last = "no answer"
    while True:
        try:
            response = httpx.get(url, timeout=2.0)
            if response.status_code == status:
                return response
            last = f"{response.status_code} {response.text[:200]}"
        except httpx.TransportError as error:
            last = type(error).__name__
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} did not answer {status} within {within_s} s ({last})")
        time.sleep(0.05)


# ---------------------------------------------------------------- PostgreSQL


def _as_postgres_user() -> list[str]:
    """The prefix that runs a command as the ``postgres`` user when we are root."""
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser")
    if runuser is None:
        raise RuntimeError("running as root, and runuser (to become postgres) is missing")
    return [runuser, "-u", "postgres", "--"]


class PrivatePostgres:
    """A PostgreSQL server of our own in a temporary folder (see the module docstring).

    ``url`` connects as the superuser ``postgres`` (trust authentication on loopback only).
    """

    def __init__(self, bin_dir: Path, folder: Path) -> None:
        self.bin = bin_dir
        self.folder = folder
        self.data = folder / "data"
        self.port = free_port()
        self.log = folder / "postgres.log"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *command: str) -> None:
        subprocess.run(
            [*_as_postgres_user(), *command],
            check=True,
            capture_output=True,
            timeout=120,
            cwd=self.folder,
        )

    def init(self) -> None:
        """Create the cluster (fsync off: it is thrown away)."""
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
            "--auth=trust", "--no-sync", "--encoding=UTF8", "--locale=C",
        )  # fmt: skip

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.folder} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run(
            str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.log),
            "-o", options, "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self) -> None:
        """Stop the server (fast: open connections are closed)."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def running(self) -> bool:
        """Whether the server has a postmaster."""
        return (self.data / "postmaster.pid").exists()


@contextlib.contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    """A started :class:`PrivatePostgres`, stopped and deleted afterwards."""
    bins = [b for b in POSTGRES_BINARIES if (b / "initdb").exists()]
    bin_dir = Path(
        require_binary(
            "PostgreSQL's server (initdb, pg_ctl)",
            bins[-1] if bins else None,
            "apt-get install postgresql",
        )
    )
    folder = Path(tempfile.mkdtemp(prefix="seatbot-pg-"))
    try:
        if os.geteuid() == 0:
            shutil.chown(folder, "postgres", "postgres")
        server = PrivatePostgres(bin_dir, folder)
        server.init()
        server.start()
        try:
            yield server
        finally:
            if server.running():
                with contextlib.suppress(subprocess.CalledProcessError):
                    server.stop()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------------------- seatbot serve


@dataclass
class Replica:
    """One ``seatbot serve`` process (see :meth:`start`)."""

    name: str
    env: dict[str, str]
    log: Path
    port: int = 0  # the system's choice at the first start (see wait_ready)
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start the process (on a free port, then again on that one), its output appended to
        :attr:`log`."""
        self.starts += 1
        with self.log.open("ab") as out:
            out.write(f"---- start {self.starts}\n".encode())
            out.flush()
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "serve", "--host", "127.0.0.1",
                 "--port", str(self.port)],
                env=self.env,
                cwd=ROOT,
                stdout=out,
                stderr=subprocess.STDOUT,
            )  # fmt: skip

    def wait_ready(self, within_s: float = 60.0) -> None:
        """Wait until ``/readyz`` answers 200 (the process must not die meanwhile)."""
        assert self.process is not None
        if self.port == 0:
            self.port = listening_port(self.process, self.log, within_s)
        deadline = time.monotonic() + within_s
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log.read_text(errors='replace')}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{self.url}/readyz", timeout=2.0).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} was not ready within {within_s} s")
            time.sleep(0.05)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def terminate(self, timeout_s: float = 60.0) -> int:
        """SIGTERM, then wait for the exit status."""
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout_s)

    def kill(self) -> None:
        """SIGKILL, then reap."""
        assert self.process is not None
        self.process.kill()
        self.process.wait(timeout=30)

    def stop(self) -> None:
        """Make sure the process is gone (terminate, kill if it lingers)."""
        if self.alive():
            assert self.process is not None
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


def replica_environment(database_url: str, **extra: str) -> dict[str, str]:
    """This process's environment without any Slack, port or database setting, plus
    ``DATABASE_URL`` and ``extra``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.upper().startswith(("SLACK_", "SEATBOT_", "PROMETHEUS_"))
        and key.upper() not in {"PORT", "DATABASE_URL"}
    }
    env.update(DATABASE_URL=database_url, **extra)
    return env


def start_replicas(count: int, env: Mapping[str, str], folder: Path) -> list[Replica]:
    """``count`` replicas, started one after the other (the first applies the migrations)."""
    replicas: list[Replica] = []
    for index in range(count):
        replica = Replica(f"replica-{index + 1}", dict(env), folder / f"replica-{index + 1}.log")
        replicas.append(replica)
        replica.start()
        replica.wait_ready()
    return replicas


# ---------------------------------------------------------------- HAProxy


HAPROXY_CONFIG = """\
global
    maxconn 4096
    log stderr format raw local0 info

defaults
    mode http
    log global
    option httplog
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout http-request 10s
    # A request that never reached a replica (refused: it is stopping or dead), or got no
    # answer at all (the replica died with it), goes to another replica. Slack's requests are
    # safe to send again: confirmations and approvals apply at most once.
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response

frontend slack
    bind 127.0.0.1:{port}
    default_backend seatbot

backend seatbot
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    default-server inter 500ms fall 2 rise 1
{servers}
"""


def haproxy_config(port: int, backends: Sequence[int]) -> str:
    """HAProxy's configuration: ``port`` in front of the replicas on ``backends``."""
    servers = "\n".join(
        f"    server r{n} 127.0.0.1:{backend} check" for n, backend in enumerate(backends, 1)
    )
    return HAPROXY_CONFIG.format(port=port, servers=servers)


class LoadBalancer:
    """HAProxy in front of ``replicas`` (see :data:`HAPROXY_CONFIG`)."""

    def __init__(self, replicas: Sequence[Replica], folder: Path) -> None:
        self.binary = require_binary("HAProxy", shutil.which("haproxy"), "apt-get install haproxy")
        self.port = free_port()
        self.config = folder / "haproxy.cfg"
        self.config.write_text(haproxy_config(self.port, [r.port for r in replicas]))
        self.log = folder / "haproxy.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start HAProxy in the foreground and wait until it routes ``/readyz`` to a replica."""
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [self.binary, "-db", "-f", str(self.config)], stdout=out, stderr=subprocess.STDOUT
            )
        wait_for_status(f"{self.url}/readyz", 200, within_s=30)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@contextlib.contextmanager
def load_balanced(
    count: int, env: Mapping[str, str], folder: Path
) -> Iterator[tuple[list[Replica], LoadBalancer]]:
    """``count`` replicas behind HAProxy; everything stopped afterwards."""
    replicas: list[Replica] = []
    balancer: LoadBalancer | None = None
    try:
        balancer_check = shutil.which("haproxy")
        require_binary("HAProxy", balancer_check, "apt-get install haproxy")
        replicas = start_replicas(count, env, folder)
        balancer = LoadBalancer(replicas, folder)
        balancer.start()
        yield replicas, balancer
    finally:
        if balancer is not None:
            balancer.stop()
        for replica in replicas:
            replica.stop()
