"""Settings: one line naming the variable, read per command, never a secret in a message."""

from __future__ import annotations

import pytest

from billing.errors import ConfigurationError
from billing.formatting import shown_url
from bot.runtime.settings import Settings, database_url_setting, load_settings


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("PORT", "abc", "PORT: 'abc' is not a port number (1–65535)"),
        ("PORT", "0", "PORT: '0' is not a port number (1–65535)"),
        ("DATABASE_URL", "notaurl", "DATABASE_URL: 'notaurl' is not a database URL"),
        (
            "SEATBOT_QUOTE_TTL_SECONDS",
            "soon",
            "SEATBOT_QUOTE_TTL_SECONDS: 'soon' is not a positive whole number of seconds",
        ),
        (
            "SEATBOT_PLATFORM_DEADLINE_SECONDS",
            "-1",
            "SEATBOT_PLATFORM_DEADLINE_SECONDS: '-1' is not a positive number of seconds",
        ),
        (
            "SEATBOT_HEADER_TIMEOUT_SECONDS",
            "0",
            "SEATBOT_HEADER_TIMEOUT_SECONDS: '0' is not a positive number of seconds",
        ),
        (
            "SEATBOT_MAX_CONNECTIONS",
            "many",
            "SEATBOT_MAX_CONNECTIONS: 'many' is not a whole number of at least 1",
        ),
        (
            "SEATBOT_RECONCILE_AT",
            "25:00",
            "SEATBOT_RECONCILE_AT: '25:00' is not a time of day HH:MM (UTC)",
        ),
    ],
)
def test_a_bad_value_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as raised:
        load_settings()
    assert raised.value.message.startswith(message)
    assert raised.value.message.startswith(f"{variable}: ")
    assert "\n" not in raised.value.message


def test_the_database_url_alone_ignores_other_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "abc")
    monkeypatch.setenv("DATABASE_URL", "sqlite:///x.db")
    assert database_url_setting() == "sqlite:///x.db"
    assert database_url_setting({"database_url": "sqlite:///lower.db"}) == "sqlite:///lower.db"
    assert database_url_setting({}) == "sqlite:///seatbot.db"
    assert database_url_setting({"DATABASE_URL": "  "}) == "sqlite:///seatbot.db"


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://seatbot:hunter22@db:notaport/seatbot",
        "postgresql+nosuchdriver://seatbot:hunter22@db/seatbot",
    ],
)
def test_a_bad_database_url_never_shows_its_password(url: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        database_url_setting({"DATABASE_URL": url})
    assert "hunter22" not in raised.value.message
    assert "seatbot:***@db" in raised.value.message


@pytest.mark.parametrize(
    ("given", "used"),
    [
        ("postgresql://u:p@h:5432/d", "postgresql+psycopg://u:p@h:5432/d"),
        ("postgres://u:p@h/d", "postgresql+psycopg://u:p@h/d"),
        ("postgresql+psycopg://u@h/d", "postgresql+psycopg://u@h/d"),
        ("sqlite:///x.db", "sqlite:///x.db"),
    ],
)
def test_postgresql_urls_without_a_driver_mean_psycopg_3(given: str, used: str) -> None:
    assert database_url_setting({"DATABASE_URL": given}) == used
    assert Settings(database_url=given).database_url == used


@pytest.mark.parametrize(
    "url", ["mysql://u:hunter22@h/d", "postgresql+psycopg2://u@h/d", "oracle://u@h/d"]
)
def test_an_unsupported_database_names_the_supported_ones(url: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        database_url_setting({"DATABASE_URL": url})
    assert raised.value.message.endswith(
        "it supports sqlite:///FILE or postgresql://USER:PASSWORD@HOST:PORT/DB"
    )
    assert "hunter22" not in raised.value.message


def test_shown_url_hides_only_the_password() -> None:
    assert shown_url("postgresql://u:p%40ss@h:5432/d") == "postgresql://u:***@h:5432/d"
    assert shown_url("sqlite:///seatbot.db") == "sqlite:///seatbot.db"


def test_defaults_are_valid() -> None:
    settings = Settings()
    assert (settings.port, settings.database_url) == (3000, "sqlite:///seatbot.db")
