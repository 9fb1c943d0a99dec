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
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization.async_authorize import AsyncInstallationStoreAuthorize
from slack_bolt.context.ack.async_ack import AsyncAck
from slack_bolt.context.respond.async_respond import AsyncRespond
from slack_bolt.error import BoltUnhandledRequestError
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.models.views import View
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from slack_sdk.web.async_client import AsyncWebClient

from billing.errors import ConfigurationError
from bot.runtime.secrets import check_keys
from bot.runtime.settings import Settings, oauth_enabled
from bot.web.responses import PooledRespond, ResponseUrls
from handlers.deps import HandlerDeps
from handlers.errors import answer_for
from handlers.listeners import reply
from handlers.views import Message

logger = logging.getLogger(__name__)

# The bot scopes Seatbot asks for: the same list as manifest.yml (a test keeps them equal).
BOT_SCOPES: tuple[str, ...] = ("commands", "chat:write", "files:write")

ListenerRegistrar = Callable[[AsyncApp, HandlerDeps], None]


def check_configuration(settings: Settings) -> None:
    """Raise :class:`billing.errors.ConfigurationError` (naming the missing setting, or the
    missing token key) when the settings can't make a working ``seatbot serve``; touches
    nothing (no database, no network), so ``run_server`` calls it first."""
    _check_slack_settings(settings)
    if oauth_enabled(settings):
        check_keys(settings)  # OAuth stores tokens encrypted: a key (or SQLite's key file)


def _check_slack_settings(settings: Settings) -> None:
    if settings.slack_signing_secret is None and settings.slack_app_token is None:
        raise ConfigurationError(
            "SLACK_SIGNING_SECRET is not set: Slack requests can't be verified."
        )
    if not oauth_enabled(settings) and settings.slack_bot_token is None:
        raise ConfigurationError(
            "Set SLACK_BOT_TOKEN (one workspace) or SLACK_CLIENT_ID and SLACK_CLIENT_SECRET "
            "(installation into many workspaces)."
        )


def build_app(
    settings: Settings,
    deps: HandlerDeps,
    *,
    installation_store: AsyncInstallationStore | None = None,
    state_store: AsyncOAuthStateStore | None = None,
    register: ListenerRegistrar | None = None,
    scopes: Sequence[str] = BOT_SCOPES,
    redirect_uri: str | None = None,
    responses: ResponseUrls | None = None,
) -> AsyncApp:
    """Assemble the Bolt app.

    ``register(app, deps)`` adds the listeners (default: ``handlers.register_listeners``).
    In OAuth mode ``installation_store`` and ``state_store`` are required (see
    ``bot.runtime.installations``). With ``responses`` (whose owner closes them), replies to
    response URLs go through their one session; without, Bolt's ``respond()`` opens one per
    reply. Raises :class:`ConfigurationError` when a required setting
    is missing.
    """
    _check_slack_settings(settings)
    common: dict[str, Any] = {
        "name": "seatbot",
        # The signature is checked once, by the edge, before Bolt sees a request
        # (bot.web.signature); over Socket Mode there is no HTTP request to verify.
        "request_verification_enabled": False,
        # A request no listener wants: one warning line from our error handler instead of
        # Bolt's multi-line suggestion of listener code (which quotes the request body).
        "raise_error_for_unhandled_request": True,
    }
    many_workspaces = oauth_enabled(settings)
    if many_workspaces:
        if installation_store is None or state_store is None:
            raise ConfigurationError(
                "SLACK_CLIENT_ID/SLACK_CLIENT_SECRET are set, so an installation store and an "
                "OAuth state store are needed."
            )
        client = AsyncWebClient(base_url=settings.slack_api_url)  # tokens come per workspace
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
            client=client,
            installation_store=installation_store,
            oauth_settings=oauth_settings,
            authorize=authorize,  # type: ignore[arg-type]  # Bolt takes an AsyncAuthorize too
        )
    else:
        # The token, not a client: AsyncApp reads SLACK_BOT_TOKEN from the environment when no
        # token is given, and warns that it is unused whenever a client comes with one. Bolt
        # builds the client from the token; only its Web API address is ours to set.
        app = AsyncApp(**common, token=_secret(settings.slack_bot_token))
        app.client.base_url = settings.slack_api_url

    app.middleware(_PrepareContext(responses))
    app.error(_on_unexpected_error)
    if register is None:
        from handlers import register_listeners

        register = register_listeners
    register(app, deps)
    # Bolt tries the listeners in the order registered, each match costing an argument
    # injection: the rare workspace events come last, so that /seats (registered first) is
    # matched by the first listener tried.
    if many_workspaces:
        app.enable_token_revocation_listeners()
    else:
        app.event("app_uninstalled")(_single_workspace_uninstalled)
        app.event("tokens_revoked")(_single_workspace_tokens_revoked)
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


