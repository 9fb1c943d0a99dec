"""The Bolt app factory: the one place the Slack app is assembled (nothing is built at import).

Two ways to be installed:

* one workspace, with ``SLACK_BOT_TOKEN``;
* many workspaces, with ``SLACK_CLIENT_ID``/``SLACK_CLIENT_SECRET``: Bolt's OAuth flow
  (``/slack/install``, ``/slack/oauth_redirect``) saves each installation in our database
  through the installation store the caller passes (tokens encrypted at rest), and the
  ``app_uninstalled``/``tokens_revoked`` events delete them again.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import Settings
from handlers.deps import HandlerDeps

logger = logging.getLogger(__name__)

# The bot scopes Seatbot asks for: the same list as manifest.yml (a test keeps them equal).
BOT_SCOPES: tuple[str, ...] = ("commands", "chat:write")

ListenerRegistrar = Callable[[AsyncApp, HandlerDeps], None]


class ConfigurationError(ValueError):
    """The settings cannot make a working Slack app; the message names the missing setting."""


def generic_error_text(reference: str) -> str:
    """What a user sees when something unexpected failed: no detail, only a reference id."""
    return (
        f"Sorry, something went wrong on our side and Seatbot could not finish that. "
        f"Please try again in a moment. If it keeps happening, give your Seatbot operator "
        f"this reference: `{reference}`."
    )


def oauth_enabled(settings: Settings) -> bool:
    """Whether the settings ask for installation into many workspaces (OAuth)."""
    return bool(settings.slack_client_id and settings.slack_client_secret)


def build_app(
    settings: Settings,
    deps: HandlerDeps,
    *,
    installation_store: AsyncInstallationStore | None = None,
    state_store: AsyncOAuthStateStore | None = None,
    register: ListenerRegistrar | None = None,
    scopes: Sequence[str] = BOT_SCOPES,
    redirect_uri: str | None = None,
) -> AsyncApp:
    """Assemble the Bolt app.

    ``register(app, deps)`` adds the listeners (default: ``handlers.register_listeners``).
    In OAuth mode ``installation_store`` and ``state_store`` are required (see
    ``bot.installations``). Raises :class:`ConfigurationError` when a required setting is
    missing.
    """
    client = AsyncWebClient(
        base_url=settings.slack_api_url,
        token=None if oauth_enabled(settings) else _secret(settings.slack_bot_token),
    )
    signing_secret = _secret(settings.slack_signing_secret)
    socket_mode = settings.slack_app_token is not None
    if signing_secret is None and not socket_mode:
        raise ConfigurationError(
            "SLACK_SIGNING_SECRET is not set: Slack requests can't be verified."
        )

    common: dict[str, Any] = {
        "name": "seatbot",
        "client": client,
        "signing_secret": signing_secret,
        # Over Socket Mode there is no HTTP request to verify; over HTTP there always is.
        "request_verification_enabled": signing_secret is not None,
    }
    if oauth_enabled(settings):
        if installation_store is None or state_store is None:
            raise ConfigurationError(
                "SLACK_CLIENT_ID/SLACK_CLIENT_SECRET are set, so an installation store and an "
                "OAuth state store are needed."
            )
        oauth_settings = AsyncOAuthSettings(
            client_id=settings.slack_client_id,
            client_secret=_secret(settings.slack_client_secret),
            scopes=list(scopes),
            user_scopes=[],
            redirect_uri=redirect_uri,
            installation_store=installation_store,
            state_store=state_store,
        )
        # Bolt's default looks the workspace up in the store *and* calls auth.test on every
        # request; caching auth.test by token keeps the store lookup (so an uninstall takes
        # effect at once) and saves a Slack round trip before every ack.
        authorize = AsyncInstallationStoreAuthorize(
            logger=logging.getLogger("slack_bolt.authorize"),
            installation_store=installation_store,
            client_id=settings.slack_client_id,
            client_secret=_secret(settings.slack_client_secret),
            cache_enabled=True,
            client=client,
        )
        app = AsyncApp(
            **common,
            installation_store=installation_store,
            oauth_settings=oauth_settings,
            authorize=authorize,  # type: ignore[arg-type]  # Bolt takes an AsyncAuthorize too
        )
        app.enable_token_revocation_listeners()
    else:
        if settings.slack_bot_token is None:
            raise ConfigurationError(
                "Set SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET "
                "(installation into many workspaces)."
            )
        app = AsyncApp(**common)
        app.event("app_uninstalled")(_single_workspace_uninstalled)
        app.event("tokens_revoked")(_single_workspace_tokens_revoked)

    app.error(_on_unexpected_error)
    if register is None:
        from handlers import register_listeners

        register = register_listeners
    register(app, deps)
    return app


def _secret(value: Any) -> str | None:
    return None if value is None else str(value.get_secret_value())


async def _single_workspace_uninstalled(context: dict[str, Any]) -> None:
    # Nothing is stored per workspace in this mode: the operator's token just stops working.
    logger.warning(
        "Seatbot was uninstalled from workspace %s; SLACK_BOT_TOKEN no longer works.",
        context.get("team_id"),
    )


async def _single_workspace_tokens_revoked(context: dict[str, Any]) -> None:
    logger.warning("Slack revoked tokens of workspace %s.", context.get("team_id"))


async def _on_unexpected_error(
    error: Exception, body: dict[str, Any], respond: AsyncRespond | None
) -> None:
    """Log the failure under a fresh reference id and tell the user only that id."""
    reference = secrets.token_hex(4)
    kind = body.get("type") or ("slash_command" if "command" in body else "unknown")
    team = body.get("team_id") or (body.get("team") or {}).get("id")
    logger.error(
        "Unexpected %s while handling a %s request from team %s (reference %s)",
        type(error).__name__,
        kind,
        team,
        reference,
        exc_info=error,
    )
    if respond is None or respond.response_url is None:
        return  # an event or a view submission: there is no response_url to say it at
    try:
        await respond(
            text=generic_error_text(reference), response_type="ephemeral", replace_original=False
        )
    except Exception:  # the apology must never raise in its turn
        logger.exception("Could not tell the user about error reference %s", reference)
