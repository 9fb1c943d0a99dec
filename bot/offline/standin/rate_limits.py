"""Slack's posting limits, as the stand-in enforces them when asked to (benchmarks, tests).

``chat.postMessage`` is answered HTTP 429 with ``{"ok": false, "error": "ratelimited"}`` and a
``Retry-After`` header (whole seconds, as Slack sends) when the channel had a message less than
``channel_interval_s`` ago (less ``jitter_s``, an allowance for messages that left in order but
arrived closer together), or when the workspace's token bucket (``workspace_per_minute`` a
minute, bursts of ``workspace_burst``) is empty. A refused message is not stored.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field


@dataclass(frozen=True)
class PostingLimits:
    """The limits to enforce (see the module docstring)."""

    workspace_per_minute: float = 60.0
    workspace_burst: int = 5
    channel_interval_s: float = 1.0
    jitter_s: float = 0.05


@dataclass
class RateLimiter:
    """Decides, per message, whether it is within :class:`PostingLimits`; counts refusals."""

    limits: PostingLimits
    refused: int = 0
    accepted: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _tokens: dict[str, tuple[float, float]] = field(default_factory=dict)  # team: (tokens, at)
    _last_post: dict[tuple[str, str], float] = field(default_factory=dict)

    def check(self, team_id: str, channel: str, now: float) -> float | None:
        """``None`` when the message may be posted now (its cost is taken), else the seconds
        to wait (the ``Retry-After``, rounded up to whole seconds, at least 1)."""
        limits = self.limits
        rate = limits.workspace_per_minute / 60.0
        with self._lock:
            last = self._last_post.get((team_id, channel))
            if last is not None and now - last < limits.channel_interval_s - limits.jitter_s:
                self.refused += 1
                return float(max(1, math.ceil(limits.channel_interval_s - (now - last))))
            tokens, at = self._tokens.get(team_id, (float(limits.workspace_burst), now))
            tokens = min(float(limits.workspace_burst), tokens + (now - at) * rate)
            if tokens < 1.0:
                self._tokens[team_id] = (tokens, now)
                self.refused += 1
                return float(max(1, math.ceil((1.0 - tokens) / rate)))
            self._tokens[team_id] = (tokens - 1.0, now)
            self._last_post[(team_id, channel)] = now
            self.accepted += 1
            return None
