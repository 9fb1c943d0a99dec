"""A local stand-in for the Slack Web API, and a driver that sends signed requests like Slack.

Used by the tests, ``seatbot demo`` and the benchmarks only; the production path never
imports this package.
"""

from __future__ import annotations

from bot.standin.slack_api import (
    RecordedCall,
    SlackStandIn,
    StandInServer,
    Violation,
    run_standin,
    start_standin,
)
from bot.standin.slack_driver import DriverResult, SlackDriver, sign_request

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
