"""A local stand-in for the Slack Web API (tests, ``seatbot demo`` and benchmarks only).

It answers the Web API methods Seatbot uses as Slack does (HTTP 200 with ``{"ok": false,
"error": ...}`` on failure), checks the bearer token, records every call, validates every
Block Kit payload by parsing it with ``slack_sdk.models`` (an invalid payload is answered with
``invalid_blocks``/``invalid_arguments`` and recorded as a :class:`Violation` so tests fail),
enforces ``trigger_id`` expiry (3 s) and single use, and serves ``response_url`` targets.

Besides the Web API under ``/api/``, a small control surface under ``/_standin/`` lets a test
driver in another process mint trigger ids and response URLs and read what was recorded.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import functools
import itertools
import json
import secrets
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl

import uvicorn
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

TRIGGER_TTL_SECONDS = 3.0
MESSAGE_BLOCKS_LIMIT = 50
VIEW_BLOCKS_LIMIT = 100
MESSAGE_TEXT_LIMIT = 40_000
RESPONSE_URL_USES = 5


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


@dataclass(frozen=True, slots=True)
class Violation:
    """A payload Slack would have refused: what was called and every problem found."""

    seq: int
    method: str
    error: str
    problems: tuple[str, ...]


@dataclass(slots=True)
class Workspace:
    team_id: str
    team_name: str
    bot_token: str
    bot_user_id: str
    bot_id: str
    app_id: str


@dataclass(slots=True)
class _Trigger:
    issued_at: float
    used: bool = False


@dataclass(slots=True)
class _ResponseUrl:
    channel: str | None
    message_ts: str | None
    uses: int = 0


@dataclass(slots=True)
class _OAuthGrant:
    team_id: str
    team_name: str
    bot_token: str
    user_id: str
    user_token: str | None
    scope: str
    used: bool = False


@dataclass(slots=True)
class _State:
    workspaces: dict[str, Workspace] = field(default_factory=dict)  # by bot token
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    triggers: dict[str, _Trigger] = field(default_factory=dict)
    response_urls: dict[str, _ResponseUrl] = field(default_factory=dict)
    grants: dict[str, _OAuthGrant] = field(default_factory=dict)
    messages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    views: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[RecordedCall] = field(default_factory=list)
    calls_by_method: dict[str, int] = field(default_factory=dict)
    violations: list[Violation] = field(default_factory=list)


class _ApiError(Exception):
    def __init__(self, error: str, problems: list[str] | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.problems = problems or []


# ---------------------------------------------------------------- Block Kit validation


def _unknown_keys(sent: Any, parsed: Any, path: str) -> list[str]:
    """Keys present in what the app sent but dropped by slack_sdk's models: Slack rejects them."""
    problems: list[str] = []
    if isinstance(sent, dict) and isinstance(parsed, dict):
        for key, value in sent.items():
            if key not in parsed:
                problems.append(f"{path}.{key}: unknown field")
            else:
                problems.extend(_unknown_keys(value, parsed[key], f"{path}.{key}"))
    elif isinstance(parsed, dict):
        # slack_sdk turns a bare string into a text object; Slack itself refuses one.
        problems.append(f"{path}: must be an object, not {type(sent).__name__}")
    elif isinstance(sent, list) and isinstance(parsed, list) and len(sent) == len(parsed):
        for index, (one_sent, one_parsed) in enumerate(zip(sent, parsed, strict=True)):
            problems.extend(_unknown_keys(one_sent, one_parsed, f"{path}[{index}]"))
    return problems


def validate_blocks(blocks: Any, *, limit: int = MESSAGE_BLOCKS_LIMIT) -> list[str]:
    """Every problem Slack would report for this ``blocks`` array (empty when valid)."""
    try:
        key = json.dumps(blocks, sort_keys=True)
    except (TypeError, ValueError):
        return _validate_blocks(blocks, limit)
    # The same payloads recur (benchmarks, repeated replies): validating is pure, so memoise.
    return list(_validate_blocks_json(key, limit))


