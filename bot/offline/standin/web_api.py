"""The Slack Web API methods Seatbot uses, answered as Slack answers them.

Each method takes the decoded arguments and the calling workspace and returns Slack's JSON
answer, or raises :class:`ApiError` (answered as ``{"ok": false, "error": ...}``). Messages and
views are checked with :mod:`bot.offline.standin.block_kit`; ``views.open``/``views.push`` spend a
trigger id, which lives ``trigger_ttl_seconds`` and works once.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from billing.errors import SeatbotError
from bot.offline.standin.block_kit import validate_blocks, validate_view
from bot.offline.standin.state import StandInState, Workspace

MESSAGE_TEXT_LIMIT = 40_000

#: A Web API method: (arguments, calling workspace) → Slack's answer.
Method = Callable[[dict[str, Any], Workspace], dict[str, Any]]


class ApiError(SeatbotError):
    """A Web API failure: Slack's ``error`` code and, for a refused payload, every problem."""

    def __init__(self, error: str, problems: list[str] | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.problems = problems or []


class StandInOptions(Protocol):
    """The stand-in's settings the methods read (at each call, so a test may change them)."""

    clock: Callable[[], float]
    trigger_ttl_seconds: float
    client_id: str | None
    client_secret: str | None
    strict_channels: bool
    base_url: str


def json_field(args: Mapping[str, Any], name: str) -> Any:
    """A JSON-valued argument, sent either as JSON or as a JSON string in a form field."""
    value = args.get(name)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as error:
            raise ApiError("invalid_arguments", [f"{name}: not valid JSON"]) from error
    return value


class WebApi:
    """The Web API methods, over the stand-in's state."""

    def __init__(self, state: StandInState, options: StandInOptions) -> None:
        self._state = state
        self._options = options

    def method(self, name: str) -> Method | None:
        """The method called ``name`` (``"chat.postMessage"``), or ``None`` when unknown."""
        methods: dict[str, Method] = {
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
            "files.getUploadURLExternal": self._files_get_upload_url,
            "files.completeUploadExternal": self._files_complete_upload,
        }
        return methods.get(name)

    def authenticate(self, authorization: str, args: Mapping[str, Any]) -> Workspace:
        """The workspace of the bearer token (or the ``token`` argument); ``not_authed`` or
        ``invalid_auth`` as Slack answers."""
        token = (
            authorization[len("Bearer ") :]
            if authorization.startswith("Bearer ")
            else args.get("token")
        )
        if not token:
            raise ApiError("not_authed")
        with self._state.lock:
            workspace = self._state.workspaces.get(str(token))
        if workspace is None:
            raise ApiError("invalid_auth")
        return workspace

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
        blocks = json_field(args, "blocks")
        text = args.get("text")
        if not text and not blocks and not args.get("attachments"):
            raise ApiError("no_text")
        if isinstance(text, str) and len(text) > MESSAGE_TEXT_LIMIT:
            raise ApiError("msg_too_long")
        if blocks is not None:
            problems = validate_blocks(blocks)
            if problems:
                raise ApiError("invalid_blocks", problems)
            args["blocks"] = blocks
            return list(blocks)
        return None

    def _channel(self, args: dict[str, Any]) -> str:
        channel = args.get("channel")
        if not channel:
            raise ApiError("channel_not_found")
        channel = str(channel)
        if channel.startswith("U"):  # posting to a user id opens their DM
            return "D" + channel[1:]
        with self._state.lock:
            known = channel in self._state.channels
        if self._options.strict_channels and not known:
            raise ApiError("channel_not_found")
        return channel

    def _chat_post_message(self, args: dict[str, Any], ws: Workspace) -> dict[str, Any]:
        channel = self._channel(args)
        blocks = self._check_message(args)
        ts = self._state.next_ts()
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
        with self._state.lock:
            self._state.messages[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _chat_post_ephemeral(self, args: dict[str, Any], ws: Workspace) -> dict[str, Any]:
        self._channel(args)
        if not args.get("user"):
            raise ApiError("user_not_in_channel")
        self._check_message(args)
        return {"ok": True, "message_ts": self._state.next_ts()}

    def _chat_update(self, args: dict[str, Any], ws: Workspace) -> dict[str, Any]:
        channel = self._channel(args)
        ts = str(args.get("ts") or "")
        with self._state.lock:
            existing = self._state.messages.get((channel, ts))
        if existing is None:
            raise ApiError("message_not_found")
        blocks = self._check_message(args)
        updated = dict(existing, text=args.get("text") or "")
        if blocks is not None:
            updated["blocks"] = blocks
        else:
            updated.pop("blocks", None)
        with self._state.lock:
            self._state.messages[(channel, ts)] = updated
        return {"ok": True, "channel": channel, "ts": ts, "text": updated["text"]}

    def _use_trigger(self, args: dict[str, Any]) -> None:
        trigger_id = args.get("trigger_id")
        if not trigger_id:
            raise ApiError("invalid_arguments", ["trigger_id is required"])
        with self._state.lock:
            trigger = self._state.triggers.get(str(trigger_id))
            if trigger is None:
                raise ApiError("invalid_trigger_id")
            if trigger.used:
                raise ApiError("exchanged_trigger_id")
            if self._options.clock() - trigger.issued_at > self._options.trigger_ttl_seconds:
                raise ApiError("expired_trigger_id")
            trigger.used = True

    def _checked_view(self, args: dict[str, Any]) -> dict[str, Any]:
        view = json_field(args, "view")
        problems = validate_view(view)
        if problems:
            error = (
                "invalid_blocks" if any("blocks" in p for p in problems) else "invalid_arguments"
            )
            raise ApiError(error, problems)
        args["view"] = view
        return dict(view)

    def _store_view(
        self, view: dict[str, Any], ws: Workspace, *, view_id: str | None, root: str | None
    ) -> dict[str, Any]:
        new_id = view_id or f"V{self._state.next_seq():010d}"
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
        with self._state.lock:
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
        with self._state.lock:
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
            raise ApiError("not_found")
        if args.get("hash") and args["hash"] != existing["hash"]:
            raise ApiError("hash_conflict")
        stored = self._store_view(
            view, ws, view_id=str(view_id), root=str(existing["root_view_id"])
        )
        return {"ok": True, "view": stored}

    def _views_publish(self, args: dict[str, Any], ws: Workspace) -> dict[str, Any]:
        if not args.get("user_id"):
            raise ApiError("invalid_arguments", ["user_id is required"])
        view = self._checked_view(args)
        if view.get("type") != "home":
            raise ApiError("invalid_arguments", ["views.publish takes a home view"])
        return {"ok": True, "view": self._store_view(view, ws, view_id=None, root=None)}

    def _users_info(self, args: dict[str, Any], ws: Workspace) -> dict[str, Any]:
        with self._state.lock:
            user = self._state.users.get(str(args.get("user")))
        if user is None or user["team_id"] != ws.team_id:
            raise ApiError("user_not_found")
        return {"ok": True, "user": user}

    def _conversations_info(self, args: dict[str, Any], ws: Workspace) -> dict[str, Any]:
        with self._state.lock:
            channel = self._state.channels.get(str(args.get("channel")))
        if channel is None:
            raise ApiError("channel_not_found")
        return {"ok": True, "channel": channel}

    def _files_get_upload_url(self, args: dict[str, Any], ws: Workspace) -> dict[str, Any]:
        filename = args.get("filename")
        try:
            length = int(args.get("length") or "")
        except ValueError:
            length = -1
        if not filename or length < 1:
            raise ApiError("invalid_arguments", ["filename and a positive length are required"])
        file_id = f"F{self._state.next_seq():010d}"
        with self._state.lock:
            self._state.files[file_id] = {
                "id": file_id,
                "name": str(filename),
                "length": length,
                "team_id": ws.team_id,
                "content": None,
                "shares": [],
            }
        upload_url = f"{self._options.base_url.rstrip('/')}/_standin/upload/{file_id}"
        return {"ok": True, "upload_url": upload_url, "file_id": file_id}

    def store_upload(self, file_id: str, content: bytes) -> str | None:
        """The bytes POSTed to a file's upload URL; an error text when they cannot be taken."""
        with self._state.lock:
            file = self._state.files.get(file_id)
            if file is None:
                return "no such upload"
            if file["content"] is not None:
                return "already uploaded"
            if len(content) != file["length"]:
                return f"expected {file['length']} bytes, got {len(content)}"
            file["content"] = content
        return None

    def _files_complete_upload(self, args: dict[str, Any], ws: Workspace) -> dict[str, Any]:
        files = json_field(args, "files")
        if not isinstance(files, list) or not files:
            raise ApiError("invalid_arguments", ["files must be a JSON list of {id, title}"])
        channel = str(args.get("channel_id") or "") or None
        if channel is not None:
            channel = self._channel({"channel": channel})
        thread_ts = args.get("thread_ts") or None
        if thread_ts is not None and channel is not None:
            with self._state.lock:
                parent = self._state.messages.get((channel, str(thread_ts)))
            if parent is None:
                raise ApiError("invalid_thread_ts")
        completed = []
        with self._state.lock:
            for item in files:
                file = self._state.files.get(str(item.get("id") if isinstance(item, dict) else ""))
                if file is None or file["team_id"] != ws.team_id or file["content"] is None:
                    raise ApiError("file_not_found")
                if file.get("title") is not None:
                    raise ApiError("already_completed")
                file["title"] = str(item.get("title") or file["name"])
                if channel is not None:
                    file["shares"].append({"channel": channel, "thread_ts": thread_ts})
                completed.append({"id": file["id"], "name": file["name"], "title": file["title"]})
        return {"ok": True, "files": completed}

    def oauth_v2_access(self, args: dict[str, Any], authorization: str | None) -> dict[str, Any]:
        """Exchange a one-time code for a bot token (client credentials in the arguments or
        HTTP Basic auth), registering the workspace."""
        client_id = args.get("client_id")
        client_secret = args.get("client_secret")
        if authorization and authorization.startswith("Basic "):
            try:
                decoded = base64.b64decode(authorization[len("Basic ") :]).decode()
            except (binascii.Error, UnicodeDecodeError) as error:
                raise ApiError("invalid_client_id") from error
            client_id, _, client_secret = decoded.partition(":")
        if self._options.client_id is not None and client_id != self._options.client_id:
            raise ApiError("invalid_client_id")
        if self._options.client_secret is not None and client_secret != self._options.client_secret:
            raise ApiError("bad_client_secret")
        with self._state.lock:
            grant = self._state.grants.get(str(args.get("code")))
            if grant is None or grant.used:
                raise ApiError("invalid_code")
            grant.used = True
        workspace = self._state.add_workspace(
            Workspace(grant.team_id, grant.team_name, grant.bot_token)
        )
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
