"""Secrets at rest: the cipher, and where its keys come from (variable, key file, refusal)."""

from __future__ import annotations

import logging
import stat
from pathlib import Path

import pytest
from pydantic import SecretStr

from billing.errors import ConfigurationError, DecryptionError
from bot.runtime.secrets import (
    TokenCipher,
    check_keys,
    cipher_for,
    cipher_from_environment,
    key_file_for,
    rotation_cipher,
)
from bot.runtime.settings import Settings

OLD_KEY = TokenCipher.new_key()
NEW_KEY = TokenCipher.new_key()
SECRET = "xoxb-1111-2222-somebottoken"
POSTGRES_URL = "postgresql+psycopg://seatbot:pw@db.example/seatbot"


def settings(url: str, keys: str | None = None) -> Settings:
    return Settings(database_url=url, seatbot_token_keys=None if keys is None else SecretStr(keys))


# ---------------------------------------------------------------- the cipher


def test_cipher_round_trip_and_rotation_keeps_old_keys_readable() -> None:
    old = TokenCipher([OLD_KEY])
    ciphertext = old.encrypt(SECRET)
    assert ciphertext is not None
    assert SECRET not in ciphertext
    both = TokenCipher([NEW_KEY, OLD_KEY])
    assert both.decrypt(ciphertext) == SECRET
    rotated = both.rotate(ciphertext)
    assert TokenCipher([NEW_KEY]).decrypt(rotated) == SECRET
    with pytest.raises(DecryptionError) as refused:
        TokenCipher([OLD_KEY]).decrypt(rotated)
    assert rotated is not None
    assert rotated not in str(refused.value)
    assert old.encrypt(None) is None
    assert OLD_KEY not in repr(both)


def test_bad_keys_are_refused_without_echoing_them() -> None:
    with pytest.raises(ConfigurationError) as bad:
        TokenCipher([OLD_KEY, "not-a-fernet-key-but-secret"])
    assert "not-a-fernet-key-but-secret" not in str(bad.value)
    assert "key number 2" in str(bad.value)
    with pytest.raises(ConfigurationError):
        TokenCipher([" ", ""])
    with pytest.raises(ConfigurationError):
        check_keys(settings(POSTGRES_URL))
    with pytest.raises(ConfigurationError):
        check_keys(settings(POSTGRES_URL, "not-a-fernet-key-but-secret"))
    check_keys(settings(POSTGRES_URL, f"{NEW_KEY}, {OLD_KEY}"))
    from_env = cipher_for(settings(POSTGRES_URL, f"{NEW_KEY}, {OLD_KEY}"))
    assert from_env.key_count == 2


def test_oauth_on_sqlite_needs_no_variable_the_key_file_serves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    check_keys(settings("sqlite:///seatbot.db"))  # checks only: makes nothing
    assert not (tmp_path / "seatbot.db.key").exists()
    check_keys(settings("sqlite:///:memory:"))


def test_rotation_on_a_key_file_says_what_to_do(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'seatbot.db'}"
    with pytest.raises(ConfigurationError) as refused:
        rotation_cipher(settings(url))
    message = str(refused.value)
    assert f"keeps its key in the key file {tmp_path / 'seatbot.db.key'}" in message
    assert "`seatbot tokens new-key`, set SEATBOT_TOKEN_KEYS to it and run" in message
    with pytest.raises(ConfigurationError, match="followed by the current ones"):
        rotation_cipher(settings(POSTGRES_URL))


# ---------------------------------------------------------------- where the keys come from


def test_postgres_without_keys_refuses_in_one_line_naming_the_fix() -> None:
    with pytest.raises(ConfigurationError) as refused:
        cipher_for(settings(POSTGRES_URL))
    message = str(refused.value)
    assert "SEATBOT_TOKEN_KEYS is not set" in message
    assert "`seatbot tokens new-key`" in message
    assert "\n" not in message
    assert "pw" not in message.split()  # nor the database password


