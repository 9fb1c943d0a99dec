"""Slack OAuth installations and OAuth state on our database, tokens encrypted at rest.

:class:`SqlInstallationStore` implements slack_sdk's ``AsyncInstallationStore`` (what Bolt's
OAuth flow saves into and its authorisation reads from) and :class:`SqlOAuthStateStore` its
``AsyncOAuthStateStore``. Both run their short synchronous SQLAlchemy transactions in a worker
thread, so the event loop never waits on the database.

Every token (bot, user, refresh) and incoming-webhook URL is stored as Fernet ciphertext made
with :class:`bot.runtime.secrets.TokenCipher` (keys, rotation and the key file are described there);
:func:`rotate_slack_tokens` re-encrypts them with the newest key (``seatbot tokens rotate``:
:func:`bot.runtime.key_rotation.rotate_all`).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from billing.errors import DecryptionError
from bot.runtime.secrets import TokenCipher
from bot.runtime.slack_tables import SlackBot, SlackInstallation, SlackOAuthState

logger = logging.getLogger(__name__)

T = TypeVar("T")

DEFAULT_STATE_EXPIRATION_SECONDS = 600
#: What an installation row and a bot row hold alike, under slack_sdk's names.
_WORKSPACE_AND_BOT = (
    "app_id",
    "enterprise_id",
    "enterprise_name",
    "team_id",
    "team_name",
    "bot_id",
    "bot_user_id",
)
#: What an installation row holds besides, as slack_sdk has it (nothing to encrypt or convert).
_INSTALLATION_ONLY = (
    "enterprise_url",
    "user_id",
    "incoming_webhook_channel",
    "incoming_webhook_channel_id",
    "incoming_webhook_configuration_url",
    "token_type",
)


def _utc(timestamp: float | int | None) -> datetime | None:
    return None if timestamp is None else datetime.fromtimestamp(float(timestamp), UTC)


def _scopes(scopes: Sequence[str] | str | None) -> str:
    if scopes is None:
        return ""
    return scopes if isinstance(scopes, str) else ",".join(scopes)


def _epoch(instant: datetime | None) -> int | None:
    return None if instant is None else int(instant.timestamp())


class _SqlStore:
    def __init__(self, session_factory: sessionmaker[Session]) -> None:
        self._session_factory = session_factory

    @property
    def logger(self) -> logging.Logger:
        """The logger slack_sdk's store interfaces ask for."""
        return logger

    async def _run(self, work: Callable[[Session], T]) -> T:
        def in_transaction() -> T:
            with self._session_factory.begin() as session:
                return work(session)

        return await asyncio.to_thread(in_transaction)


