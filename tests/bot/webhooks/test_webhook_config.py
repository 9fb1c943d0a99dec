"""Where billing events go: ``billing_webhook`` in the accounts file (secret encrypted, reloads
idempotent, removed with the file), the ``SEATBOT_WEBHOOK_*`` default, and their messages, which
never quote a secret."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from billing.errors import ConfigurationError
from billing.events.rules import DEFAULT_RETRY_SCHEDULE
from billing.events.store import BillingWebhook
from billing.models import Account, AuditEvent
from bot.runtime.secrets import TokenCipher
from bot.runtime.settings import Settings
from bot.setup.loader import apply_config, parse_config
from bot.webhooks.config import (
    Destination,
    default_destination,
    destination_for,
    is_webhook_secret,
    new_webhook_secret,
    retry_schedule,
)

AT = datetime(2026, 1, 10, 12, tzinfo=UTC)
CIPHER = TokenCipher([TokenCipher.new_key()])
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OTHER_SECRET = "whsec_c2VhdGJvdC1sb2NhbC1kZW1vLW9ubHkh"


def accounts_file(webhook: str = "") -> str:
    return f"""\
accounts:
  - name: acme
    currency: USD
    slack:
      team_id: T0ACME001
{webhook}"""


def webhook(url: str = "https://billing.example.com/hooks/seatbot", secret: str = SECRET) -> str:
    return f"""\
    billing_webhook:
      url: {url}
      secret: {secret}
