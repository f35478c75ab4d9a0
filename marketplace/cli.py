"""The `postpact` command: migrations, demo data, admins, and running the web server."""

from __future__ import annotations

import asyncio
import getpass
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from marketplace.settings import ConfigurationError, Settings, get_settings

T = TypeVar("T")


def _settings() -> Settings:
    try:
        return get_settings()
    except ConfigurationError as exc:
        raise click.ClickException(str(exc)) from exc


def _run(fn: Callable[[], Awaitable[T]]) -> T:
    return asyncio.run(fn())


async def _with_runtime(fn: Callable[[Any], Awaitable[T]]) -> T:
    """Build the runtime, run ``fn(runtime)``, then finish any jobs it queued before the engine closes."""
    from marketplace.jobs import InProcessQueue
    from marketplace.runtime import build_runtime

    runtime = build_runtime(_settings())
    try:
        result = await fn(runtime)
        if isinstance(runtime.queue, InProcessQueue):
            await runtime.queue.drain()
        return result
    finally:
        await runtime.alchemy.get_engine().dispose()


@click.group()
def main() -> None:
    """PostPact: product seeding with micro-influencers, escrowed payments and reliability scores."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)


@main.group()
def db() -> None:
    """Database migrations (Alembic)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION."""
    from marketplace.migrate import upgrade

    settings = _settings()
    if settings.db.is_sqlite:
        settings.storage.var_dir.mkdir(parents=True, exist_ok=True)
    upgrade(settings.db.url, revision)
    click.echo(f"database at {revision}")


@db.command("downgrade")
@click.option("--revision", default="-1", show_default=True)
def db_downgrade(revision: str) -> None:
    """Revert migrations down to REVISION ('base' removes everything)."""
    from marketplace.migrate import downgrade

    downgrade(_settings().db.url, revision)
    click.echo(f"database at {revision}")


@main.command("seed")
@click.option("--if-empty", is_flag=True, help="Only seed when there are no users yet.")
def seed(if_empty: bool) -> None:
    """Load demo brands, creators, an admin and gigs in several states."""
    from marketplace.seed import DEMO_PASSWORD, demo_logins, has_demo_accounts, seed_demo

    logins = _run(lambda: _with_runtime(lambda runtime: seed_demo(runtime, only_if_empty=if_empty)))
    if logins is None:
        if not _run(lambda: _with_runtime(has_demo_accounts)):
            click.echo("database already has users; demo data not loaded")
            return
        click.echo("demo data is already loaded.")
        logins = demo_logins()
    click.echo(f"Demo logins (every one uses the password {DEMO_PASSWORD}):")
    for role, email in logins:
        click.echo(f"  {role:<28} {email}")


@main.command("create-admin")
@click.argument("email")
@click.option("--name", default="PostPact admin")
@click.option(
    "--password",
    envvar="POSTPACT_ADMIN_PASSWORD",
    default=None,
    help="Read from POSTPACT_ADMIN_PASSWORD, or asked for interactively.",
)
def create_admin(email: str, name: str, password: str | None) -> None:
    """Create an admin account (admins never come from sign-up)."""
    from marketplace.accounts.services import AccountService
    from marketplace.db import session_scope
    from marketplace.errors import InvalidInput

    if password is None:
        password = getpass.getpass("Password for the new admin: ")
        if password != getpass.getpass("Again: "):
            raise click.ClickException("the passwords don't match")

    async def go(runtime: Any) -> None:
        async with session_scope(runtime.session_maker) as session:
            await AccountService(session, runtime).create_admin(email, password, name)

    try:
        _run(lambda: _with_runtime(go))
    except InvalidInput as exc:
        raise click.ClickException("; ".join(exc.errors.values())) from exc
    click.echo(f"admin {email} created")


@main.group()
def reputation() -> None:
    """Reliability scores: rebuild them from the outcome log."""


@reputation.command("recompute")
@click.option("--batch-size", default=None, type=click.IntRange(min=1),
              help="Fold in Python, BATCH_SIZE subjects per transaction, instead of the set-based rebuild "
                   "(slower; it never holds the score table for the whole run).")
def reputation_recompute(batch_size: int | None) -> None:
    """Rebuild every reliability score from the event log: set-based in SQL, or in batches with --batch-size."""

    async def go(runtime: Any) -> Any:
        if batch_size is None:
            from reputation.rebuild import rebuild_scores

            return await rebuild_scores(runtime.session_maker, now=runtime.clock.now())
        from reputation.recompute import recompute_all

        return await recompute_all(
            runtime.session_maker,
            batch_size,
            now=runtime.clock.now(),
            progress=lambda subjects, events: click.echo(f"  {subjects:,} subjects, {events:,} events", err=True),
        )

    report = _run(lambda: _with_runtime(go))
    if batch_size is None:
        click.echo(
            f"rebuilt {report.subjects:,} scores from {report.events:,} events in one pass, "
            f"{report.seconds:.1f} s; {report.changed:,} rows differed and were rewritten"
        )
        return
    click.echo(
        f"recomputed {report.subjects:,} scores from {report.events:,} events "
        f"in {report.batches:,} batches, {report.seconds:.1f} s; {report.changed:,} rows differed and were rewritten"
    )


@main.command("run")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--reload", is_flag=True)
@click.option("--workers", default=None, type=int,
              help="Web processes. Default: one per CPU core in production with REDIS_URL, else 1.")
@click.option("--server", type=click.Choice(["granian", "uvicorn"]), default=None,
              help="Default: granian in production (bench/web.py --scaling measures both), uvicorn otherwise.")
def run(host: str, port: int, reload: bool, workers: int | None, server: str | None) -> None:
    """Serve the web app."""
    import os

    settings = _settings()
    if not settings.app.is_production and not os.environ.get("PUBLIC_URL"):
        # Links in emails must reach this server: in development the public address is the one being served
        # (the web processes read their settings from the environment, so they see it too).
        shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - a comparison, not a bind
        os.environ["PUBLIC_URL"] = f"http://{shown}:{port}"
        get_settings.cache_clear()
        settings = _settings()
    if workers is None:
        shared = settings.app.is_production and not settings.runs_tasks_in_process and not reload
        workers = (os.cpu_count() or 1) if shared else 1
    if settings.runs_tasks_in_process and workers > 1:
        raise click.ClickException(
            "more than one web worker needs REDIS_URL (jobs, sessions and rate limits must be shared)"
        )
    server = server or ("granian" if settings.app.is_production and not reload else "uvicorn")
    click.echo(
        f"PostPact on http://{host}:{port}  ({settings.app.env}; {server}, {workers} worker(s); "
        f"database {settings.db.url.split(':')[0]}; "
        f"{'payments simulated' if not settings.stripe.enabled else 'Stripe'}; "
        f"{'jobs in-process' if settings.runs_tasks_in_process else 'jobs on Celery/Redis'})"
    )
    if server == "granian":
        from granian import Granian
        from granian.constants import Interfaces, Loops

        # Forwarded headers are the app's job (TRUSTED_PROXIES), as with uvicorn's defaults.
        Granian("marketplace.app:create_app", address=host, port=port, interface=Interfaces.ASGI, workers=workers,
                factory=True, loop=Loops.uvloop, log_access=False, reload=reload,
                respawn_failed_workers=True).serve()
        return
    import uvicorn

    uvicorn.run(
        "marketplace.app:create_app",
        factory=True,
        host=host,
        port=port,
        reload=reload,
        workers=workers,
        proxy_headers=True,
        log_level="info",
    )


@main.command("reconcile")
@click.option("--collaboration", "collaborations", multiple=True, type=click.UUID,
              help="Check only this collaboration (repeatable).")
@click.option("--all", "everything", is_flag=True, help="Also check deals settled more than 35 days ago.")
def reconcile_command(collaborations: tuple[Any, ...], everything: bool) -> None:
    """Compare the ledger with the payment provider, store the run, print every mismatch (exit 1 if any)."""
    from escrow.reconcile import LABELS, reconcile
    from marketplace.payments.gateway import provider_for

    async def go(runtime: Any) -> Any:
        provider = provider_for(runtime.settings, runtime.session_maker, runtime.resources)
        return await reconcile(runtime.session_maker, provider, now=runtime.clock.now, triggered_by="command",
                               collaboration_ids=list(collaborations) or None, everything=everything)

    result = _run(lambda: _with_runtime(go))
    click.echo(f"reconciliation {result.run_id}: {result.checked} escrow(s) checked, "
               f"{len(result.mismatches)} mismatch(es), {result.errors} unreadable")
    for m in result.mismatches:
        click.echo(f"  [{LABELS[m.kind]}] collaboration {m.collaboration_id} {m.provider_ref or ''}: {m.detail}")
    if result.mismatches:
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