@functools.lru_cache(maxsize=2048)
def _validate_blocks_json(blocks_json: str, limit: int) -> tuple[str, ...]:
    return tuple(_validate_blocks(json.loads(blocks_json), limit))


def _validate_blocks(blocks: Any, limit: int) -> list[str]:
    if not isinstance(blocks, list):
        return ["blocks must be an array"]
    problems: list[str] = []
    if len(blocks) > limit:
        problems.append(f"blocks: {len(blocks)} blocks, at most {limit} allowed")
    for index, raw in enumerate(blocks):
        path = f"blocks[{index}]"
        if not isinstance(raw, dict):
            problems.append(f"{path}: must be an object")
            continue
        try:
            block = Block.parse(dict(raw))
            if block is None:
                problems.append(f"{path}: unknown block type {raw.get('type')!r}")
                continue
            block.validate_json()
            parsed = block.to_dict()  # validates nested elements and text objects too
        except Exception as error:  # slack_sdk raises several types for malformed input
            problems.append(f"{path}: {type(error).__name__}: {error}")
            continue
        problems.extend(_unknown_keys(raw, parsed, path))
    return problems


def validate_view(view: Any) -> list[str]:
    """Every problem Slack would report for this view (modal or home tab)."""
    if not isinstance(view, dict):
        return ["view must be an object"]
    problems: list[str] = []
    view_type = view.get("type")
    blocks = view.get("blocks")
    if view_type == "modal":
        if not view.get("title"):
            problems.append("view.title: a modal needs a title")
        has_input = isinstance(blocks, list) and any(
            isinstance(b, dict) and b.get("type") == "input" for b in blocks
        )
        if has_input and not view.get("submit"):
            problems.append("view.submit: a modal with input blocks needs a submit button")
    if not isinstance(blocks, list) or not blocks:
        problems.append("view.blocks: a view needs at least one block")
    else:
        problems.extend(f"view.{p}" for p in validate_blocks(blocks, limit=VIEW_BLOCKS_LIMIT))
    try:
        parsed_view = View(**view)
        parsed_view.validate_json()
        parsed = {k: v for k, v in parsed_view.to_dict().items() if k != "blocks"}
    except Exception as error:  # slack_sdk raises several types for malformed input
        problems.append(f"view: {type(error).__name__}: {error}")
    else:
        without_blocks = {k: v for k, v in view.items() if k != "blocks"}
        problems.extend(_unknown_keys(without_blocks, parsed, "view"))
    return problems


def _json_field(args: Mapping[str, Any], name: str) -> Any:
    """A JSON-valued argument, sent either as JSON or as a JSON string in a form field."""
    value = args.get(name)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as error:
            raise _ApiError("invalid_arguments", [f"{name}: not valid JSON"]) from error
    return value


# ---------------------------------------------------------------- the stand-in


