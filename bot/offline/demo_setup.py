"""What ``seatbot demo`` runs against: who is in its script (Acme's workspace, owner, manager and
channel), the example data shipped inside the package (``bot/data/``, so that an installed wheel
runs the demo from any folder), and the example accounts loaded into a fresh database, their
platform URLs pointing at the sandbox started for the run and their credentials sealed with the
local key. ``seatbot dev`` starts from the same accounts.
"""

from __future__ import annotations

from datetime import datetime
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import SecretStr

from billing.books import SeatService
from billing.errors import Failure
from billing.periods import zone
from bot.offline.standin import SlackStandIn
from bot.offline.standin.serving import RunningServer, serve_asgi
from bot.runtime.db import make_engine, make_session_factory, upgrade
from bot.runtime.secrets import TokenCipher
from bot.runtime.settings import Settings
from bot.setup.loader import LoadedConfig, apply_config, load_file
from platforms.sandbox import SandboxApp, SandboxConfig

#: The demo's data: copies of ``examples/`` that ship inside the package (a test keeps them equal).
DEMO_DATA_FILES = ("accounts.yml", "globex-matrix-users.csv")
EXAMPLE_SANDBOX_URL = "http://127.0.0.1:8765"
EXAMPLE_WEBHOOK_URL = "http://127.0.0.1:8766"  # `seatbot webhooks listen`'s default port
TEAM = "T0ACME001"
OWNER = "U0ACMEOWNER"
MANAGER = "U0ACMEMGR"
CHANNEL = "C0ACMESEATS"
ACCOUNT = "acme"
SIGNING_SECRET = "demo-signing-secret"  # noqa: S105 - a throwaway secret for a local demo
BOT_TOKEN = "xoxb-demo-local-only"  # noqa: S105 - only the local stand-in accepts it
# Users on the sandbox at the start: Contact Center holds 23 of its 25 seats, Axiom 11 of 12.
SANDBOX_USERS = {"contact_center": 23, "axiom": 11}


class DemoStepFailed(Failure):
    """A scripted step did not get the reply it should have (or the demo could not start);
    ``step`` says which, in one sentence for the operator."""

    def __init__(self, step: str) -> None:
        super().__init__(f"the demo failed: {step}")
        self.step = step


def demo_data() -> Traversable:
    """The folder of the demo's data inside the installed package."""
    return files("bot") / "data"


#: The key that seals the sandbox's (public) credentials in the demo's and ``seatbot dev``'s
#: local databases, so they need no key file beside them. Never used for a real database.
LOCAL_TOKEN_KEY = "c2VhdGJvdC1sb2NhbC1zYW5kYm94LW9ubHkta2V5ISE="  # noqa: S105 - local sandbox only


def local_cipher() -> TokenCipher:
    """The cipher of :data:`LOCAL_TOKEN_KEY`."""
    return TokenCipher([LOCAL_TOKEN_KEY], source="the local demo key")


def serve_sandbox() -> RunningServer:
    """The sandbox platforms on a loopback port, holding the example account's users (the same
    users every run)."""
    sandbox = SandboxApp(SandboxConfig())
    for product, users in SANDBOX_USERS.items():
        sandbox.set_account(ACCOUNT, product, users=users, seed=7)
    return serve_asgi(sandbox)


def serve_standin() -> tuple[SlackStandIn, RunningServer]:
    """The Slack stand-in on a loopback port, with Acme's workspace installed."""
    standin = SlackStandIn()
    server = serve_asgi(standin.asgi_app)
    standin.base_url = server.url
    standin.add_workspace(TEAM, BOT_TOKEN, team_name="Acme Telecom")
    return standin, server


def local_settings(
    database_url: str, standin_url: str, signing_secret: str, **more: Any
) -> Settings:
    """The app's settings against the stand-in, the local key sealing the credentials (and
    ``more`` settings by name; the environment's as anywhere else)."""
    return Settings(
        database_url=database_url,
        slack_bot_token=SecretStr(BOT_TOKEN),
        slack_signing_secret=SecretStr(signing_secret),
        slack_api_url=f"{standin_url}/api/",
        seatbot_token_keys=SecretStr(LOCAL_TOKEN_KEY),
        **more,
    )


def prepare_demo_accounts(folder: Path, sandbox_url: str, webhook_url: str | None = None) -> Path:
    """Copy the example accounts file (and the files it names) into ``folder``, its platform
    URLs pointing at ``sandbox_url`` (and its webhook at ``webhook_url``, when given); returns
    the copy's path."""
    data = demo_data()
    for name in DEMO_DATA_FILES:
        source = data / name
        if not source.is_file():
            raise DemoStepFailed(f"the installed package lacks its demo file bot/data/{name}")
        (folder / name).write_bytes(source.read_bytes())
    target = folder / "accounts.yml"
    text = target.read_text(encoding="utf-8").replace(EXAMPLE_SANDBOX_URL, sandbox_url)
    if webhook_url is not None:
        text = text.replace(EXAMPLE_WEBHOOK_URL, webhook_url)
    target.write_text(text, encoding="utf-8")
    return target


def load_demo_accounts(
    folder: Path,
    sandbox_url: str,
    database_url: str,
    at: datetime,
    *,
    webhook_url: str | None = None,
) -> tuple[int, ZoneInfo]:
    """Load the example accounts (platform URLs pointing at ``sandbox_url``, the webhook at
    ``webhook_url`` when given) into the database at ``database_url``, migrating it first;
    returns Acme's account id and time zone."""
    accounts_file = prepare_demo_accounts(folder, sandbox_url, webhook_url)
    upgrade(database_url)
    engine = make_engine(database_url)
    try:
        sessions = make_session_factory(engine)
        with sessions.begin() as session:
            apply_config(session, load_file(accounts_file), at, cipher=local_cipher())
        account = SeatService(sessions).account_by_name(ACCOUNT)
        if account is None:
            raise DemoStepFailed(f"the demo's accounts file has no account {ACCOUNT!r}")
        return account.id, zone(account.timezone)
    finally:
        engine.dispose()


def demo_webhook_secret(config: LoadedConfig) -> str:
    """The demo account's webhook secret, as the accounts file gives it."""
    secret = config.webhook_secrets.get(ACCOUNT)
    if secret is None:
        raise DemoStepFailed(f"the demo's accounts file gives {ACCOUNT!r} no billing_webhook")
    return secret
