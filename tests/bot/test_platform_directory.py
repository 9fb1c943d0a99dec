"""The platform directory builds each account's platform from its stored connection."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from billing.models import PlatformConnection as PlatformConnectionRow
from bot.logging_setup import SecretRedactor
from bot.platform_directory import PlatformDirectory
from platforms import PlatformAuthError, PlatformConfigError, Product
from platforms.sandbox import SandboxApp, SandboxConfig

API_KEY = "sandbox-api-key"


@pytest.fixture
def sandbox() -> SandboxApp:
    app = SandboxApp(SandboxConfig())
    app.set_account("acme", "axiom", users=7, seed=3)
    return app


@pytest.fixture
async def directory(
    session_factory: sessionmaker[Session], sandbox: SandboxApp
) -> AsyncIterator[tuple[PlatformDirectory, SecretRedactor]]:
    redactor = SecretRedactor()
    transport = httpx.ASGITransport(app=sandbox)
    made = PlatformDirectory(session_factory, transport=transport, redactor=redactor)
    yield made, redactor
    await made.aclose()


def connect(
    sessions: sessionmaker[Session], account_id: int, options: dict[str, Any] | str
) -> None:
    raw = options if isinstance(options, str) else json.dumps(options)
    with sessions.begin() as session:
        session.query(PlatformConnectionRow).filter_by(account_id=account_id).delete()
        session.add(
            PlatformConnectionRow(
                account_id=account_id,
                product="axiom",
                kind="api",
                base_url="http://sandbox/t/acme/axiom",
                options=raw,
            )
        )


async def test_no_connection_means_no_platform(
    directory: tuple[PlatformDirectory, SecretRedactor], seed: Any
) -> None:
    account = seed()
    assert directory[0].platform_for(account.account_id, Product.AXIOM) is None


async def test_clients_are_reused_so_the_axiom_token_is_exchanged_once(
    directory: tuple[PlatformDirectory, SecretRedactor],
    seed: Any,
    session_factory: sessionmaker[Session],
    sandbox: SandboxApp,
) -> None:
    made, redactor = directory
    account = seed()
    connect(session_factory, account.account_id, {"api_key": API_KEY, "login_email": "a@acme.io"})
    for _ in range(3):
        platform = made.platform_for(account.account_id, Product.AXIOM)
        assert platform is not None
        assert platform.product is Product.AXIOM
        assert len(await platform.list_users()) == 7
        await platform.aclose()  # callers close; the directory keeps the client open
    assert sandbox.stats.token_exchanges == 1
    assert redactor.redact(f"key {API_KEY}") == "key [redacted]"


async def test_a_changed_connection_is_noticed(
    directory: tuple[PlatformDirectory, SecretRedactor],
    seed: Any,
    session_factory: sessionmaker[Session],
) -> None:
    made, _ = directory
    account = seed()
    connect(session_factory, account.account_id, {"api_key": "wrong-key", "login_email": "a@b.c"})
    first = made.platform_for(account.account_id, Product.AXIOM)
    assert first is not None
    with pytest.raises(PlatformAuthError):
        await first.list_users()
    connect(session_factory, account.account_id, {"api_key": API_KEY, "login_email": "a@b.c"})
    second = made.platform_for(account.account_id, Product.AXIOM)
    assert second is not None
    assert len(await second.list_users()) == 7


@pytest.mark.parametrize(
    "options",
    [
        "{not json",
        '["a list"]',
        {"api_key": 12345678},
        {"paths": {"users": 3}},
        {"page_size": 0},
        {"timeouts": {"read_s": "slow"}},
        {"retry": {"attempts_forever": 1}},
    ],
)
async def test_bad_options_are_a_config_error_that_echoes_no_value(
    directory: tuple[PlatformDirectory, SecretRedactor],
    seed: Any,
    session_factory: sessionmaker[Session],
    options: Any,
) -> None:
    account = seed()
    connect(session_factory, account.account_id, options)
    with pytest.raises(PlatformConfigError) as refused:
        directory[0].platform_for(account.account_id, Product.AXIOM)
    assert "12345678" not in str(refused.value)
    assert "Axiom" in str(refused.value)
