"""``kpibot stats``: table and JSON output, and the --at option."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import Engine

from bot.cli import cli
from tests.metrics.builders import Store, at


@pytest.fixture
def kpibot(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> click.Group:
    """The kpibot command group, its store being the test's engine.

    The command gets the test's engine, so no second pool outlives the test.
    """
    monkeypatch.setattr("bot.cli_context.create_db_engine", lambda _url: engine)
    store = Store(engine)
    store.rep("Lily")
    store.rep("Tom")
    store.outbound("c1", at(hours=1), read_after=timedelta(minutes=2))
    store.inbound("c1", at(hours=2), "price?")
    return cli


def run(engine: Engine, group: click.Group, tmp_path: Path, *args: str) -> click.testing.Result:
    url = engine.url.render_as_string(hide_password=False)
    env = {"KPIBOT_TEAM_SETTINGS": str(tmp_path / "kpibot.toml"), "KPIBOT_LOG_LEVEL": "ERROR"}
    return CliRunner().invoke(group, ["--database-url", url, "stats", *args], env=env)


def test_json_has_one_object_per_rep(engine: Engine, kpibot: click.Group, tmp_path: Path) -> None:
    result = run(engine, kpibot, tmp_path, "--at", "2025-03-05T12:00", "--json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    assert [row["rep"] for row in rows] == ["Lily", "Tom"]
    lily = rows[0]
    assert lily["period_start"] == "2025-03-02T16:00:00+00:00"  # Monday 00:00 in Shanghai
    assert lily["effective_reach"] == 1
    assert lily["messages_sent"] == 1
    assert lily["response_time"]["mean_s"] == 24 * 3600  # "price?" never answered
    assert lily["deal_amount"] == "0"
    assert lily["red_line"] is None
    for key in ("profile", "reply_rate", "quote_rate", "tag_accuracy", "margin", "score"):
        assert key in lily


def test_table_for_one_rep(engine: Engine, kpibot: click.Group, tmp_path: Path) -> None:
    result = run(
        engine, kpibot, tmp_path, "--rep", "lily", "--period", "day", "--at", "2025-03-03"
    )
    assert result.exit_code == 0, result.output
    assert "day 2025-03-03" in result.output
    assert "Lily" in result.output
    assert "Tom" not in result.output


def test_bad_at_gets_a_clear_message(engine: Engine, kpibot: click.Group, tmp_path: Path) -> None:
    result = run(engine, kpibot, tmp_path, "--at", "next tuesday")
    assert result.exit_code == 2
    assert "'next tuesday' is not a date or time" in result.output
