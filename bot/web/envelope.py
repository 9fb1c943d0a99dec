"""The envelope of a signed Slack request: is it a request Slack could have sent?

Slack POSTs three kinds of body to the events URL: a slash command (a form), an interactivity
payload (a form whose one ``payload`` field holds a JSON object) and an Events API callback (a
JSON object). Bolt routes a request by a few fields of that envelope, and so do Seatbot's
listeners, and both assume Slack's types: a body whose ``user`` is a string, whose ``actions``
is empty or whose payload is a JSON array makes them raise. :func:`check_envelope` checks those
fields (presence, type, Slack-id shape, size) before Bolt sees the body, so that a correctly
signed request that makes no sense is refused at the edge with one line saying what was wrong.

It decides "JSON or form" as Bolt does (``Content-Type: application/json`` or a body starting
with ``{``), and only looks at the envelope: command text and view values are the listeners'.
A :class:`MalformedRequest` reason names fields, never values from the body.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal
from urllib.parse import parse_qsl, urlsplit

from billing.errors import SeatbotError

# Slack's request bodies are a few kilobytes; a modal with 100 blocks stays far below this.
MAX_BODY_BYTES: Final = 1024 * 1024
# Slack ids (T0123ABCD, U0123ABCD, ...) are uppercase letters and digits, about 9-12 long; the
# bound leaves room for longer ones. "_" is accepted so readable test ids (U_OWNER) pass.
MAX_ID_LENGTH: Final = 64
MAX_JSON_DEPTH: Final = 32  # Slack's deepest payloads (view state) nest about 10 levels
MAX_FORM_FIELDS: Final = 64
MAX_NAME_LENGTH: Final = 255  # action_id, block_id, callback_id (Slack's own limit)
MAX_TOKEN_LENGTH: Final = 512  # trigger_id, view hash, event type, url_verification challenge
MAX_URL_LENGTH: Final = 2048
MAX_PRIVATE_METADATA_LENGTH: Final = 3000  # Slack's limit for a view's private_metadata

# The interactivity payload types Slack sends an app with Seatbot's features (Block Kit
# messages, modals, shortcuts): anything else is refused.
INTERACTIVITY_TYPES: Final = frozenset(
    {
        "block_actions",
        "block_suggestion",
        "view_submission",
        "view_closed",
        "shortcut",
        "message_action",
    }
)
EVENTS_API_TYPES: Final = frozenset({"url_verification", "event_callback", "app_rate_limited"})

_SLACK_ID = re.compile(rf"[A-Z0-9_]{{1,{MAX_ID_LENGTH}}}")
_COMMAND = re.compile(r"/[^\s/]{1,63}")
_TOKEN = re.compile(rf"[\x21-\x7e]{{1,{MAX_TOKEN_LENGTH}}}")  # printable ASCII, no spaces

EnvelopeKind = Literal["command", "interactivity", "events_api", "ssl_check"]


class MalformedRequest(SeatbotError):
    """A signed request whose envelope is not one Slack sends; ``reason`` says which field is
    wrong (and never repeats a value from the body)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class SlackEnvelope:
    """A body that passed :func:`check_envelope`: its kind and the parsed body Bolt routes by
    (the form's fields, the interactivity payload, or the Events API JSON)."""

    kind: EnvelopeKind
    body: dict[str, Any]


def check_envelope(body: bytes, content_type: str | None) -> SlackEnvelope:
    """Parse ``body`` (as sent with ``content_type``) and check its envelope.

    Raises :class:`MalformedRequest` when Slack could not have sent it.
    """
    if not body:
        raise MalformedRequest("the body is empty")
    if len(body) > MAX_BODY_BYTES:
        raise MalformedRequest(f"the body is larger than {MAX_BODY_BYTES} bytes")
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedRequest("the body is not UTF-8") from None
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type == "application/json" or text.startswith("{"):
        return SlackEnvelope("events_api", _events_api(_json_object(text, "the JSON body")))
    form = _form(text)
    if "payload" in form:
        payload = _json_object(form["payload"], "the payload field")
        return SlackEnvelope("interactivity", _interactivity(payload))
    if "command" in form:
        return SlackEnvelope("command", _command(form))
    if "ssl_check" in form:
        return SlackEnvelope("ssl_check", dict(form))
    raise MalformedRequest("the form has no command, payload or ssl_check field")


# ---------------------------------------------------------------- parsing


