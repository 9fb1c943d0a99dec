"""What the platform clients report about their HTTP requests, for whoever counts them.

``platforms`` knows nothing of metrics libraries: a client is given a :class:`RequestObserver`
(the composition root passes one that feeds Prometheus) and calls it after every HTTP attempt
and before every retry. Labels are the product's value (``axiom``) and a short outcome or
reason: never a URL, header or body.
"""

from __future__ import annotations

from typing import Protocol


class RequestObserver(Protocol):
    """Told about each HTTP request a platform client makes."""

    def request_finished(self, product: str, outcome: str, seconds: float) -> None:
        """One attempt ended: ``outcome`` is ``ok``, ``status_4xx``, ``status_429``,
        ``status_5xx``, ``timeout`` or ``transport_error``; ``seconds`` its duration."""

    def retrying(self, product: str, reason: str) -> None:
        """The attempt that just failed for ``reason`` (an outcome above) is retried."""


class NoObserver:
    """Observes nothing (the default)."""

    def request_finished(self, product: str, outcome: str, seconds: float) -> None:
        """Ignore the request."""

    def retrying(self, product: str, reason: str) -> None:
        """Ignore the retry."""


NO_OBSERVER: RequestObserver = NoObserver()
