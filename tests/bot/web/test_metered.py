"""bot.web.metered: billing's use cases as `seatbot serve` composes them, each answer counted
once, arguments and answers passed through unchanged (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from bot.web.metered import MeteredJobClaims
from bot.web.metrics import Metrics

DUE = datetime(2026, 11, 29, 9, 0, tzinfo=UTC)


def job_runs(metrics: Metrics) -> dict[str, float]:
    body, _ = metrics.exposition(None)
    prefix = 'seatbot_job_runs_total{job="digest",outcome="'
    return {
        line[len(prefix) :].split('"')[0]: float(line.rsplit(" ", 1)[1])
        for line in body.decode().splitlines()
        if line.startswith(prefix)
    }


def test_each_claimed_run_is_counted_once_by_how_it_ended(
    session_factory: sessionmaker[Session],
) -> None:
    metrics = Metrics()
    claims = MeteredJobClaims(session_factory, metrics=metrics, stale_after=timedelta(minutes=5))
    first = claims.claim("digest", "acme/1", scheduled_for=DUE, at=DUE)
    second = claims.claim("digest", "acme/2", scheduled_for=DUE, at=DUE)
    assert first is not None
    assert second is not None
    assert claims.succeed(first, at=DUE, parts=["1.000001"])
    assert not claims.succeed(first, at=DUE)  # no longer held: not this process's run
    assert claims.fail(second, at=DUE, error="Slack said no")
    skipped = {"scheduled_for": DUE, "at": DUE + timedelta(days=2), "reason": "too late"}
    assert claims.skip("digest", "acme/3", **skipped)
    assert not claims.skip("digest", "acme/3", **skipped)  # recorded by another already
    assert job_runs(metrics) == {"succeeded": 1.0, "failed": 1.0, "skipped": 1.0}
    stored = claims.find("digest", "acme/1")
    assert stored is not None
    assert stored.detail == {"parts": ["1.000001"]}