class SqlInstallationStore(_SqlStore, AsyncInstallationStore):
    """Bolt's installation store on our database (history kept; the newest row is current)."""

    def __init__(
        self, session_factory: sessionmaker[Session], cipher: TokenCipher, *, client_id: str
    ) -> None:
        super().__init__(session_factory)
        self._cipher = cipher
        self.client_id = client_id

    # ------------------------------------------------------------ save

    async def async_save(self, installation: Installation) -> None:
        row = SlackInstallation(
            **self._bot_columns(installation),
            **{name: getattr(installation, name) for name in _INSTALLATION_ONLY},
            user_token_encrypted=self._cipher.encrypt(installation.user_token),
            user_scopes=_scopes(installation.user_scopes),
            user_refresh_token_encrypted=self._cipher.encrypt(installation.user_refresh_token),
            user_token_expires_at=_utc(installation.user_token_expires_at),
            incoming_webhook_url_encrypted=self._cipher.encrypt(installation.incoming_webhook_url),
        )
        bot = installation.to_bot() if installation.bot_token is not None else None

        def work(session: Session) -> None:
            session.add(row)
            if bot is not None:
                session.add(SlackBot(**self._bot_columns(bot)))

        await self._run(work)
        logger.info(
            "Saved the Slack installation of team %s (enterprise %s)",
            installation.team_id,
            installation.enterprise_id,
        )

    async def async_save_bot(self, bot: Bot) -> None:
        row = SlackBot(**self._bot_columns(bot))
        await self._run(lambda session: session.add(row))

    def _bot_columns(self, source: Installation | Bot) -> dict[str, Any]:
        """The columns an installation row and a bot row share, tokens encrypted."""
        return {
            "client_id": self.client_id,
            **{name: getattr(source, name) for name in _WORKSPACE_AND_BOT},
            "bot_token_encrypted": self._cipher.encrypt(source.bot_token),
            "bot_scopes": _scopes(source.bot_scopes),
            "bot_refresh_token_encrypted": self._cipher.encrypt(source.bot_refresh_token),
            "bot_token_expires_at": _utc(source.bot_token_expires_at),
            "is_enterprise_install": bool(source.is_enterprise_install),
            "installed_at": _utc(source.installed_at) or datetime.now(UTC),
        }

    # ------------------------------------------------------------ find

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        if is_enterprise_install:
            team_id = None

        def work(session: Session) -> SlackBot | None:
            query = (
                select(SlackBot)
                .where(*self._team_filter(SlackBot, enterprise_id, team_id))
                .order_by(SlackBot.installed_at.desc(), SlackBot.id.desc())
                .limit(1)
            )
            return session.scalars(query).first()

        row = await self._run(work)
        if row is None:
            return None
        return Bot(
            **self._bot_values(row), bot_token=self._cipher.decrypt(row.bot_token_encrypted) or ""
        )

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        if is_enterprise_install:
            team_id = None

        def work(session: Session) -> SlackInstallation | None:
            query = select(SlackInstallation).where(
                *self._team_filter(SlackInstallation, enterprise_id, team_id)
            )
            if user_id is not None:
                query = query.where(SlackInstallation.user_id == user_id)
            query = query.order_by(
                SlackInstallation.installed_at.desc(), SlackInstallation.id.desc()
            ).limit(1)
            return session.scalars(query).first()

        row = await self._run(work)
        if row is None:
            return None
        installation = self._installation(row)
        if user_id is not None or installation.bot_token is None:
            # The newest bot token may come from a later installation by someone else.
            bot = await self.async_find_bot(
                enterprise_id=enterprise_id,
                team_id=team_id,
                is_enterprise_install=is_enterprise_install,
            )
            if bot is not None and installation.bot_token != bot.bot_token:
                installation.bot_id = bot.bot_id
                installation.bot_user_id = bot.bot_user_id
                installation.bot_token = bot.bot_token
                installation.bot_scopes = bot.bot_scopes
                installation.bot_refresh_token = bot.bot_refresh_token
                installation.bot_token_expires_at = bot.bot_token_expires_at
        return installation

    def _installation(self, row: SlackInstallation) -> Installation:
        return Installation(
            **self._bot_values(row),
            bot_token=self._cipher.decrypt(row.bot_token_encrypted),
            **{name: getattr(row, name) for name in _INSTALLATION_ONLY},
            user_token=self._cipher.decrypt(row.user_token_encrypted),
            user_scopes=row.user_scopes or "",
            user_refresh_token=self._cipher.decrypt(row.user_refresh_token_encrypted),
            user_token_expires_at=_epoch(row.user_token_expires_at),
            incoming_webhook_url=self._cipher.decrypt(row.incoming_webhook_url_encrypted),
        )

    def _bot_values(self, row: SlackInstallation | SlackBot) -> dict[str, Any]:
        """What an installation and a bot read alike from their rows (the bot token aside:
        a bot always has one, an installation may not)."""
        return {
            **{name: getattr(row, name) for name in _WORKSPACE_AND_BOT},
            "bot_scopes": row.bot_scopes or "",
            "bot_refresh_token": self._cipher.decrypt(row.bot_refresh_token_encrypted),
            "bot_token_expires_at": _epoch(row.bot_token_expires_at),
            "is_enterprise_install": row.is_enterprise_install,
            "installed_at": row.installed_at,
        }

    def _team_filter(self, model: Any, enterprise_id: str | None, team_id: str | None) -> list[Any]:
        return [
            model.client_id == self.client_id,
            model.enterprise_id.is_(None)
            if enterprise_id is None
            else model.enterprise_id == enterprise_id,
            model.team_id.is_(None) if team_id is None else model.team_id == team_id,
        ]

    # ------------------------------------------------------------ delete

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        """Forget the workspace's bot tokens (every row, and the copies in installations)."""

        def work(session: Session) -> None:
            session.execute(
                delete(SlackBot).where(*self._team_filter(SlackBot, enterprise_id, team_id))
            )
            session.execute(
                update(SlackInstallation)
                .where(*self._team_filter(SlackInstallation, enterprise_id, team_id))
                .values(
                    bot_token_encrypted=None,
                    bot_refresh_token_encrypted=None,
                    bot_token_expires_at=None,
                )
            )

        await self._run(work)
        logger.info("Deleted the bot tokens of team %s (enterprise %s)", team_id, enterprise_id)

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        """Forget one user's installations (``user_id``), or all of the workspace's."""

        def work(session: Session) -> None:
            conditions = self._team_filter(SlackInstallation, enterprise_id, team_id)
            if user_id is not None:
                conditions.append(SlackInstallation.user_id == user_id)
            session.execute(delete(SlackInstallation).where(*conditions))

        await self._run(work)
        logger.info(
            "Deleted Slack installations of team %s (enterprise %s)", team_id, enterprise_id
        )

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        """Forget everything about the workspace (after ``app_uninstalled``)."""
        await self.async_delete_bot(enterprise_id=enterprise_id, team_id=team_id)
        await self.async_delete_installation(enterprise_id=enterprise_id, team_id=team_id)