class SlackStandIn:
    """The Slack Web API, in memory. Serve :attr:`asgi_app` (see :func:`start_standin`).

    ``clock`` is a monotonic clock in seconds; tests pass their own to expire trigger ids
    without sleeping.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        trigger_ttl_seconds: float = TRIGGER_TTL_SECONDS,
        client_id: str | None = None,
        client_secret: str | None = None,
        strict_channels: bool = False,
    ) -> None:
        self.clock = clock
        self.trigger_ttl_seconds = trigger_ttl_seconds
        self.client_id = client_id
        self.client_secret = client_secret
        self.strict_channels = strict_channels
        self.base_url = ""
        self._state = _State()
        self._changed = threading.Condition()
        self._seq = itertools.count(1)
        self._ts_base = int(time.time())
        self.asgi_app = self._build_asgi_app()

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
        with self._changed:
            self._state.workspaces[bot_token] = workspace
        return workspace

    def revoke_token(self, bot_token: str) -> None:
        """Make ``bot_token`` invalid (``invalid_auth``), as after an uninstall."""
        with self._changed:
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
        with self._changed:
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
        with self._changed:
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
        grant = _OAuthGrant(team_id, team_name, bot_token, user_id, user_token, scope)
        with self._changed:
            self._state.grants[code] = grant

    def issue_trigger_id(self) -> str:
        """A fresh trigger id, valid for 3 s from now and for one use (as Slack's)."""
        trigger_id = f"{next(self._seq)}.{secrets.token_hex(8)}"
        self.register_trigger_id(trigger_id)
        return trigger_id

    def register_trigger_id(self, trigger_id: str) -> None:
        """Start ``trigger_id``'s 3 s life now."""
        with self._changed:
            self._state.triggers[trigger_id] = _Trigger(issued_at=self.clock())

    def issue_response_url(
        self, *, channel: str | None = None, message_ts: str | None = None
    ) -> str:
        """A ``response_url``; ``replace_original`` acts on (channel, message_ts) when given."""
        key = secrets.token_hex(12)
        with self._changed:
            self._state.response_urls[key] = _ResponseUrl(channel, message_ts)
        return f"{self.base_url.rstrip('/')}/_standin/response/{key}"

    # ------------------------------------------------------------ inspection

    def calls(self, method: str | None = None) -> list[RecordedCall]:
        """Every recorded call, in order; only ``method``'s when given."""
        with self._changed:
            return [c for c in self._state.calls if method is None or c.method == method]

    @property
    def violations(self) -> list[Violation]:
        """Payloads Slack would have refused. A clean run leaves this empty."""
        with self._changed:
            return list(self._state.violations)

    def view(self, view_id: str) -> dict[str, Any]:
        """The current state of an opened view (as ``views.open`` returned it)."""
        with self._changed:
            return dict(self._state.views[view_id])

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        """The current state of a posted message, or ``None`` when deleted or unknown."""
        with self._changed:
            found = self._state.messages.get((channel, ts))
            return dict(found) if found is not None else None

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
            return [
                c for c in self._state.calls if c.method == method and (where is None or where(c))
            ]

        with self._changed:
            if not self._changed.wait_for(lambda: len(matching()) >= count, timeout=within_s):
                seen = len(matching())
                raise TimeoutError(f"{seen} of {count} {method} calls after {within_s} s")
            return matching()

    async def wait_for(
        self,
        method: str,
        *,
        count: int = 1,
        within_s: float = 5.0,
        where: Callable[[RecordedCall], bool] | None = None,
    ) -> list[RecordedCall]:
        """:meth:`wait_for_calls` without blocking the event loop."""
        return await asyncio.to_thread(
            self.wait_for_calls, method, count=count, within_s=within_s, where=where
        )

    # ------------------------------------------------------------ recording

    def _record(
        self,
        method: str,
        args: dict[str, Any],
        team_id: str | None,
        response: dict[str, Any],
        problems: list[str],
    ) -> None:
        with self._changed:
            seq = next(self._seq)
            error = None if response.get("ok") else str(response.get("error"))
            call = RecordedCall(seq, method, args, team_id, error is None, error, response)
            self._state.calls.append(call)
            counts = self._state.calls_by_method
            counts[method] = counts.get(method, 0) + 1
            if problems:
                self._state.violations.append(
                    Violation(seq, method, error or "invalid", tuple(problems))
                )
            self._changed.notify_all()

    def _next_ts(self) -> str:
        return f"{self._ts_base}.{next(self._seq):06d}"

    # ------------------------------------------------------------ HTTP

    def _build_asgi_app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/api/{method}", self._api, methods=["GET", "POST"]),
                Route("/_standin/response/{key}", self._response_url, methods=["POST"]),
                Route("/_standin/trigger_ids", self._mint_trigger_id, methods=["POST"]),
                Route("/_standin/response_urls", self._mint_response_url, methods=["POST"]),
                Route("/_standin/views/{view_id}", self._get_view, methods=["GET"]),
                Route("/_standin/calls", self._get_calls, methods=["GET"]),
                Route("/_standin/stats", self._get_stats, methods=["GET"]),
            ]
        )

    async def _api(self, request: Request) -> Response:
        method = request.path_params["method"]
        args = await _request_args(request)
        problems: list[str] = []
        team_id: str | None = None
        try:
            if method == "oauth.v2.access":
                response = self._oauth_v2_access(args, request.headers.get("authorization"))
            else:
                workspace = self._authenticate(request, args)
                team_id = workspace.team_id
                handler = self._methods().get(method)
                if handler is None:
                    raise _ApiError("unknown_method")
                response = handler(args, workspace)
        except _ApiError as error:
            problems = error.problems
            response = {"ok": False, "error": error.error}
            if problems:
                response["errors"] = problems
                response["response_metadata"] = {"messages": [f"[ERROR] {p}" for p in problems]}
        args.pop("token", None)
        args.pop("client_secret", None)
        self._record(method, args, team_id, response, problems)
        return JSONResponse(response)

    def _authenticate(self, request: Request, args: dict[str, Any]) -> Workspace:
        header = request.headers.get("authorization", "")
        token = header[len("Bearer ") :] if header.startswith("Bearer ") else args.get("token")
        if not token:
            raise _ApiError("not_authed")
        with self._changed:
            workspace = self._state.workspaces.get(str(token))
        if workspace is None:
            raise _ApiError("invalid_auth")
        return workspace

    def _methods(self) -> dict[str, Callable[[dict[str, Any], Workspace], dict[str, Any]]]:
        return {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.update": self._chat_update,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "users.info": self._users_info,
            "conversations.info": self._conversations_info,
        }

    # ------------------------------------------------------------ Web API methods

    def _auth_test(self, args: dict[str, Any], ws: Workspace) -> dict[str, Any]:
        return {
            "ok": True,
            "url": f"https://{ws.team_id.lower()}.slack.com/",
            "team": ws.team_name,
            "user": "seatbot",
            "team_id": ws.team_id,
            "user_id": ws.bot_user_id,
            "bot_id": ws.bot_id,
            "app_id": ws.app_id,
            "is_enterprise_install": False,
        }

    def _check_message(self, args: dict[str, Any]) -> list[dict[str, Any]] | None:
        blocks = _json_field(args, "blocks")
        text = args.get("text")
        if not text and not blocks and not args.get("attachments"):
            raise _ApiError("no_text")
        if isinstance(text, str) and len(text) > MESSAGE_TEXT_LIMIT:
            raise _ApiError("msg_too_long")
        if blocks is not None:
            problems = validate_blocks(blocks)
            if problems:
                raise _ApiError("invalid_blocks", problems)
            args["blocks"] = blocks
            return list(blocks)
        return None

    def _channel(self, args: dict[str, Any]) -> str:
        channel = args.get("channel")
        if not channel:
            raise _ApiError("channel_not_found")
        channel = str(channel)
        if channel.startswith("U"):  # posting to a user id opens their DM
            return "D" + channel[1:]
        with self._changed:
            known = channel in self._state.channels
        if self.strict_channels and not known:
            raise _ApiError("channel_not_found")
        return channel

    def _chat_post_message(self, args: dict[str, Any], ws: Workspace) -> dict[str, Any]:
        channel = self._channel(args)
        blocks = self._check_message(args)
        ts = self._next_ts()
        message: dict[str, Any] = {
            "type": "message",
            "ts": ts,
            "user": ws.bot_user_id,
            "bot_id": ws.bot_id,
            "text": args.get("text") or "",
        }
        if blocks is not None:
            message["blocks"] = blocks
        if args.get("thread_ts"):
            message["thread_ts"] = args["thread_ts"]
        with self._changed:
            self._state.messages[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _chat_post_ephemeral(self, args: dict[str, Any], ws: Workspace) -> dict[str, Any]:
        self._channel(args)
        if not args.get("user"):
            raise _ApiError("user_not_in_channel")
        self._check_message(args)
        return {"ok": True, "message_ts": self._next_ts()}

    def _chat_update(self, args: dict[str, Any], ws: Workspace) -> dict[str, Any]:
        channel = self._channel(args)
        ts = str(args.get("ts") or "")
        with self._changed:
            existing = self._state.messages.get((channel, ts))
        if existing is None:
            raise _ApiError("message_not_found")
        blocks = self._check_message(args)
        updated = dict(existing, text=args.get("text") or "")
        if blocks is not None:
            updated["blocks"] = blocks
        else:
            updated.pop("blocks", None)
        with self._changed:
            self._state.messages[(channel, ts)] = updated
        return {"ok": True, "channel": channel, "ts": ts, "text": updated["text"]}

    def _use_trigger(self, args: dict[str, Any]) -> None:
        trigger_id = args.get("trigger_id")
        if not trigger_id:
            raise _ApiError("invalid_arguments", ["trigger_id is required"])
        with self._changed:
            trigger = self._state.triggers.get(str(trigger_id))
            if trigger is None:
                raise _ApiError("invalid_trigger_id")
            if trigger.used:
                raise _ApiError("exchanged_trigger_id")
            if self.clock() - trigger.issued_at > self.trigger_ttl_seconds:
                raise _ApiError("expired_trigger_id")
            trigger.used = True

    def _checked_view(self, args: dict[str, Any]) -> dict[str, Any]:
        view = _json_field(args, "view")
        problems = validate_view(view)
        if problems:
            error = (
                "invalid_blocks" if any("blocks" in p for p in problems) else "invalid_arguments"
            )
            raise _ApiError(error, problems)
        args["view"] = view
        return dict(view)

    def _store_view(
        self, view: dict[str, Any], ws: Workspace, *, view_id: str | None, root: str | None
    ) -> dict[str, Any]:
        new_id = view_id or f"V{next(self._seq):010d}"
        stored = dict(view)
        stored.update(
            id=new_id,
            team_id=ws.team_id,
            app_id=ws.app_id,
            bot_id=ws.bot_id,
            hash=f"{int(time.time())}.{secrets.token_hex(4)}",
            root_view_id=root or new_id,
            previous_view_id=None,
            state={"values": {}},
            private_metadata=view.get("private_metadata", ""),
            callback_id=view.get("callback_id", ""),
            external_id=view.get("external_id", ""),
        )
        with self._changed:
            self._state.views[new_id] = stored
        return stored

    def _views_open(self, args: dict[str, Any], ws: Workspace) -> dict[str, Any]:
        view = self._checked_view(args)
        self._use_trigger(args)
        return {"ok": True, "view": self._store_view(view, ws, view_id=None, root=None)}

    def _views_push(self, args: dict[str, Any], ws: Workspace) -> dict[str, Any]:
        view = self._checked_view(args)
        self._use_trigger(args)
        return {"ok": True, "view": self._store_view(view, ws, view_id=None, root=None)}

    def _views_update(self, args: dict[str, Any], ws: Workspace) -> dict[str, Any]:
        view = self._checked_view(args)
        view_id = args.get("view_id")
        external_id = args.get("external_id")
        with self._changed:
            if not view_id and external_id:
                view_id = next(
                    (
                        k
                        for k, v in self._state.views.items()
                        if v.get("external_id") == external_id
                    ),
                    None,
                )
            existing = self._state.views.get(str(view_id)) if view_id else None
        if existing is None:
            raise _ApiError("not_found")
        if args.get("hash") and args["hash"] != existing["hash"]:
            raise _ApiError("hash_conflict")
        stored = self._store_view(
            view, ws, view_id=str(view_id), root=str(existing["root_view_id"])
        )
        return {"ok": True, "view": stored}

    def _views_publish(self, args: dict[str, Any], ws: Workspace) -> dict[str, Any]:
        if not args.get("user_id"):
            raise _ApiError("invalid_arguments", ["user_id is required"])
        view = self._checked_view(args)
        if view.get("type") != "home":
            raise _ApiError("invalid_arguments", ["views.publish takes a home view"])
        return {"ok": True, "view": self._store_view(view, ws, view_id=None, root=None)}

    def _users_info(self, args: dict[str, Any], ws: Workspace) -> dict[str, Any]:
        with self._changed:
            user = self._state.users.get(str(args.get("user")))
        if user is None or user["team_id"] != ws.team_id:
            raise _ApiError("user_not_found")
        return {"ok": True, "user": user}

    def _conversations_info(self, args: dict[str, Any], ws: Workspace) -> dict[str, Any]:
        with self._changed:
            channel = self._state.channels.get(str(args.get("channel")))
        if channel is None:
            raise _ApiError("channel_not_found")
        return {"ok": True, "channel": channel}

    def _oauth_v2_access(self, args: dict[str, Any], authorization: str | None) -> dict[str, Any]:
        client_id = args.get("client_id")
        client_secret = args.get("client_secret")
        if authorization and authorization.startswith("Basic "):
            try:
                decoded = base64.b64decode(authorization[len("Basic ") :]).decode()
            except (binascii.Error, UnicodeDecodeError) as error:
                raise _ApiError("invalid_client_id") from error
            client_id, _, client_secret = decoded.partition(":")
        if self.client_id is not None and client_id != self.client_id:
            raise _ApiError("invalid_client_id")
        if self.client_secret is not None and client_secret != self.client_secret:
            raise _ApiError("bad_client_secret")
        with self._changed:
            grant = self._state.grants.get(str(args.get("code")))
            if grant is None or grant.used:
                raise _ApiError("invalid_code")
            grant.used = True
        workspace = self.add_workspace(grant.team_id, grant.bot_token, team_name=grant.team_name)
        authed_user: dict[str, Any] = {"id": grant.user_id, "scope": "", "token_type": "user"}
        if grant.user_token:
            authed_user["access_token"] = grant.user_token
        return {
            "ok": True,
            "app_id": workspace.app_id,
            "authed_user": authed_user,
            "scope": grant.scope,
            "token_type": "bot",
            "access_token": grant.bot_token,
            "bot_user_id": workspace.bot_user_id,
            "team": {"id": grant.team_id, "name": grant.team_name},
            "enterprise": None,
            "is_enterprise_install": False,
        }

    # ------------------------------------------------------------ response_url and control

    async def _response_url(self, request: Request) -> Response:
        key = request.path_params["key"]
        try:
            payload = json.loads(await request.body())
        except json.JSONDecodeError:
            payload = None
        with self._changed:
            target = self._state.response_urls.get(key)
            if target is not None:
                target.uses += 1
        problems: list[str] = []
        if target is None:
            error: str | None = "no_service"
        elif target.uses > RESPONSE_URL_USES:
            error = "used_url"
        elif not isinstance(payload, dict):
            error = "invalid_payload"
        else:
            error = None
            if payload.get("blocks") is not None:
                problems = validate_blocks(payload["blocks"])
            if problems:
                error = "invalid_blocks"
            elif not payload.get("delete_original") and not (
                payload.get("text") or payload.get("blocks")
            ):
                error = "no_text"
        args = payload if isinstance(payload, dict) else {"raw": "<not JSON>"}
        if error is None and target is not None:
            self._apply_response(target, args)
        response = {"ok": error is None, "error": error} if error else {"ok": True}
        self._record("response_url", dict(args, response_url=key), None, response, problems)
        if error is not None:
            status = 404 if error == "no_service" else 400
            return PlainTextResponse(error, status_code=status)
        return PlainTextResponse("ok")

    def _apply_response(self, target: _ResponseUrl, payload: dict[str, Any]) -> None:
        if target.channel is None or target.message_ts is None:
            return
        key = (target.channel, target.message_ts)
        with self._changed:
            if payload.get("delete_original"):
                self._state.messages.pop(key, None)
            elif payload.get("replace_original") and key in self._state.messages:
                replaced = dict(self._state.messages[key], text=payload.get("text") or "")
                if payload.get("blocks") is not None:
                    replaced["blocks"] = payload["blocks"]
                else:
                    replaced.pop("blocks", None)
                self._state.messages[key] = replaced

    async def _mint_trigger_id(self, request: Request) -> Response:
        return JSONResponse({"trigger_id": self.issue_trigger_id()})

    async def _mint_response_url(self, request: Request) -> Response:
        body = await request.body()
        target = json.loads(body) if body else {}
        channel, message_ts = target.get("channel"), target.get("message_ts")
        count = target.get("count")
        if isinstance(count, int) and count > 0:  # a batch, for load generators
            urls = [self.issue_response_url(channel=channel) for _ in range(count)]
            return JSONResponse({"response_urls": urls})
        url = self.issue_response_url(channel=channel, message_ts=message_ts)
        return JSONResponse({"response_url": url})

    async def _get_view(self, request: Request) -> Response:
        view_id = request.path_params["view_id"]
        with self._changed:
            view = self._state.views.get(view_id)
        if view is None:
            return JSONResponse({"error": "not_found"}, status_code=404)
        return JSONResponse(view)

    async def _get_stats(self, request: Request) -> Response:
        """How many calls of each method were recorded (cheap, for load generators)."""
        with self._changed:
            by_method = dict(self._state.calls_by_method)
            violations = len(self._state.violations)
        return JSONResponse({"by_method": by_method, "violations": violations})

    async def _get_calls(self, request: Request) -> Response:
        with self._changed:
            calls = [asdict(c) for c in self._state.calls]
            violations = [asdict(v) for v in self._state.violations]
        return JSONResponse({"calls": calls, "violations": violations})


async def _request_args(request: Request) -> dict[str, Any]:
    """The call's arguments from the query string and a JSON or form body, as slack_sdk sends."""
    args: dict[str, Any] = dict(request.query_params)
    content_type = request.headers.get("content-type", "")
    body = await request.body()
    if not body:
        return args
    if content_type.startswith("application/json"):
        try:
            decoded = json.loads(body)
        except json.JSONDecodeError:
            return args
        if isinstance(decoded, dict):
            args.update(decoded)
    elif content_type.startswith("multipart/form-data"):
        form = await request.form()
        args.update({k: v for k, v in form.items() if isinstance(v, str)})
    else:
        args.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    return args


# ---------------------------------------------------------------- serving


def bind_loopback_socket(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    """A listening TCP socket (a free port when ``port`` is 0).

    Connections made before the server starts accepting wait in the backlog, so a caller can
    use the address at once: no race for the port and nothing to poll.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.setblocking(False)
    return sock


@dataclass(slots=True)
class RunningServer:
    """An ASGI app served by uvicorn in this event loop."""

    url: str
    port: int
    server: uvicorn.Server
    task: asyncio.Task[None]

    async def stop(self) -> None:
        """Ask uvicorn to exit and wait for it to finish."""
        self.server.should_exit = True
        await self.task


def serve_asgi(
    app: Any,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    lifespan: Literal["auto", "on", "off"] = "off",
) -> RunningServer:
    """Start serving ``app`` on uvicorn as a task of the running loop; usable at once.

    ``lifespan="on"`` runs the app's startup and shutdown handlers."""
    sock = bind_loopback_socket(host, port)
    bound_port = int(sock.getsockname()[1])
    config = uvicorn.Config(app, log_level="warning", lifespan=lifespan, log_config=None)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    return RunningServer(f"http://{host}:{bound_port}", bound_port, server, task)


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
