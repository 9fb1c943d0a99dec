"""The one typed settings object, read once from the environment by the composition root.

A value that cannot be used is a :class:`billing.errors.ConfigurationError`: one line naming the
variable (``PORT: 'abc' is not a port number (1–65535)``), never a validation dump, and never a
secret: only non-secret variables can be malformed, and a database URL is shown without its
password.
Commands that need one variable read only that one (:func:`database_url_setting`), so a bad
``PORT`` does not stop ``seatbot accounts``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from billing.errors import ConfigurationError
from billing.formatting import shown_url

DEFAULT_DATABASE_URL = "sqlite:///seatbot.db"
DEFAULT_HEADER_TIMEOUT_SECONDS = 10.0
DEFAULT_MAX_CONNECTIONS = 1000


def bad_setting(variable: str, problem: str) -> ConfigurationError:
    """The error for an environment variable holding a value Seatbot cannot use: one line,
    ``VARIABLE: problem``."""
    return ConfigurationError(f"{variable}: {problem}")


#: What DATABASE_URL may name, for the message that refuses anything else.
SUPPORTED_DATABASES = "sqlite:///FILE or postgresql://USER:PASSWORD@HOST:PORT/DB"

#: URL schemes that mean PostgreSQL without naming a driver (SQLAlchemy would pick psycopg2,
#: which Seatbot does not ship; ``postgres://`` is how Heroku and many hosts write it).
_POSTGRESQL_WITHOUT_DRIVER = ("postgresql", "postgres")


def check_database_url(url: str) -> str:
    """``url`` as Seatbot uses it, if SQLAlchemy can (parsed, and its dialect and driver are
    installed): ``postgresql://`` and ``postgres://`` become ``postgresql+psycopg://`` (psycopg 3,
    the driver Seatbot ships). Otherwise :class:`ValueError` with a sentence saying why and
    which databases are supported (password hidden)."""
    shown = shown_url(url)
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise ValueError(f"{shown!r} is not a database URL (e.g. {DEFAULT_DATABASE_URL})") from None
    if parsed.drivername in _POSTGRESQL_WITHOUT_DRIVER:
        parsed = parsed.set(drivername="postgresql+psycopg")
        url = parsed.render_as_string(hide_password=False)
    unsupported = ValueError(
        f"{shown!r} names a database or driver Seatbot cannot use; "
        f"it supports {SUPPORTED_DATABASES}"
    )
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise unsupported
    try:
        parsed.get_dialect().import_dbapi()
    except (NoSuchModuleError, ImportError):
        raise unsupported from None
    return url


class Settings(BaseSettings):
    """Seatbot's configuration. Handlers never read ``os.environ``; they receive what they need."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    database_url: str = Field(default=DEFAULT_DATABASE_URL)
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    slack_api_url: str = Field(default="https://slack.com/api/")
    # Comma-separated Fernet keys, newest first; older keys still decrypt (rotation).
    seatbot_token_keys: SecretStr | None = None
    port: int = Field(default=3000, ge=1, le=65535)
    # How long a confirmation prompt's quote stays valid before it must be re-quoted.
    seatbot_quote_ttl_seconds: int = Field(default=600, gt=0)
    # Deadline for listing a platform's users before a decrease is refused as unknown.
    seatbot_platform_deadline_seconds: float = Field(default=10.0, gt=0)
    # The scheduler (digests): on/off, and how often it looks for due work (seconds).
    seatbot_scheduler: bool = True
    seatbot_scheduler_tick_seconds: float = Field(default=60.0, gt=0)
    # "HH:MM" (UTC): every day from then, every replica's scheduler reconciles every account,
    # the replicas sharing the accounts (each claimed once); unset, none is scheduled.
    seatbot_reconcile_at: str | None = Field(
        default=None, pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
    )
    # A claimed job whose process has not renewed its claim for this long (on the jobs'
    # clock) is taken to have crashed, and another process takes it over; a live process
    # renews its claim every third of this while it works.
    seatbot_job_stale_seconds: float = Field(default=900.0, gt=0)
    # Posting budget per Slack workspace: messages a minute, and the burst allowed.
    seatbot_slack_workspace_per_minute: float = Field(default=60.0, gt=0)
    seatbot_slack_workspace_burst: int = Field(default=5, ge=1)
    # A simulated clock, for tests and demos only: starts at this instant (ISO 8601 with an
    # offset) and runs SEATBOT_CLOCK_SPEED times faster than real time. Unset: the real clock.
    seatbot_clock_start: str | None = None
    seatbot_clock_speed: float = Field(default=1.0, gt=0)
    # Logging: human-readable lines (text) or one JSON object a line (json); the level.
    seatbot_log_format: Literal["text", "json"] = "text"
    seatbot_log_level: str = "INFO"
    # On SIGTERM: how long in-flight requests, listeners and jobs may take to finish.
    seatbot_shutdown_deadline_seconds: float = Field(default=20.0, gt=0)
    # On SIGTERM: how long to keep serving with /readyz at 503 before closing the listener,
    # so that the load balancer's health check takes the process out of rotation first.
    seatbot_shutdown_drain_seconds: float = Field(default=0.0, ge=0)
    # HTTP connections (bot.web.connection_limits): a request head must arrive within this many
    # seconds; past this many open connections, the one that waited longest for its request
    # is closed to make room for a new one.
    seatbot_header_timeout_seconds: float = Field(default=DEFAULT_HEADER_TIMEOUT_SECONDS, gt=0)
    seatbot_max_connections: int = Field(default=DEFAULT_MAX_CONNECTIONS, ge=1)
    # Database connection pool of each process (PostgreSQL): kept open, and extra under load.
    seatbot_db_pool_size: int = Field(default=5, ge=1)
    seatbot_db_max_overflow: int = Field(default=5, ge=0)
    # The billing hand-off's default webhook (accounts without their own `billing_webhook`).
    # Checked when a command uses them (bot.webhooks.config.default_destination), not here, so
    # that a bad value stops `seatbot serve` and `seatbot webhooks test`, not `seatbot load`.
    seatbot_webhook_url: str | None = None
    seatbot_webhook_secret: SecretStr | None = None
    # Let every webhook reach loopback, private and link-local addresses (refused otherwise;
    # an account's own webhook may allow them with allow_private_destinations).
    seatbot_webhook_allow_private: bool = False
    # One delivery attempt's deadline; seconds between polls of the outbox.
    seatbot_webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    seatbot_webhook_poll_seconds: float = Field(default=2.0, gt=0)
    # Seconds to wait after each failed attempt, comma-separated (default: about a day).
    seatbot_webhook_retry_schedule: str | None = None

    @field_validator("database_url")
    @classmethod
    def _usable_database_url(cls, value: str) -> str:
        return check_database_url(value)

    @field_validator("seatbot_clock_start")
    @classmethod
    def _aware_instant(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise ValueError("not an ISO 8601 instant") from None
        if parsed.tzinfo is None:
            raise ValueError("the instant needs an offset (Z or +01:00)")
        return value.strip()

    @field_validator("seatbot_log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        if value.strip().upper() not in logging.getLevelNamesMapping():
            raise ValueError("not a log level")
        return value.strip().upper()

    @field_validator("seatbot_log_format", mode="before")
    @classmethod
    def _lower_format(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value


#: What each variable that can be malformed must be, for the one-line message.
_EXPECTED = {
    "port": "is not a port number (1–65535)",
    "seatbot_quote_ttl_seconds": "is not a positive whole number of seconds",
    "seatbot_platform_deadline_seconds": "is not a positive number of seconds",
    "seatbot_scheduler": "is not on or off (true/false)",
    "seatbot_scheduler_tick_seconds": "is not a positive number of seconds",
    "seatbot_reconcile_at": "is not a time of day HH:MM (UTC)",
    "seatbot_job_stale_seconds": "is not a positive number of seconds",
    "seatbot_slack_workspace_per_minute": "is not a positive number of messages a minute",
    "seatbot_slack_workspace_burst": "is not a whole number of at least 1",
    "seatbot_clock_start": "is not an ISO 8601 instant with an offset",
    "seatbot_clock_speed": "is not a positive number",
    "seatbot_log_format": "is not text or json",
    "seatbot_log_level": "is not a log level (DEBUG, INFO, WARNING, ERROR)",
    "seatbot_shutdown_deadline_seconds": "is not a positive number of seconds",
    "seatbot_shutdown_drain_seconds": "is not a number of seconds (0 or more)",
    "seatbot_header_timeout_seconds": "is not a positive number of seconds",
    "seatbot_max_connections": "is not a whole number of at least 1",
    "seatbot_db_pool_size": "is not a whole number of at least 1",
    "seatbot_db_max_overflow": "is not a whole number of at least 0",
    "seatbot_webhook_allow_private": "is not on or off (true/false)",
    "seatbot_webhook_timeout_seconds": "is not a positive number of seconds",
    "seatbot_webhook_poll_seconds": "is not a positive number of seconds",
}


def oauth_enabled(settings: Settings) -> bool:
    """Whether the settings ask for installation into many workspaces (OAuth)."""
    return bool(settings.slack_client_id and settings.slack_client_secret)


def settings_error(error: ValidationError) -> ConfigurationError:
    """The one-line :func:`bad_setting` error for a validation error of :class:`Settings`."""
    first = error.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else "?"
    variable = field.upper()
    value: Any = first.get("input")
    if field == "database_url":
        # The validator's sentence already shows the URL without its password.
        reason = str(first.get("ctx", {}).get("error") or first["msg"])
        return bad_setting(variable, reason)
    if field in _EXPECTED and isinstance(value, str | int | float):
        return bad_setting(variable, f"{str(value)!r} {_EXPECTED[field]}")
    # Any other field may hold a secret: name the variable, never echo its value.
    return bad_setting(variable, "has a value Seatbot cannot use")


def load_settings() -> Settings:
    """Read the settings from the environment (and nothing else); :func:`bad_setting`
    (one line naming the variable) when a value cannot be used."""
    try:
        return Settings()
    except ValidationError as error:
        raise settings_error(error) from None


def _environment_value(name: str, environ: Mapping[str, str]) -> str | None:
    # Settings reads names case-insensitively; so does this.
    exact = environ.get(name)
    if exact is not None:
        return exact
    return next((value for key, value in environ.items() if key.upper() == name), None)


def database_url_setting(environ: Mapping[str, str] | None = None) -> str:
    """``DATABASE_URL`` (default ``sqlite:///seatbot.db``), checked on its own: the commands
    that only need the database do not fail on an unrelated bad variable."""
    raw = _environment_value("DATABASE_URL", os.environ if environ is None else environ)
    url = DEFAULT_DATABASE_URL if raw is None or not raw.strip() else raw.strip()
    try:
        return check_database_url(url)
    except ValueError as error:
        raise bad_setting("DATABASE_URL", str(error)) from None
