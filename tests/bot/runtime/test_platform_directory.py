"""The platform directory builds each account's platform from its stored connection, opening
the encrypted credentials, and fails closed when they cannot be opened."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from billing.errors import ConfigurationError
from billing.setup.store import PlatformConnection as PlatformConnectionRow
from bot.runtime.logging_setup import SecretRedactor
from bot.runtime.platform_credentials import seal
from bot.runtime.platform_directory import PlatformDirectory
from bot.runtime.secrets import TokenCipher
from bot.setup.loader import apply_config, parse_config
from platforms import PlatformAuthError, Product
from platforms.sandbox import SandboxApp, SandboxConfig

API_KEY = "sandbox-api-key"
KEY = TokenCipher.new_key()
CIPHER = TokenCipher([KEY])


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
    made = PlatformDirectory(session_factory, transport=transport, redactor=redactor, cipher=CIPHER)
    yield made, redactor
    await made.aclose()


def connect(
    sessions: sessionmaker[Session],
    account_id: int,
    options: dict[str, Any] | str,
    credentials: dict[str, str] | None = None,
    cipher: TokenCipher = CIPHER,
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
                credentials_encrypted=seal(cipher, credentials or {}),
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
    connect(
        session_factory, account.account_id, {}, {"api_key": API_KEY, "login_email": "a@acme.io"}
    )
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
    connect(
        session_factory, account.account_id, {}, {"api_key": "wrong-key", "login_email": "a@b.c"}
    )
    first = made.platform_for(account.account_id, Product.AXIOM)
    assert first is not None
    with pytest.raises(PlatformAuthError):
        await first.list_users()
    connect(session_factory, account.account_id, {}, {"api_key": API_KEY, "login_email": "a@b.c"})
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
    with pytest.raises(ConfigurationError) as refused:
        directory[0].platform_for(account.account_id, Product.AXIOM)
    assert "12345678" not in str(refused.value)
    assert "Axiom" in str(refused.value)


async def test_a_removed_key_fails_closed_without_showing_key_or_ciphertext(
    directory: tuple[PlatformDirectory, SecretRedactor],
    seed: Any,
    session_factory: sessionmaker[Session],
    caplog: pytest.LogCaptureFixture,
) -> None:
    account = seed()
    removed_key = TokenCipher.new_key()
    connect(
        session_factory,
        account.account_id,
        {},
        {"api_key": API_KEY, "login_email": "a@b.c"},
        cipher=TokenCipher([removed_key]),
    )
    with session_factory() as session:
        ciphertext = session.scalars(select(PlatformConnectionRow.credentials_encrypted)).one()
    assert ciphertext is not None
    caplog.set_level(logging.ERROR, logger="bot.runtime.platform_directory")
    with pytest.raises(ConfigurationError) as refused:
        directory[0].platform_for(account.account_id, Product.AXIOM)
    message = refused.value.message
    assert message == (
        "The Axiom connection is misconfigured: its stored credentials cannot be decrypted. "
        "Ask the operator to fix it with `seatbot load`."
    )
    [logged] = [record.getMessage() for record in caplog.records]
    assert f"The Axiom credentials of account {account.account_id} cannot be used" in logged
    assert "cannot be decrypted with any configured key" in logged
    for text in (message, logged):
        for secret in (removed_key, KEY, ciphertext, API_KEY):
            assert secret not in text


async def test_credentials_left_in_clear_are_refused(
    directory: tuple[PlatformDirectory, SecretRedactor],
    seed: Any,
    session_factory: sessionmaker[Session],
    caplog: pytest.LogCaptureFixture,
) -> None:
    account = seed()
    connect(session_factory, account.account_id, {"api_key": API_KEY, "login_email": "a@b.c"})
    caplog.set_level(logging.ERROR, logger="bot.runtime.platform_directory")
    with pytest.raises(ConfigurationError) as refused:
        directory[0].platform_for(account.account_id, Product.AXIOM)
    assert "not stored encrypted" in refused.value.message
    [logged] = [record.getMessage() for record in caplog.records]
    assert "`seatbot load`" in logged
    assert API_KEY not in logged


async def test_without_a_cipher_the_directory_finds_the_key_itself(
    seed: Any,
    session_factory: sessionmaker[Session],
    sandbox: SandboxApp,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    account = seed()
    connect(session_factory, account.account_id, {}, {"api_key": API_KEY, "login_email": "a@b.c"})
    monkeypatch.setenv("SEATBOT_TOKEN_KEYS", KEY)
    made = PlatformDirectory(session_factory, transport=httpx.ASGITransport(app=sandbox))
    try:
        platform = made.platform_for(account.account_id, Product.AXIOM)
        assert platform is not None
        assert len(await platform.list_users()) == 7
    finally:
        await made.aclose()


def write_other_key_file(path: Path) -> None:
    path.write_text(TokenCipher.new_key())
    path.chmod(0o600)


async def test_without_the_key_in_the_environment_the_directory_fails_closed(
    seed: Any,
    session_factory: sessionmaker[Session],
    sandbox: SandboxApp,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    account = seed()
    connect(session_factory, account.account_id, {}, {"api_key": API_KEY, "login_email": "a@b.c"})
    monkeypatch.delenv("SEATBOT_TOKEN_KEYS", raising=False)
    engine = session_factory.kw["bind"]
    if engine.dialect.name == "sqlite":
        # SQLite falls back on its key file: one holding another key opens nothing.
        write_other_key_file(Path(engine.url.database + ".key"))
        expected = "cannot be decrypted with any configured key"
    else:
        expected = "SEATBOT_TOKEN_KEYS is not set"
    caplog.set_level(logging.ERROR, logger="bot.runtime.platform_directory")
    made = PlatformDirectory(session_factory, transport=httpx.ASGITransport(app=sandbox))
    try:
        with pytest.raises(ConfigurationError):
            made.platform_for(account.account_id, Product.AXIOM)
    finally:
        await made.aclose()
    assert expected in caplog.records[0].getMessage()


async def test_loaded_credentials_reach_the_platform(
    directory: tuple[PlatformDirectory, SecretRedactor],
    session_factory: sessionmaker[Session],
) -> None:
    text = f"""\
