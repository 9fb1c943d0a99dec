"""Posting within Slack's rate limits: one message a second per channel, a budget per workspace.

:class:`SlackPacing` hands out send times. Each channel gets at most one message per
``channel_interval_s``; each workspace a token bucket of ``workspace_per_minute`` messages a
minute with bursts of ``workspace_burst`` (generic cell rate algorithm: a theoretical arrival
time per workspace, no background task). Both are reserved in one step with no ``await``
between, so concurrent senders on one event loop never take the same slot. When Slack answers
429 anyway, :meth:`SlackPacing.back_off` pushes the channel and the workspace back by its
``Retry-After``, and the sender waits its turn again.

State is per process: with several replicas each paces itself, which is why each digest is
claimed by one process (:mod:`billing.jobs.store`) and ``Retry-After`` is always obeyed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

#: Slack's rule for posting messages: about one a second per channel.
CHANNEL_INTERVAL_S = 1.0
#: Defaults of the per-workspace budget (``SEATBOT_SLACK_WORKSPACE_PER_MINUTE`` / ``_BURST``).
WORKSPACE_PER_MINUTE = 60.0
WORKSPACE_BURST = 5


@dataclass(frozen=True)
class PacingLimits:
    """The budget: ``workspace_per_minute`` messages a minute per workspace (bursts of
    ``workspace_burst``) and one message per ``channel_interval_s`` per channel."""

    workspace_per_minute: float = WORKSPACE_PER_MINUTE
    workspace_burst: int = WORKSPACE_BURST
    channel_interval_s: float = CHANNEL_INTERVAL_S

    def __post_init__(self) -> None:
        if self.workspace_per_minute <= 0 or self.workspace_burst < 1:
            raise ValueError("the workspace budget must be positive, with bursts of at least 1")
        if self.channel_interval_s < 0:
            raise ValueError("the channel interval cannot be negative")


class SlackPacing:
    """Send times for messages (see the module docstring). ``clock`` is monotonic seconds."""

    def __init__(
        self,
        limits: PacingLimits | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.limits = limits or PacingLimits()
        self._clock = clock
        self._sleep = sleep
        self._emission_s = 60.0 / self.limits.workspace_per_minute
        self._tolerance_s = (self.limits.workspace_burst - 1) * self._emission_s
        self._workspace_tat: dict[str, float] = {}  # theoretical arrival time per workspace
        self._channel_next: dict[tuple[str, str], float] = {}
        self._paused_until: dict[str, float] = {}  # a workspace told to wait (429)

    def reserve(self, team_id: str, channel_id: str) -> float:
        """Reserve the earliest slot for one message; returns how long to wait for it (s)."""
        now = self._clock()
        start = max(now, self._paused_until.get(team_id, now))
        start = max(start, self._channel_next.get((team_id, channel_id), start))
        tat = self._workspace_tat.get(team_id, start)
        start = max(start, tat - self._tolerance_s)
        self._workspace_tat[team_id] = max(tat, start) + self._emission_s
        self._channel_next[(team_id, channel_id)] = start + self.limits.channel_interval_s
        return start - now

    async def wait_turn(self, team_id: str, channel_id: str) -> None:
        """Wait until this message may be sent."""
        delay = self.reserve(team_id, channel_id)
        if delay > 0:
            await self._sleep(delay)

    def back_off(self, team_id: str, channel_id: str, retry_after_s: float) -> None:
        """Slack said 429 with ``Retry-After``: nothing more to the workspace or the channel
        before then."""
        until = self._clock() + max(0.0, retry_after_s)
        self._paused_until[team_id] = max(self._paused_until.get(team_id, until), until)
        key = (team_id, channel_id)
        self._channel_next[key] = max(self._channel_next.get(key, until), until)
