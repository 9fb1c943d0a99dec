"""Slack installations: tokens encrypted at rest, key rotation, OAuth install and uninstall
(the cipher itself is tested in test_secrets.py)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr
from slack_bolt.async_app import AsyncApp
from slack_harness import SlackHarness, serve_seatbot
from slack_sdk.oauth.installation_store.models.installation import Installation
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from billing.errors import DecryptionError
from bot.offline.standin import SlackStandIn
from bot.offline.standin.bolt_tasks import bolt_listeners_finished
from bot.runtime.installations import SqlInstallationStore, SqlOAuthStateStore
from bot.runtime.key_rotation import rotate_all
from bot.runtime.secrets import TokenCipher
from bot.runtime.settings import Settings
from bot.runtime.slack_tables import SlackBot, SlackInstallation
from handlers.deps import HandlerDeps

OLD_KEY = TokenCipher.new_key()
NEW_KEY = TokenCipher.new_key()
BOT_TOKEN = "xoxb-1111-2222-installedbottoken"
USER_TOKEN = "xoxp-1111-3333-installeruser"
CLIENT_ID = "1111.2222"
CLIENT_SECRET = "oauth-client-secret-value"
SIGNING_SECRET = "installations-signing-secret"

# slack_sdk's oauth.v2.access sends the client id and secret with aiohttp.BasicAuth, which
# aiohttp 3.14 deprecates; the warning is theirs, not ours.
SDK_BASIC_AUTH_DEPRECATION = pytest.mark.filterwarnings(
    "ignore:BasicAuth is deprecated:DeprecationWarning"
)


def installation(team_id: str = "T0INST", **overrides: Any) -> Installation:
    fields: dict[str, Any] = {
        "app_id": "A0SEATBOT",
        "team_id": team_id,
        "team_name": "Acme",
        "bot_token": BOT_TOKEN,
        "bot_id": "B0SEATBOT",
        "bot_user_id": "U0SEATBOT",
        "bot_scopes": ["commands", "chat:write"],
        "user_id": "U0INSTALLER",
        "user_token": USER_TOKEN,
        "installed_at": datetime.now(UTC).timestamp(),
    }
    fields.update(overrides)
    return Installation(**fields)


def store(sessions: sessionmaker[Session], *keys: str) -> SqlInstallationStore:
    return SqlInstallationStore(sessions, TokenCipher(keys), client_id=CLIENT_ID)


# ---------------------------------------------------------------- the store, on every database


async def test_saved_tokens_are_encrypted_and_found_again(
    session_factory: sessionmaker[Session],
) -> None:
    installations = store(session_factory, OLD_KEY)
    await installations.async_save(installation())
    with session_factory() as session:
        stored = session.scalars(select(SlackInstallation)).one()
        bot_row = session.scalars(select(SlackBot)).one()
        raw_columns = [
            stored.bot_token_encrypted,
            stored.user_token_encrypted,
            bot_row.bot_token_encrypted,
        ]
    for value in raw_columns:
        assert value is not None
        assert "xox" not in value
    found = await installations.async_find_installation(enterprise_id=None, team_id="T0INST")
    assert found is not None
    assert found.bot_token == BOT_TOKEN
    assert found.user_token == USER_TOKEN
    bot = await installations.async_find_bot(enterprise_id=None, team_id="T0INST")
    assert bot is not None
    assert bot.bot_token == BOT_TOKEN
    assert await installations.async_find_bot(enterprise_id=None, team_id="T0OTHER") is None


async def test_every_field_comes_back_as_it_was_saved(
    session_factory: sessionmaker[Session],
) -> None:
    saved = installation(
        enterprise_id="E0ACME",
        enterprise_name="Acme Group",
        enterprise_url="https://acme-group.enterprise.slack.com/",
        bot_refresh_token="xoxe-1-bot-refresh",
        bot_token_expires_at=1_900_000_000,
        user_scopes=["search:read"],
        user_refresh_token="xoxe-1-user-refresh",
        user_token_expires_at=1_900_000_100,
        incoming_webhook_url="https://hooks.slack.com/services/T0/B0/x",
        incoming_webhook_channel="#seats",
        incoming_webhook_channel_id="C0SEATS",
        incoming_webhook_configuration_url="https://acme.slack.com/services/B0",
        token_type="bot",
        installed_at=1_800_000_000.25,
    )
    installations = store(session_factory, OLD_KEY)
    await installations.async_save(saved)
    found = await installations.async_find_installation(enterprise_id="E0ACME", team_id="T0INST")
    bot = await installations.async_find_bot(enterprise_id="E0ACME", team_id="T0INST")
    assert found is not None
    assert bot is not None
    assert found.to_dict() == saved.to_dict()
    assert bot.to_dict() == saved.to_bot().to_dict()


async def test_newest_installation_wins(session_factory: sessionmaker[Session]) -> None:
    installations = store(session_factory, OLD_KEY)
    now = datetime.now(UTC).timestamp()
    await installations.async_save(installation(installed_at=now - 60, bot_token="xoxb-old-one"))
    await installations.async_save(installation(installed_at=now, bot_token="xoxb-new-one"))
    found = await installations.async_find_installation(
        enterprise_id=None, team_id="T0INST", user_id="U0INSTALLER"
    )
    assert found is not None
    assert found.bot_token == "xoxb-new-one"


async def test_revocation_and_uninstall_delete_tokens(
    session_factory: sessionmaker[Session],
) -> None:
    installations = store(session_factory, OLD_KEY)
    await installations.async_save(installation())
    await installations.async_save(installation(team_id="T0KEEP"))
    await installations.async_delete_bot(enterprise_id=None, team_id="T0INST")
    assert await installations.async_find_bot(enterprise_id=None, team_id="T0INST") is None
    found = await installations.async_find_installation(enterprise_id=None, team_id="T0INST")
    assert found is not None
    assert found.bot_token is None

    await installations.async_delete_all(enterprise_id=None, team_id="T0INST")
    assert await installations.async_find_installation(enterprise_id=None, team_id="T0INST") is None
    kept = await installations.async_find_installation(enterprise_id=None, team_id="T0KEEP")
    assert kept is not None
    assert kept.bot_token == BOT_TOKEN


async def test_rotation_re_encrypts_every_row_with_the_newest_key(
    session_factory: sessionmaker[Session],
) -> None:
    await store(session_factory, OLD_KEY).async_save(installation())
    count = rotate_all(session_factory, TokenCipher([NEW_KEY, OLD_KEY])).slack_tokens
    assert count == 3  # installation bot + user token, bots table bot token
    only_new = store(session_factory, NEW_KEY)
    found = await only_new.async_find_installation(enterprise_id=None, team_id="T0INST")
    assert found is not None
    assert found.bot_token == BOT_TOKEN
    with pytest.raises(DecryptionError):
        await store(session_factory, OLD_KEY).async_find_bot(enterprise_id=None, team_id="T0INST")


async def test_rotation_with_a_missing_key_changes_nothing(
    session_factory: sessionmaker[Session],
) -> None:
    await store(session_factory, OLD_KEY).async_save(installation())
    with session_factory() as session:
        before = session.execute(text("SELECT bot_token_encrypted FROM slack_bots")).scalar_one()
    with pytest.raises(DecryptionError):
        rotate_all(session_factory, TokenCipher([NEW_KEY]))
    with session_factory() as session:
        after = session.execute(text("SELECT bot_token_encrypted FROM slack_bots")).scalar_one()
    assert after == before


async def test_oauth_state_is_consumed_once_and_expires(
    session_factory: sessionmaker[Session],
) -> None:
    now = [datetime(2026, 1, 1, tzinfo=UTC)]
    states = SqlOAuthStateStore(session_factory, expiration_seconds=600, clock=lambda: now[0])
    first = await states.async_issue()
    assert await states.async_consume(first) is True
    assert await states.async_consume(first) is False
    late = await states.async_issue()
    now[0] += timedelta(seconds=601)
    assert await states.async_consume(late) is False
    assert await states.async_consume("never-issued") is False


# ---------------------------------------------------------------- the OAuth flow, end to end


class RecordingListener:
    def __init__(self) -> None:
        self.teams: list[str] = []

    def register(self, app: AsyncApp, deps: HandlerDeps) -> None:
        app.command("/seats")(self.on_seats)

    async def on_seats(self, ack: Any, command: dict[str, Any], client: Any) -> None:
        await ack()
        self.teams.append(command["team_id"])
        await client.chat_postMessage(channel=command["channel_id"], text="installed and working")


@pytest.fixture
def oauth_settings(tmp_path: Path) -> Settings:
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'oauth.db'}",
        slack_signing_secret=SecretStr(SIGNING_SECRET),
        slack_client_id=CLIENT_ID,
        slack_client_secret=SecretStr(CLIENT_SECRET),
        seatbot_token_keys=SecretStr(NEW_KEY),
    )


@pytest.fixture
async def oauth_harness(
    oauth_settings: Settings,
) -> AsyncIterator[tuple[SlackHarness, RecordingListener]]:
    listener = RecordingListener()
    standin = SlackStandIn(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    async with serve_seatbot(
        oauth_settings, standin=standin, team_id="T0NEW", register=listener.register
    ) as harness:
        yield harness, listener


async def _install(harness: SlackHarness, code: str) -> None:
    http = harness.driver.http
    started = await http.get(f"{harness.app_url}/slack/install")
    assert started.status_code == 200
    cookie = started.headers["set-cookie"]
    state = re.search(r"slack-app-oauth-state=([^;]+)", cookie)
    assert state is not None
    assert f"state={state.group(1)}" in started.text  # the "Add to Slack" link carries it
    finished = await http.get(
        f"{harness.app_url}/slack/oauth_redirect",
        params={"code": code, "state": state.group(1)},
        headers={"Cookie": f"slack-app-oauth-state={state.group(1)}"},
    )
    assert finished.status_code == 200, finished.text


def _database_bytes(settings: Settings) -> bytes:
    path = Path(settings.database_url.removeprefix("sqlite:///"))
    files = [path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")]
    return b"".join(f.read_bytes() for f in files if f.exists())


@SDK_BASIC_AUTH_DEPRECATION
async def test_install_stores_an_encrypted_token_that_then_authorises_requests(
    oauth_harness: tuple[SlackHarness, RecordingListener], oauth_settings: Settings
) -> None:
    harness, listener = oauth_harness
    harness.standin.add_oauth_code("code-42", team_id="T0NEW", bot_token=BOT_TOKEN)
    await _install(harness, "code-42")

    stored = _database_bytes(oauth_settings)
    assert b"slack_installations" in stored  # the right file was read
    assert BOT_TOKEN.encode() not in stored
    assert b"xoxb-" not in stored

    for _ in range(2):
        result = await harness.driver.slash_command("status", user_id="U1", channel_id="C1")
        assert result.status_code == 200
    posted = await harness.standin.wait_for("chat.postMessage", count=2, within_s=5)
    assert {call.team_id for call in posted} == {"T0NEW"}
    assert listener.teams == ["T0NEW", "T0NEW"]
    # One auth.test while installing and one for the first request: later ones are cached.
    assert len(harness.standin.calls("auth.test")) == 2


@SDK_BASIC_AUTH_DEPRECATION
async def test_a_forged_oauth_state_installs_nothing(
    oauth_harness: tuple[SlackHarness, RecordingListener],
) -> None:
    harness, _ = oauth_harness
    harness.standin.add_oauth_code("code-7", team_id="T0NEW", bot_token=BOT_TOKEN)
    response = await harness.driver.http.get(
        f"{harness.app_url}/slack/oauth_redirect",
        params={"code": "code-7", "state": "forged"},
        headers={"Cookie": "slack-app-oauth-state=forged"},
    )
    assert response.status_code >= 400
    assert harness.standin.calls("oauth.v2.access") == []


@SDK_BASIC_AUTH_DEPRECATION
async def test_uninstall_deletes_the_stored_tokens(
    oauth_harness: tuple[SlackHarness, RecordingListener], oauth_settings: Settings
) -> None:
    harness, _ = oauth_harness
    harness.standin.add_oauth_code("code-9", team_id="T0NEW", bot_token=BOT_TOKEN)
    await _install(harness, "code-9")
    sessions = sessionmaker(harness.runtime.engine)
    with sessions() as session:
        assert session.scalars(select(SlackBot)).all()

    # A first request fills Bolt's auth.test cache for the bot token.
    await harness.driver.slash_command("status", user_id="U1", channel_id="C1")
    await harness.standin.wait_for("chat.postMessage", within_s=5)

    response = await harness.driver.event({"type": "app_uninstalled"})
    assert response.status_code == 200

    await bolt_listeners_finished()
    with sessions() as session:
        assert session.scalars(select(SlackBot)).all() == []
        assert session.scalars(select(SlackInstallation)).all() == []

    # The workspace is gone: its requests are no longer authorised, cache or not.
    after = await harness.driver.slash_command("status", user_id="U1", channel_id="C1")
    assert after.status_code == 200  # Bolt tells the user to install the app again
    await bolt_listeners_finished()
    assert len(harness.standin.calls("chat.postMessage")) == 1  # only the one before


async def test_with_one_workspace_an_uninstall_or_a_revocation_is_acked_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'single.db'}",
        slack_signing_secret=SecretStr(SIGNING_SECRET),
        slack_bot_token=SecretStr(BOT_TOKEN),
    )
    async with serve_seatbot(settings, team_id="T0ONE") as harness:
        help_answer = await harness.driver.slash_command("help", user_id="U1", channel_id="C1")
        uninstalled = await harness.driver.event({"type": "app_uninstalled"})
        revoked = await harness.driver.event({"type": "tokens_revoked", "tokens": {"bot": ["B1"]}})
        await bolt_listeners_finished()
    assert "/seats add" in help_answer.text
    assert (uninstalled.status_code, revoked.status_code) == (200, 200)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert (
        "Seatbot was uninstalled from workspace T0ONE; SLACK_BOT_TOKEN no longer works." in warnings
    )
    assert "Slack revoked tokens of workspace T0ONE." in warnings
