"""Team settings: stage, calendar, currency and the targets and weights of the score.

They are read from a TOML file (``Settings.kpibot_team_settings``, ``kpibot.toml`` by
default); a missing file means every default. Example::

    stage = "pioneering"            # pioneering | nurturing | mature
    timezone = "Europe/Berlin"
    base_currency = "USD"
    minimum_margin = 0.12           # deals below it are flagged (the discount red line)
    complaint_threshold = 3         # more complaints than this in a month is a red line
    holidays = [2025-05-01, 2025-12-25]

    [working_hours]
    mon = ["09:00-12:00", "13:30-18:00"]
    tue = ["09:00-18:00"]

    [exchange_rates]                # units of the base currency per unit of each currency
    EUR = 1.08

    [targets]
    reply_rate = 0.25
    deal_amount = 20000             # per week, in the base currency

    [weights.standard]              # each profile's weights must add up to 100
    effective_reach = 15
    deal_amount = 10

Every value is checked when the file is read; a bad one raises a
:class:`~bot.errors.ConfigError` that names the key and the reason.
"""

from __future__ import annotations

import logging
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, time
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from pathlib import Path
from typing import Any, NoReturn
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.errors import ConfigError

logger = logging.getLogger(__name__)

STAGES = ("pioneering", "nurturing", "mature")
PROFILES = ("standard", "new_hire", "senior")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# Scored metrics in the order of the KPI model's score table.
SCORED_METRICS = (
    "effective_reach",
    "active_customers",
    "response_time",
    "quote_rate",
    "deep_conversations",
    "conversion_rate",
    "deal_amount",
    "margin_order_value",
)

# The KPI model's weights per profile; each column adds up to 100.
DEFAULT_WEIGHTS: dict[str, dict[str, float]] = {
    "standard": dict(zip(SCORED_METRICS, (10, 10, 10, 15, 15, 15, 15, 10), strict=True)),
    "new_hire": dict(
        zip(SCORED_METRICS, (50 / 3, 50 / 3, 50 / 3, 15, 15, 7.5, 7.5, 5), strict=True)
    ),
    "senior": dict(
        zip(SCORED_METRICS, (20 / 3, 20 / 3, 20 / 3, 10, 10, 22.5, 22.5, 15), strict=True)
    ),
}

EFFECTIVE_REACH_BY_STAGE = {"pioneering": 40.0, "nurturing": 20.0, "mature": 10.0}

# Targets that are fractions 0..1; the others are weekly counts or amounts.
RATE_TARGETS = ("reply_rate", "quote_rate", "tag_accuracy", "conversion_rate", "margin")
COUNT_TARGETS = ("effective_reach", "active_customers", "deep_conversations")
AMOUNT_TARGETS = ("deal_amount", "order_value")
TARGETS = RATE_TARGETS + COUNT_TARGETS + AMOUNT_TARGETS

_DEFAULT_TARGETS: dict[str, float | None] = {
    "reply_rate": 0.20,
    "active_customers": 20.0,
    "quote_rate": 0.30,
    "deep_conversations": 5.0,
    "tag_accuracy": 0.70,
    "conversion_rate": 0.15,
    # The KPI model leaves these to each team: unset, they are not scored.
    "deal_amount": None,
    "order_value": None,
    "margin": None,
}

_TOP_LEVEL_KEYS = (
    "stage",
    "timezone",
    "working_hours",
    "holidays",
    "base_currency",
    "exchange_rates",
    "minimum_margin",
    "complaint_threshold",
    "targets",
    "weights",
)
_INTERVAL = re.compile(r"^(\d{2}):(\d{2})-(\d{2}):(\d{2})$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")

WorkingHours = dict[int, tuple[tuple[time, time], ...]]
"""Working intervals per weekday (0 = Monday), local wall-clock times, sorted."""