"""


def load(sessions: sessionmaker[Session], text: str) -> tuple[str, ...]:
    with sessions.begin() as session:
        return apply_config(session, parse_config(text), AT, cipher=CIPHER).changes


def stored(sessions: sessionmaker[Session]) -> list[tuple[str, str]]:
    with sessions() as session:
        return [(row.url, row.secret_encrypted) for row in session.scalars(select(BillingWebhook))]


def test_a_webhook_is_stored_encrypted_and_reloading_it_changes_nothing(
    session_factory: sessionmaker[Session],
) -> None:
    changes = load(session_factory, accounts_file(webhook()))
    assert "acme: billing webhook added (https://billing.example.com/hooks/seatbot)" in changes
    [(url, ciphertext)] = stored(session_factory)
    assert SECRET not in ciphertext
    assert CIPHER.decrypt(ciphertext) == SECRET
    assert load(session_factory, accounts_file(webhook())) == ()
    assert stored(session_factory) == [(url, ciphertext)]  # the same ciphertext, untouched

    changed = load(session_factory, accounts_file(webhook("https://b.example.com/h", OTHER_SECRET)))
    assert changed == (
        "acme: billing webhook URL https://billing.example.com/hooks/seatbot → "
        "https://b.example.com/h",
        "acme: billing webhook secret changed",
    )
    with session_factory() as session:
        account_id = session.scalars(select(Account.id)).one()
        found = destination_for(session, CIPHER, account_id, None)
        actions = list(session.scalars(select(AuditEvent.details)))
    assert found == Destination("https://b.example.com/h", OTHER_SECRET)
    assert not any(SECRET in details or OTHER_SECRET in details for details in actions)
    assert OTHER_SECRET not in repr(found)

    assert load(session_factory, accounts_file()) == (
        "acme: billing webhook removed (not in the file)",
    )
    assert stored(session_factory) == []


def test_the_account_webhook_wins_over_the_default(session_factory: sessionmaker[Session]) -> None:
    load(session_factory, accounts_file())
    default = Destination("https://default.example.com/", SECRET, default=True)
    with session_factory() as session:
        account_id = session.scalars(select(Account.id)).one()
        assert destination_for(session, CIPHER, account_id, default) == default
        assert destination_for(session, CIPHER, account_id, None) is None


@pytest.mark.parametrize(
    ("block", "problem"),
    [
        (webhook(url="ftp://billing.example.com"), "billing_webhook.url: must be an http://"),
        (webhook(secret="whsec_tooshort"), "billing_webhook.secret: is not a Standard Webhooks"),
        (webhook(secret="not-a-whsec-secret-at-all-but-long"), "is not a Standard Webhooks"),
        ("    billing_webhook:\n      url: https://b.example.com/\n", "secret: is required"),
    ],
)
def test_a_bad_webhook_is_a_problem_with_its_line_that_never_quotes_the_secret(
    block: str, problem: str
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        parse_config(accounts_file(block))
    text = str(raised.value)
    assert problem in text
    assert "line 6" in text or "line 7" in text or "line 8" in text
    assert "tooshort" not in text
    assert "not-a-whsec" not in text


def test_secrets_are_standard_webhooks_secrets() -> None:
    made = new_webhook_secret()
    assert made.startswith("whsec_")
    assert is_webhook_secret(made)
    assert made != new_webhook_secret()
    assert not is_webhook_secret("whsec_" + "A" * 8)  # 6 bytes: too short
    assert not is_webhook_secret("whsec_!!!!" + "A" * 40)  # not base64
    assert not is_webhook_secret("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")  # no prefix


def test_the_default_is_both_variables_or_neither() -> None:
    assert default_destination(Settings()) is None
    both = Settings(
        seatbot_webhook_url="https://billing.example.com/h",
        seatbot_webhook_secret=SecretStr(SECRET),
    )
    assert default_destination(both) == Destination(
        "https://billing.example.com/h", SECRET, default=True
    )
    cases = [
        (Settings(seatbot_webhook_url="https://b.example.com/"), "SEATBOT_WEBHOOK_SECRET"),
        (Settings(seatbot_webhook_secret=SecretStr(SECRET)), "SEATBOT_WEBHOOK_URL"),
        (
            Settings(seatbot_webhook_url="b.example.com", seatbot_webhook_secret=SecretStr(SECRET)),
            "SEATBOT_WEBHOOK_URL",
        ),
        (
            Settings(
                seatbot_webhook_url="https://b.example.com/",
                seatbot_webhook_secret=SecretStr("whsec_short-and-secret"),
            ),
            "SEATBOT_WEBHOOK_SECRET",
        ),
    ]
    for settings, variable in cases:
        with pytest.raises(ConfigurationError) as raised:
            default_destination(settings)
        assert raised.value.message.startswith(f"{variable}: ")
        assert "short-and-secret" not in raised.value.message
        assert "\n" not in raised.value.message


def test_the_retry_schedule_setting() -> None:
    assert retry_schedule(Settings()) is DEFAULT_RETRY_SCHEDULE
    fast = retry_schedule(Settings(seatbot_webhook_retry_schedule="0.2, 0.5,1"))
    assert [delay.total_seconds() for delay in fast.delays] == [0.2, 0.5, 1.0]
    for bad in ("soon", "1,,2", "1,-2", "0"):
        with pytest.raises(ConfigurationError) as raised:
            retry_schedule(Settings(seatbot_webhook_retry_schedule=bad))
        assert raised.value.message.startswith("SEATBOT_WEBHOOK_RETRY_SCHEDULE: ")


# ---------------------------------------------------------------- what a destination may be

#: A secret in the webhook URL's query string: never printed, logged or stored in clear.
QUERY_TOKEN = "q-token-7d41c0ffee"
TOKEN_URL = f"https://billing.example.com/hooks?token={QUERY_TOKEN}&v=2"


def test_credentials_in_the_url_are_refused_without_being_quoted() -> None:
    with pytest.raises(ConfigurationError) as raised:
        parse_config(accounts_file(webhook("https://billing:hunter2pass@b.example.com/h")))
    [problem] = raised.value.problems
    assert str(problem) == (
        "line 7: accounts[0].billing_webhook.url: holds a user name or password before the host "
        "(user:password@…): put no credentials in the URL; the receiver checks each event's "
        "signature instead"
    )
    assert "hunter2pass" not in str(raised.value)


def test_a_url_with_a_query_is_stored_encrypted_and_shown_without_its_values(
    session_factory: sessionmaker[Session],
) -> None:
    changes = load(session_factory, accounts_file(webhook(TOKEN_URL)))
    assert "acme: billing webhook added (https://billing.example.com/hooks?token=…&v=…)" in changes
    assert not any(QUERY_TOKEN in line for line in changes)
    with session_factory() as session:
        row = session.scalars(select(BillingWebhook)).one()
        assert row.url == "https://billing.example.com/hooks?token=…&v=…"
        assert QUERY_TOKEN not in row.url_encrypted
        assert CIPHER.decrypt(row.url_encrypted) == TOKEN_URL
        assert row.allow_private_destinations is False
        found = destination_for(session, CIPHER, row.account_id, None)
        details = list(session.scalars(select(AuditEvent.details)))
    assert found == Destination(TOKEN_URL, SECRET)
    assert not any(QUERY_TOKEN in text for text in details)
    assert load(session_factory, accounts_file(webhook(TOKEN_URL))) == ()  # nothing changed

    other = TOKEN_URL.replace(QUERY_TOKEN, "q-token-rotated-0042")
    assert load(session_factory, accounts_file(webhook(other))) == (
        "acme: billing webhook URL's query values changed "
        "(https://billing.example.com/hooks?token=…&v=…)",
    )


def test_private_destinations_are_allowed_per_webhook_by_the_operator(
    session_factory: sessionmaker[Session],
) -> None:
    allowed = webhook("http://10.0.0.7/hooks") + "      allow_private_destinations: true\n"
    assert "acme: billing webhook added (http://10.0.0.7/hooks, private addresses allowed)" in (
        load(session_factory, accounts_file(allowed))
    )
    with session_factory() as session:
        account_id = session.scalars(select(Account.id)).one()
        found = destination_for(session, CIPHER, account_id, None)
    assert found == Destination("http://10.0.0.7/hooks", SECRET, allow_private=True)
    assert load(session_factory, accounts_file(webhook("http://10.0.0.7/hooks"))) == (
        "acme: billing webhook to public addresses only (private ones no longer allowed)",
    )
    with pytest.raises(ConfigurationError) as raised:
        parse_config(accounts_file(webhook() + "      allow_private_destinations: maybe\n"))
    assert "billing_webhook.allow_private_destinations: must be true or false" in str(raised.value)


def test_the_default_webhook_refuses_credentials_without_echoing_them() -> None:
    with pytest.raises(ConfigurationError) as raised:
        default_destination(
            Settings(
                seatbot_webhook_url="https://billing:hunter2pass@b.example.com/h",
                seatbot_webhook_secret=SecretStr(SECRET),
            )
        )
    assert str(raised.value).startswith("SEATBOT_WEBHOOK_URL: holds a user name or password")
    assert "hunter2pass" not in str(raised.value)
