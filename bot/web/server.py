"""uvicorn for ``seatbot serve`` over HTTP: its configuration, and a server that stops as an
orchestrator expects.

On SIGTERM (:class:`GracefulServer`) ``/readyz`` turns 503 at once, the process keeps serving for
``drain_s`` seconds (so the load balancer's health check takes it out of rotation), then stops
accepting, finishes the requests in progress, and the app's shutdown waits for listeners and
jobs (each bounded by the deadline); the process then exits 0. Connections are bounded in
number and request heads in time (:mod:`bot.web.connection_limits`).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import math
import signal
import socket
import time
from collections.abc import Callable, Generator
from types import FrameType
from typing import Any, Literal

import uvicorn
from starlette.applications import Starlette

from billing.errors import Failure
from bot.runtime.settings import Settings
from bot.web.asgi import EVENTS_PATH
from bot.web.connection_limits import ConnectionLimits, connections_that_fit, guarded_h11
from bot.web.operations import Operations

logger = logging.getLogger(__name__)

# uvicorn (h11) settings: idle connections close after this many seconds (uvicorn's default,
# explicit here; also a new connection's first byte: bot.web.connection_limits); request headers
# are bounded in size (h11's default, 16 KiB: more is a 400).
KEEP_ALIVE_SECONDS = 5
MAX_HEADER_BYTES = 16 * 1024


def cannot_listen(host: str, port: int, error: OSError) -> Failure:
    """The one-line failure (exit 1) for a port Seatbot could not listen on, naming the port."""
    if error.errno == errno.EADDRINUSE:
        reason = f"port {port} is already in use"
    elif error.errno == errno.EACCES:
        reason = "permission denied: ports below 1024 need privileges"
    elif error.errno == errno.EADDRNOTAVAIL:
        reason = f"{host} is not an address of this machine"
    else:
        reason = error.strerror or type(error).__name__
    return Failure(f"cannot listen on {host}:{port} ({reason})")


def bind_port(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (IPv6 when ``host`` has a colon), not yet listening:
    the port is Seatbot's from now on, and connections are accepted once a server listens on
    it. :func:`cannot_listen` when the port is taken or not allowed.

    The protocol is named (``IPPROTO_TCP``, not 0): asyncio turns Nagle's algorithm off only on
    connections accepted from such a socket. With it on, an answer written as a head and then a
    body (an ack carrying a message) waited for the client's delayed ACK on a kept-alive
    connection: 40 ms more per answer."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        # Lets a restart reuse a port whose old connections are in TIME_WAIT; on Linux it does
        # not let two processes listen on one port.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise cannot_listen(host, port, error) from None
    return sock


def serve_http(
    app: Starlette,
    settings: Settings,
    *,
    sock: socket.socket,
    operations: Operations | None,
) -> None:
    """Serve ``app`` on ``sock`` (from :func:`bind_port`) until SIGTERM or SIGINT, bounded as
    ``settings`` say."""
    host, port = sock.getsockname()[:2]
    config = served_config(app, settings, host=host, port=port, operations=operations)
    logger.info("Seatbot listening on http://%s:%s%s", host, config.port, EVENTS_PATH)
    server = GracefulServer(
        config,
        on_stopping=operations.stopping if operations is not None else lambda: None,
        drain_s=settings.seatbot_shutdown_drain_seconds,
    )
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    logger.info("Seatbot stopped")


def served_config(
    app: Starlette,
    settings: Settings,
    *,
    host: str,
    port: int,
    operations: Operations | None,
) -> uvicorn.Config:
    """:func:`uvicorn_config` as ``seatbot serve`` fills it in from ``settings`` (the
    connection limits, the stop's deadline); ``operations`` counts the connections the limits
    close."""
    limits = ConnectionLimits(
        header_timeout_s=settings.seatbot_header_timeout_seconds,
        max_connections=connections_that_fit(settings.seatbot_max_connections),
    )
    return uvicorn_config(
        app,
        host=host,
        port=port,
        graceful_s=settings.seatbot_shutdown_deadline_seconds,
        limits=limits,
        on_close=None if operations is None else operations.metrics.connection_closed,
    )


def uvicorn_config(
    app: Starlette,
    *,
    host: str,
    port: int,
    graceful_s: float | None = None,
    limits: ConnectionLimits | None = None,
    on_close: Callable[[str], None] | None = None,
) -> uvicorn.Config:
    """How ``seatbot serve`` runs uvicorn (HTTP mode); on a stop, requests in progress get
    ``graceful_s`` seconds to finish.

    The protocol is uvicorn's h11 one bounded by ``limits`` (:mod:`bot.web.connection_limits`;
    ``on_close`` hears of each connection they close) in place of ``limit_concurrency``, which
    answered 503 to everyone once slow clients held that many connections. h11 also applies
    the header-size limit below (httptools ignores it). No WebSocket upgrades: nothing here
    serves one.
    """
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=guarded_h11(limits or ConnectionLimits(), on_close),
        ws="none",
        log_config=None,  # keep our handlers (and their redaction) for uvicorn's loggers
        proxy_headers=True,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
        h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        timeout_graceful_shutdown=None if graceful_s is None else math.ceil(graceful_s),
    )


class StoppableServer(uvicorn.Server):
    """uvicorn's server as every Seatbot server runs it.

    With ``signals``, SIGINT and SIGTERM stop it, and it then returns as after any other stop
    (uvicorn raises the signal again once stopped: Ctrl-C ended the process with status 130).
    Without, they are left to the program it is part of (``seatbot dev`` and the demo run three
    servers in one event loop: uvicorn's handlers would stop only the last one started).
    ``on_started()`` is called once it serves, its signals caught: a banner printed then means
    that Ctrl-C stops it.
    """

    def __init__(
        self,
        config: uvicorn.Config,
        *,
        signals: bool = True,
        on_started: Callable[[], None] = lambda: None,
    ) -> None:
        super().__init__(config)
        self._signals = signals
        self._on_started = on_started

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            self._on_started()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        """uvicorn's signal capture (or none), without raising the signal again once stopped."""
        if not self._signals:
            yield
            return
        with super().capture_signals():
            yield
            self._captured_signals.clear()


def serve_until_stopped(
    app: Any, sock: socket.socket, *, lifespan: Literal["on", "off"], announce: Callable[[], None]
) -> None:
    """Serve ``app`` on ``sock`` (from :func:`bind_port`) until SIGINT or SIGTERM, calling
    ``announce()`` once it serves (``seatbot sandbox``, ``seatbot webhooks listen``)."""
    sock.listen(socket.SOMAXCONN)  # connections wait in the backlog from now on
    config = uvicorn.Config(app, log_level="warning", lifespan=lifespan, log_config=None)
    try:
        StoppableServer(config, on_started=announce).run(sockets=[sock])
    finally:
        sock.close()


class GracefulServer(StoppableServer):
    """uvicorn's server with an orchestrator's stop (see the module docstring).

    On the first SIGTERM or SIGINT, ``on_stopping()`` runs at once (``/readyz`` turns 503) and
    the server stops ``drain_s`` seconds later; a second signal stops it at once. A stop
    asked for by a signal exits normally (status 0): :class:`StoppableServer`.
    """

    def __init__(
        self, config: uvicorn.Config, *, on_stopping: Callable[[], None], drain_s: float = 0.0
    ) -> None:
        super().__init__(config)
        self._on_stopping = on_stopping
        self._drain_s = drain_s
        self._stop_at: float | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        """The first signal starts the drain; another one stops now."""
        if self._stop_at is None and self._drain_s > 0 and sig in (signal.SIGTERM, signal.SIGINT):
            self._stop_at = time.monotonic() + self._drain_s
            self._on_stopping()
            logger.info("Stopping: not ready any more; serving for %.1f s more", self._drain_s)
            return
        if self._stop_at is None:
            self._on_stopping()
        super().handle_exit(sig, frame)

    async def on_tick(self, counter: int) -> bool:
        """Stop once the drain is over (uvicorn calls this every 0.1 s)."""
        if self._stop_at is not None and time.monotonic() >= self._stop_at:
            return True
        return await super().on_tick(counter)
