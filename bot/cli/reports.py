"""``seatbot reconcile`` and ``seatbot digest``: the reports, now, from the command line.

Both read the platforms (one account, or every one, with the platform directory's bounded
concurrency), store the run, and print a table or one JSON document; with ``--post`` they post
to each account's own Slack channel through the same claim the scheduler uses, so a second run
(or a second process) on the same day says "already posted", and ``--force`` updates the posted
message instead. The exit status is 0 when every product was read and everything asked for was
posted, 1 otherwise (the report is still printed in full).

What they print is :mod:`bot.cli.report_documents`.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from billing.errors import ConfigurationError
from billing.periods import local_date, zone
from bot.cli import shell
from bot.cli.commands import add_command
from bot.cli.errors import EXIT_FAILURE, fail_bad_input, say
from bot.cli.output import AsJson, output_console
from bot.cli.report_documents import (
    digest_document,
    reconciliation_document,
    reconciliation_table,
    report_document,
)

if TYPE_CHECKING:
    from billing.jobs import PostOutcome
    from billing.reports import AccountReconciliation, DigestFacts
    from bot.runtime.jobs import ReportJobs
    from bot.runtime.platform_directory import PlatformDirectory
    from bot.runtime.reports import ReportsRuntime
    from bot.runtime.settings import Settings

#: Show a progress bar (on stderr) when reconciling at least this many accounts.
PROGRESS_FROM = 20


def register(app: typer.Typer) -> None:
    """Add ``seatbot reconcile`` and ``seatbot digest``."""
    add_command(app, "reconcile", reconcile)
    add_command(app, "digest", digest)


# -- running ------------------------------------------------------------------------------------


def jobs_clock() -> datetime:
    """The current instant, as the report jobs see it."""
    from bot.runtime.reports import clock_setting

    return clock_setting()()


T = TypeVar("T")


def _settings(post: bool) -> Settings:
    """Every setting when posting (Slack's, which must be there: checked before anything is
    reconciled or claimed); otherwise only the database, so that an unrelated bad variable does
    not stop a report."""
    from bot.runtime.settings import Settings, load_settings, oauth_enabled

    if not post:
        return Settings.model_construct(database_url=shell.database_url())
    settings = load_settings()
    if settings.slack_bot_token is None and not oauth_enabled(settings):
        raise ConfigurationError(
            "--post needs Slack: set SLACK_BOT_TOKEN (one workspace), or SLACK_CLIENT_ID and "
            "SLACK_CLIENT_SECRET (the app installed in each workspace)"
        )
    return settings


def _runtime(settings: Settings, sessions: Any, directory: PlatformDirectory) -> ReportsRuntime:
    from bot.runtime.installations import SqlInstallationStore
    from bot.runtime.reports import build_reports, clock_setting
    from bot.runtime.secrets import cipher_for
    from bot.runtime.settings import oauth_enabled

    installations = None
    if settings.slack_bot_token is None and oauth_enabled(settings):
        # Installed into many workspaces: each account's bot token is the one stored for it.
        installations = SqlInstallationStore(
            sessions, cipher_for(settings), client_id=str(settings.slack_client_id)
        )
    # SEATBOT_CLOCK_START/_SPEED (tests and demos) move this clock too.
    return build_reports(
        settings,
        sessions,
        directory,
        clock=clock_setting(),
        source="cli",
        installation_store=installations,
    )


def _in_runtime(post: bool, work: Callable[[ReportsRuntime], Awaitable[T]]) -> T:
    """Run ``work`` with the reports' runtime (see :func:`_settings`), closed after it."""
    from bot.runtime.platform_directory import PlatformDirectory

    settings = _settings(post)
    with shell.sessions() as sessions:
        directory = PlatformDirectory(sessions)

        async def run() -> T:
            runtime = _runtime(settings, sessions, directory)
            try:
                return await work(runtime)
            finally:
                await runtime.aclose()
                await directory.aclose()

        return asyncio.run(run())


