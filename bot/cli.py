"""The ``kpibot`` command and its subcommands."""

from __future__ import annotations

import asyncio
import logging
import tempfile
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import click

from bot.cli_context import CliContext, pass_context
from bot.config import load_settings
from bot.errors import KpibotError
from bot.events_command import events_import
from bot.export_command import export_group
from bot.import_command import import_group
from bot.logs import configure_logging
from bot.stats_command import stats
from bot.telegram.cli import console, rep_invite
from storage import inbox, migrate
from storage.db import session_factory, session_scope

logger = logging.getLogger(__name__)


class _Cli(click.Group):
    """The command group; kpibot's own errors become one line and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        """Run the subcommand, turning a KpibotError into a one-line message."""
        try:
            return super().invoke(ctx)
        except KpibotError as exc:
            raise click.ClickException(str(exc)) from None


def _parse_date(_ctx: click.Context, _param: click.Parameter, value: str | None) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date; write it as YYYY-MM-DD") from None


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--database-url",
    envvar="DATABASE_URL",
    help="Database URL (default: sqlite:///kpibot.db in this folder).",
)
@click.pass_context
def cli(ctx: click.Context, database_url: str | None) -> None:
    """kpibot: the KPI system of a WhatsApp sales team, delivered in Telegram."""
    overrides: dict[str, object] = {}
    if database_url:
        overrides["database_url"] = database_url
    settings = load_settings(**overrides)
    configure_logging(settings.kpibot_log_level)
    ctx.obj = CliContext(settings)


@cli.command()
@click.option("--host", help="Address to listen on (KPIBOT_HTTP_HOST).")
@click.option("--port", type=int, help="Port to listen on (KPIBOT_HTTP_PORT).")
@click.option(
    "--insecure-skip-signature",
    is_flag=True,
    help="Accept webhooks without checking X-Hub-Signature-256. Local development only.",
)
@pass_context
def serve(
    obj: CliContext, host: str | None, port: int | None, insecure_skip_signature: bool
) -> None:
    """Run the WhatsApp webhook server (upgrades the database schema first)."""
    from bot.app import serve as run

    settings = obj.settings
    if host or port is not None:
        settings = settings.model_copy(
            update={
                "kpibot_http_host": host or settings.kpibot_http_host,
                "kpibot_http_port": port if port is not None else settings.kpibot_http_port,
            }
        )
    asyncio.run(run(settings, insecure=insecure_skip_signature))


@cli.group()
def db() -> None:
    """Database schema commands."""


@db.command("upgrade")
@pass_context
def db_upgrade(obj: CliContext) -> None:
    """Bring the database to the newest schema, keeping its data."""
    before, after = migrate.upgrade(obj.engine(require_current=False))
    if before == after:
        click.echo(f"The database is already at the newest schema ({after}).")
    else:
        click.echo(f"Database upgraded from {before or 'empty'} to {after}.")


@db.command("current")
@pass_context
def db_current(obj: CliContext) -> None:
    """Show the schema revision of the database and the newest one kpibot has."""
    current = migrate.current_revision(obj.engine(require_current=False))
    head = migrate.head_revision()
    click.echo(f"database: {current or 'empty'}; newest: {head}")
    if current != head:
        click.echo("Run `kpibot db upgrade` to bring it up to date.")


@cli.command()
@click.option("--all", "everything", is_flag=True, help="Also re-run bodies already processed.")
@click.option("--list", "list_only", is_flag=True, help="Only list failed bodies and why.")
@pass_context
def replay(obj: CliContext, everything: bool, list_only: bool) -> None:
    """Normalise failed inbox bodies again (after a fix), or all of them with --all."""
    from bot.normaliser import normalise_all

    engine = obj.engine()
    if list_only:
        rows = inbox.failures(engine)
        if not rows:
            click.echo("No failed webhook bodies.")
        for inbox_id, reason in rows:
            click.echo(f"#{inbox_id}: {reason}")
        return

    queued = inbox.reset_for_replay(engine, include_processed=everything)
    result = normalise_all(engine)
    click.echo(
        f"Replayed {queued} bodies: {result.processed} processed, {result.failed} failed "
        f"({result.stats.messages_new} new messages, {result.stats.statuses} statuses)."
    )
    if result.failed:
        click.echo("See why with `kpibot replay --list`.")


@cli.group()
def rep() -> None:
    """Register and list reps."""


@rep.command("add")
@click.argument("name")
@click.option(
    "--phone-number-id",
    "phone_number_ids",
    multiple=True,
    required=True,
    help="Meta's phone number id of a WhatsApp number the rep owns (repeatable).",
)
@click.option("--display-number", help="The number as dialled, e.g. +8613812345678.")
@click.option("--team", help="The rep's team (created if new).")
@click.option("--role", type=click.Choice(["rep", "manager"]), default="rep", show_default=True)
@click.option("--hired", callback=_parse_date, help="Hire date, YYYY-MM-DD.")
@click.option("--senior", is_flag=True, help="Score with the senior (result-heavy) profile.")
@pass_context
def rep_add(
    obj: CliContext,
    name: str,
    phone_number_ids: tuple[str, ...],
    display_number: str | None,
    team: str | None,
    role: str,
    hired: date | None,
    senior: bool,
) -> None:
    """Register rep NAME and the WhatsApp business numbers they own."""
    from storage.reps import add_rep

    with session_scope(session_factory(obj.engine())) as session:
        new_rep, attributed = add_rep(
            session,
            name,
            phone_number_ids,
            display_number=display_number,
            team=team,
            role=role,
            hire_date=hired,
            seniority="senior" if senior else "standard",
        )
        rep_name = new_rep.name
    click.echo(f"Added {role} {rep_name} with {len(phone_number_ids)} number(s).")
    if attributed:
        click.echo(f"{attributed} messages already received on those numbers are now theirs.")


@rep.command("list")
@pass_context
def rep_list(obj: CliContext) -> None:
    """List the reps, their numbers, and numbers no rep owns yet."""
    from storage.reps import list_reps, unclaimed_numbers

    with session_scope(session_factory(obj.engine())) as session:
        reps = list_reps(session)
        unclaimed = unclaimed_numbers(session)

    if not reps:
        click.echo("No reps yet. Add one with `kpibot rep add NAME --phone-number-id ID`.")
    for summary in reps:
        hired = f", hired {summary.hire_date.isoformat()}" if summary.hire_date else ""
        team = f", team {summary.team}" if summary.team else ""
        click.echo(f"{summary.name} ({summary.role}{team}{hired}): {summary.messages} messages")
        for number in summary.numbers:
            click.echo(f"    {number}")
    for phone_number_id, display, count in unclaimed:
        shown = f" (+{display})" if display else ""
        click.echo(
            f"Unclaimed number {phone_number_id}{shown}: {count} messages waiting for "
            "`kpibot rep add NAME --phone-number-id " + phone_number_id + "`"
        )


@cli.command()
@click.option(
    "--reps",
    type=click.IntRange(1, 8),
    default=4,
    show_default=True,
    help="Reps; they play the chatter, broadcaster, closer and slow responder in turn.",
)
@click.option(
    "--days", type=click.IntRange(1, 60), default=14, show_default=True, help="Simulated days."
)
@click.option(
    "--customers",
    type=click.IntRange(3, 200),
    default=25,
    show_default=True,
    help="Customers of a typical rep.",
)
@click.option("--seed", type=int, default=7, show_default=True, help="Same seed, same team.")
@click.option(
    "--lang",
    type=click.Choice(["en", "zh"]),
    default="en",
    show_default=True,
    help="The team's language in Telegram.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("kpibot-demo"),
    show_default=True,
    help="Folder for the review's charts (PNG).",
)
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="SQLite file to create (default: a new one in a temporary folder).",
)
@click.option(
    "--start",
    "start_day",
    callback=_parse_date,
    help="First simulated day, YYYY-MM-DD (default: the stretch ends now).",
)
@pass_context
def demo(
    obj: CliContext,
    reps: int,
    days: int,
    customers: int,
    seed: int,
    lang: str,
    out_dir: Path,
    db_path: Path | None,
    start_day: date | None,
) -> None:
    """Run the whole system on a simulated team: webhooks, KPIs, the bot and its pushes."""
    from bot.demo import TEAM_SETTINGS, DemoOptions, run_demo

    if db_path is None:
        db_path = Path(tempfile.mkdtemp(prefix="kpibot-demo-")) / "kpibot.db"
    elif db_path.exists():
        raise click.BadParameter(
            f"{db_path} exists; the demo builds a fresh store", param_hint="--db"
        )
    start = None
    if start_day is not None:
        start = datetime.combine(start_day, time(0), tzinfo=TEAM_SETTINGS.timezone)
    options = DemoOptions(
        reps=reps, days=days, customers=customers, seed=seed, db_path=db_path,
        out_dir=out_dir, lang=lang, settings=obj.settings, start=start,
    )  # fmt: skip
    asyncio.run(run_demo(options))


cli.add_command(import_group, name="import")
import_group.add_command(events_import, name="events")
rep.add_command(rep_invite, name="invite")
cli.add_command(stats)
cli.add_command(export_group)
cli.add_command(console)


def main() -> None:
    """Entry point of the ``kpibot`` console command."""
    cli(prog_name="kpibot")
