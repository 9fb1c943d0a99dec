"""Slack's request signature: the one check, made by the edge before anything reads the body.

Bolt's own check (slack_sdk's ``SignatureVerifier``) is off (:func:`bot.web.bolt_app.build_app`):
it decodes the body as UTF-8 and compares the header as text, and raises on either when they
are not what it expects, where a request that is not signed must get a plain 401 and a signed
body that is not UTF-8 must reach the envelope check (400).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections.abc import Mapping

SIGNATURE_MAX_AGE_SECONDS = 5 * 60  # Slack's rule: refuse older (or later) timestamps
_TIMESTAMP = re.compile(r"[0-9]{1,12}")


def signed_by_slack(signing_key: bytes, body: bytes, headers: Mapping[str, str]) -> bool:
    """Slack's v0 signature over the raw ``body`` is valid and at most five minutes old
    (``headers`` as Starlette gives them: names in lower case, values decoded as latin-1)."""
    timestamp = headers.get("x-slack-request-timestamp")
    signature = headers.get("x-slack-signature")
    if timestamp is None or signature is None or _TIMESTAMP.fullmatch(timestamp) is None:
        return False
    if abs(time.time() - int(timestamp)) > SIGNATURE_MAX_AGE_SECONDS:
        return False
    basestring = b"v0:" + timestamp.encode() + b":" + body
    expected = b"v0=" + hmac.new(signing_key, basestring, hashlib.sha256).hexdigest().encode()
    return hmac.compare_digest(expected, signature.encode("latin-1"))
