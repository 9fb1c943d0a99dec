"""What an operator needs from a running ``seatbot serve``: readiness, request accounting and
a graceful stop.

* :class:`Readiness` — ``GET /readyz``: the database answers, its schema is the newest
  migration, the scheduler runs, and the process is not stopping; otherwise the reasons.
* :class:`InFlight` — Bolt's listener start/completion hooks: counts the listeners still
  working after their ack (so that a stop waits for them) and records each request's time to
  its full answer and its outcome in :class:`bot.web.metrics.Metrics`.
* :class:`Operations` — what the ASGI app serves and counts for operators; on a stop
  (:class:`bot.web.server.GracefulServer`) ``/readyz`` turns 503 at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.listener.async_listener_completion_handler import (
    AsyncListenerCompletionHandler,
)
from slack_bolt.listener.async_listener_start_handler import AsyncListenerStartHandler
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from bot.runtime.db import (
    describe_database_error,
    head_revision,
    known_revisions,
    make_engine,
    shown_database,
)
from bot.web.metrics import SLACK_KINDS, Metrics
from handlers.request_ids import current_scope

logger = logging.getLogger(__name__)

#: How long ``/readyz`` waits for the database before calling it unreachable.
READINESS_TIMEOUT_SECONDS = 2.0
_OTHER_KINDS = frozenset({"shortcut", "message_action", "view_closed", "block_suggestion"})


def kind_label(body: dict[str, Any]) -> str:
    """A bounded label for a Slack request's kind (the payload's ``type``; ``slash_command``
    for a command; ``other`` for anything unexpected, so a label never takes request text)."""
    kind = body.get("type")
    if kind is None and "command" in body:
        return "slash_command"
    if kind in SLACK_KINDS or kind in _OTHER_KINDS:
        return str(kind)
    return "other"


class Readiness:
    """The checks behind ``GET /readyz`` (see the module docstring)."""

    def __init__(
        self,
        database_url: str,
        *,
        scheduler_running: Callable[[], bool] | None = None,
        timeout_s: float = READINESS_TIMEOUT_SECONDS,
    ) -> None:
        self._url = database_url
        self._scheduler_running = scheduler_running
        self._timeout_s = timeout_s
        self._head = head_revision()
        self._known = known_revisions()
        self.stopping = False
        # Its own connections, opened per check: a pool exhausted by requests, or holding
        # connections to a server that went away, must not decide the answer.
        connect_args: dict[str, Any] = {}
        if not database_url.startswith("sqlite"):
            connect_args["connect_timeout"] = max(1, int(timeout_s))
        self._engine = make_engine(database_url, poolclass=NullPool, connect_args=connect_args)
        # Its own threads too: under load the default executor queues the requests' database
        # work, and a check waiting behind it would time out and take a busy but healthy
        # replica out of the load balancer (then every replica, and every request fails).
        self._threads = ThreadPoolExecutor(max_workers=2, thread_name_prefix="seatbot-readyz")

    async def problems(self) -> list[str]:
        """Why this process should not receive traffic now; empty when it is ready."""
        found: list[str] = []
        if self.stopping:
            found.append("shutting down")
        try:
            async with asyncio.timeout(self._timeout_s):
                loop = asyncio.get_running_loop()
                schema = await loop.run_in_executor(self._threads, self._schema_revision)
        except TimeoutError:
            found.append(
                f"the database at {shown_database(self._url)} did not answer within "
                f"{self._timeout_s:g} s"
            )
        except SQLAlchemyError as error:
            found.append(describe_database_error(error, self._url))
        else:
            if schema is not None and schema not in self._known:
                found.append(
                    f"the database schema is at {schema}, newer than this replica knows (its "
                    f"newest is {self._head}): replace it with the version that upgraded the schema"
                )
            elif schema != self._head:
                found.append(
                    f"the database schema is at {schema or 'no migration'}, not {self._head}: "
                    "run `seatbot db upgrade`"
                )
        if self._scheduler_running is not None and not self._scheduler_running():
            found.append("the scheduler is not running")
        return found

    def _schema_revision(self) -> str | None:
        # Read directly: Alembic's MigrationContext logs two INFO lines per call, and load
        # balancers ask every second.
        with self._engine.connect() as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()

    def dispose(self) -> None:
        """Release the threads and the engine (no pooled connections are kept anyway)."""
        self._threads.shutdown(wait=False, cancel_futures=True)
        self._engine.dispose()


class InFlight:
    """Listeners working after their ack, and each request's full-answer time and outcome."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics
        self._count = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._running: dict[str, str] = {}  # request id -> kind, for the operator

    @property
    def count(self) -> int:
        """Listeners running now."""
        return self._count

    def running(self) -> list[str]:
        """``kind (req ID)`` of each request whose listener is running now."""
        return [f"{kind} (req {request_id})" for request_id, kind in self._running.items()]

    def install(self, app: AsyncApp) -> None:
        """Hook into ``app``'s listener runner (Bolt's public start/completion handlers)."""
        runner = app.listener_runner
        runner.listener_start_handler = _Started(self)
        runner.listener_completion_handler = _Completed(self)

    def started(self) -> None:
        """A listener began (Bolt's start handler, in the listener's task)."""
        self._count += 1
        self._idle.clear()
        self._metrics.listeners_in_flight.inc()
        scope = current_scope()
        if scope is not None:
            scope.listeners_started += 1
            self._running[scope.request_id] = scope.kind

    def finished(self) -> None:
        """A listener ended, after its last reply (Bolt's completion handler)."""
        self._count = max(0, self._count - 1)
        if self._count == 0:
            self._idle.set()
        self._metrics.listeners_in_flight.dec()
        scope = current_scope()
        if scope is not None:
            self._running.pop(scope.request_id, None)
            self._metrics.answered(scope.kind, time.perf_counter() - scope.started)
            self._metrics.slack_request(scope.kind, "error" if scope.failed else "ok")

    async def wait_idle(self, deadline_s: float) -> bool:
        """Wait up to ``deadline_s`` seconds for every running listener to finish; whether
        they did."""
        try:
            async with asyncio.timeout(max(0.0, deadline_s)):
                await self._idle.wait()
        except TimeoutError:
            return False
        return True


class _Started(AsyncListenerStartHandler):
    def __init__(self, in_flight: InFlight) -> None:
        self._in_flight = in_flight

    async def handle(self, request: AsyncBoltRequest, response: BoltResponse | None) -> None:
        self._in_flight.started()


class _Completed(AsyncListenerCompletionHandler):
    def __init__(self, in_flight: InFlight) -> None:
        self._in_flight = in_flight

    async def handle(self, request: AsyncBoltRequest, response: BoltResponse | None) -> None:
        self._in_flight.finished()


class Operations:
    """What ``build_asgi_app`` serves for operators and counts for them: ``metrics``
    (``GET /metrics``), ``readiness`` (``GET /readyz``) and the listeners ``in_flight``."""

    def __init__(self, metrics: Metrics, readiness: Readiness | None, in_flight: InFlight) -> None:
        self.metrics = metrics
        self.readiness = readiness
        self.in_flight = in_flight

    def stopping(self) -> None:
        """The process is stopping: ``/readyz`` answers 503 from now on."""
        if self.readiness is not None:
            self.readiness.stopping = True
