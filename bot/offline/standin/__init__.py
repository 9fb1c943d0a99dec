"""A local stand-in for the Slack Web API, and a driver that sends signed requests like Slack.

Used by the tests, ``seatbot demo`` and the benchmarks only; the production path never
imports this package. ``slack_api`` holds :class:`SlackStandIn` and how to run it; its parts
are ``state``, ``web_api``, ``block_kit``, ``recording``, ``routes`` and ``serving``.
``slack_driver`` plays Slack's side towards the app.
"""

from __future__ import annotations

from bot.offline.standin.slack_api import (
    RecordedCall,
    SlackStandIn,
    StandInServer,
    Violation,
    run_standin,
    start_standin,
)
from bot.offline.standin.slack_driver import DriverResult, SlackDriver, sign_request

__all__ = [
    "DriverResult",
    "RecordedCall",
    "SlackDriver",
    "SlackStandIn",
    "StandInServer",
    "Violation",
    "run_standin",
    "sign_request",
    "start_standin",
]