def test_postgres_with_keys_uses_them_newest_first() -> None:
    cipher = cipher_for(settings(POSTGRES_URL, f"{NEW_KEY},{OLD_KEY}"))
    assert cipher.key_count == 2
    assert TokenCipher([NEW_KEY]).decrypt(cipher.encrypt(SECRET)) == SECRET


def test_sqlite_key_file_is_made_once_private_announced_and_reused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 'seatbot.db'}"
    key_file = tmp_path / "seatbot.db.key"
    assert key_file_for(url) == key_file
    caplog.set_level(logging.WARNING, logger="bot.runtime.secrets")

    first = cipher_for(settings(url))
    assert key_file.is_file()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    announcements = [r.getMessage() for r in caplog.records]
    assert len(announcements) == 1
    assert str(key_file) in announcements[0]
    assert "losing it loses the stored credentials" in announcements[0]
    assert key_file.read_text().strip() not in announcements[0]

    caplog.clear()
    content = key_file.read_bytes()
    second = cipher_for(settings(url))
    assert caplog.records == []  # said once, when it was made
    assert key_file.read_bytes() == content
    ciphertext = first.encrypt(SECRET)
    assert second.decrypt(ciphertext) == SECRET
    assert list(tmp_path.iterdir()) == [key_file]  # no temporary file left behind


def test_a_relative_sqlite_path_gets_its_key_file_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert key_file_for("sqlite:///seatbot.db") == tmp_path / "seatbot.db.key"
    assert key_file_for("sqlite://") is None
    assert key_file_for(POSTGRES_URL) is None


def test_in_memory_sqlite_uses_one_key_for_the_process(tmp_path: Path) -> None:
    first = cipher_for(settings("sqlite://"))
    second = cipher_for(settings("sqlite:///:memory:"))
    assert second.decrypt(first.encrypt(SECRET)) == SECRET
    assert list(tmp_path.iterdir()) == []


def test_keys_from_the_variable_come_first_and_the_key_file_still_decrypts(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'seatbot.db'}"
    from_file = cipher_for(settings(url))
    stored = from_file.encrypt(SECRET)
    both = cipher_for(settings(url, NEW_KEY))
    assert both.key_count == 2
    assert both.decrypt(stored) == SECRET
    assert TokenCipher([NEW_KEY]).decrypt(both.rotate(stored)) == SECRET


def test_with_the_variable_set_no_key_file_is_made(tmp_path: Path) -> None:
    cipher_for(settings(f"sqlite:///{tmp_path / 'seatbot.db'}", NEW_KEY))
    assert list(tmp_path.iterdir()) == []


def test_a_damaged_key_file_is_refused_without_showing_it(tmp_path: Path) -> None:
    key_file = tmp_path / "seatbot.db.key"
    key_file.write_text("this-is-not-a-fernet-key\n")
    key_file.chmod(0o600)
    with pytest.raises(ConfigurationError) as refused:
        cipher_for(settings(f"sqlite:///{tmp_path / 'seatbot.db'}"))
    assert str(key_file) in str(refused.value)
    assert "this-is-not-a-fernet-key" not in str(refused.value)


def test_a_key_file_that_cannot_be_made_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as refused:
        cipher_for(settings(f"sqlite:///{tmp_path / 'missing-folder' / 'seatbot.db'}"))
    assert "cannot create the key file" in str(refused.value)


def test_cipher_from_environment_reads_the_keys_but_not_the_url(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    monkeypatch.delenv("SEATBOT_TOKEN_KEYS", raising=False)
    with pytest.raises(ConfigurationError):
        cipher_from_environment(POSTGRES_URL)
    monkeypatch.setenv("SEATBOT_TOKEN_KEYS", NEW_KEY)
    cipher = cipher_from_environment(POSTGRES_URL)
    assert TokenCipher([NEW_KEY]).decrypt(cipher.encrypt(SECRET)) == SECRET


def test_rotation_needs_the_variable_even_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'seatbot.db'}"
    with pytest.raises(ConfigurationError) as refused:
        rotation_cipher(settings(url))
    assert "seatbot tokens new-key" in str(refused.value)
    assert rotation_cipher(settings(url, NEW_KEY)).key_count == 1