@dataclass(frozen=True)
class TeamSettings:
    """A team's rules for computing and scoring KPIs.

    Attributes:
        stage: pioneering, nurturing or mature; sets the default effective-reach target.
        timezone: the team's zone; periods and working hours are read in it.
        working_hours: intervals per weekday, or None when time is counted round the clock.
        holidays: local dates with no working time (only used with working hours).
        base_currency: the currency deal amounts are reported in.
        exchange_rates: units of the base currency per unit of each other currency.
        minimum_margin: the discount red line; None when the team sets none.
        complaint_threshold: more complaints than this in a month is a red line.
        targets: weekly targets (counts, amounts) and rate targets, per metric name.
        weights: per profile, the weight of each scored metric (adding up to 100).
    """

    stage: str = "nurturing"
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    working_hours: WorkingHours | None = None
    holidays: frozenset[date] = frozenset()
    base_currency: str = "USD"
    exchange_rates: Mapping[str, Decimal] = field(default_factory=dict)
    minimum_margin: float | None = None
    complaint_threshold: int = 3
    targets: Mapping[str, float | None] = field(default_factory=dict)
    weights: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def target(self, metric: str) -> float | None:
        """The weekly (or rate) target of ``metric``: the team's, else the stage default."""
        if metric in self.targets:
            return self.targets[metric]
        if metric == "effective_reach":
            return EFFECTIVE_REACH_BY_STAGE[self.stage]
        return _DEFAULT_TARGETS.get(metric)

    def profile_weights(self, profile: str) -> Mapping[str, float]:
        """The weight of each scored metric for ``profile``."""
        return self.weights.get(profile, DEFAULT_WEIGHTS[profile])

    def rate_to_base(self, currency: str) -> Decimal | None:
        """Units of the base currency per unit of ``currency``; None when no rate is set."""
        code = currency.upper()
        if code == self.base_currency:
            return Decimal(1)
        return self.exchange_rates.get(code)


