"""check_envelope: what Slack sends passes, what it could not have sent is refused with a
reason, nothing else ever escapes it, and what it accepts never makes Bolt itself raise."""

from __future__ import annotations

import asyncio
import functools
import json
import re
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.error import BoltUnhandledRequestError

from bot.web.asgi import bolt_request
from bot.web.envelope import (
    MAX_BODY_BYTES,
    MAX_JSON_DEPTH,
    MalformedRequest,
    SlackEnvelope,
    check_envelope,
)

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


def command_form(**overrides: str | None) -> dict[str, str]:
    fields: dict[str, str | None] = {
        "token": "deprecated",
        "team_id": "T0123ABCD",
        "team_domain": "acme",
        "channel_id": "C0123ABCD",
        "channel_name": "general",
        "user_id": "U0123ABCD",
        "user_name": "ada",
        "command": "/seats",
        "text": "add 2 axiom",
        "api_app_id": "A0123ABCD",
        "is_enterprise_install": "false",
        "response_url": "https://hooks.slack.com/commands/T0123ABCD/1/abc",
        "trigger_id": "13345224609.738474920.8088930838d88f008e0",
    }
    fields.update(overrides)
    return {k: v for k, v in fields.items() if v is not None}


def view() -> dict[str, Any]:
    return {
        "id": "V0123ABCD",
        "team_id": "T0123ABCD",
        "type": "modal",
        "callback_id": "seats_change_modal",
        "private_metadata": '{"account": "acme"}',
        "hash": "156772938.1827394",
        "state": {"values": {"b": {"a": {"type": "plain_text_input", "value": "12"}}}},
        "blocks": [],
    }


def payloads() -> dict[str, dict[str, Any]]:
    team = {"id": "T0123ABCD", "domain": "acme"}
    user = {"id": "U0123ABCD", "username": "ada", "team_id": "T0123ABCD"}
    return {
        "block_actions from a message": {
            "type": "block_actions",
            "team": team,
            "user": user,
            "api_app_id": "A0123ABCD",
            "trigger_id": "1.2.abc",
            "enterprise": None,
            "is_enterprise_install": False,
            "container": {"type": "message", "message_ts": "1.2", "channel_id": "C0123ABCD"},
            "channel": {"id": "C0123ABCD", "name": "general"},
            "message": {"ts": "1.2", "text": "hi", "blocks": []},
            "state": {"values": {}},
            "response_url": "https://hooks.slack.com/actions/T0123ABCD/1/abc",
            "actions": [
                {"type": "button", "action_id": "seats_confirm", "block_id": "b", "value": "7"}
            ],
        },
        "block_actions in a modal": {
            "type": "block_actions",
            "team": team,
            "user": user,
            "trigger_id": "1.2.abc",
            "container": {"type": "view", "view_id": "V0123ABCD"},
            "view": view(),
            "actions": [{"action_id": "seats_product_select", "block_id": "seats_product"}],
        },
        "view_submission": {
            "type": "view_submission",
            "team": team,
            "user": user,
            "trigger_id": "1.2.abc",
            "view": view(),
            "response_urls": [],
            "enterprise": None,
        },
        "view_closed": {
            "type": "view_closed",
            "team": team,
            "user": user,
            "view": view(),
            "is_cleared": False,
        },
        "shortcut": {
            "type": "shortcut",
            "team": team,
            "user": user,
            "callback_id": "open_seats",
            "trigger_id": "1.2.abc",
        },
        "block_suggestion": {
            "type": "block_suggestion",
            "team": team,
            "user": user,
            "action_id": "pick",
            "block_id": "b",
            "value": "ac",
            "view": view(),
        },
    }


def events() -> dict[str, dict[str, Any]]:
    return {
        "app_uninstalled": {
            "token": "deprecated",
            "team_id": "T0123ABCD",
            "api_app_id": "A0123ABCD",
            "event": {"type": "app_uninstalled", "event_ts": "1.2"},
            "type": "event_callback",
            "event_id": "Ev0123",
            "event_time": 1,
            "authorizations": [
                {"enterprise_id": None, "team_id": "T0123ABCD", "user_id": "U0BOT", "is_bot": True}
            ],
            "is_ext_shared_channel": False,
        },
        "tokens_revoked": {
            "team_id": "T0123ABCD",
            "event": {"type": "tokens_revoked", "tokens": {"bot": ["U0BOT"]}},
            "type": "event_callback",
        },
        "url_verification": {
            "token": "deprecated",
            "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
            "type": "url_verification",
        },
        "app_rate_limited": {
            "token": "deprecated",
            "type": "app_rate_limited",
            "team_id": "T0123ABCD",
            "minute_rate_limited": 1518467820,
            "api_app_id": "A0123ABCD",
        },
    }


