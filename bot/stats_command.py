"""``kpibot stats``: every rep's KPIs for a day, week or month, as a table or JSON."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from zoneinfo import ZoneInfo

import click

from bot.metrics.engine import RepKpis, compute, compute_team
from bot.metrics.settings import TeamSettings, load_team_settings
from storage.types import utcnow

logger = logging.getLogger(__name__)

_COLUMNS = (
    ("rep", 12),
    ("profile", 9),
    ("reach", 6),
    ("sent", 6),
    ("reply", 6),
    ("active", 7),
    ("resp h", 7),
    ("quote", 6),
    ("deep", 5),
    ("tags", 6),
    ("conv", 6),
    ("deals", 12),
    ("score", 6),
)


def parse_at(value: str | None, zone: ZoneInfo) -> datetime:
    """Read ``--at``: ISO 8601; a time without a zone is read in the team's zone.

    Args:
        value: the option's text, or None for now.
        zone: the team's zone.

    Returns:
        An aware instant.

    Raises:
        click.BadParameter: the text is not an ISO 8601 date or time.
    """
    if value is None:
        return utcnow()
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date or time; write it as ISO 8601, "
            "e.g. 2025-03-14 or 2025-03-14T18:00+08:00",
            param_hint="--at",
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zone)
    return parsed


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def _row(kpis: RepKpis) -> tuple[str, ...]:
    mean = kpis.response_time.mean_s
    return (
        kpis.rep,
        kpis.profile,
        str(kpis.effective_reach),
        str(kpis.messages_sent),
        _percent(kpis.reply_rate),
        str(kpis.active_customers),
        "-" if mean is None else f"{mean / 3600:.1f}",
        _percent(kpis.quote_rate),
        str(kpis.deep_conversations),
        _percent(kpis.tag_accuracy),
        _percent(kpis.conversion_rate),
        f"{kpis.deals.deal_amount:,.2f}",
        "-" if kpis.score is None else f"{kpis.score:.1f}",
    )


def render_table(results: list[RepKpis], settings: TeamSettings) -> str:
    """The KPIs as a fixed-width table, with red lines listed under it.

    Args:
        results: KPIs per rep.
        settings: the team settings (base currency).

    Returns:
        The table's text.
    """
    if not results:
        return "No reps yet. Add one with `kpibot rep add NAME --phone-number-id ID`."
    period = results[0].period
    lines = [
        f"{period.kind.value} {period.label()} as of "
        f"{results[0].evaluated_at.astimezone(settings.timezone).isoformat(timespec='minutes')}"
        f" (deals in {settings.base_currency})",
        "  ".join(name.ljust(width) for name, width in _COLUMNS),
    ]
    for kpis in results:
        cells = _row(kpis)
        lines.append("  ".join(c.ljust(w) for c, (_, w) in zip(cells, _COLUMNS, strict=True)))
    for kpis in results:
        if kpis.red_line:
            lines.append(f"{kpis.rep}: score 0, red line: {kpis.red_line}")
    return "\n".join(line.rstrip() for line in lines)


@click.command("stats")
@click.option("--rep", "rep_name", help="Only this rep (by name).")
@click.option(
    "--period",
    type=click.Choice(["day", "week", "month"]),
    default="week",
    show_default=True,
    help="The period containing --at.",
)
@click.option("--at", "at_text", help="Evaluation time, ISO 8601 (default now; no zone = team's).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: a list, one object per rep.")
@click.pass_context
def stats(
    ctx: click.Context, rep_name: str | None, period: str, at_text: str | None, as_json: bool
) -> None:
    """Show each rep's KPIs and score for a day, week or month."""
    from bot.cli_context import CliContext

    obj = ctx.find_object(CliContext)
    if obj is None:
        raise click.UsageError("run this as `kpibot stats`")
    settings = load_team_settings(
        obj.settings.kpibot_team_settings, default_timezone=obj.settings.kpibot_timezone
    )
    at = parse_at(at_text, settings.timezone)
    engine = obj.engine()

    if rep_name:
        results = [compute(engine, rep_name, period, at, settings)]
    else:
        results = compute_team(engine, period, at, settings)

    if as_json:
        click.echo(json.dumps([kpis.to_dict() for kpis in results], ensure_ascii=False, indent=2))
    else:
        click.echo(render_table(results, settings))
