"""The scheduler inside ``seatbot serve``: lag is reported, and a stop lets a running tick end."""

from __future__ import annotations

import asyncio
import logging

import pytest
from sqlalchemy.exc import OperationalError

from bot.runtime.scheduler import ReportScheduler


async def test_a_stop_waits_for_the_running_tick_within_its_deadline() -> None:
    started, finished = asyncio.Event(), asyncio.Event()

    async def slow_tick() -> None:
        started.set()
        await asyncio.sleep(0.3)
        finished.set()

    scheduler = ReportScheduler()
    scheduler.add("slow", slow_tick, every_s=3600)
    await scheduler.start()
    async with asyncio.timeout(10):
        await started.wait()
    await scheduler.stop(deadline_s=10)
    assert finished.is_set()
    assert not scheduler.running


async def test_a_tick_past_the_deadline_is_stopped() -> None:
    started = asyncio.Event()
    cancelled = asyncio.Event()

    async def stuck_tick() -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    scheduler = ReportScheduler()
    scheduler.add("stuck", stuck_tick, every_s=3600)
    await scheduler.start()
    async with asyncio.timeout(10):
        await started.wait()
    await scheduler.stop(deadline_s=0.05)
    async with asyncio.timeout(10):
        await cancelled.wait()


async def test_each_tick_reports_how_late_it_started() -> None:
    heard: list[tuple[str, float]] = []
    ticked = asyncio.Event()

    async def tick() -> None:
        ticked.set()

    scheduler = ReportScheduler(on_lag=lambda job, lag: heard.append((job, lag)))
    scheduler.add("digests", tick, every_s=3600)
    await scheduler.start()
    async with asyncio.timeout(10):
        await ticked.wait()
    await scheduler.stop()
    [(job, lag)] = heard
    assert job == "digests"
    assert lag >= 0


async def test_a_database_outage_is_one_warning_in_words_and_a_bug_keeps_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The database going away is expected (``/readyz`` says so; the next tick tries again): a
    WARNING in words, no traceback. Anything else is a bug: an ERROR with its traceback."""
    ran = {"outage": asyncio.Event(), "bug": asyncio.Event()}

    async def outage() -> None:
        ran["outage"].set()
        cause = ConnectionError("server closed the connection unexpectedly\nmore detail")
        raise OperationalError("SELECT 1", {}, cause)

    async def bug() -> None:
        ran["bug"].set()
        raise KeyError("oops")

    scheduler = ReportScheduler()
    scheduler.add("outage", outage, every_s=3600)
    scheduler.add("bug", bug, every_s=3600)
    caplog.set_level(logging.WARNING, logger="bot.runtime.scheduler")
    await scheduler.start()
    async with asyncio.timeout(10):
        await ran["outage"].wait()
        await ran["bug"].wait()
    await scheduler.stop(deadline_s=10)
    [warning] = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert warning.getMessage() == (
        "The scheduled job outage could not use the database (server closed the connection "
        "unexpectedly); the next tick tries again"
    )
    assert warning.exc_info is None
    [error] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert error.getMessage() == "The scheduled job bug failed"
    assert error.exc_info is not None
