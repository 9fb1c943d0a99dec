"""What the listeners receive from the composition root (``bot.runtime.wiring.build_runtime``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from billing.approvals import Approvals
from billing.seats import AccountReads, SeatChanges
from handlers.facts import PlatformFor


@dataclass(frozen=True)
class HandlerDeps:
    """Services and settings the Slack edge needs.

    ``account_reads``, ``seat_changes`` and ``approvals`` are billing's application layer
    (every decision).
    ``platform_for(account_id, product)`` gives the platform holding the users of that
    account's product (``None`` when no connection is configured); it may read the database,
    so it is called off the event loop. ``clock`` returns an aware UTC instant.
    ``platform_deadline_s`` bounds one complete user listing, in seconds.
    ``status_users_ttl_s`` is how long ``/seats status`` may reuse a user count it listed
    (display only; decisions always list afresh).
    """

    account_reads: AccountReads
    seat_changes: SeatChanges
    approvals: Approvals
    platform_for: PlatformFor
    clock: Callable[[], datetime]
    platform_deadline_s: float = 10.0
    status_users_ttl_s: float = 30.0
