"""Logging for ``seatbot serve``: one format, and secrets redacted from every record.

The redaction runs as a handler filter, so it sees every record that reaches a handler,
whichever library logged it (Bolt logs request bodies at debug level, slack_sdk logs API
calls, uvicorn logs request lines). It replaces Slack tokens by pattern, ``key=value`` /
``"key": "value"`` pairs whose key names a secret, ``Authorization`` header values, the OAuth
``code`` and ``state`` in a parsed query, every literal secret registered with
:meth:`SecretRedactor.add` (signing secret, client secret, token keys, platform credentials),
and shows every URL as :func:`billing.formatting.shown_url` does (no password, no query value).

uvicorn's access log prints each request's path with its query string, which for
``/slack/oauth_redirect`` holds the OAuth ``code`` and ``state``: :class:`QueryStringRedactor`
replaces every query value in those lines by ``…``. httpx logs ``HTTP Request: POST <url>`` at
info level for every request (a webhook URL may carry a secret in its query):
:class:`UrlRedactor` on its logger shows the URL redacted, whatever handler receives the record.
slack_sdk logs every Web API request's parameters (an install's OAuth ``code`` among them) and
every answer's body at debug level, on its own loggers or the one it was given (Bolt gives its
own): :class:`SlackBodiesLeftOut` drops those records at every level.

Every line names the Slack interaction that caused it (:mod:`handlers.request_ids`):
``[req 3f9a…]`` in the human-readable format, ``"request_id"`` in JSON lines
(``SEATBOT_LOG_FORMAT=json``: one JSON object a line, for a log pipeline). ``SEATBOT_LOG_LEVEL``
sets the level (``INFO`` by default).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import slack_sdk

from billing.formatting import shown_query, shown_url
from bot.runtime.settings import Settings
from handlers.request_ids import current_request_id

REDACTED = "[redacted]"

#: ``extra=`` of a record the operator must read whole, such as the notice that a key file was
#: made: the CLI prints it on its own line instead of summing it up with library warnings.
OPERATOR_NOTICE = {"seatbot_operator_notice": True}


def is_operator_notice(record: logging.LogRecord) -> bool:
    """Whether ``record`` was logged with ``extra=OPERATOR_NOTICE``."""
    return bool(getattr(record, "seatbot_operator_notice", False))


# Slack tokens: bot/user/app-level/configuration/refresh, including rotating "xoxe.xoxb-" ones.
_SLACK_TOKEN = re.compile(r"\b(?:xox[a-z]?(?:\.xox[a-z])?|xapp|xoxe)-[A-Za-z0-9-]+")
_AUTH_HEADER = re.compile(
    r"(?i)(\bauthorization[\"']?\s*[:=]\s*[\"']?)(?:bearer\s+|basic\s+)?[^\s\"',}]+"
)
_SECRET_PAIR = re.compile(
    r"(?i)(\b(?:[a-z_]*token|[a-z_]*secret|password|passwd|api_key|apikey|client_secret|"
    r"signing_secret|private_key|credentials?)[\"']?\s*[:=]\s*[\"']?)([^\s\"'&,}]+)"
)
# A parsed query string as Bolt logs it at debug level ({'code': ['...'], 'state': ['...']}):
# the OAuth code and state of an install.
_OAUTH_QUERY = re.compile(r"""(['"](?:code|state)['"]\s*:\s*\[\s*['"])[^'"]*""")
_MIN_LITERAL = 6  # shorter values would redact ordinary words
ACCESS_LOGGER = "uvicorn.access"
HTTPX_LOGGER = "httpx"
_SLACK_SDK_FILES = str(Path(slack_sdk.__file__).resolve().parent) + os.sep


class SecretRedactor(logging.Filter):
    """A logging filter that removes secrets from a record's message and traceback."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._literals: set[str] = set()
        self.add(*secrets)

    def add(self, *secrets: str | None) -> None:
        """Also redact these exact values from now on (empty or very short ones are ignored)."""
        with self._lock:
            self._literals.update(s for s in secrets if s and len(s) >= _MIN_LITERAL)

    def redact(self, text: str) -> str:
        """``text`` with every secret it contains replaced by ``[redacted]``."""
        with self._lock:
            literals = sorted(self._literals, key=len, reverse=True)
        for literal in literals:
            if literal in text:
                text = text.replace(literal, REDACTED)
        text = _SLACK_TOKEN.sub(REDACTED, text)
        text = _AUTH_HEADER.sub(lambda m: m.group(1) + REDACTED, text)
        text = _OAUTH_QUERY.sub(lambda m: m.group(1) + REDACTED, text)
        text = _SECRET_PAIR.sub(lambda m: m.group(1) + REDACTED, text)
        return shown_url(text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):  # a broken format string: keep what we can see
            message = str(record.msg)
        redacted = self.redact(message)
        if redacted != message:
            record.msg = redacted
            record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


class QueryStringRedactor(logging.Filter):
    """A filter for uvicorn's access log: every value in a request line's query string
    becomes ``…`` (``/slack/oauth_redirect?code=…&state=…``); names and paths stay."""

    def filter(self, record: logging.LogRecord) -> bool:
        # uvicorn logs '%s - "%s %s HTTP/%s" %d' with (client, method, path?query, version,
        # status); anything shaped otherwise is left alone.
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            path, mark, query = args[2].partition("?")
            if mark:
                redacted = shown_query(query)
                record.args = (args[0], args[1], f"{path}?{redacted}", args[3], args[4])
        return True


class UrlRedactor(logging.Filter):
    """A filter for a library's logger (httpx's): every URL in a record's message is shown as
    :func:`billing.formatting.shown_url` shows it. On the logger, not a handler, so that no
    handler (ours, pytest's, an embedding application's) ever sees the URL in clear."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError):
            return True
        shown = shown_url(message)
        if shown != message:
            record.msg, record.args = shown, None
        return True