class _KeptAck(AsyncAck):
    """An ``ack()`` that stays given.

    When a listener raises after acknowledging, Bolt's asyncio listener runner sets
    ``ack.response`` back to ``None``; if its ack poll (every 10 ms) had not seen the ack yet,
    Bolt then waits out the 3 s ack timeout, warns that the listener never acked and answers
    404 ("unhandled request"). Keeping the ack lets Bolt answer with it, as it does when the
    listener raises later.
    """

    _given: BoltResponse | None = None

    @property
    def response(self) -> BoltResponse | None:
        return self._given

    @response.setter
    def response(self, value: BoltResponse | None) -> None:
        if value is not None:
            self._given = value


class _PrepareContext(AsyncMiddleware):
    """Every request's ``ack`` is a :class:`_KeptAck`, and with ``responses`` its ``respond``
    (when it has a response URL) sends through their one session (:mod:`bot.web.responses`).
    A middleware class rather than a function: Bolt calls it as it is, without working out
    which arguments a function wants on every request."""

    def __init__(self, responses: ResponseUrls | None) -> None:
        self._responses = responses

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse | None:
        context = req.context
        context["ack"] = _KeptAck()  # type: ignore[no-untyped-call]  # Bolt leaves it untyped
        if self._responses is not None and context.response_url:
            respond = context.respond
            if respond is not None and not isinstance(respond, PooledRespond):
                context["respond"] = PooledRespond(respond, self._responses)
        return await next()


def error_ack(body: dict[str, Any], answer: Message) -> BoltResponse:
    """The HTTP answer to a request that failed before it was acknowledged: 200 (Slack shows
    its own vague error for a 5xx), and for a modal submission an update of the modal that
    shows ``answer`` (:func:`handlers.errors.answer_for`'s; a submission has nowhere else to
    say it)."""
    if body.get("type") != "view_submission":
        return BoltResponse(status=200, body="")
    view = View(type="modal", title="Seatbot", close="Close", blocks=answer.blocks)
    return BoltResponse(status=200, body={"response_action": "update", "view": view.to_dict()})


def _request_kind(body: dict[str, Any]) -> str:
    kind = body.get("type")
    if isinstance(kind, str):
        return kind
    return "slash_command" if "command" in body else "unknown"


def _team_of(body: dict[str, Any]) -> object:
    team = body.get("team")
    return team.get("id") if isinstance(team, dict) else body.get("team_id")


def _unhandled(body: dict[str, Any]) -> str:
    """What a request nobody listens to was for: its command, action, view or event name
    (quoted and cut short: it comes from the request)."""
    what, name = "callback", body.get("callback_id")
    actions, view, event = body.get("actions"), body.get("view"), body.get("event")
    if "command" in body:
        what, name = "command", body["command"]
    elif isinstance(actions, list) and actions and isinstance(actions[0], dict):
        what, name = "action", actions[0].get("action_id")
    elif isinstance(view, dict):
        what, name = "view", view.get("callback_id")
    elif isinstance(event, dict):
        what, name = "event", event.get("type")
    return f"{what} {str(name)[:64]!r}"


async def _on_unexpected_error(
    error: Exception,
    body: dict[str, Any],
    respond: AsyncRespond | None,
    response: BoltResponse | None,
) -> BoltResponse | None:
    """Answer as :func:`handlers.errors.answer_for` says (an unexpected error is logged under
    a reference id, and the user is told only that id).

    ``response`` is Bolt's answer-to-be when the request was not acknowledged yet (None
    after the ack): the answer becomes :func:`error_ack` instead of Bolt's 500. A request
    no listener wants (Bolt's 404) is one warning line, not an error.
    """
    kind, team = _request_kind(body), _team_of(body)
    if isinstance(error, BoltUnhandledRequestError):
        logger.warning(
            "No listener for a %s request (%s) from team %s", kind, _unhandled(body), team
        )
        return None
    answer = answer_for(error, f"a {kind} request from team {team}")
    if respond is not None and respond.response_url is not None:
        try:
            await reply(respond, answer)
        except Exception as failure:  # the answer must never raise in its turn
            logger.warning("Could not tell the user what went wrong (%s)", type(failure).__name__)
    return None if response is None else error_ack(body, answer)
