"""A local stand-in for the Slack Web API (tests, ``seatbot demo`` and benchmarks only).

It answers the Web API methods Seatbot uses as Slack does (HTTP 200 with ``{"ok": false,
"error": ...}`` on failure), checks the bearer token, records every call, validates every
Block Kit payload by parsing it with ``slack_sdk.models`` (an invalid payload is answered with
``invalid_blocks``/``invalid_arguments`` and recorded as a :class:`Violation` so tests fail),
enforces ``trigger_id`` expiry (3 s) and single use, and serves ``response_url`` targets.

:class:`SlackStandIn` puts the parts together and is what tests set up and inspect:

- :mod:`bot.offline.standin.state`: what it knows (workspaces, users, channels, messages, views,
  ids);
- :mod:`bot.offline.standin.web_api`: the Web API methods (messages, views, file uploads);
  :mod:`bot.offline.standin.block_kit`: validation; :mod:`bot.offline.standin.rate_limits`: 429s
  when asked;
- :mod:`bot.offline.standin.recording`: the calls and violations, and waiting for them;
- :mod:`bot.offline.standin.routes`: the HTTP surface, including the ``/_standin/`` control routes;
- :mod:`bot.offline.standin.serving`: running an ASGI app on a loopback port.
"""

from __future__ import annotations

import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import uvicorn

from bot.offline.standin.block_kit import (
    MESSAGE_BLOCKS_LIMIT,
    VIEW_BLOCKS_LIMIT,
    validate_blocks,
    validate_view,
)
from bot.offline.standin.rate_limits import PostingLimits, RateLimiter
from bot.offline.standin.recording import CallLog, RecordedCall, Violation
from bot.offline.standin.routes import RESPONSE_URL_USES, StandInRoutes
from bot.offline.standin.serving import RunningServer, bind_loopback_socket, serve_asgi
from bot.offline.standin.state import OAuthGrant, ResponseUrl, StandInState, Trigger, Workspace
from bot.offline.standin.web_api import MESSAGE_TEXT_LIMIT, WebApi

# Names that lived here before the split; importing them from here keeps working.
__all__ = [
    "MESSAGE_BLOCKS_LIMIT",
    "MESSAGE_TEXT_LIMIT",
    "RESPONSE_URL_USES",
    "TRIGGER_TTL_SECONDS",
    "VIEW_BLOCKS_LIMIT",
    "PostingLimits",
    "RecordedCall",
    "RunningServer",
    "SlackStandIn",
    "StandInServer",
    "Violation",
    "Workspace",
    "bind_loopback_socket",
    "run_standin",
    "serve_asgi",
    "start_standin",
    "validate_blocks",
    "validate_view",
]

TRIGGER_TTL_SECONDS = 3.0