class SqlOAuthStateStore(_SqlStore, AsyncOAuthStateStore):
    """OAuth ``state`` values in the database, so any replica can finish an install begun on
    another. A state is consumed at most once, atomically, and only before it expires."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        *,
        expiration_seconds: int = DEFAULT_STATE_EXPIRATION_SECONDS,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        super().__init__(session_factory)
        self.expiration_seconds = expiration_seconds
        self._clock = clock

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        state = secrets.token_urlsafe(32)
        now = self._clock()
        expires_at = now + timedelta(seconds=self.expiration_seconds)

        def work(session: Session) -> None:
            session.execute(delete(SlackOAuthState).where(SlackOAuthState.expires_at <= now))
            session.add(SlackOAuthState(state=state, expires_at=expires_at))

        await self._run(work)
        return state

    async def async_consume(self, state: str) -> bool:
        now = self._clock()

        def work(session: Session) -> bool:
            result = session.execute(
                delete(SlackOAuthState).where(
                    SlackOAuthState.state == state, SlackOAuthState.expires_at > now
                )
            )
            return bool(getattr(result, "rowcount", 0) == 1)

        return await self._run(work)


_INSTALLATION_TOKEN_COLUMNS = (
    "bot_token_encrypted",
    "bot_refresh_token_encrypted",
    "user_token_encrypted",
    "user_refresh_token_encrypted",
    "incoming_webhook_url_encrypted",
)
_BOT_TOKEN_COLUMNS = ("bot_token_encrypted", "bot_refresh_token_encrypted")


def rotate_slack_tokens(session: Session, cipher: TokenCipher) -> int:
    """Re-encrypt every stored Slack token with the newest key, in the caller's transaction;
    returns how many values were re-encrypted. Raises :class:`billing.errors.DecryptionError`
    naming the workspace when a value cannot be decrypted with any key (the caller rolls
    back)."""
    rotated = 0
    for model, columns in (
        (SlackInstallation, _INSTALLATION_TOKEN_COLUMNS),
        (SlackBot, _BOT_TOKEN_COLUMNS),
    ):
        for row in session.scalars(select(model)):
            for column in columns:
                value = getattr(row, column)
                if value is None:
                    continue
                try:
                    setattr(row, column, cipher.rotate(value))
                except DecryptionError as error:
                    workspace = getattr(row, "team_id", None) or getattr(row, "enterprise_id", None)
                    raise DecryptionError(
                        f"A Slack token of workspace {workspace} cannot be "
                        "decrypted with any configured key; was a key removed before "
                        "`seatbot tokens rotate` ran?"
                    ) from error
                rotated += 1
    return rotated