def _unknown_products(runs: Sequence[AccountReconciliation]) -> list[str]:
    return [
        f"{run.account.name} {p.product.value} ({p.reason})"
        for run in runs
        for p in run.products
        if p.users is None
    ]


def _progress() -> Progress:
    return Progress(
        TextColumn("reconciling"),
        BarColumn(),
        MofNCompleteColumn(),
        console=output_console(stderr=True),
        transient=True,
    )


async def _reconcile(
    jobs: ReportJobs, account: str | None, *, quiet: bool, share: str | None = None
) -> list[AccountReconciliation]:
    bar: Progress | None = None
    task: Any = None

    def progress(done: int, total: int) -> None:
        nonlocal bar, task
        if quiet or total < PROGRESS_FROM or not sys.stderr.isatty():
            return
        if bar is None:
            bar = _progress()
            bar.start()
            task = bar.add_task("reconciling", total=total)
        bar.update(task, completed=done)

    try:
        return await jobs.reconcile(account, share=share, on_progress=progress)
    finally:
        if bar is not None:
            bar.stop()


def reconcile(
    account: Annotated[
        str | None, typer.Argument(help="One account's name (default: every account).")
    ] = None,
    as_json: AsJson = False,
    post: Annotated[
        bool, typer.Option("--post", help="Post each account's report to its Slack channel.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="With --post: update today's posted report.")
    ] = False,
    share: Annotated[
        str | None,
        typer.Option(
            "--share",
            metavar="NAME",
            help="Split the accounts with every process run with the same NAME (e.g. the "
            "date): each account is claimed in the database and reconciled by one of them.",
        ),
    ] = None,
) -> None:
    """Reconcile seats billed with the users on each platform now, and store the run.

    A platform that cannot be read is reported as unknown with its reason (never as zero
    users); the exit status is then 1, and the report is still printed in full. With
    ``--share``, this process reports the accounts it reconciled.
    """

    if force and not post:
        raise fail_bad_input("--force only goes with --post")
    if share is not None:
        from billing.jobs import share_name_problem

        problem = share_name_problem(share)
        if problem is not None:
            raise fail_bad_input(f"--share: {problem}")

    async def run(
        runtime: ReportsRuntime,
    ) -> tuple[list[AccountReconciliation], list[PostOutcome]]:
        runs = await _reconcile(runtime.jobs, account, quiet=as_json, share=share)
        outcomes = []
        if post:
            for found in runs:
                outcomes.append(await runtime.jobs.post_reconciliation(found, force=force))
        return runs, outcomes

    runs, outcomes = _in_runtime(post, run)
    if share is not None:
        typer.echo(
            f"--share {share}: {len(runs)} account(s) reconciled by this process; the others "
            "were claimed by another process, or were done already.",
            err=True,
        )
    if as_json:
        documents = [reconciliation_document(found) for found in runs]
        _echo_json(runs[0].at if runs else None, documents, outcomes if post else None)
    else:
        output_console(min_width=140).print(reconciliation_table(runs))
    _finish(runs, outcomes, to_stderr=as_json)


def _echo_json(
    at: datetime | None, documents: list[dict[str, Any]], posted: Sequence[PostOutcome] | None
) -> None:
    """The command's one JSON document, made ``at`` its first report (now, with none)."""
    shell.echo_json(report_document(at or jobs_clock(), documents, posted))


def _finish(
    runs: Sequence[AccountReconciliation], outcomes: Sequence[PostOutcome], *, to_stderr: bool
) -> None:
    for outcome in outcomes:
        line = f"{outcome.account}: {outcome.detail}"
        if outcome.ok and not to_stderr:
            typer.echo(line)
        elif outcome.ok:
            typer.echo(line, err=True)
        else:
            say(line)
    unknown = _unknown_products(runs)
    if unknown:
        count = len(unknown)
        say(
            f"{count} product{'s' if count != 1 else ''} could not be read (unknown, not zero): "
            + "; ".join(unknown[:5])
            + (f"; …and {count - 5} more" if count > 5 else "")
        )
    if unknown or any(not o.ok for o in outcomes):
        raise typer.Exit(EXIT_FAILURE)


def digest(
    account: Annotated[
        str | None,
        typer.Argument(help="One account's name (default: every account with a channel)."),
    ] = None,
    as_json: AsJson = False,
    post: Annotated[
        bool,
        typer.Option("--post", help="Post today's digest to the account's Slack channel."),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="With --post: update today's posted digest.")
    ] = False,
    chart: Annotated[
        Path | None,
        typer.Option(
            "--chart",
            help="Write the 30-day trend chart (PNG) here; needs 7 days of runs and ACCOUNT.",
            dir_okay=False,
        ),
    ] = None,
) -> None:
    """The daily seat-usage digest, now: read the platforms and show what it says (a preview:
    no run is stored).

    With --post, each account is reconciled (the run stored) and its digest for its local day is
    posted once, through the same claim the scheduler uses; run again, it says "already posted"
    (--force updates the message).
    """

    if force and not post:
        raise fail_bad_input("--force only goes with --post")
    if chart is not None and account is None:
        raise fail_bad_input("--chart needs an ACCOUNT")

    async def run(runtime: ReportsRuntime) -> tuple[list[DigestFacts], list[PostOutcome]]:
        jobs = runtime.jobs
        targets = await asyncio.to_thread(jobs.reports.targets, account, jobs.now())
        if account is None:
            targets = [t for t in targets if t.account.channel_id is not None]
        facts: list[DigestFacts] = []
        outcomes: list[PostOutcome] = []
        for target in targets:
            one = target.account
            if post:
                now = jobs.now()
                outcome = await jobs.post_digest(
                    one, local_date(now, zone(one.timezone)), force=force
                )
                outcomes.append(outcome)
                if outcome.status in ("posted", "updated"):
                    facts.append(await asyncio.to_thread(jobs.reports.digest, one.id, jobs.now()))
                    continue
            # A preview (or a post that did not happen) reads the platforms and stores nothing.
            facts.append(await jobs.preview_digest(target))
        return facts, outcomes

    facts, outcomes = _in_runtime(post, run)
    if as_json:
        documents = [digest_document(f) for f in facts]
        _echo_json(facts[0].at if facts else None, documents, outcomes if post else None)
    else:
        for found in facts:
            _print_digest(found)
    chart_problem = _write_chart(chart, facts) if chart is not None else None
    if chart_problem is not None:
        say(chart_problem)
    _finish([f.run for f in facts], outcomes, to_stderr=as_json)
    if chart_problem is not None:
        raise typer.Exit(EXIT_FAILURE)


