"""The secret scan of the e2e suite's logs finds a secret wherever it was logged."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

from secret_scan import LogCollector, known_secrets


def test_known_secrets_come_from_the_test_modules() -> None:
    from seats_stack import BOT_TOKEN, SIGNING_SECRET, TOKEN_KEY

    found = known_secrets()
    assert {BOT_TOKEN, SIGNING_SECRET, TOKEN_KEY} <= found
    assert "sandbox-api-key" in found  # the sandbox platform's credential


def test_a_planted_secret_is_found_in_a_record_and_in_a_replica_log(tmp_path: Path) -> None:
    # Random values: the session's own scan (which looks for known secrets) must not trip.
    in_record, in_file = secrets.token_hex(12), secrets.token_hex(12)
    collector = LogCollector()
    collector.add_folder(tmp_path)
    collector.attach()
    try:
        # Not "token=…": once an earlier test of the session has installed the log redaction,
        # that would be redacted before the collector sees it (and rightly not count as a leak).
        logging.getLogger("tests.scan").warning("the value %s", in_record)
    finally:
        collector.detach()
    (tmp_path / "replica-1.log").write_text(f'{{"message": "signing with {in_file}"}}\n')
    leaks = collector.leaks([in_record, in_file, "never-logged-value"])
    assert leaks == [
        f"{in_record[:4]}… in log records of the e2e tests",
        f"{in_file[:4]}… in {tmp_path / 'replica-1.log'}",
    ]
