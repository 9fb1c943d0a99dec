"""What the app asked of the stand-in: every call, every refused payload, and waiting for them.

The log is shared between the event loop that serves requests and the threads of tests that
wait for calls, so it is guarded by a condition that is notified on every new call.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class RecordedCall:
    """One Web API call (or ``response_url`` POST) the app made, as the stand-in saw it.

    ``args`` are the decoded arguments (``blocks``/``view`` as JSON values, never strings);
    the token itself is not recorded, only the workspace it belongs to.
    """

    seq: int
    method: str
    args: dict[str, Any]
    team_id: str | None
    ok: bool
    error: str | None
    response: dict[str, Any]
    #: When the stand-in recorded it (``time.monotonic()``: comparable across processes on
    #: Linux), for benchmarks that time the app's replies.
    at: float = 0.0


@dataclass(frozen=True, slots=True)
class Violation:
    """A payload Slack would have refused: what was called and every problem found."""

    seq: int
    method: str
    error: str
    problems: tuple[str, ...]


class CallLog:
    """Every recorded call, in order, and the violations among them.

    ``next_seq`` numbers the calls (the stand-in shares one counter with its timestamps and
    ids, so numbers tell the order of everything that happened).
    """

    def __init__(self, next_seq: Callable[[], int]) -> None:
        self._next_seq = next_seq
        self._changed = threading.Condition()
        self._calls: list[RecordedCall] = []
        self._by_method: dict[str, int] = {}
        self._violations: list[Violation] = []

    def record(
        self,
        method: str,
        args: dict[str, Any],
        team_id: str | None,
        response: dict[str, Any],
        problems: list[str],
    ) -> None:
        """Add one call (a violation too when ``problems`` is not empty) and wake the waiters."""
        with self._changed:
            seq = self._next_seq()
            error = None if response.get("ok") else str(response.get("error"))
            call = RecordedCall(
                seq, method, args, team_id, error is None, error, response, time.monotonic()
            )
            self._calls.append(call)
            self._by_method[method] = self._by_method.get(method, 0) + 1
            if problems:
                self._violations.append(Violation(seq, method, error or "invalid", tuple(problems)))
            self._changed.notify_all()

    def calls(self, method: str | None = None) -> list[RecordedCall]:
        """Every recorded call, in order; only ``method``'s when given."""
        with self._changed:
            return [c for c in self._calls if method is None or c.method == method]

    def violations(self) -> list[Violation]:
        """Payloads Slack would have refused."""
        with self._changed:
            return list(self._violations)

    def stats(self) -> dict[str, Any]:
        """How many calls of each method were recorded, how many violations, and the newest
        call's ``seq`` (``last_seq``, 0 before any)."""
        with self._changed:
            return {
                "by_method": dict(self._by_method),
                "violations": len(self._violations),
                "last_seq": self._calls[-1].seq if self._calls else 0,
            }

    def as_json(self, *, after: int = 0, method: str | None = None) -> dict[str, Any]:
        """Every call (only those with a ``seq`` above ``after``, of ``method`` when given)
        and every violation, as JSON-ready values."""
        with self._changed:
            calls = [
                asdict(c)
                for c in self._calls
                if c.seq > after and (method is None or c.method == method)
            ]
            violations = [asdict(v) for v in self._violations]
        return {"calls": calls, "violations": violations}

    def wait_for_calls(
        self,
        method: str,
        *,
        count: int = 1,
        within_s: float = 5.0,
        where: Callable[[RecordedCall], bool] | None = None,
    ) -> list[RecordedCall]:
        """Block until at least ``count`` matching calls were recorded; TimeoutError after
        ``within_s`` seconds."""

        def matching() -> list[RecordedCall]:
            return [c for c in self._calls if c.method == method and (where is None or where(c))]

        with self._changed:
            if not self._changed.wait_for(lambda: len(matching()) >= count, timeout=within_s):
                seen = len(matching())
                raise TimeoutError(f"{seen} of {count} {method} calls after {within_s} s")
            return matching()

    async def wait_for(self, method: str, **options: Any) -> list[RecordedCall]:
        """:meth:`wait_for_calls` (the same options) without blocking the event loop."""
        return await asyncio.to_thread(self.wait_for_calls, method, **options)