def _print_digest(facts: DigestFacts, write: Callable[[str], None] = typer.echo) -> None:
    from bot.offline.render import render_message
    from handlers.views.digest import details_messages, digest_messages

    where = zone(facts.account.timezone)
    for message in digest_messages(facts, where):
        payload = {"text": message.text, "blocks": [b.to_dict() for b in message.blocks]}
        write("\n".join(render_message(payload)))
    write("  ── in the thread ──")
    for message in details_messages(facts.run, where):
        payload = {"text": message.text, "blocks": [b.to_dict() for b in message.blocks]}
        write("\n".join("  " + line for line in render_message(payload)))


def _write_chart(path: Path, facts: Sequence[DigestFacts]) -> str | None:
    """Write the chart of the one account's digest; a sentence when it cannot."""
    from billing.reports import MIN_CHART_DAYS
    from bot.runtime.trend_chart import render_trend_png

    if not facts:
        return "no chart written: no digest was made"
    found = facts[0]
    if not found.has_chart:
        return (
            f"no chart written: {found.account.name} has runs on {found.trend_days} day(s); "
            f"the chart needs {MIN_CHART_DAYS}"
        )
    png = render_trend_png(
        found.trend, f"{found.account.display_name}: seats vs users, last 30 days"
    )
    try:
        path.write_bytes(png)
    except OSError as error:
        return f"cannot write {path}: {error.strerror or type(error).__name__}"
    say(f"chart written to {path} ({len(png):,} bytes, {found.trend_days} days of runs)")
    return None
