"""What ``seatbot serve`` counts, for Prometheus (``GET /metrics``).

One :class:`Metrics` per runtime, on its own registry (tests build many runtimes in one
process). Every series is named ``seatbot_…``; the methods are the API the rest of ``bot``
calls, so that nothing outside this module names a series:

=========================================  ====================================================
series                                     what
=========================================  ====================================================
``seatbot_slack_requests_total``           Slack requests by ``kind`` and ``outcome``
``seatbot_slack_ack_seconds``              request received → HTTP answer (the ack), by kind
``seatbot_slack_full_answer_seconds``      request received → the listener's last reply sent
``seatbot_slack_listeners_in_flight``      listeners still working after their ack
``seatbot_platform_requests_total``        HTTP requests to a platform by product and outcome
``seatbot_platform_request_seconds``       their duration, by product
``seatbot_platform_retries_total``         retries by product and reason
``seatbot_platform_listings_total``        complete user listings or "unknown", by product
``seatbot_seat_change_outcomes_total``     what confirm/approve/deny/expire answered
``seatbot_changes_applied_total``          changes applied, ``via`` confirm or approval
``seatbot_job_runs_total``                 claimed job runs (digest, reconciliation, approvals)
                                           by job and outcome
``seatbot_scheduler_job_lag_seconds``      how late a scheduler tick started, by job
``seatbot_webhook_deliveries_total``       billing webhook deliveries by outcome
``seatbot_webhook_delivery_seconds``       their duration
``seatbot_webhook_backlog``                outbox events waiting to be delivered
``seatbot_http_connections_closed_total``  connections closed by :mod:`bot.web.connection_limits`,
                                           by ``reason``
=========================================  ====================================================

**Several replicas.** Each replica serves its own ``/metrics``: scrape every replica (not
through the load balancer) and ``sum`` counters across them. A change is applied by exactly one
replica, so the sums are exact. The webhook backlog is a fact about the shared database, the
same on every replica that reports it: alert on its ``max``. **Several processes in one
replica** (a process manager forking workers) share nothing in memory: set
``PROMETHEUS_MULTIPROC_DIR`` to an empty folder before start-up and ``/metrics`` adds up every
process's files (prometheus-client's multiprocess mode; gauges then report the live maximum).

For the billing webhook sender: ``metrics.webhook_delivered(outcome, seconds)`` after each
delivery attempt (``outcome`` one of :data:`WEBHOOK_OUTCOMES`) and
``metrics.webhook_backlog(count)`` whenever it has counted the outbox.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"

#: Slack request kinds as labelled (the payload's ``type``; a slash command has none).
SLACK_KINDS = ("slash_command", "block_actions", "view_submission", "event_callback")
#: Outcomes of a Slack request: answered; failed after or before the ack (the user saw the
#: generic apology); no listener for it; refused (bad signature, malformed body).
SLACK_OUTCOMES = ("ok", "error", "unhandled", "unauthorized", "malformed")
WEBHOOK_OUTCOMES = ("delivered", "failed", "gave_up")
JOB_OUTCOMES = ("succeeded", "failed", "skipped")
#: Why the server closed a connection before its request came (bot.web.connection_limits).
CONNECTION_CLOSE_REASONS = ("header_timeout", "over_capacity")

# Slack answers within 3 s; the full answer may wait on a platform for up to its deadline.
_ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)
_ANSWER_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 30.0, 60.0)
_PLATFORM_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_LAG_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0)
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


def outcome_label(outcome: object) -> str:
    """A label for a use case's answer: its class name in snake case (``ChangeApplied`` →
    ``change_applied``)."""
    return _CAMEL.sub("_", type(outcome).__name__).lower()


class Metrics:
    """Seatbot's series on one registry (see the module docstring)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry(auto_describe=True)
        self._multiprocess_dir = os.environ.get(MULTIPROCESS_ENV) or None
        r = self.registry
        self.slack_requests = Counter(
            "seatbot_slack_requests", "Slack requests by kind and outcome.",
            ["kind", "outcome"], registry=r,
        )  # fmt: skip
        self.ack_seconds = Histogram(
            "seatbot_slack_ack_seconds", "Time from receiving a Slack request to answering it.",
            ["kind"], buckets=_ACK_BUCKETS, registry=r,
        )  # fmt: skip
        self.full_answer_seconds = Histogram(
            "seatbot_slack_full_answer_seconds",
            "Time from receiving a Slack request to the end of its listener (last reply sent).",
            ["kind"], buckets=_ANSWER_BUCKETS, registry=r,
        )  # fmt: skip
        self.listeners_in_flight = Gauge(
            "seatbot_slack_listeners_in_flight", "Listeners still working after their ack.",
            registry=r, multiprocess_mode="livesum",
        )  # fmt: skip
        self.platform_requests = Counter(
            "seatbot_platform_requests", "HTTP requests to a platform by product and outcome.",
            ["product", "outcome"], registry=r,
        )  # fmt: skip
        self.platform_seconds = Histogram(
            "seatbot_platform_request_seconds", "Duration of one HTTP request to a platform.",
            ["product"], buckets=_PLATFORM_BUCKETS, registry=r,
        )  # fmt: skip
        self.platform_retries = Counter(
            "seatbot_platform_retries", "Platform requests retried, by product and reason.",
            ["product", "reason"], registry=r,
        )  # fmt: skip
        self.platform_listings = Counter(
            "seatbot_platform_listings",
            "User listings by product: complete, or unknown (the platform could not be read).",
            ["product", "outcome"], registry=r,
        )  # fmt: skip
        self.change_outcomes = Counter(
            "seatbot_seat_change_outcomes",
            "What a seat-change step (confirm, approve, deny, expire) answered.",
            ["step", "outcome"], registry=r,
        )  # fmt: skip
        self.changes_applied = Counter(
            "seatbot_changes_applied", "Seat changes applied, via confirm or approval.",
            ["via"], registry=r,
        )  # fmt: skip
        self.job_runs = Counter(
            "seatbot_job_runs", "Claimed job runs (digests, reconciliations, approval reminders) "
            "by job and outcome.", ["job", "outcome"], registry=r,
        )  # fmt: skip
        self.job_lag_seconds = Histogram(
            "seatbot_scheduler_job_lag_seconds",
            "How long after its scheduled time a scheduler tick started.",
            ["job"], buckets=_LAG_BUCKETS, registry=r,
        )  # fmt: skip
        self.webhook_deliveries = Counter(
            "seatbot_webhook_deliveries", "Billing webhook delivery attempts by outcome.",
            ["outcome"], registry=r,
        )  # fmt: skip
        self.webhook_seconds = Histogram(
            "seatbot_webhook_delivery_seconds", "Duration of one webhook delivery attempt.",
            buckets=_PLATFORM_BUCKETS, registry=r,
        )  # fmt: skip
        self.webhook_backlog_gauge = Gauge(
            "seatbot_webhook_backlog", "Outbox events waiting to be delivered (database-wide).",
            registry=r, multiprocess_mode="livemax",
        )  # fmt: skip
        self.http_connections_closed = Counter(
            "seatbot_http_connections_closed", "Connections closed before their request came: "
            "header_timeout (its head was too slow), over_capacity (to make room for a new one).",
            ["reason"], registry=r,
        )  # fmt: skip
        # Series with known labels exist from the start (at 0), so dashboards and alerts
        # see them before the first event rather than "no data".
        for kind in SLACK_KINDS:
            for slack_outcome in SLACK_OUTCOMES:
                self.slack_requests.labels(kind, slack_outcome)
        for webhook_outcome in WEBHOOK_OUTCOMES:
            self.webhook_deliveries.labels(webhook_outcome)
        for reason in CONNECTION_CLOSE_REASONS:
            self.http_connections_closed.labels(reason)

    # -- Slack ------------------------------------------------------------------------------

    def slack_request(self, kind: str, outcome: str) -> None:
        """Count one Slack request, finished with ``outcome`` (one of :data:`SLACK_OUTCOMES`)."""
        self.slack_requests.labels(kind, outcome).inc()

    def acked(self, kind: str, seconds: float) -> None:
        """A Slack request of ``kind`` was answered (acknowledged) ``seconds`` after it came."""
        self.ack_seconds.labels(kind).observe(seconds)

    def answered(self, kind: str, seconds: float) -> None:
        """A listener finished ``seconds`` after its request came (its last reply was sent)."""
        self.full_answer_seconds.labels(kind).observe(seconds)

    # -- platforms (platforms.telemetry.RequestObserver) -----------------------------------

    def request_finished(self, product: str, outcome: str, seconds: float) -> None:
        """One HTTP request to ``product``'s platform ended with ``outcome``."""
        self.platform_requests.labels(product, outcome).inc()
        self.platform_seconds.labels(product).observe(seconds)

    def retrying(self, product: str, reason: str) -> None:
        """A request to ``product``'s platform is retried because of ``reason``."""
        self.platform_retries.labels(product, reason).inc()

    def listing(self, product: str, outcome: str) -> None:
        """A user listing of ``product`` ended ``complete`` or ``unknown``."""
        self.platform_listings.labels(product, outcome).inc()

    # -- seat changes, approvals, jobs -----------------------------------------------------

    def change_step(self, step: str, outcome: object) -> None:
        """A seat-change ``step`` answered ``outcome`` (a billing outcome object)."""
        label = outcome_label(outcome)
        self.change_outcomes.labels(step, label).inc()
        if label == "change_applied":
            self.changes_applied.labels("approval" if step == "approve" else step).inc()

    def job_run(self, job: str, outcome: str) -> None:
        """A claimed run of ``job`` ended with ``outcome`` (one of :data:`JOB_OUTCOMES`)."""
        self.job_runs.labels(job, outcome).inc()

    def job_lag(self, job: str, seconds: float) -> None:
        """A scheduler tick of ``job`` started ``seconds`` after it was due."""
        self.job_lag_seconds.labels(job).observe(max(0.0, seconds))

    # -- the billing webhook sender --------------------------------------------------------

    def webhook_delivered(self, outcome: str, seconds: float) -> None:
        """One webhook delivery attempt ended with ``outcome`` after ``seconds``."""
        self.webhook_deliveries.labels(outcome).inc()
        self.webhook_seconds.observe(seconds)

    def webhook_backlog(self, count: int) -> None:
        """``count`` outbox events are waiting to be delivered."""
        self.webhook_backlog_gauge.set(count)

    # -- the HTTP server -------------------------------------------------------------------

    def connection_closed(self, reason: str) -> None:
        """The server closed a connection for ``reason`` (a :data:`CONNECTION_CLOSE_REASONS`)."""
        self.http_connections_closed.labels(reason).inc()

    # -- exposition ------------------------------------------------------------------------

    def exposition(self, accept: str | None) -> tuple[bytes, str]:
        """The body and content type of ``GET /metrics`` for an ``Accept`` header (Prometheus
        text, or OpenMetrics when asked for)."""
        registry: CollectorRegistry = self.registry
        if self._multiprocess_dir is not None:
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=self._multiprocess_dir)  # type: ignore[no-untyped-call]
        encoder, content_type = choose_encoder(accept or "")
        return encoder(registry), content_type

    def process_exiting(self) -> None:
        """Drop this process's live gauges from the multiprocess folder (no-op otherwise)."""
        if self._multiprocess_dir is not None:
            mark_process_dead(os.getpid(), self._multiprocess_dir)  # type: ignore[no-untyped-call]


