"""``kpibot demo`` end to end: a small simulated team through the webhook server, the bot's
handlers, the scheduled jobs and the sender, and what each person was sent."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from matplotlib import image

from bot import cli as cli_module
from bot.demo import TEAM_SETTINGS
from bot.metrics import RepKpis, compute_team
from bot.metrics.periods import PeriodKind, period_containing
from bot.simulate import BROADCASTER, CHATTER, CLOSER, TrafficSimulator
from storage.db import create_db_engine
from tests.helpers import kept_logging

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ARGS = ["--reps", "4", "--days", "9", "--customers", "8", "--seed", "7", "--start", "2026-11-02"]


@dataclass(frozen=True)
class DemoRun:
    """One demo run: its output, its store and its charts folder."""

    output: str
    exit_code: int
    db: Path
    charts: Path


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """One small demo (four reps, nine days from Monday 2026-11-02) through the CLI."""
    folder = tmp_path_factory.mktemp("demo")
    db, charts = folder / "demo.db", folder / "charts"
    with kept_logging():
        result = CliRunner().invoke(
            cli_module.cli, ["demo", *ARGS, "--out", str(charts), "--db", str(db)]
        )
    return DemoRun(result.output, result.exit_code, db, charts)


def names() -> dict[str, str]:
    """The rep's name per persona, as the demo's simulator makes them."""
    return {rep.persona: rep.name for rep in TrafficSimulator(reps=4).team()}


def section(output: str, heading: str) -> str:
    """The text under ``── heading ──`` up to the next heading."""
    start = output.index(f"── {heading} ──")
    rest = output[start + 1 :]
    following = rest.find("\n── ")
    return rest if following < 0 else rest[:following]


def month_kpis(run: DemoRun) -> dict[str, RepKpis]:
    """Every rep's KPIs for November 2026 as of the end of the run, from the demo's store."""
    engine = create_db_engine(f"sqlite:///{run.db}")
    try:
        at = datetime(2026, 11, 11, 2, 0, tzinfo=TEAM_SETTINGS.timezone)
        month = period_containing(PeriodKind.MONTH, at, TEAM_SETTINGS.timezone)
        return {k.rep: k for k in compute_team(engine, month, at, TEAM_SETTINGS)}
    finally:
        engine.dispose()


def test_the_demo_runs_through(demo: DemoRun) -> None:
    assert demo.exit_code == 0, demo.output
    assert re.search(r"(\d+) of \1 signed webhook deliveries acknowledged", demo.output)
    assert "0 failed" in demo.output
    assert "console --as" in demo.output
    assert "Connect a WhatsApp number" in demo.output


def test_each_person_gets_their_messages(demo: DemoRun) -> None:
    reps = names()
    for name in reps.values():
        mine = section(demo.output, f"To {name} (rep)")
        assert "▸ /mystats" in mine
        assert f"📊 {name}" in mine
    assert "Nudge: a" in section(demo.output, f"To {reps['slow']} (rep)")
    reminded = [
        name
        for name in reps.values()
        if "🏷 You tagged" in section(demo.output, f"To {name} (rep)")
    ]
    assert reminded

    team_chat = section(demo.output, "To the team chat")
    assert "🏆 Leaderboard" in team_chat
    assert "Praise:" in team_chat
    assert f"{reps[CLOSER]} just closed a deal" in team_chat

    manager = section(demo.output, "To Maria (manager)")
    assert "Friday review" in manager
    assert "Weekly review" in manager
    assert "Coaching alert" in manager
    assert "🧭 Coaching:" in manager
    assert "Red line" in manager
    assert reps[BROADCASTER] in manager


def test_the_personas_numbers_come_out_of_the_pipeline(demo: DemoRun) -> None:
    reps = names()
    kpis = month_kpis(demo)
    chatter, broadcaster, closer = kpis[reps[CHATTER]], kpis[reps[BROADCASTER]], kpis[reps[CLOSER]]
    assert chatter.reply_rate is not None
    assert broadcaster.reply_rate is not None
    assert chatter.reply_rate > broadcaster.reply_rate

    assert closer.conversion_rate is not None
    assert closer.conversion_rate > 0
    for other in kpis.values():
        if other.rep != closer.rep:
            assert (other.conversion_rate or 0.0) < closer.conversion_rate

    assert broadcaster.score == 0
    assert broadcaster.red_line is not None
    assert "quality flag" in broadcaster.red_line
    assert all(k.score and k.score > 0 for k in kpis.values() if k.rep != broadcaster.rep)
    # The same red line is what the broadcaster reads in /mystats.
    assert "Score set to 0: quality flag" in section(demo.output, f"To {reps[BROADCASTER]} (rep)")


def test_the_reviews_charts_are_png_images(demo: DemoRun) -> None:
    files = sorted(demo.charts.glob("*.png"))
    assert files
    assert any(str(path) in demo.output for path in files)
    for path in files:
        assert path.read_bytes().startswith(PNG_SIGNATURE)
        pixels = image.imread(path)
        assert pixels.ndim == 3
        assert pixels.shape[0] > 100
        assert pixels.shape[1] > 100


def test_the_demo_refuses_an_existing_store(tmp_path: Path) -> None:
    existing = tmp_path / "old.db"
    existing.write_bytes(b"")
    with kept_logging():
        result = CliRunner().invoke(cli_module.cli, ["demo", "--db", str(existing)])
    assert result.exit_code == 2
    assert "builds a fresh store" in result.output