def interactive(payload: Any) -> bytes:
    return urlencode({"payload": json.dumps(payload)}).encode()


# ---------------------------------------------------------------- what Slack sends


def test_a_slash_command_passes_as_its_form() -> None:
    envelope = check_envelope(urlencode(command_form()).encode(), FORM)
    assert envelope == SlackEnvelope("command", command_form())


@pytest.mark.parametrize("name", list(payloads()))
def test_interactivity_payloads_pass(name: str) -> None:
    payload = payloads()[name]
    assert check_envelope(interactive(payload), FORM) == SlackEnvelope("interactivity", payload)


@pytest.mark.parametrize("name", list(events()))
def test_events_api_bodies_pass(name: str) -> None:
    body = events()[name]
    assert check_envelope(json.dumps(body).encode(), JSON) == SlackEnvelope("events_api", body)


def test_ssl_check_passes() -> None:
    assert check_envelope(b"ssl_check=1&token=x", FORM).kind == "ssl_check"


def test_a_command_mentioning_payload_is_still_a_command() -> None:
    form = command_form(text="payload", team_domain="payloads")
    raw = urlencode(form).encode()
    envelope = check_envelope(raw, FORM)
    assert envelope == SlackEnvelope("command", form)
    # Bolt is handed the checked body (its own parser would read "payload" as interactivity),
    # still as an HTTP request with its raw body.
    request = bolt_request(raw, envelope, headers={"content-type": FORM})
    assert request.body == form
    assert request.context.team_id == form["team_id"]
    assert request.context.user_id == form["user_id"]
    assert (request.mode, request.raw_body) == ("http", raw.decode())


def test_json_is_recognised_by_its_first_character_too() -> None:
    body = json.dumps(events()["url_verification"]).encode()
    assert check_envelope(body, FORM).kind == "events_api"
    assert check_envelope(body, None).kind == "events_api"


# ---------------------------------------------------------------- what it could not have sent


def _with(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    changed = dict(base)
    for key, value in changes.items():
        if value is _DROP:
            changed.pop(key, None)
        else:
            changed[key] = value
    return changed


_DROP = object()


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"", FORM, "empty"),
        (b"a" * (MAX_BODY_BYTES + 1), FORM, "larger than"),
        (b"text=\xff", FORM, "not UTF-8"),
        (b"text=%FF", FORM, "not UTF-8"),
        (b"payload=%5B%5D", FORM, "not a JSON object"),
        (b"payload=null", FORM, "not a JSON object"),
        (b"payload=%7Bx", FORM, "not valid JSON"),
        (b"payload=" + b"1" * 5000, FORM, "not valid JSON"),  # too long an integer
        (b"payload=" + b"%5B" * 50_000, FORM, "nested"),
        (interactive({"a": json.loads("[" * 33 + "1" + "]" * 33)}), FORM, "nested"),
        (b"payload=%7B%22type%22%3A%22%5Cud800%22%7D", FORM, "not valid Unicode"),
        (b"&".join([b"a=1"] * 65), FORM, "more than 64 fields"),
        (b"command=%2Fseats&command=%2Fseats", FORM, "more than once"),
        (b"foo=bar", FORM, "no command, payload or ssl_check"),
        (b"[]", JSON, "not a JSON object"),
        (b'{"type": 5}', JSON, "type is missing or not a string"),
        (b'{"type": "block_actions"}', JSON, "not an Events API type"),
    ],
)
def test_bodies_slack_would_not_send_are_refused(
    body: bytes, content_type: str, reason: str
) -> None:
    with pytest.raises(MalformedRequest, match=reason):
        check_envelope(body, content_type)


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"command": "seats"}, "command is not a slash command"),
        ({"command": "/"}, "command is not a slash command"),
        ({"team_id": None}, "team_id is missing"),
        ({"team_id": ""}, "team_id is missing"),
        ({"team_id": "t0123abcd"}, "team_id is missing or not a Slack id"),
        ({"user_id": "U" * 65}, "user_id is missing or not a Slack id"),
        ({"channel_id": "C1\n"}, "channel_id"),
        ({"enterprise_id": "e 1"}, "enterprise_id"),
        ({"response_url": None}, "response_url"),
        ({"response_url": "javascript:alert(1)"}, "not an http"),
        ({"response_url": "https://" + "a" * 3000}, "too long"),
        ({"trigger_id": "two words"}, "trigger_id"),
        ({"trigger_id": None}, "trigger_id"),
    ],
)
def test_slash_commands_need_their_envelope(changes: dict[str, str | None], reason: str) -> None:
    body = urlencode(command_form(**changes)).encode()
    with pytest.raises(MalformedRequest, match=reason):
        check_envelope(body, FORM)


