"""The one typed settings object, read once from the environment by the composition root."""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Seatbot's configuration. Handlers never read ``os.environ``; they receive what they need."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    database_url: str = Field(default="sqlite:///seatbot.db")
    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_client_id: str | None = None
    slack_client_secret: SecretStr | None = None
    slack_api_url: str = Field(default="https://slack.com/api/")
    # Comma-separated Fernet keys, newest first; older keys still decrypt (rotation).
    seatbot_token_keys: SecretStr | None = None
    port: int = 3000
    # How long a confirmation prompt's quote stays valid before it must be re-quoted.
    seatbot_quote_ttl_seconds: int = 600
    # Deadline for listing a platform's users before a decrease is refused as unknown.
    seatbot_platform_deadline_seconds: float = 10.0


def load_settings() -> Settings:
    """Read the settings from the environment (and nothing else)."""
    return Settings()