def _form(text: str) -> dict[str, str]:
    try:
        pairs = parse_qsl(
            text,
            keep_blank_values=True,
            errors="strict",
            max_num_fields=MAX_FORM_FIELDS,
        )
    except UnicodeDecodeError:
        raise MalformedRequest("a form field is not UTF-8 once decoded") from None
    except ValueError:
        raise MalformedRequest(f"the form has more than {MAX_FORM_FIELDS} fields") from None
    form = dict(pairs)
    if len(form) != len(pairs):
        raise MalformedRequest("a form field appears more than once")
    return form


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except RecursionError:
        raise MalformedRequest(f"{what} is nested too deeply") from None
    except ValueError:  # JSONDecodeError, and integers too long to convert
        raise MalformedRequest(f"{what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise MalformedRequest(f"{what} is not a JSON object")
    _check_json_tree(value, what)
    return value


def _check_json_tree(value: object, what: str) -> None:
    """Bounded nesting, and text that can be written out again (no lone surrogates)."""
    pending: list[tuple[object, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_JSON_DEPTH:
            raise MalformedRequest(f"{what} is nested more than {MAX_JSON_DEPTH} levels deep")
        if isinstance(item, dict):
            for key, child in item.items():
                _check_text(key, what)
                pending.append((child, depth + 1))
        elif isinstance(item, list):
            pending.extend((child, depth + 1) for child in item)
        elif isinstance(item, str):
            _check_text(item, what)


def _check_text(text: str, what: str) -> None:
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise MalformedRequest(f"{what} holds text that is not valid Unicode") from None


# ---------------------------------------------------------------- the three kinds


def _command(form: Mapping[str, str]) -> dict[str, Any]:
    if _COMMAND.fullmatch(form["command"]) is None:
        raise MalformedRequest("command is not a slash command name")
    for name in ("team_id", "user_id", "channel_id"):
        _slack_id(form.get(name), name)
    if form.get("enterprise_id"):
        _slack_id(form["enterprise_id"], "enterprise_id")
    if "type" in form:  # Bolt would take it for another kind of request
        raise MalformedRequest("a slash command has a type field")
    _common_shapes(form, "form")  # form values are text: no event, view or authorizations
    _url(form.get("response_url"), "response_url")
    _token(form.get("trigger_id"), "trigger_id")
    return dict(form)


def _interactivity(payload: dict[str, Any]) -> dict[str, Any]:
    kind = payload.get("type")
    if not isinstance(kind, str):
        raise MalformedRequest("the payload's type is missing or not a string")
    if kind not in INTERACTIVITY_TYPES:
        raise MalformedRequest("the payload's type is not one Slack sends to Seatbot")
    _object_with_id(payload.get("team"), "team")
    _object_with_id(payload.get("user"), "user")
    _no_command(payload, "the payload")
    _common_shapes(payload, "payload")
    if payload.get("response_url") is not None:
        _url(payload["response_url"], "response_url")
    if payload.get("trigger_id") is not None:
        _token(payload["trigger_id"], "trigger_id")
    if "view" in payload or kind in ("view_submission", "view_closed"):
        _view(payload.get("view"))
    if kind == "block_actions":
        _actions(payload.get("actions"))
    elif kind == "block_suggestion":
        _name(payload.get("action_id"), "action_id")
        _name(payload.get("block_id"), "block_id")
        if not isinstance(payload.get("value"), str):
            raise MalformedRequest("value is missing or not a string")
    elif kind in ("shortcut", "message_action"):
        _name(payload.get("callback_id"), "callback_id")
        _token(payload.get("trigger_id"), "trigger_id")
    return payload


def _events_api(body: dict[str, Any]) -> dict[str, Any]:
    kind = body.get("type")
    if not isinstance(kind, str):
        raise MalformedRequest("the JSON body's type is missing or not a string")
    if kind not in EVENTS_API_TYPES:
        raise MalformedRequest("the JSON body's type is not an Events API type")
    _no_command(body, "the JSON body")
    _common_shapes(body, "body")
    if kind == "url_verification":
        _token(body.get("challenge"), "challenge")
        return body
    _slack_id(body.get("team_id"), "team_id")
    if kind == "event_callback":
        event = body.get("event")
        if not isinstance(event, dict):
            raise MalformedRequest("event is missing or not an object")
        _token(event.get("type"), "event.type")
        _common_shapes(event, "event")
        for name in ("message", "previous_message", "item", "assistant_thread"):
            if isinstance(event.get(name), dict):
                _common_shapes(event[name], f"event.{name}")
    return body


# ---------------------------------------------------------------- fields


def _common_shapes(obj: Mapping[str, Any], where: str) -> None:
    """The fields Bolt reads to build a request's context (ids, channel, authorizations) have
    the types Slack gives them: Bolt assumes so and would raise otherwise."""
    for name in ("enterprise", "team", "user", "channel"):
        value = obj.get(name)
        if value is None or isinstance(value, str):
            continue
        if not isinstance(value, dict):
            raise MalformedRequest(f"{where}.{name} is neither an object nor a string")
        if value.get("id") is not None and not isinstance(value["id"], str):
            raise MalformedRequest(f"{where}.{name}.id is not a string")
    # Bolt goes by the presence of these, then looks inside.
    for name in ("event", "view"):
        if name in obj and not isinstance(obj[name], dict):
            raise MalformedRequest(f"{where}.{name} is not an object")
    if "response_urls" in obj:
        _response_urls(obj["response_urls"])
    for name in (
        "message",
        "previous_message",
        "container",
        "item",
        "assistant_thread",
        "function_data",
        "state",
    ):
        if obj.get(name) is not None and not isinstance(obj[name], dict):
            raise MalformedRequest(f"{where}.{name} is not an object")
    for name in ("enterprise_id", "team_id", "user_id", "channel_id"):
        if obj.get(name) is not None and not isinstance(obj[name], str):
            raise MalformedRequest(f"{where}.{name} is not a string")
    authorizations = obj.get("authorizations")
    if authorizations is not None:
        if not isinstance(authorizations, list) or not all(
            isinstance(a, dict) for a in authorizations
        ):
            raise MalformedRequest(f"{where}.authorizations is not a list of objects")
        for authorization in authorizations:
            _common_shapes(authorization, f"{where}.authorizations[]")


def _no_command(obj: Mapping[str, Any], what: str) -> None:
    if "command" in obj:  # Bolt would take it for a slash command
        raise MalformedRequest(f"{what} has a command field")


def _object_with_id(value: object, name: str) -> None:
    if not isinstance(value, dict):
        raise MalformedRequest(f"{name} is missing or not an object")
    _slack_id(value.get("id"), f"{name}.id")


def _slack_id(value: object, name: str) -> None:
    if not isinstance(value, str) or _SLACK_ID.fullmatch(value) is None:
        raise MalformedRequest(f"{name} is missing or not a Slack id")


def _name(value: object, name: str) -> None:
    if not isinstance(value, str) or len(value) > MAX_NAME_LENGTH:
        raise MalformedRequest(f"{name} is missing, not a string or too long")


def _token(value: object, name: str) -> None:
    if not isinstance(value, str) or _TOKEN.fullmatch(value) is None:
        raise MalformedRequest(f"{name} is missing or not a short printable string")


def _url(value: object, name: str) -> None:
    if not isinstance(value, str) or len(value) > MAX_URL_LENGTH:
        raise MalformedRequest(f"{name} is missing, not a string or too long")
    try:
        parts = urlsplit(value)
    except ValueError:
        raise MalformedRequest(f"{name} is not a URL") from None
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise MalformedRequest(f"{name} is not an http(s) URL")


def _response_urls(value: object) -> None:
    if not isinstance(value, list):
        raise MalformedRequest("response_urls is not a list")
    for entry in value:
        if not isinstance(entry, dict):
            raise MalformedRequest("response_urls holds something that is not an object")
        _url(entry.get("response_url"), "response_urls[].response_url")


def _view(value: object) -> None:
    if not isinstance(value, dict):
        raise MalformedRequest("view is missing or not an object")
    _slack_id(value.get("id"), "view.id")
    _token(value.get("type"), "view.type")  # Bolt reads it for every request with a view
    _name(value.get("callback_id"), "view.callback_id")
    metadata = value.get("private_metadata")
    if not isinstance(metadata, str) or len(metadata) > MAX_PRIVATE_METADATA_LENGTH:
        raise MalformedRequest("view.private_metadata is missing, not a string or too long")
    state = value.get("state", {"values": {}})
    if not (isinstance(state, dict) and isinstance(state.get("values", {}), dict)):
        raise MalformedRequest("view.state is not an object with an object of values")
    if value.get("hash") is not None:
        _token(value["hash"], "view.hash")
    for name in ("app_installed_team_id", "team_id"):
        if value.get(name) is not None:
            _slack_id(value[name], f"view.{name}")


def _actions(value: object) -> None:
    if not isinstance(value, list) or not value:
        raise MalformedRequest("actions is missing, empty or not a list")
    for action in value:
        if not isinstance(action, dict):
            raise MalformedRequest("actions holds something that is not an object")
        _name(action.get("action_id"), "actions[].action_id")
        if action.get("block_id") is not None:
            _name(action["block_id"], "actions[].block_id")
