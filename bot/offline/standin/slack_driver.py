"""Sends Slack's requests to the app, signed exactly as Slack signs them (tests, demo, benchmarks).

Slack signs ``v0:{timestamp}:{raw body}`` with HMAC-SHA256 keyed by the app's signing secret
and sends ``X-Slack-Signature: v0=<hex>`` and ``X-Slack-Request-Timestamp: <unix seconds>``.
Slash commands arrive form-encoded; interactivity arrives as a form with one ``payload`` field
holding JSON; the Events API arrives as JSON.

Trigger ids and response URLs are minted by the Slack stand-in (over its control endpoints),
so the stand-in can enforce a trigger id's 3 s life and single use and record responses. An
ack's Block Kit is checked as the stand-in checks its own (ValueError: what Slack would refuse).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import httpx

from bot.offline.standin.block_kit import validate_ack
from bot.offline.standin.recording import RecordedCall
from handlers.ids import SEATS_COMMAND

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def sign_request(body: str, signing_secret: str, timestamp: int) -> dict[str, str]:
    """The two headers Slack adds to a request with this raw ``body`` at ``timestamp`` (Unix s)."""
    basestring = f"v0:{timestamp}:{body}".encode()
    digest = hmac.new(signing_secret.encode(), basestring, hashlib.sha256).hexdigest()
    return {"X-Slack-Signature": f"v0={digest}", "X-Slack-Request-Timestamp": str(timestamp)}


@dataclass(frozen=True, slots=True)
class DriverResult:
    """What the app answered, and the ids Slack would have handed it with the request."""

    status_code: int
    text: str
    payload: dict[str, Any]
    trigger_id: str | None = None
    response_url: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def json(self) -> Any:
        """The response body as JSON (an ack with ``response_action``), or ``None`` if empty."""
        return json.loads(self.text) if self.text.strip() else None

    def answer(self, seq: int) -> RecordedCall | None:
        """The message the ack carried (``/seats help``) as a reply ``ack`` numbered ``seq``."""
        if self.status_code != 200 or not self.text.lstrip().startswith("{"):
            return None
        body = self.json
        if not isinstance(body, dict) or "blocks" not in body:
            return None
        return RecordedCall(seq, "ack", body, None, True, None, {})


def button(action_id: str, value: str, *, block_id: str, text: str = "Button") -> dict[str, Any]:
    """A ``block_actions`` action entry for a clicked button."""
    return {
        "type": "button",
        "action_id": action_id,
        "block_id": block_id,
        "text": {"type": "plain_text", "text": text, "emoji": True},
        "value": value,
        "action_ts": f"{time.time():.6f}",
    }


def static_select(
    action_id: str, value: str, *, block_id: str, text: str | None = None
) -> dict[str, Any]:
    """A ``block_actions`` action entry for a choice made in a static select."""
    return {
        "type": "static_select",
        "action_id": action_id,
        "block_id": block_id,
        "selected_option": {
            "text": {"type": "plain_text", "text": text or value, "emoji": True},
            "value": value,
        },
        "action_ts": f"{time.time():.6f}",
    }


def text_input_value(value: str | None) -> dict[str, Any]:
    """A view state value for a ``plain_text_input`` element."""
    return {"type": "plain_text_input", "value": value}


def number_input_value(value: str | None) -> dict[str, Any]:
    """A view state value for a ``number_input`` element (Slack sends the number as text)."""
    return {"type": "number_input", "value": value}


def static_select_value(value: str | None, text: str | None = None) -> dict[str, Any]:
    """A view state value for a ``static_select`` element (``None``: nothing chosen)."""
    if value is None:
        return {"type": "static_select", "selected_option": None}
    option = {"text": {"type": "plain_text", "text": text or value, "emoji": True}, "value": value}
    return {"type": "static_select", "selected_option": option}


class SlackDriver:
    """Plays Slack's side of the conversation against the app at ``app_url``.

    ``standin_url`` is the root of the Slack stand-in (it mints trigger ids and response
    URLs). ``clock`` gives the Unix time used for request timestamps.
    """

    def __init__(
        self,
        app_url: str,
        signing_secret: str,
        *,
        standin_url: str,
        team_id: str = "T0SEATBOT",
        team_domain: str = "seatbot",
        api_app_id: str = "A0SEATBOT",
        events_path: str = "/slack/events",
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app_url = app_url.rstrip("/")
        self.events_url = f"{self.app_url}{events_path}"
        self._signing_secret = signing_secret
        self.standin_url = standin_url.rstrip("/")
        self.team_id = team_id
        self.team_domain = team_domain
        self.api_app_id = api_app_id
        self._owns_http = http is None
        self.http = http or httpx.AsyncClient(timeout=httpx.Timeout(10.0))
        self.clock = clock
        self._event_ids = itertools.count(1)

    async def aclose(self) -> None:
        """Close the HTTP client if the driver made it."""
        if self._owns_http:
            await self.http.aclose()

    async def __aenter__(self) -> SlackDriver:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------ raw

    def signed_headers(self, body: str, *, timestamp: int | None = None) -> dict[str, str]:
        """Slack's signature headers for ``body`` now (or at ``timestamp``)."""
        when = int(self.clock()) if timestamp is None else timestamp
        return sign_request(body, self._signing_secret, when)

    async def post(
        self,
        body: str,
        *,
        content_type: str = FORM,
        headers: dict[str, str] | None = None,
        timestamp: int | None = None,
        sign: bool = True,
    ) -> httpx.Response:
        """POST ``body`` to the events URL, signed unless ``sign`` is False; ``headers``
        override the computed ones (forged or tampered signatures in tests)."""
        sent = {"Content-Type": content_type}
        if sign:
            sent.update(self.signed_headers(body, timestamp=timestamp))
        sent.update(headers or {})
        return await self.http.post(self.events_url, content=body.encode(), headers=sent)

    async def _send(
        self,
        body: str,
        content_type: str,
        payload: dict[str, Any],
        *,
        trigger_id: str | None = None,
        response_url: str | None = None,
    ) -> DriverResult:
        response = await self.post(body, content_type=content_type)
        problems = validate_ack(response.text)
        if problems:
            raise ValueError(f"Slack would refuse the app's ack: {'; '.join(problems)}")
        return DriverResult(
            status_code=response.status_code,
            text=response.text,
            payload=payload,
            trigger_id=trigger_id,
            response_url=response_url,
            headers=dict(response.headers),
        )

    # ------------------------------------------------------------ stand-in control

    async def mint_trigger_id(self) -> str:
        """A trigger id the stand-in accepts for 3 s, once."""
        response = await self.http.post(f"{self.standin_url}/_standin/trigger_ids")
        response.raise_for_status()
        return str(response.json()["trigger_id"])

    async def mint_response_url(
        self, *, channel: str | None = None, message_ts: str | None = None
    ) -> str:
        """A response URL served by the stand-in, tied to a message when given."""
        response = await self.http.post(
            f"{self.standin_url}/_standin/response_urls",
            json={"channel": channel, "message_ts": message_ts},
        )
        response.raise_for_status()
        return str(response.json()["response_url"])

    async def fetch_view(self, view_id: str) -> dict[str, Any]:
        """The stand-in's current copy of a view the app opened, pushed or updated."""
        response = await self.http.get(f"{self.standin_url}/_standin/views/{view_id}")
        response.raise_for_status()
        view: dict[str, Any] = response.json()
        return view

    # ------------------------------------------------------------ Slack's requests

    def _interaction(
        self, kind: str, user_id: str, team_id: str | None, **fields: Any
    ) -> dict[str, Any]:
        """What every interactivity payload of ``kind`` holds, then ``fields``."""
        team = team_id or self.team_id
        name = user_id.lower()
        return {
            "type": kind,
            "team": {"id": team, "domain": self.team_domain},
            "user": {"id": user_id, "username": name, "name": name, "team_id": team},
            "api_app_id": self.api_app_id,
            "token": "deprecated-verification-token",
            "is_enterprise_install": False,
            **fields,
        }

    async def slash_command(
        self,
        text: str,
        *,
        user_id: str,
        channel_id: str,
        command: str = SEATS_COMMAND,
        user_name: str | None = None,
        channel_name: str = "general",
        team_id: str | None = None,
    ) -> DriverResult:
        """A slash command, as Slack posts it (form-encoded)."""
        team = team_id or self.team_id
        trigger_id = await self.mint_trigger_id()
        response_url = await self.mint_response_url(channel=channel_id)
        payload = {
            "token": "deprecated-verification-token",
            "team_id": team,
            "team_domain": self.team_domain,
            "channel_id": channel_id,
            "channel_name": channel_name,
            "user_id": user_id,
            "user_name": user_name or user_id.lower(),
            "command": command,
            "text": text,
            "api_app_id": self.api_app_id,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id,
        }
        return await self._send(
            urlencode(payload), FORM, payload, trigger_id=trigger_id, response_url=response_url
        )

    async def _interactive(
        self, payload: dict[str, Any], trigger_id: str | None, response_url: str | None
    ) -> DriverResult:
        body = urlencode({"payload": json.dumps(payload)})
        return await self._send(
            body, FORM, payload, trigger_id=trigger_id, response_url=response_url
        )

    async def block_action(
        self,
        action: dict[str, Any],
        *,
        user_id: str,
        channel_id: str | None = None,
        message: dict[str, Any] | None = None,
        view: dict[str, Any] | None = None,
        state_values: dict[str, dict[str, Any]] | None = None,
        team_id: str | None = None,
    ) -> DriverResult:
        """A click or choice in a message (``channel_id`` + ``message`` with its ``ts``; an
        ephemeral message has none) or in a view (``view`` as the stand-in holds it;
        ``state_values`` are the inputs' values)."""
        trigger_id = await self.mint_trigger_id()
        payload = self._interaction(
            "block_actions",
            user_id,
            team_id,
            trigger_id=trigger_id,
            enterprise=None,
            actions=[action],
        )
        response_url: str | None = None
        if view is not None:
            sent_view = _with_state(view, state_values or {})
            payload["container"] = {"type": "view", "view_id": view.get("id")}
            payload["view"] = sent_view
            payload["state"] = sent_view["state"]
        if channel_id is not None:
            # An ephemeral message: Slack sends no message body, only its container.
            message_ts = None if message is None else str(message.get("ts"))
            response_url = await self.mint_response_url(channel=channel_id, message_ts=message_ts)
            payload["container"] = {
                "type": "message",
                "message_ts": message_ts or f"{self.clock():.6f}",
                "channel_id": channel_id,
                "is_ephemeral": message is None,
            }
            payload["channel"] = {"id": channel_id, "name": "general"}
            if message is not None:
                payload["message"] = message
            payload["response_url"] = response_url
            payload["state"] = {"values": state_values or {}}
        return await self._interactive(payload, trigger_id, response_url)

    async def view_submission(
        self,
        view: dict[str, Any],
        *,
        user_id: str,
        values: dict[str, dict[str, Any]],
        team_id: str | None = None,
    ) -> DriverResult:
        """The submit button of ``view`` (as the stand-in holds it) with the inputs' ``values``
        (``{block_id: {action_id: <state value>}}``)."""
        trigger_id = await self.mint_trigger_id()
        payload = self._interaction(
            "view_submission",
            user_id,
            team_id,
            trigger_id=trigger_id,
            view=_with_state(view, values),
            response_urls=[],
            enterprise=None,
        )
        return await self._interactive(payload, trigger_id, None)

    async def view_closed(
        self, view: dict[str, Any], *, user_id: str, team_id: str | None = None
    ) -> DriverResult:
        """The modal's close button (sent only when the view asked ``notify_on_close``)."""
        payload = self._interaction("view_closed", user_id, team_id, view=view, is_cleared=False)
        return await self._interactive(payload, None, None)

    async def event(self, event: dict[str, Any], *, team_id: str | None = None) -> DriverResult:
        """An Events API ``event_callback`` wrapping ``event`` (JSON body)."""
        team = team_id or self.team_id
        now = int(self.clock())
        payload = {
            "token": "deprecated-verification-token",
            "team_id": team,
            "api_app_id": self.api_app_id,
            "event": dict({"event_ts": f"{now}.000000"}, **event),
            "type": "event_callback",
            "event_id": f"Ev{next(self._event_ids):08d}",
            "event_time": now,
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": team,
                    "user_id": "U0SEATBOT",
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }
        return await self._send(json.dumps(payload), JSON, payload)


def _with_state(view: dict[str, Any], values: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``view`` as Slack sends it back: with the inputs' current values in ``state``."""
    sent = dict(view)
    merged: dict[str, dict[str, Any]] = {}
    old_state = view.get("state")
    if isinstance(old_state, dict) and isinstance(old_state.get("values"), dict):
        merged.update({k: dict(v) for k, v in old_state["values"].items()})
    for block_id, by_action in values.items():
        merged.setdefault(block_id, {}).update(by_action)
    sent["state"] = {"values": merged}
    return sent