MESSAGE_ACTION = payloads()["block_actions from a message"]
SUBMISSION = payloads()["view_submission"]


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        ({}, "type is missing"),
        (_with(MESSAGE_ACTION, type=["block_actions"]), "type is missing or not a string"),
        (_with(MESSAGE_ACTION, type="interactive_message"), "not one Slack sends"),
        (_with(MESSAGE_ACTION, team=_DROP), "team is missing"),
        (_with(MESSAGE_ACTION, team=None), "team is missing"),
        (_with(MESSAGE_ACTION, team="T0123ABCD"), "team is missing or not an object"),
        (_with(MESSAGE_ACTION, team={"id": 5}), "team.id"),
        (_with(MESSAGE_ACTION, user=_DROP), "user is missing"),
        (_with(SUBMISSION, user="U0123ABCD"), "user is missing or not an object"),
        (_with(MESSAGE_ACTION, user={"id": None}), "user.id"),
        (_with(MESSAGE_ACTION, enterprise=5), "enterprise is neither"),
        (_with(MESSAGE_ACTION, enterprise={"id": 5}), "enterprise.id"),
        (_with(MESSAGE_ACTION, channel=["C1"]), "channel is neither"),
        (_with(MESSAGE_ACTION, channel={"id": 7}), "channel.id"),
        (_with(MESSAGE_ACTION, container="V1"), "container is not an object"),
        (_with(MESSAGE_ACTION, message=[]), "message is not an object"),
        (_with(MESSAGE_ACTION, state=[]), "state is not an object"),
        (_with(MESSAGE_ACTION, authorizations=[5]), "authorizations"),
        (_with(MESSAGE_ACTION, authorizations={"team_id": "T1"}), "authorizations"),
        (_with(MESSAGE_ACTION, authorizations=[{"team": 5}]), "authorizations\\[\\].team"),
        (_with(MESSAGE_ACTION, team_id=5), "team_id is not a string"),
        (_with(MESSAGE_ACTION, response_url=5), "response_url"),
        (_with(MESSAGE_ACTION, trigger_id={}), "trigger_id"),
        (_with(MESSAGE_ACTION, actions=_DROP), "actions is missing"),
        (_with(MESSAGE_ACTION, actions=[]), "actions is missing, empty"),
        (_with(MESSAGE_ACTION, actions={"action_id": "a"}), "actions is missing, empty"),
        (_with(MESSAGE_ACTION, actions=["a"]), "actions holds"),
        (_with(MESSAGE_ACTION, actions=[{"block_id": "b"}]), "action_id"),
        (_with(MESSAGE_ACTION, actions=[{"action_id": "a" * 256}]), "action_id"),
        (_with(MESSAGE_ACTION, actions=[{"action_id": "a", "block_id": 5}]), "block_id"),
        (_with(MESSAGE_ACTION, view="V0123ABCD"), "view is not an object"),
        (_with(SUBMISSION, view=_DROP), "view is missing"),
        (_with(SUBMISSION, view=_with(view(), id=_DROP)), "view.id"),
        (_with(SUBMISSION, view=_with(view(), callback_id=5)), "view.callback_id"),
        (_with(SUBMISSION, view=_with(view(), private_metadata=_DROP)), "private_metadata"),
        (_with(SUBMISSION, view=_with(view(), private_metadata="m" * 3001)), "private_metadata"),
        (_with(SUBMISSION, view=_with(view(), state={"values": []})), "view.state"),
        (_with(SUBMISSION, view=_with(view(), state=None)), "view.state"),
        (_with(SUBMISSION, view=_with(view(), type=_DROP)), "view.type"),
        (_with(SUBMISSION, view=_with(view(), hash=5)), "view.hash"),
        (_with(SUBMISSION, view=_with(view(), app_installed_team_id="x")), "app_installed"),
        (_with(SUBMISSION, response_urls={}), "response_urls is not a list"),
        (_with(SUBMISSION, response_urls=[5]), "response_urls holds"),
        (_with(SUBMISSION, response_urls=[{"response_url": 5}]), "response_urls\\[\\]"),
        (_with(payloads()["shortcut"], callback_id=None), "callback_id"),
        (_with(payloads()["shortcut"], trigger_id=_DROP), "trigger_id"),
        (_with(payloads()["block_suggestion"], value=5), "value"),
        (_with(payloads()["block_suggestion"], action_id=_DROP), "action_id"),
    ],
)
def test_interactivity_payloads_need_their_envelope(payload: dict[str, Any], reason: str) -> None:
    with pytest.raises(MalformedRequest, match=reason):
        check_envelope(interactive(payload), FORM)


