"""Secrets never reach a log: what the whole e2e suite logged, scanned for every secret it used.

:class:`LogCollector` gathers the suite's log output: every record logged in this process
while an e2e test runs, and every ``*.log`` file the e2e tests leave in their temporary folders
(the ``seatbot serve`` replicas', HAProxy's). :func:`known_secrets` finds the secrets the tests
use: every string constant whose name says it is one (``SIGNING_SECRET``, ``BOT_TOKEN``,
``TOKEN_KEY``, ``API_KEY``, ``WEBHOOK_SECRET``…) in the loaded test modules, plus the sandbox
platform's API key. ``tests/e2e/conftest.py`` runs the scan when the session ends and fails it
naming where each secret appeared.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Iterable
from pathlib import Path

#: Constant names that hold a secret.
SECRET_NAME = re.compile(r"(SECRET|TOKEN|_KEY$|^KEY$|PASSWORD|CREDENTIAL)")
#: Secret-named constants that are not secrets (names of things, not values).
NOT_SECRETS = frozenset({"TOKEN_PATH_KEY", "USERS_PATH_KEY"})
_MIN_LENGTH = 8  # shorter values would match ordinary words
TESTS = Path(__file__).resolve().parents[1]


def known_secrets(extra: Iterable[str] = ()) -> set[str]:
    """The secrets the loaded test modules use (see the module docstring), and ``extra``."""
    from platforms.sandbox import DEFAULT_API_KEY

    found = {DEFAULT_API_KEY, *extra}
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if not path or not Path(path).resolve().is_relative_to(TESTS):
            continue
        for attribute, value in vars(module).items():
            if (
                attribute.isupper()
                and attribute not in NOT_SECRETS
                and SECRET_NAME.search(attribute)
                and isinstance(value, str)
            ):
                found.add(value)
    return {secret for secret in found if len(secret) >= _MIN_LENGTH}


class _Capture(logging.Handler):
    def __init__(self, sink: list[str], lock: threading.Lock) -> None:
        super().__init__(logging.NOTSET)
        self._sink = sink
        self._lock = lock
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
        except Exception:  # a broken record must not break the test that logged it
            line = str(record.msg)
        with self._lock:
            self._sink.append(line)


class LogCollector:
    """What a set of tests logged (see the module docstring)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._lock = threading.Lock()
        self._handler = _Capture(self.lines, self._lock)
        self.folders: list[Path] = []

    def attach(self) -> None:
        """Capture every record the root logger passes on, from now on."""
        logging.getLogger().addHandler(self._handler)

    def detach(self) -> None:
        logging.getLogger().removeHandler(self._handler)

    def add_folder(self, folder: Path) -> None:
        """Scan the ``*.log`` files in ``folder`` (and below) too."""
        self.folders.append(folder)

    def sources(self) -> list[tuple[str, str]]:
        """Every text collected, with where it came from."""
        with self._lock:
            texts = [("log records of the e2e tests", "\n".join(self.lines))]
        for folder in self.folders:
            for path in sorted(folder.rglob("*.log")):
                texts.append((str(path), path.read_text(errors="replace")))
        return texts

    def leaks(self, secrets: Iterable[str]) -> list[str]:
        """``"<secret's first 4 characters>… in <where>"`` for each secret found."""
        found: list[str] = []
        wanted = sorted(set(secrets))
        for where, text in self.sources():
            for secret in wanted:
                if secret in text:
                    found.append(f"{secret[:4]}… in {where}")
        return found
