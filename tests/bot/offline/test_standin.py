"""The Slack stand-in answers like Slack, records everything and refuses what Slack refuses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.models.blocks import ActionsBlock, ButtonElement, SectionBlock
from slack_sdk.models.views import View
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient

from bot.offline.standin import SlackStandIn, StandInServer, sign_request, start_standin
from bot.offline.standin.slack_api import validate_blocks, validate_view

BOT_TOKEN = "xoxb-standin-test-token"
TEAM = "T0TEST"

# slack_sdk's oauth.v2.access sends the client id and secret with aiohttp.BasicAuth, which
# aiohttp 3.14 deprecates; the warning is theirs, not ours.
SDK_BASIC_AUTH_DEPRECATION = pytest.mark.filterwarnings(
    "ignore:BasicAuth is deprecated:DeprecationWarning"
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def served(clock: FakeClock) -> AsyncIterator[StandInServer]:
    standin = SlackStandIn(clock=clock, client_id="111.222", client_secret="shh")
    standin.add_workspace(TEAM, BOT_TOKEN, team_name="Acme")
    standin.add_user("U1", TEAM, name="ann", real_name="Ann Owner", tz="Europe/London")
    standin.add_channel("C1", name="billing")
    async with start_standin(standin) as server:
        yield server


def client(server: StandInServer, token: str | None = BOT_TOKEN) -> AsyncWebClient:
    return AsyncWebClient(token=token, base_url=server.api_url)


def modal(title: str = "Seats") -> dict[str, Any]:
    return View(
        type="modal",
        callback_id="seats",
        title=title,
        close="Cancel",
        blocks=[SectionBlock(text="Loading…")],
    ).to_dict()


async def test_auth_test_checks_the_bearer_token(served: StandInServer) -> None:
    ok = await client(served).auth_test()
    assert ok["team_id"] == TEAM
    assert ok["bot_id"]
    with pytest.raises(SlackApiError) as bad:
        await client(served, "xoxb-not-a-real-token").auth_test()
    assert bad.value.response["error"] == "invalid_auth"
    with pytest.raises(SlackApiError) as missing:
        await client(served, None).auth_test()
    assert missing.value.response["error"] == "not_authed"
    recorded = served.standin.calls("auth.test")
    assert [c.ok for c in recorded] == [True, False, False]
    assert all("token" not in c.args for c in recorded)


async def test_valid_message_is_stored_and_can_be_updated(served: StandInServer) -> None:
    blocks = [
        SectionBlock(text="*3 seats* on Axiom"),
        ActionsBlock(elements=[ButtonElement(text="Confirm", action_id="confirm", value="r1")]),
    ]
    posted = await client(served).chat_postMessage(channel="C1", text="3 seats", blocks=blocks)
    assert posted["ok"]
    stored = served.standin.message("C1", posted["ts"])
    assert stored is not None
    assert stored["blocks"][1]["elements"][0]["action_id"] == "confirm"
    await client(served).chat_update(channel="C1", ts=posted["ts"], text="Done")
    updated = served.standin.message("C1", posted["ts"])
    assert updated is not None
    assert updated["text"] == "Done"
    assert "blocks" not in updated
    with pytest.raises(SlackApiError) as missing:
        await client(served).chat_update(channel="C1", ts="1.000001", text="x")
    assert missing.value.response["error"] == "message_not_found"
    assert served.standin.violations == []


@pytest.mark.parametrize(
    "blocks",
    [
        [{"type": "section", "text": {"type": "mrkdwn", "text": "x" * 3001}}],
        [{"type": "no_such_block"}],
        [{"type": "section", "text": {"type": "mrkdwn", "text": "ok"}, "colour": "red"}],
        [{"type": "divider"}] * 51,
        [{"type": "actions", "elements": [{"type": "button", "text": "not an object"}]}],
    ],
    ids=["text-too-long", "unknown-type", "unknown-field", "too-many-blocks", "bad-element"],
)
async def test_invalid_blocks_are_refused_and_recorded(
    served: StandInServer, blocks: list[dict[str, Any]]
) -> None:
    with pytest.raises(SlackApiError) as refused:
        await client(served).chat_postMessage(channel="C1", text="fallback", blocks=blocks)
    assert refused.value.response["error"] == "invalid_blocks"
    assert len(served.standin.violations) == 1
    assert served.standin.violations[0].method == "chat.postMessage"
    assert served.standin.violations[0].problems


def test_validators_accept_what_slack_sdk_builds() -> None:
    assert validate_blocks([SectionBlock(text="hi").to_dict()]) == []
    assert validate_view(modal()) == []
    long_title = modal()
    long_title["title"] = {"type": "plain_text", "text": "x" * 25}
    assert validate_view(long_title)  # titles are at most 24 characters
    no_submit = modal()
    no_submit["blocks"] = [
        {
            "type": "input",
            "block_id": "b",
            "label": {"type": "plain_text", "text": "Seats"},
            "element": {"type": "plain_text_input", "action_id": "a"},
        }
    ]
    assert any("submit" in p for p in validate_view(no_submit))


async def test_trigger_ids_live_three_seconds_and_work_once(
    served: StandInServer, clock: FakeClock
) -> None:
    standin = served.standin
    fresh = standin.issue_trigger_id()
    opened = await client(served).views_open(trigger_id=fresh, view=modal())
    view_id = opened["view"]["id"]
    assert standin.view(view_id)["callback_id"] == "seats"

    with pytest.raises(SlackApiError) as reused:
        await client(served).views_open(trigger_id=fresh, view=modal())
    assert reused.value.response["error"] == "exchanged_trigger_id"

    old = standin.issue_trigger_id()
    clock.now += 3.01
    with pytest.raises(SlackApiError) as expired:
        await client(served).views_open(trigger_id=old, view=modal())
    assert expired.value.response["error"] == "expired_trigger_id"

    with pytest.raises(SlackApiError) as unknown:
        await client(served).views_open(trigger_id="1.made-up", view=modal())
    assert unknown.value.response["error"] == "invalid_trigger_id"


async def test_views_update_honours_hash(served: StandInServer) -> None:
    opened = await client(served).views_open(
        trigger_id=served.standin.issue_trigger_id(), view=modal()
    )
    view = opened["view"]
    updated = await client(served).views_update(
        view_id=view["id"], hash=view["hash"], view=modal("Seats — Axiom")
    )
    assert updated["view"]["title"]["text"] == "Seats — Axiom"
    with pytest.raises(SlackApiError) as stale:
        await client(served).views_update(view_id=view["id"], hash=view["hash"], view=modal())
    assert stale.value.response["error"] == "hash_conflict"


async def test_users_and_conversations_info(served: StandInServer) -> None:
    user = await client(served).users_info(user="U1")
    assert user["user"]["tz"] == "Europe/London"
    channel = await client(served).conversations_info(channel="C1")
    assert channel["channel"]["name"] == "billing"
    with pytest.raises(SlackApiError) as missing:
        await client(served).users_info(user="U404")
    assert missing.value.response["error"] == "user_not_found"


async def test_response_url_replaces_the_original_message(served: StandInServer) -> None:
    posted = await client(served).chat_postMessage(channel="C1", text="Confirm?")
    url = served.standin.issue_response_url(channel="C1", message_ts=posted["ts"])
    async with httpx.AsyncClient() as http:
        ok = await http.post(url, json={"replace_original": True, "text": "Confirmed"})
        bad = await http.post(url, json={"blocks": [{"type": "nope"}], "text": "x"})
    assert ok.status_code == 200
    assert (served.standin.message("C1", posted["ts"]) or {})["text"] == "Confirmed"
    assert bad.status_code == 400
    assert [v.method for v in served.standin.violations] == ["response_url"]


@SDK_BASIC_AUTH_DEPRECATION
async def test_oauth_code_exchange_registers_the_bot_token(served: StandInServer) -> None:
    served.standin.add_oauth_code("code-1", team_id="T0NEW", bot_token="xoxb-new-team")
    anonymous = AsyncWebClient(base_url=served.api_url)
    granted = await anonymous.oauth_v2_access(
        client_id="111.222", client_secret="shh", code="code-1"
    )
    assert granted["access_token"] == "xoxb-new-team"
    assert granted["team"]["id"] == "T0NEW"
    assert (await client(served, "xoxb-new-team").auth_test())["team_id"] == "T0NEW"
    with pytest.raises(SlackApiError) as again:
        await anonymous.oauth_v2_access(client_id="111.222", client_secret="shh", code="code-1")
    assert again.value.response["error"] == "invalid_code"
    with pytest.raises(SlackApiError) as wrong_secret:
        await anonymous.oauth_v2_access(client_id="111.222", client_secret="no", code="x")
    assert wrong_secret.value.response["error"] == "bad_client_secret"
    recorded = served.standin.calls("oauth.v2.access")
    assert all("client_secret" not in c.args for c in recorded)


async def test_wait_for_times_out_with_a_deadline(served: StandInServer) -> None:
    with pytest.raises(TimeoutError):
        await served.standin.wait_for("chat.postMessage", within_s=0.05)
    await client(served).chat_postMessage(channel="C1", text="hello")
    calls = await served.standin.wait_for("chat.postMessage", within_s=2)
    assert calls[0].args["text"] == "hello"


def test_sign_request_matches_slack_sdk_verifier() -> None:
    body = "command=%2Fseats&text=status"
    headers = sign_request(body, "s3cret", 1_700_000_000)

    class At:
        def now(self) -> float:
            return 1_700_000_010.0

    verifier = SignatureVerifier("s3cret", clock=At())
    assert verifier.is_valid_request(body, headers)
    assert not verifier.is_valid_request(body + "&x=1", headers)


async def test_control_surface_mints_ids_and_reports_what_was_recorded(
    served: StandInServer,
) -> None:
    await client(served).chat_postMessage(channel="C1", text="hello")
    with pytest.raises(SlackApiError):
        await client(served).chat_postMessage(channel="C1", text="bad", blocks=[{"type": "x"}])
    async with httpx.AsyncClient(base_url=served.url) as http:
        trigger_id = (await http.post("/_standin/trigger_ids")).json()["trigger_id"]
        batch = (await http.post("/_standin/response_urls", json={"count": 3})).json()
        stats = (await http.get("/_standin/stats")).json()
        recorded = (await http.get("/_standin/calls")).json()
        newer = (await http.get("/_standin/calls", params={"after": 1, "method": "x"})).json()
        second = (await http.get("/_standin/calls", params={"after": 1})).json()
        opened = await client(served).views_open(trigger_id=trigger_id, view=modal())
        view = await http.get(f"/_standin/views/{opened['view']['id']}")
        missing = await http.get("/_standin/views/V404")
    assert len(batch["response_urls"]) == 3
    assert all(url.startswith(f"{served.url}/_standin/response/") for url in batch["response_urls"])
    assert stats == {"by_method": {"chat.postMessage": 2}, "violations": 1, "last_seq": 3}
    assert newer["calls"] == []
    assert [c["seq"] for c in second["calls"]] == [2, 3]
    assert all(c["at"] > 0 for c in recorded["calls"])
    assert [(c["args"]["text"], c["ok"]) for c in recorded["calls"]] == [
        ("hello", True),
        ("bad", False),
    ]
    assert recorded["violations"][0]["error"] == "invalid_blocks"
    assert view.json()["title"]["text"] == "Seats"
    assert missing.status_code == 404


def test_names_stay_importable_from_their_old_homes() -> None:
    # Other branches import these from bot.offline.standin.slack_api and bot.offline.standin; the
    # split into modules must not move them away.
    import bot.offline.standin
    import bot.offline.standin.slack_api

    for name in (
        "RecordedCall",
        "SlackStandIn",
        "StandInServer",
        "Violation",
        "run_standin",
        "start_standin",
        "RunningServer",
        "serve_asgi",
        "bind_loopback_socket",
        "validate_blocks",
        "validate_view",
    ):
        assert hasattr(bot.offline.standin.slack_api, name), name
    for name in ("RecordedCall", "SlackStandIn", "StandInServer", "Violation", "run_standin"):
        assert getattr(bot.offline.standin, name) is getattr(bot.offline.standin.slack_api, name)
    assert bot.offline.standin.start_standin is bot.offline.standin.slack_api.start_standin
