"""Bounds on the connections ``seatbot serve`` holds, so that slow or idle clients cannot starve it.

uvicorn's h11 protocol closes an idle connection only after a response (``timeout_keep_alive``):
a new connection that sends nothing, or its request head a byte a second, is held for as long as
the client likes, and uvicorn's ``limit_concurrency`` then answers 503 to every request, health
probes included. :func:`guarded_h11` is the protocol class ``seatbot serve`` gives uvicorn
instead (``uvicorn.Config(http=...)``), with no ``limit_concurrency``:

* **first byte**: a new connection that sends nothing for the keep-alive time is closed, as an
  idle connection after a response is;
* **request head**: a connection whose request line and headers are not complete
  ``header_timeout_s`` seconds after it opened (or after the previous response) is closed,
  whatever it sends meanwhile;
* **capacity**: past ``max_connections`` open connections, each new one closes the connection
  that has waited longest for its request (its head or body still incomplete: a slow client's)
  to make room, so a new request (Slack's, a probe's) is read. A request being answered is
  never closed; when every connection holds one, the new connection is closed instead.

The request body's own deadline and size are :mod:`bot.web.request_limits`'.
:func:`connections_that_fit` raises the process's limit on open files to hold
``max_connections``.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import time
from collections.abc import Callable
from dataclasses import dataclass

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from bot.runtime.settings import DEFAULT_HEADER_TIMEOUT_SECONDS, DEFAULT_MAX_CONNECTIONS

logger = logging.getLogger(__name__)

#: Open files kept for everything but served connections: the database pool, the platform,
#: Slack and webhook clients, log and database files.
RESERVED_DESCRIPTORS = 256
_WARN_EVERY_SECONDS = 60.0


@dataclass(frozen=True)
class ConnectionLimits:
    """``header_timeout_s``: seconds for a request head to arrive; ``max_connections``: open
    connections past which the longest-waiting is closed (see the module docstring)."""

    header_timeout_s: float = DEFAULT_HEADER_TIMEOUT_SECONDS
    max_connections: int = DEFAULT_MAX_CONNECTIONS


def guarded_h11(
    limits: ConnectionLimits, on_close: Callable[[str], None] | None = None
) -> type[H11Protocol]:
    """uvicorn's h11 protocol bounded by ``limits`` (see the module docstring), for one server;
    ``on_close(reason)`` is told of each connection they close (``header_timeout`` or
    ``over_capacity``)."""
    # The connections waiting for (the rest of) a request, the longest-waiting first.
    waiting: dict[H11Protocol, None] = {}
    next_warning = 0.0

    def close(connection: H11Protocol, reason: str) -> None:
        nonlocal next_warning
        waiting.pop(connection, None)
        connection.transport.close()
        if on_close is not None:
            on_close(reason)
        if reason == "over_capacity" and time.monotonic() >= next_warning:
            next_warning = time.monotonic() + _WARN_EVERY_SECONDS
            logger.warning(
                "Over %d open connections: closing those that waited longest for their "
                "request (slow or idle clients); seatbot_http_connections_closed_total counts "
                "them",
                limits.max_connections,
            )

    def make_room(newcomer: H11Protocol) -> None:
        victim = next((c for c in waiting if not c.transport.is_closing()), newcomer)
        close(victim, "over_capacity")

    class GuardedH11Protocol(H11Protocol):
        _head_deadline: asyncio.TimerHandle | None = None

        def connection_made(  # type: ignore[override]  # as uvicorn's own
            self, transport: asyncio.Transport
        ) -> None:
            super().connection_made(transport)
            if len(self.connections) > limits.max_connections:
                make_room(self)
            if transport.is_closing():
                return
            # uvicorn starts the idle timer only after a response: a new connection gets it too.
            self.timeout_keep_alive_task = self.loop.call_later(
                self.timeout_keep_alive, self.timeout_keep_alive_handler
            )
            self._await_request()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            self._track()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._await_request()

        def connection_lost(self, exc: Exception | None) -> None:
            waiting.pop(self, None)
            self._cancel_head_deadline()
            super().connection_lost(exc)

        def _await_request(self) -> None:
            """A wait for a request begins: on a new connection, or after a response."""
            waiting.pop(self, None)
            waiting[self] = None
            self._cancel_head_deadline()
            self._head_deadline = self.loop.call_later(limits.header_timeout_s, self._head_too_slow)
            self._track()  # a pipelined request may be in already

        def _track(self) -> None:
            state = self.conn.their_state
            if state is not h11.IDLE:  # the head is in
                self._cancel_head_deadline()
                if state is not h11.SEND_BODY:  # and the body: the app is answering it
                    waiting.pop(self, None)

        def _head_too_slow(self) -> None:
            self._head_deadline = None
            if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
                close(self, "header_timeout")

        def _cancel_head_deadline(self) -> None:
            if self._head_deadline is not None:
                self._head_deadline.cancel()
                self._head_deadline = None

    return GuardedH11Protocol


def connections_that_fit(wanted: int) -> int:
    """How many connections to serve at most: ``wanted``, after raising the soft limit on open
    files to the hard limit when it cannot hold them beside :data:`RESERVED_DESCRIPTORS`;
    fewer (with a WARNING) when the hard limit cannot either."""
    needed = wanted + RESERVED_DESCRIPTORS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        raised = needed if hard == resource.RLIM_INFINITY else hard
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            soft = raised
        except (OSError, ValueError) as error:
            logger.warning("Could not raise the limit on open files (%s)", error)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return wanted
    fits = max(1, soft - RESERVED_DESCRIPTORS)
    logger.warning(
        "SEATBOT_MAX_CONNECTIONS=%d does not fit in the limit on open files (%d, ulimit -n): "
        "serving at most %d connections",
        wanted,
        soft,
        fits,
    )
    return fits