accounts:
  - name: acme
    currency: USD
    slack:
      team_id: T0ACME001
    platforms:
      - product: axiom
        kind: api
        base_url: http://sandbox/t/acme/axiom
        options:
          api_key: {API_KEY}
          login_email: admin@acme.example
"""
    with session_factory.begin() as session:
        apply_config(session, parse_config(text), datetime(2026, 1, 10, tzinfo=UTC), cipher=CIPHER)
    with session_factory() as session:
        row = session.scalars(select(PlatformConnectionRow)).one()
    made, redactor = directory
    platform = made.platform_for(row.account_id, Product.AXIOM)
    assert platform is not None
    assert len(await platform.list_users()) == 7
    assert redactor.redact(f"key {API_KEY}") == "key [redacted]"


def connect_product(
    sessions: sessionmaker[Session],
    account_id: int,
    product: Product,
    credentials: dict[str, str],
    options: str = "{}",
) -> None:
    with sessions.begin() as session:
        session.add(
            PlatformConnectionRow(
                account_id=account_id,
                product=product.value,
                kind="api",
                base_url=f"http://sandbox/t/acme/{product.value}",
                options=options,
                credentials_encrypted=seal(CIPHER, credentials),
            )
        )


async def test_platforms_for_builds_each_product_from_one_read_and_keeps_errors_apart(
    directory: tuple[PlatformDirectory, SecretRedactor],
    seed: Any,
    session_factory: sessionmaker[Session],
) -> None:
    made, _ = directory
    account = seed()
    connect_product(
        session_factory,
        account.account_id,
        Product.AXIOM,
        {"api_key": API_KEY, "login_email": "a@b.c"},
    )
    connect_product(
        session_factory, account.account_id, Product.MATRIX, {"token": "t"}, options="{not json"
    )
    other = seed("beta", team_id="T_BETA")  # nothing connected
    both = made.platforms_for(
        [account.account_id, other.account_id],
        [Product.AXIOM, Product.MATRIX, Product.CONTACT_CENTER],
    )
    assert list(both) == [account.account_id, other.account_id]
    assert list(both[other.account_id].values()) == [None, None, None]
    found = both[account.account_id]
    assert list(found) == [Product.AXIOM, Product.MATRIX, Product.CONTACT_CENTER]
    axiom = found[Product.AXIOM]
    assert axiom is not None
    assert not isinstance(axiom, ConfigurationError)
    assert len(await axiom.list_users()) == 7
    matrix = found[Product.MATRIX]
    assert isinstance(matrix, ConfigurationError)
    assert matrix.message.startswith("The Matrix connection is misconfigured")
    assert found[Product.CONTACT_CENTER] is None
    with pytest.raises(ConfigurationError):
        made.platform_for(account.account_id, Product.MATRIX)


async def test_only_the_most_recently_used_clients_are_kept(
    seed: Any, session_factory: sessionmaker[Session], sandbox: SandboxApp
) -> None:
    first, second = seed("acme"), seed("beta", team_id="T_BETA")
    for account in (first, second):
        connect_product(
            session_factory,
            account.account_id,
            Product.AXIOM,
            {"api_key": API_KEY, "login_email": "a@b.c"},
        )
    made = PlatformDirectory(
        session_factory, transport=httpx.ASGITransport(app=sandbox), cipher=CIPHER, max_clients=1
    )
    try:
        for account_id in (first.account_id, first.account_id, second.account_id):
            platform = made.platform_for(account_id, Product.AXIOM)
            assert platform is not None
            assert len(await platform.list_users()) == 7
        # acme's client was reused once, then dropped for beta's: its token is exchanged again.
        assert sandbox.stats.token_exchanges == 2
        platform = made.platform_for(first.account_id, Product.AXIOM)
        assert platform is not None
        assert len(await platform.list_users()) == 7
        assert sandbox.stats.token_exchanges == 3
    finally:
        await made.aclose()