def load_team_settings(path: str | Path, default_timezone: str = "Asia/Shanghai") -> TeamSettings:
    """Read and check the team settings file.

    Args:
        path: the TOML file; when it does not exist every default applies.
        default_timezone: the zone used when the file names none (``KPIBOT_TIMEZONE``).

    Returns:
        The team settings.

    Raises:
        ConfigError: the file is not valid TOML, or a key is unknown or has a bad
            value; the message names the key and the reason.
    """
    file = Path(path)
    if not file.exists():
        logger.info("team settings file not found, using defaults path=%s", file)
        return parse_team_settings({}, default_timezone)
    try:
        raw = tomllib.loads(file.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    try:
        return parse_team_settings(raw, default_timezone)
    except ConfigError as exc:
        raise ConfigError(f"{exc} (in {file})") from None


def parse_team_settings(
    raw: Mapping[str, Any], default_timezone: str = "Asia/Shanghai"
) -> TeamSettings:
    """Check a parsed settings table and build :class:`TeamSettings` from it.

    Args:
        raw: the TOML document as a mapping.
        default_timezone: the zone used when ``raw`` names none.

    Returns:
        The team settings.

    Raises:
        ConfigError: a key is unknown or has a bad value.
    """
    _refuse_unknown(raw, _TOP_LEVEL_KEYS, "")
    stage = raw.get("stage", "nurturing")
    if stage not in STAGES:
        _bad("stage", f"must be one of {', '.join(STAGES)}", stage)

    base_currency = _currency("base_currency", raw.get("base_currency", "USD"))
    return TeamSettings(
        stage=stage,
        timezone=_zone(raw.get("timezone", default_timezone)),
        working_hours=_working_hours(raw.get("working_hours")),
        holidays=_holidays(raw.get("holidays", [])),
        base_currency=base_currency,
        exchange_rates=_exchange_rates(raw.get("exchange_rates", {}), base_currency),
        minimum_margin=_optional_fraction("minimum_margin", raw.get("minimum_margin")),
        complaint_threshold=_complaint_threshold(raw.get("complaint_threshold", 3)),
        targets=_targets(raw.get("targets", {})),
        weights=_weights(raw.get("weights", {})),
    )


def _bad(key: str, reason: str, value: Any) -> NoReturn:
    raise ConfigError(f"{key}: {reason}, got {value!r}")


def _refuse_unknown(table: Mapping[str, Any], allowed: tuple[str, ...], prefix: str) -> None:
    for key in table:
        if key not in allowed:
            raise ConfigError(f"{prefix}{key}: unknown key; expected one of {', '.join(allowed)}")


def _table(key: str, value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        _bad(key, "must be a table", value)
    return value


def _zone(value: Any) -> ZoneInfo:
    if not isinstance(value, str):
        _bad("timezone", "must be an IANA zone name such as Asia/Shanghai", value)
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        _bad("timezone", "must be an IANA zone name such as Asia/Shanghai", value)


def _clock(key: str, hours: str, minutes: str, raw: str) -> time:
    hour, minute = int(hours), int(minutes)
    if hour == 24 and minute == 0:
        return time.max
    if hour > 23 or minute > 59:
        _bad(key, "must be HH:MM-HH:MM with valid times", raw)
    return time(hour, minute)


def _working_hours(value: Any) -> WorkingHours | None:
    if value is None:
        return None
    table = _table("working_hours", value)
    _refuse_unknown(table, WEEKDAYS, "working_hours.")
    hours: WorkingHours = {}
    for weekday, name in enumerate(WEEKDAYS):
        intervals = table.get(name, [])
        key = f"working_hours.{name}"
        if not isinstance(intervals, list):
            _bad(key, 'must be a list of "HH:MM-HH:MM" strings', intervals)
        hours[weekday] = _intervals(key, intervals)
    return hours


def _intervals(key: str, raw_intervals: list[Any]) -> tuple[tuple[time, time], ...]:
    parsed: list[tuple[time, time]] = []
    for raw in raw_intervals:
        match = _INTERVAL.match(raw) if isinstance(raw, str) else None
        if match is None:
            _bad(key, 'each interval must be "HH:MM-HH:MM"', raw)
        start = _clock(key, match[1], match[2], raw)
        end = _clock(key, match[3], match[4], raw)
        if end <= start:
            _bad(key, "an interval must end after it starts", raw)
        parsed.append((start, end))

    parsed.sort()
    for (_, earlier_end), (later_start, _) in pairwise(parsed):
        if later_start < earlier_end:
            _bad(key, "intervals must not overlap", raw_intervals)
    return tuple(parsed)


def _holidays(value: Any) -> frozenset[date]:
    if not isinstance(value, list):
        _bad("holidays", "must be a list of dates (YYYY-MM-DD)", value)
    days: set[date] = set()
    for item in value:
        if isinstance(item, date) and not hasattr(item, "hour"):
            days.add(item)
            continue
        try:
            days.add(date.fromisoformat(item))
        except (TypeError, ValueError):
            _bad("holidays", "each holiday must be a date YYYY-MM-DD", item)
    return frozenset(days)


def _currency(key: str, value: Any) -> str:
    if not isinstance(value, str) or not _CURRENCY.match(value.upper()):
        _bad(key, "must be a three-letter ISO 4217 code such as USD", value)
    return str(value).upper()


def _exchange_rates(value: Any, base_currency: str) -> dict[str, Decimal]:
    table = _table("exchange_rates", value)
    rates: dict[str, Decimal] = {}
    for code, raw in table.items():
        key = f"exchange_rates.{code}"
        currency = _currency(key, code)
        rate = _decimal(key, raw)
        if rate <= 0:
            _bad(key, "must be a positive number", raw)
        rates[currency] = rate
    if base_currency in rates and rates[base_currency] != 1:
        _bad(
            f"exchange_rates.{base_currency}",
            "the base currency's rate must be 1",
            rates[base_currency],
        )
    return rates


def _decimal(key: str, raw: Any) -> Decimal:
    # str() keeps what the file says: Decimal(0.1) would carry binary noise.
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        _bad(key, "must be a number", raw)
    try:
        value = Decimal(str(raw))
    except InvalidOperation:
        _bad(key, "must be a number", raw)
    if not value.is_finite():
        _bad(key, "must be a finite number", raw)
    return value


def _number(key: str, raw: Any) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float) or raw != raw:
        _bad(key, "must be a number", raw)
    return float(raw)


def _optional_fraction(key: str, raw: Any) -> float | None:
    if raw is None:
        return None
    value = _number(key, raw)
    if not 0 <= value <= 1:
        _bad(key, "must be between 0 and 1", raw)
    return value


def _complaint_threshold(raw: Any) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        _bad("complaint_threshold", "must be a whole number of complaints, 0 or more", raw)
    return int(raw)


def _targets(value: Any) -> dict[str, float | None]:
    table = _table("targets", value)
    _refuse_unknown(table, TARGETS, "targets.")
    targets: dict[str, float | None] = {}
    for metric, raw in table.items():
        key = f"targets.{metric}"
        number = _number(key, raw)
        if metric in RATE_TARGETS and not 0 < number <= 1:
            _bad(key, "must be between 0 and 1", raw)
        if metric not in RATE_TARGETS and number <= 0:
            _bad(key, "must be a positive number", raw)
        targets[metric] = number
    return targets


def _weights(value: Any) -> dict[str, dict[str, float]]:
    table = _table("weights", value)
    _refuse_unknown(table, PROFILES, "weights.")
    weights: dict[str, dict[str, float]] = {}
    for profile, raw_profile in table.items():
        prefix = f"weights.{profile}"
        overrides = _table(prefix, raw_profile)
        _refuse_unknown(overrides, SCORED_METRICS, f"{prefix}.")
        merged = dict(DEFAULT_WEIGHTS[profile])
        for metric, raw in overrides.items():
            number = _number(f"{prefix}.{metric}", raw)
            if number < 0:
                _bad(f"{prefix}.{metric}", "must be 0 or more", raw)
            merged[metric] = number
        total = sum(merged.values())
        if abs(total - 100) > 1e-6:
            _bad(prefix, "weights must add up to 100", round(total, 6))
        weights[profile] = merged
    return weights