class Stopwatch:
    """Monotonic seconds since it was made."""

    __slots__ = ("_start",)

    def __init__(self, start: float | None = None) -> None:
        self._start = time.perf_counter() if start is None else start

    @property
    def start(self) -> float:
        return self._start

    def seconds(self) -> float:
        return time.perf_counter() - self._start


def series_names(exposition: str) -> set[str]:
    """The metric names present in a Prometheus text exposition (for tests and checks)."""
    names: set[str] = set()
    for line in exposition.splitlines():
        if line and not line.startswith("#"):
            names.add(line.split("{", 1)[0].split(" ", 1)[0])
    return names


def required_series() -> Iterable[str]:
    """The series ``/metrics`` must show once a replica has handled traffic and run jobs."""
    return (
        "seatbot_slack_requests_total",
        "seatbot_slack_ack_seconds_count",
        "seatbot_slack_full_answer_seconds_count",
        "seatbot_platform_requests_total",
        "seatbot_platform_request_seconds_count",
        "seatbot_platform_listings_total",
        "seatbot_seat_change_outcomes_total",
        "seatbot_changes_applied_total",
        "seatbot_job_runs_total",
        "seatbot_scheduler_job_lag_seconds_count",
        "seatbot_webhook_deliveries_total",
        "seatbot_webhook_backlog",
    )
