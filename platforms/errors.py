"""The platform sources' branch of the one error tree (:mod:`billing.errors`).

Each error carries ``user_message``: a sentence written for an account owner that says what
happened, that nothing was changed, and what to do. ``str(error)`` is that same sentence, so an
error that slips into a log or a Slack message still shows no vendor detail and no credential.
Messages are built by the sources from fixed templates and never include request headers,
bodies, tokens or API keys.
"""

from __future__ import annotations

from billing.errors import Failure


class PlatformError(Failure):
    """A platform could not tell us, completely and reliably, which users exist.

    Part of the one error tree (a :class:`billing.errors.Failure`, so a
    :class:`billing.errors.UserFacingError`): ``message`` is the owner-facing sentence;
    ``user_message`` is the same text, under the name this package used first.
    """

    def __init__(self, user_message: str, *, product_label: str | None = None) -> None:
        super().__init__(user_message)
        self.product_label = product_label

    @property
    def user_message(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.user_message!r})"


class PlatformUnavailable(PlatformError):
    """The platform did not answer (connection failure, timeout, deadline, repeated 5xx)."""


class PlatformAuthError(PlatformError):
    """The platform refused our credentials (401/403, or a failed token exchange)."""


class PlatformRateLimited(PlatformError):
    """The platform kept answering 429, or asked us to wait longer than we allow."""

    def __init__(
        self,
        user_message: str,
        *,
        product_label: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(user_message, product_label=product_label)
        self.retry_after_s = retry_after_s


class PlatformDataError(PlatformError):
    """The platform answered with something we cannot trust: malformed JSON, missing fields,
    a listing that broke midway, or an import file with bad rows."""