UNINSTALLED = events()["app_uninstalled"]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (_with(events()["url_verification"], challenge=_DROP), "challenge"),
        (_with(events()["url_verification"], challenge="a b"), "challenge"),
        (_with(UNINSTALLED, team_id=_DROP), "team_id is missing"),
        (_with(events()["app_rate_limited"], team_id=5), "team_id"),
        (_with(UNINSTALLED, event=_DROP), "event is missing"),
        (_with(UNINSTALLED, event="app_uninstalled"), "event is"),
        (_with(UNINSTALLED, event={"event_ts": "1"}), "event.type"),
        (_with(UNINSTALLED, event={"type": 5}), "event.type"),
        (_with(UNINSTALLED, event={"type": "message", "channel": 5}), "event.channel"),
        (_with(UNINSTALLED, event={"type": "message", "user": ["U1"]}), "event.user"),
        (
            _with(UNINSTALLED, event={"type": "message", "message": {"user": 5}}),
            "event.message.user",
        ),
        (_with(UNINSTALLED, event={"type": "reaction_added", "item": "x"}), "event.item"),
        (_with(UNINSTALLED, authorizations=[{"enterprise_id": 5}]), "enterprise_id"),
        (_with(UNINSTALLED, authorizations=5), "authorizations"),
    ],
)
def test_events_api_bodies_need_their_envelope(body: dict[str, Any], reason: str) -> None:
    with pytest.raises(MalformedRequest, match=reason):
        check_envelope(json.dumps(body).encode(), JSON)


def test_a_reason_never_repeats_the_body() -> None:
    secretish = "MARKER-7Q-in-the-body"
    bodies = [
        urlencode(command_form(team_id=secretish)).encode(),
        interactive(_with(MESSAGE_ACTION, type=secretish)),
        interactive(_with(MESSAGE_ACTION, actions=[{"action_id": secretish * 50}])),
        json.dumps(_with(UNINSTALLED, type=secretish)).encode(),
        f"{secretish}=1".encode(),
    ]
    for body in bodies:
        with pytest.raises(MalformedRequest) as refused:
            check_envelope(body, None)
        assert secretish not in refused.value.reason


def test_the_depth_limit_counts_levels() -> None:
    nested: Any = "leaf"
    for _ in range(MAX_JSON_DEPTH - 2):  # the payload itself and its "deep" key are two levels
        nested = [nested]
    ok = _with(MESSAGE_ACTION, deep=nested)
    assert check_envelope(interactive(ok), FORM).kind == "interactivity"
    with pytest.raises(MalformedRequest, match="nested"):
        check_envelope(interactive(_with(MESSAGE_ACTION, deep=[nested])), FORM)


# ---------------------------------------------------------------- properties

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=12,
)
# Values Bolt and the listeners trip over: wrong types, ids and objects in the wrong places.
awkward = st.sampled_from(
    [None, "", 5, 1.5, True, [], {}, [5], ["x"], [{}], {"id": 5}, {"id": None}, {"id": ""},
     {"id": "U0123ABCD"}, "U0123ABCD", "x y", [{"team_id": 5}], {"values": []}, {"type": 5}]
) | json_values  # fmt: skip
envelope_keys = st.sampled_from(
    [
        "type", "team", "user", "enterprise", "channel", "view", "actions", "event", "message",
        "previous_message", "container", "state", "authorizations", "response_url",
        "response_urls", "trigger_id", "team_id", "user_id", "channel_id", "enterprise_id",
        "is_enterprise_install", "is_ext_shared_channel", "function_data", "item",
        "assistant_thread", "thread_ts", "callback_id", "action_id", "block_id", "value",
        "bot_access_token", "function_execution_id", "challenge", "command", "id",
        "private_metadata", "hash", "app_installed_team_id",
    ]
)  # fmt: skip
changes = st.dictionaries(envelope_keys, awkward | st.just(_DROP), max_size=4)


