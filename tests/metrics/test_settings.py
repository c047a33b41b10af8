"""Team settings: defaults, parsing and refusal of bad values."""

from __future__ import annotations

from datetime import date, time
from decimal import Decimal
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.metrics.settings import DEFAULT_WEIGHTS, load_team_settings, parse_team_settings


def test_missing_file_means_defaults(tmp_path: Path) -> None:
    settings = load_team_settings(tmp_path / "absent.toml")
    assert settings.stage == "nurturing"
    assert settings.target("effective_reach") == 20
    assert settings.target("reply_rate") == 0.2
    assert settings.working_hours is None
    assert str(settings.timezone) == "Asia/Shanghai"


def test_every_profile_adds_up_to_100() -> None:
    for weights in DEFAULT_WEIGHTS.values():
        assert sum(weights.values()) == pytest.approx(100)


@pytest.mark.parametrize(
    ("stage", "reach"),
    [
        pytest.param("pioneering", 40, id="pioneering"),
        pytest.param("nurturing", 20, id="nurturing"),
        pytest.param("mature", 10, id="mature"),
    ],
)
def test_stage_sets_the_effective_reach_target(stage: str, reach: int) -> None:
    assert parse_team_settings({"stage": stage}).target("effective_reach") == reach


def test_full_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "kpibot.toml"
    path.write_text(
        """
stage = "mature"
timezone = "Europe/Berlin"
base_currency = "eur"
minimum_margin = 0.1
complaint_threshold = 2
holidays = [2025-05-01, "2025-12-25"]

[working_hours]
mon = ["13:30-18:00", "09:00-12:00"]

[exchange_rates]
USD = 0.92

[targets]
reply_rate = 0.25
effective_reach = 15

[weights.senior]
effective_reach = 10
active_customers = 10
response_time = 0
""",
        encoding="utf-8",
    )
    settings = load_team_settings(path)
    assert settings.base_currency == "EUR"
    assert settings.rate_to_base("usd") == Decimal("0.92")
    assert settings.rate_to_base("EUR") == 1
    assert settings.rate_to_base("JPY") is None
    assert settings.holidays == {date(2025, 5, 1), date(2025, 12, 25)}
    assert settings.working_hours is not None
    assert settings.working_hours[0] == ((time(9), time(12)), (time(13, 30), time(18)))
    assert settings.working_hours[1] == ()
    assert settings.target("effective_reach") == 15
    assert settings.profile_weights("senior")["response_time"] == 0


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        pytest.param(
            {"targets": {"reply_rate": 1.5}},
            "targets.reply_rate: must be between 0 and 1, got 1.5",
            id="rate-over-1",
        ),
        pytest.param({"stage": "growing"}, "stage: must be one of", id="unknown-stage"),
        pytest.param({"timezone": "Mars/Olympus"}, "timezone: must be an IANA", id="bad-zone"),
        pytest.param({"colour": "red"}, "colour: unknown key", id="unknown-key"),
        pytest.param({"targets": {"speed": 1}}, "targets.speed: unknown key", id="unknown-target"),
        pytest.param(
            {"targets": {"effective_reach": -3}},
            "targets.effective_reach: must be a positive number",
            id="negative-count",
        ),
        pytest.param(
            {"working_hours": {"mon": ["9-12"]}},
            'working_hours.mon: each interval must be "HH:MM-HH:MM"',
            id="bad-interval",
        ),
        pytest.param(
            {"working_hours": {"mon": ["09:00-12:00", "11:00-13:00"]}},
            "working_hours.mon: intervals must not overlap",
            id="overlapping-intervals",
        ),
        pytest.param(
            {"working_hours": {"mon": ["12:00-09:00"]}},
            "working_hours.mon: an interval must end after it starts",
            id="backwards-interval",
        ),
        pytest.param({"holidays": ["May Day"]}, "holidays: each holiday", id="bad-holiday"),
        pytest.param(
            {"exchange_rates": {"EUR": 0}},
            "exchange_rates.EUR: must be a positive number",
            id="zero-rate",
        ),
        pytest.param({"base_currency": "DOLLAR"}, "base_currency: must be a three", id="currency"),
        pytest.param(
            {"minimum_margin": 2}, "minimum_margin: must be between 0 and 1", id="margin"
        ),
        pytest.param(
            {"complaint_threshold": -1}, "complaint_threshold: must be a whole", id="threshold"
        ),
        pytest.param(
            {"weights": {"standard": {"effective_reach": 30}}},
            "weights.standard: weights must add up to 100, got 120",
            id="weights-not-100",
        ),
    ],
)
def test_bad_values_are_refused_naming_the_key(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_team_settings(raw)
    assert str(caught.value).startswith(message)


def test_invalid_toml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "kpibot.toml"
    path.write_text("stage = \n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_team_settings(path)


def test_file_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "kpibot.toml"
    path.write_text("[targets]\nreply_rate = 1.5\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"targets\.reply_rate: .* \(in .*kpibot\.toml\)"):
        load_team_settings(path)
