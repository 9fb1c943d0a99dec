"""What the Slack stand-in knows: workspaces, users, channels, messages, views, uploaded files,
trigger ids, response URLs and OAuth codes.

One lock guards it all: the event loop serving requests and a test's threads both touch it.
"""

from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Workspace:
    """A workspace the stand-in accepts a bot token for."""

    team_id: str
    team_name: str
    bot_token: str
    bot_user_id: str = "U0SEATBOT"
    bot_id: str = "B0SEATBOT"
    app_id: str = "A0SEATBOT"


@dataclass(slots=True)
class Trigger:
    """A trigger id: when it was issued (stand-in clock seconds) and whether it was used."""

    issued_at: float
    used: bool = False


@dataclass(slots=True)
class ResponseUrl:
    """A ``response_url``: the message it may replace, and how often it was used."""

    channel: str | None
    message_ts: str | None
    uses: int = 0


@dataclass(slots=True)
class OAuthGrant:
    """A one-time OAuth code and what ``oauth.v2.access`` gives for it."""

    team_id: str
    team_name: str
    bot_token: str
    user_id: str
    user_token: str | None
    scope: str
    used: bool = False


@dataclass
class StandInState:
    """Everything the stand-in holds; take ``lock`` to read or change any of it."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    workspaces: dict[str, Workspace] = field(default_factory=dict)  # by bot token
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    triggers: dict[str, Trigger] = field(default_factory=dict)
    response_urls: dict[str, ResponseUrl] = field(default_factory=dict)
    grants: dict[str, OAuthGrant] = field(default_factory=dict)
    messages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    views: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: dict[str, dict[str, Any]] = field(default_factory=dict)  # by file id
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _ts_base: int = field(default_factory=lambda: int(time.time()))

    def next_seq(self) -> int:
        """The next number of the one sequence shared by calls, ids and timestamps."""
        return next(self._seq)

    def next_ts(self) -> str:
        """A fresh message timestamp, ``"<unix seconds>.<6-digit sequence>"`` as Slack's."""
        return f"{self._ts_base}.{self.next_seq():06d}"

    def add_workspace(self, workspace: Workspace) -> Workspace:
        """Make ``workspace.bot_token`` valid for its team."""
        with self.lock:
            self.workspaces[workspace.bot_token] = workspace
        return workspace
