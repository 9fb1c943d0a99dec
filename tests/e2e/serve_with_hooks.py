"""``seatbot serve`` for the crash tests, with one test-only hook (the production path is
unchanged: this launcher, under tests/, is the only thing that reads the variable).

With ``SEATBOT_TEST_BLOCK_BEFORE_SEND=PATH`` the webhook sender, having claimed an attempt
(the event is committed and claimed, nothing is sent yet), writes the event's webhook-id to
PATH and waits forever instead of sending: the test then kills the process with SIGKILL at
exactly that point, between the commit and the send.

Run as ``python tests/e2e/serve_with_hooks.py serve --port P`` (arguments as for ``seatbot``).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

from billing.events.service import Delivery
from bot.cli import main
from bot.webhooks import sender as webhook_sender
from bot.webhooks.config import Destination
from bot.webhooks.delivery import AttemptResult


def _block_before_send(marker: Path) -> None:
    async def blocked(
        self: webhook_sender.WebhookSender, delivery: Delivery, destination: Destination
    ) -> AttemptResult:
        await asyncio.to_thread(marker.write_text, delivery.webhook_id, encoding="utf-8")
        await asyncio.Event().wait()  # until the test kills this process
        raise AssertionError("unreachable")

    webhook_sender.WebhookSender._send = blocked  # type: ignore[method-assign]


if __name__ == "__main__":
    marker = os.environ.get("SEATBOT_TEST_BLOCK_BEFORE_SEND")
    if marker:
        _block_before_send(Path(marker))
    main()