def _apply(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    changed = {**base, **changes}
    return {k: v for k, v in changed.items() if v is not _DROP}


def _changed(base: dict[str, Any], top: dict[str, Any], inner: dict[str, Any]) -> dict[str, Any]:
    changed = _apply(base, top)
    for name in ("view", "event", "team", "user"):  # Bolt looks inside these too
        if isinstance(changed.get(name), dict):
            changed[name] = _apply(changed[name], inner)
    if isinstance(changed.get("actions"), list) and changed["actions"]:
        first = changed["actions"][0]
        if isinstance(first, dict):
            changed["actions"] = [_apply(first, inner)]
    return changed


bases = st.sampled_from(
    [("form", urlencode(command_form()))]
    + [("payload", p) for p in payloads().values()]
    + [("json", e) for e in events().values()]
)


@st.composite
def near_slack_bodies(draw: st.DrawFn) -> tuple[bytes, str]:
    kind, base = draw(bases)
    top, inner = draw(changes), draw(changes)
    if kind == "form":
        form = _apply(
            command_form(), {k: v for k, v in top.items() if isinstance(v, str) or v is _DROP}
        )
        return urlencode(form).encode(), FORM
    changed = _changed(base, top, inner)
    if kind == "payload":
        return interactive(changed), FORM
    return json.dumps(changed).encode(), JSON


def _outcome(body: bytes, content_type: str | None) -> str:
    """``accepted``, or the reason for refusing (any other exception escapes)."""
    try:
        check_envelope(body, content_type)
    except MalformedRequest as refused:
        return refused.reason
    return "accepted"


@settings(max_examples=300, deadline=None)
@given(body=st.binary(max_size=200), content_type=st.sampled_from([FORM, JSON, None, "text/x"]))
def test_any_bytes_are_accepted_or_refused_with_a_reason(body: bytes, content_type: str) -> None:
    assert _outcome(body, content_type)


@settings(max_examples=300, deadline=None)
@given(value=json_values)
def test_any_json_payload_is_accepted_or_refused_with_a_reason(value: Any) -> None:
    for body, content_type in [(interactive(value), FORM), (json.dumps(value).encode(), JSON)]:
        assert _outcome(body, content_type)


async def _authorize(
    enterprise_id: str | None, team_id: str | None, user_id: str | None
) -> AuthorizeResult:
    return AuthorizeResult(
        enterprise_id=enterprise_id,
        team_id=team_id,
        bot_token="xoxb-envelope-property",
        bot_user_id="U0BOT",
        bot_id="B0BOT",
    )


class _Recorder:
    """A Bolt app with a listener of each kind Seatbot uses (and more), recording errors."""

    def __init__(self) -> None:
        self.errors: list[Exception] = []
        self.app = AsyncApp(
            name="envelope-property",
            signing_secret="unused-signing-secret",
            request_verification_enabled=False,
            authorize=_authorize,
            raise_error_for_unhandled_request=True,
        )
        anything = re.compile(".*")
        for register in (
            self.app.command,
            self.app.block_action,
            self.app.view_submission,
            self.app.view_closed,
            self.app.shortcut,
            self.app.options,
            self.app.event,
        ):
            register(anything)(self._ack)
        self.app.error(self._record)

    async def _ack(self, ack: Any) -> None:
        await ack()

    async def _record(self, error: Exception) -> None:
        if not isinstance(error, BoltUnhandledRequestError):
            self.errors.append(error)


@functools.cache
def recorder() -> _Recorder:
    return _Recorder()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sent=near_slack_bodies())
def test_what_the_envelope_accepts_never_makes_bolt_raise(sent: tuple[bytes, str]) -> None:
    body, content_type = sent
    try:
        envelope = check_envelope(body, content_type)
    except MalformedRequest:
        return
    bolt = recorder()
    bolt.errors.clear()
    request = bolt_request(body, envelope, headers={"content-type": content_type})

    async def dispatch() -> None:
        response = await bolt.app.async_dispatch(request)
        assert response.status < 500

    asyncio.run(dispatch())
    assert bolt.errors == []
