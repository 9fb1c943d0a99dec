"""The outbox sender of ``seatbot serve``: delivers billing events, retries, gives up, tells.

One asyncio task per process, started and stopped with the app. Each pass asks the outbox for
the events due now (only accounts that have a webhook, or all of them when the default
``SEATBOT_WEBHOOK_URL`` is set), claims each attempt in the database (so among replicas one
process makes each attempt), posts it (:mod:`bot.webhooks.delivery`), and records how it went;
failed events then get their owners' notice, once. Between passes it sleeps ``poll_s`` seconds, less
when a retry falls due sooner, and wakes at once when this process commits an event through
the same session factory (:meth:`WebhookSender.watch`): a nudge only makes delivery prompt;
correctness never depends on it, since every replica polls.

The database work is synchronous and short, run in the sender's own worker threads; stopping
waits for the one in progress, so no transaction is cut off from its connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar

import httpx
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from billing.errors import DecryptionError
from billing.events import Delivery, FailureNotice, Outbox, OutboxEvent
from bot.runtime.secrets import TokenCipher
from bot.web.metrics import Metrics
from bot.webhooks.config import Destination, destination_for
from bot.webhooks.delivery import AttemptResult, post_event, webhook_client
from bot.webhooks.guard import DestinationGuard

logger = logging.getLogger(__name__)

_OUTBOX_WRITTEN = "seatbot_outbox_written"
T = TypeVar("T")


@dataclass(frozen=True)
class SenderOptions:
    """``timeout_s``: one attempt's deadline; ``poll_s``: the longest sleep between passes;
    ``concurrency``: attempts in flight at once; ``batch``: events taken per pass."""

    timeout_s: float = 10.0
    poll_s: float = 2.0
    concurrency: int = 4
    batch: int = 50

    @property
    def lease(self) -> timedelta:
        """How long a claimed attempt is this process's: past it, another may try again (so an
        attempt cut short by a crash is retried; a live attempt ends well before)."""
        return timedelta(seconds=2 * self.timeout_s + 5)


def _utc_now() -> datetime:
    return datetime.now(UTC)


class FailureNotifier(Protocol):
    """What tells the owners (:class:`bot.webhooks.notices.OwnerNotifier`)."""

    async def notify(self, notice: FailureNotice) -> int:
        """Tell the account's owners; how many were told."""
        ...


