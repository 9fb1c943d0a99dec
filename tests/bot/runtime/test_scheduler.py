"""The scheduler inside ``seatbot serve``: lag is reported, and a stop lets a running tick end."""

from __future__ import annotations

import asyncio

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