class SlackStandIn:
    """The Slack Web API, in memory. Serve :attr:`asgi_app` (see :func:`start_standin`).

    ``clock`` is a monotonic clock in seconds; tests pass their own to expire trigger ids
    without sleeping. ``client_id``/``client_secret``, when set, are what ``oauth.v2.access``
    accepts; ``strict_channels`` refuses posts to channels not added with :meth:`add_channel`.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        trigger_ttl_seconds: float = TRIGGER_TTL_SECONDS,
        client_id: str | None = None,
        client_secret: str | None = None,
        strict_channels: bool = False,
        posting_limits: PostingLimits | None = None,
    ) -> None:
        self.clock = clock
        self.trigger_ttl_seconds = trigger_ttl_seconds
        self.client_id = client_id
        self.client_secret = client_secret
        self.strict_channels = strict_channels
        self.base_url = ""
        #: Enforces Slack's posting limits (429 + Retry-After) when given ``posting_limits``.
        self.rate_limiter = None if posting_limits is None else RateLimiter(posting_limits)
        self._state = StandInState()
        self._log = CallLog(self._state.next_seq)
        # What the app called, and waiting for calls: the log's own methods.
        self.calls = self._log.calls
        self.wait_for_calls = self._log.wait_for_calls
        self.wait_for = self._log.wait_for
        routes = StandInRoutes(
            web=WebApi(self._state, self),
            state=self._state,
            log=self._log,
            issue_trigger_id=self.issue_trigger_id,
            issue_response_url=self.issue_response_url,
            rate_limiter=lambda: self.rate_limiter,
            clock=lambda: self.clock(),
        )
        self.asgi_app = routes.asgi_app()

    # ------------------------------------------------------------ setup

    def add_workspace(
        self,
        team_id: str,
        bot_token: str,
        *,
        team_name: str = "Stand-in workspace",
        bot_user_id: str = "U0SEATBOT",
        bot_id: str = "B0SEATBOT",
        app_id: str = "A0SEATBOT",
    ) -> Workspace:
        """Make ``bot_token`` a valid bot token for ``team_id``."""
        workspace = Workspace(team_id, team_name, bot_token, bot_user_id, bot_id, app_id)
        return self._state.add_workspace(workspace)

    def revoke_token(self, bot_token: str) -> None:
        """Make ``bot_token`` invalid (``invalid_auth``), as after an uninstall."""
        with self._state.lock:
            self._state.workspaces.pop(bot_token, None)

    def add_user(
        self,
        user_id: str,
        team_id: str,
        *,
        name: str,
        real_name: str | None = None,
        email: str | None = None,
        tz: str = "UTC",
        is_admin: bool = False,
    ) -> None:
        """A user ``users.info`` knows."""
        real = real_name or name
        user = {
            "id": user_id,
            "team_id": team_id,
            "name": name,
            "real_name": real,
            "tz": tz,
            "is_admin": is_admin,
            "is_owner": False,
            "is_bot": False,
            "deleted": False,
            "profile": {"real_name": real, "display_name": name, "email": email or ""},
        }
        with self._state.lock:
            self._state.users[user_id] = user

    def add_channel(self, channel_id: str, *, name: str, is_private: bool = False) -> None:
        """A channel ``conversations.info`` knows."""
        channel = {
            "id": channel_id,
            "name": name,
            "is_channel": not is_private,
            "is_private": is_private,
            "is_member": True,
            "is_archived": False,
        }
        with self._state.lock:
            self._state.channels[channel_id] = channel

    def add_oauth_code(
        self,
        code: str,
        *,
        team_id: str,
        bot_token: str,
        team_name: str = "Stand-in workspace",
        user_id: str = "U0INSTALLER",
        user_token: str | None = None,
        scope: str = "commands,chat:write",
    ) -> None:
        """A one-time code that ``oauth.v2.access`` exchanges for ``bot_token``."""
        grant = OAuthGrant(team_id, team_name, bot_token, user_id, user_token, scope)
        with self._state.lock:
            self._state.grants[code] = grant

    def issue_trigger_id(self) -> str:
        """A fresh trigger id, valid for 3 s from now and for one use (as Slack's)."""
        trigger_id = f"{self._state.next_seq()}.{secrets.token_hex(8)}"
        self.register_trigger_id(trigger_id)
        return trigger_id

    def register_trigger_id(self, trigger_id: str) -> None:
        """Start ``trigger_id``'s 3 s life now."""
        with self._state.lock:
            self._state.triggers[trigger_id] = Trigger(issued_at=self.clock())

    def issue_response_url(
        self, *, channel: str | None = None, message_ts: str | None = None
    ) -> str:
        """A ``response_url``; ``replace_original`` acts on (channel, message_ts) when given."""
        key = secrets.token_hex(12)
        with self._state.lock:
            self._state.response_urls[key] = ResponseUrl(channel, message_ts)
        return f"{self.base_url.rstrip('/')}/_standin/response/{key}"

    # ------------------------------------------------------------ inspection

    @property
    def violations(self) -> list[Violation]:
        """Payloads Slack would have refused. A clean run leaves this empty."""
        return self._log.violations()

    def view(self, view_id: str) -> dict[str, Any]:
        """The current state of an opened view (as ``views.open`` returned it)."""
        with self._state.lock:
            return dict(self._state.views[view_id])

    def file(self, file_id: str) -> dict[str, Any] | None:
        """An uploaded file: name, title, ``content`` (bytes, or ``None`` before the upload)
        and ``shares`` (channel and thread it was completed into)."""
        with self._state.lock:
            found = self._state.files.get(file_id)
            return None if found is None else dict(found, shares=list(found["shares"]))

    def files(self) -> list[dict[str, Any]]:
        """Every file the app asked an upload URL for, in order."""
        with self._state.lock:
            ids = list(self._state.files)
        return [f for f in (self.file(i) for i in ids) if f is not None]

    def messages(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Every stored message (of ``channel`` when given), in posting order, with its
        channel."""
        with self._state.lock:
            found = [
                dict(message, channel=key[0])
                for key, message in self._state.messages.items()
                if channel is None or key[0] == channel
            ]
        return sorted(found, key=lambda m: float(m["ts"]))

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        """The current state of a posted message, or ``None`` when deleted or unknown."""
        with self._state.lock:
            found = self._state.messages.get((channel, ts))
            return dict(found) if found is not None else None


# ---------------------------------------------------------------- running a stand-in


class StandInServer:
    """A running stand-in: ``url`` is its root, ``api_url`` the value for ``SLACK_API_URL``."""

    def __init__(self, standin: SlackStandIn, running: RunningServer) -> None:
        self.standin = standin
        self.running = running
        self.url = running.url
        self.api_url = f"{running.url}/api/"


@contextlib.asynccontextmanager
async def start_standin(
    standin: SlackStandIn | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> AsyncIterator[StandInServer]:
    """Serve a stand-in on a loopback port (a free one when ``port`` is 0) for a ``with`` block."""
    standin = standin or SlackStandIn()
    running = serve_asgi(standin.asgi_app, host, port)
    standin.base_url = running.url
    try:
        yield StandInServer(standin, running)
    finally:
        await running.stop()


def run_standin(
    host: str = "127.0.0.1", port: int = 3999, standin: SlackStandIn | None = None
) -> None:
    """Serve a stand-in in the foreground until interrupted (for the demo and benchmarks)."""
    standin = standin or SlackStandIn()
    standin.base_url = f"http://{host}:{port}"
    uvicorn.run(standin.asgi_app, host=host, port=port, log_level="warning", lifespan="off")