class WebhookSender:
    """Delivers the outbox (see the module docstring)."""

    def __init__(
        self,
        outbox: Outbox,
        session_factory: sessionmaker[Session],
        cipher: TokenCipher,
        *,
        default: Destination | None = None,
        options: SenderOptions | None = None,
        notifier: FailureNotifier | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], datetime] = _utc_now,
        metrics: Metrics | None = None,
        guard: DestinationGuard | None = None,
    ) -> None:
        self._outbox = outbox
        # Where an attempt may connect: public addresses only unless the operator allows more.
        self._guard = guard or DestinationGuard()
        self._metrics = metrics
        self._sessions = session_factory
        self._cipher = cipher
        self._default = default
        self.options = options or SenderOptions()
        self._notifier = notifier
        self._transport = transport
        self._clock = clock
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._stopping = False
        self._listeners: list[tuple[sessionmaker[Session], str, Callable[..., None]]] = []

    # -- waking early ------------------------------------------------------------------------

    def nudge(self) -> None:
        """Make the next pass start now (from any thread)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop is closing
            loop.call_soon_threadsafe(self._wake.set)

    def watch(self, session_factory: sessionmaker[Session]) -> None:
        """Nudge whenever a session of ``session_factory`` commits an outbox event."""

        def flushed(session: Session, _context: object) -> None:
            if any(isinstance(row, OutboxEvent) for row in session.new):
                session.info[_OUTBOX_WRITTEN] = True

        def committed(session: Session) -> None:
            if session.info.pop(_OUTBOX_WRITTEN, False):
                self.nudge()

        def rolled_back(session: Session, _transaction: object = None) -> None:
            session.info.pop(_OUTBOX_WRITTEN, None)

        for name, listener in (
            ("after_flush", flushed),
            ("after_commit", committed),
            ("after_soft_rollback", rolled_back),
        ):
            event.listen(session_factory, name, listener)
            self._listeners.append((session_factory, name, listener))

    # -- running -----------------------------------------------------------------------------

    async def open(self) -> None:
        """Make ready to send (threads, HTTP client, commit watch) without the background task:
        each pass then runs only when :meth:`run_once` is called. :meth:`stop` closes it."""
        if self._executor is not None:
            return
        self._loop = asyncio.get_running_loop()
        self.watch(self._sessions)
        self._executor = ThreadPoolExecutor(
            max_workers=self.options.concurrency, thread_name_prefix="seatbot-webhooks"
        )
        self._client = webhook_client(self._transport)
        self._stopping = False

    async def start(self) -> None:
        """Start the sending task in the running loop, woken by the outbox events this
        process commits through the sender's session factory."""
        if self._task is not None:
            return
        await self.open()
        self._task = asyncio.create_task(self._run(), name="seatbot-webhook-sender")

    async def stop(self) -> None:
        """Stop the task: no new attempt starts, and the attempts in flight get their deadline
        to finish and be recorded. One still unrecorded after that is abandoned: its claim
        lapses and the event is tried again (same ``webhook-id``), by another process or by
        this one after a restart."""
        task, self._task = self._task, None
        if task is not None:
            self._stopping = True
            self._wake.set()
            try:
                await asyncio.wait_for(asyncio.shield(task), self.options.timeout_s + 2)
            except TimeoutError:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        executor, self._executor = self._executor, None
        if executor is not None:
            # A cancelled wait does not stop its thread: let the transaction finish.
            await asyncio.to_thread(executor.shutdown, wait=True)
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
        self._loop = None
        for target, name, listener in self._listeners:
            event.remove(target, name, listener)
        self._listeners.clear()

    async def _db(self, work: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``work(*args, **kwargs)`` (a short transaction) in the sender's threads."""
        if self._executor is None:
            raise RuntimeError("the sender is not started")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(work, *args, **kwargs))

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                busy = await self.run_once()
            except Exception as error:  # a database outage: log, keep going
                logger.error(
                    "The billing webhook sender failed a pass (%s); trying again",
                    type(error).__name__,
                    exc_info=error,
                )
                busy = False
            if busy:
                continue  # a full batch: more may be due
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.options.poll_s)

    async def run_once(self) -> bool:
        """One pass: attempt what is due, then tell owners about failures; ``True`` when a full
        batch was taken (more may be waiting)."""
        now = self._clock()
        accounts: frozenset[int] | None = None
        if self._default is None:
            accounts = await self._db(self._outbox.accounts_with_webhooks)
        due = await self._db(self._outbox.due, now, account_ids=accounts, limit=self.options.batch)
        if due:
            slots = asyncio.Semaphore(self.options.concurrency)

            async def attempt(event_id: int) -> None:
                async with slots:
                    await self._attempt(event_id)

            await asyncio.gather(*(attempt(event_id) for event_id in due))
        await self._tell_owners()
        if self._metrics is not None:
            self._metrics.webhook_backlog(await self._db(self._outbox.backlog))
        return len(due) >= self.options.batch

    # -- one event ---------------------------------------------------------------------------

    async def _attempt(self, event_id: int) -> None:
        if self._stopping:
            return  # no new attempt while stopping
        delivery = await self._db(self._outbox.claim, event_id, self._clock(), self.options.lease)
        if delivery is None:
            return  # another process has it, or it is no longer due
        try:
            destination = await self._db(self._destination, delivery.account_id)
        except DecryptionError as error:
            await self._record(delivery, AttemptResult(False, None, str(error), 0.0))
            return
        if destination is None:
            result = AttemptResult(False, None, "no billing webhook is configured", 0.0)
        else:
            result = await self._send(delivery, destination)
        await self._record(delivery, result)

    def _destination(self, account_id: int) -> Destination | None:
        with self._sessions() as session:
            return destination_for(session, self._cipher, account_id, self._default)

    async def _send(self, delivery: Delivery, destination: Destination) -> AttemptResult:
        """Post one claimed attempt (signed now)."""
        if self._client is None:
            raise RuntimeError("the sender is not started")
        return await post_event(
            self._client,
            destination,
            delivery.webhook_id,
            delivery.body,
            at=self._clock(),
            timeout_s=self.options.timeout_s,
            guard=self._guard,
        )

    async def _record(self, delivery: Delivery, result: AttemptResult) -> None:
        now = self._clock()
        if result.delivered:
            await self._db(self._outbox.delivered, delivery, now)
            self._count("delivered", result)
            logger.info(
                "Delivered %s %s (event %s, attempt %s)",
                delivery.event_type,
                delivery.webhook_id,
                delivery.event_id,
                delivery.attempt,
            )
            return
        error = result.error or "failed"
        recorded = await self._db(self._outbox.attempt_failed, delivery, error, now)
        self._count("gave_up" if recorded.failed else "failed", result)
        if recorded.retry_at is not None:
            wait = max(0.0, (recorded.retry_at - now).total_seconds())
            logger.info(
                "Delivering event %s (%s) failed on attempt %s: %s; next attempt in %.0f s",
                delivery.event_id,
                delivery.event_type,
                delivery.attempt,
                error,
                wait,
            )
            if self._loop is not None:
                self._loop.call_later(wait, self._wake.set)  # be awake when it falls due
        elif recorded.failed:
            logger.warning(
                "Gave up delivering event %s (%s, %s) after %s attempts: %s",
                delivery.event_id,
                delivery.event_type,
                delivery.webhook_id,
                delivery.attempt,
                error,
            )

    def _count(self, outcome: str, result: AttemptResult) -> None:
        if self._metrics is not None:
            self._metrics.webhook_delivered(outcome, result.elapsed_s)

    async def _tell_owners(self) -> None:
        if self._notifier is None or self._stopping:
            return
        for event_id in await self._db(self._outbox.failures_to_tell):
            notice = await self._db(self._outbox.claim_notice, event_id, self._clock())
            if notice is not None:
                await self._notifier.notify(notice)
