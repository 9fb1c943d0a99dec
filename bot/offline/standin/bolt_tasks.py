"""Waiting for the listener bodies Bolt runs after their ack (``seatbot dev`` and tests)."""

from __future__ import annotations

import asyncio


async def bolt_listeners_finished(within_s: float = 10.0) -> None:
    """Wait until the listener bodies Bolt is running after their ack (in this event loop)
    have finished; TimeoutError after ``within_s`` seconds."""
    current = asyncio.current_task()
    running = [
        task
        for task in asyncio.all_tasks()
        if task is not current
        and "run_ack_function_asynchronously" in getattr(task.get_coro(), "__qualname__", "")
    ]
    async with asyncio.timeout(within_s):
        await asyncio.gather(*running)