class SlackBodiesLeftOut(logging.Filter):
    """Leaves out slack_sdk's debug records: the parameters of each Web API request (an OAuth
    ``code``, a message's text) and the body of each answer. slack_sdk writes them on whatever
    logger it was given, so they are known by the file that logs them."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (
            record.levelno <= logging.DEBUG and record.pathname.startswith(_SLACK_SDK_FILES)
        )


#: Paths that load balancers and Prometheus poll every few seconds.
PROBE_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


class ProbeAccessFilter(logging.Filter):
    """Drops uvicorn's access-log lines of successful probes (``/healthz``, ``/readyz``,
    ``/metrics`` answered 2xx), which a load balancer would otherwise write every second;
    a failed probe (``/readyz`` 503) is kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 5 and isinstance(args[2], str):
            path = args[2].partition("?")[0]
            status = args[4]
            if path in PROBE_PATHS and isinstance(status, int) and 200 <= status < 300:
                return False
        return True


def install_access_log_redaction() -> None:
    """Redact query values from uvicorn's access log and leave out successful probes (once,
    whoever calls it first)."""
    access = logging.getLogger(ACCESS_LOGGER)
    if not any(isinstance(f, QueryStringRedactor) for f in access.filters):
        access.addFilter(QueryStringRedactor())
    if not any(isinstance(f, ProbeAccessFilter) for f in access.filters):
        access.addFilter(ProbeAccessFilter())


def install_url_redaction() -> None:
    """Show the URLs in httpx's request log lines redacted (once, whoever calls it first)."""
    library = logging.getLogger(HTTPX_LOGGER)
    if not any(isinstance(f, UrlRedactor) for f in library.filters):
        library.addFilter(UrlRedactor())


def settings_secrets(settings: Settings) -> list[str]:
    """The literal secrets in ``settings``, for :class:`SecretRedactor`."""
    values: list[str] = []
    for secret in (
        settings.slack_bot_token,
        settings.slack_signing_secret,
        settings.slack_app_token,
        settings.slack_client_secret,
    ):
        if secret is not None:
            values.append(secret.get_secret_value())
    if settings.seatbot_token_keys is not None:
        values.extend(k.strip() for k in settings.seatbot_token_keys.get_secret_value().split(","))
    return values


def install_redactor(redactor: SecretRedactor, logger: logging.Logger | None = None) -> None:
    """Attach ``redactor`` to every handler of ``logger`` (the root logger by default)."""
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if redactor not in handler.filters:
            handler.addFilter(redactor)


class RequestIdFilter(logging.Filter):
    """Stamps each record with the current Slack interaction's id (``record.request_id``,
    ``None`` outside one) and ``record.request_tag`` (`` [req ID]`` or empty) for text."""

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = getattr(record, "request_id", None) or current_request_id()
        record.request_id = request_id
        record.request_tag = f" [req {request_id}]" if request_id else ""
        return True


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s%(request_tag)s: %(message)s"


class JsonLineFormatter(logging.Formatter):
    """One JSON object a line: ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``,
    ``request_id`` (when in a Slack interaction), ``exception`` (the traceback, redacted)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            line["request_id"] = request_id
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, ensure_ascii=False)


def log_level(name: str) -> int:
    """The ``logging`` level called ``name`` (``debug``, ``INFO``…); :class:`ValueError`
    otherwise."""
    level = logging.getLevelNamesMapping().get(name.strip().upper())
    if level is None:
        raise ValueError(f"{name!r} is not a log level (DEBUG, INFO, WARNING, ERROR)")
    return level


def configure_logging(
    settings: Settings, *, level: int | None = None, stream: TextIO | None = None
) -> SecretRedactor:
    """Log to ``stream`` (stderr) with secrets redacted, as ``SEATBOT_LOG_FORMAT`` says (text
    or JSON lines) at ``level`` (else ``SEATBOT_LOG_LEVEL``); returns the redactor so that
    later secrets (platform credentials read from the database) can be added to it."""
    redactor = SecretRedactor(settings_secrets(settings))
    root = logging.getLogger()
    handler = logging.StreamHandler(stream or sys.stderr)
    if settings.seatbot_log_format == "json":
        handler.setFormatter(JsonLineFormatter())
    else:
        handler.setFormatter(logging.Formatter(TEXT_FORMAT))
    # The redactor first: the request id filter and the formatter see redacted records.
    install_redactor(redactor, root)
    handler.addFilter(SlackBodiesLeftOut())
    handler.addFilter(redactor)
    handler.addFilter(RequestIdFilter())
    root.addHandler(handler)
    root.setLevel(level if level is not None else log_level(settings.seatbot_log_level))
    install_access_log_redaction()
    install_url_redaction()
    return redactor
