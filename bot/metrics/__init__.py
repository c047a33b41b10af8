"""The KPI engine: the KPI model of ``docs/metrics.md`` as code.

The layers read bottom-up:

- :mod:`bot.metrics.periods` and :mod:`bot.metrics.settings`: when, and by which team rules;
- :mod:`bot.metrics.classify`, :mod:`bot.quotes`, :mod:`bot.metrics.conversations`
  and :mod:`bot.metrics.worktime`: what a message, a turn or a quote request is;
- :mod:`bot.metrics.process`, :mod:`bot.metrics.quality`, :mod:`bot.metrics.result`: one
  module per layer of the KPI pyramid;
- :mod:`bot.metrics.score`: attainment, profiles, red lines and the 100-point score;
- :mod:`bot.metrics.engine` and :mod:`bot.metrics.snapshots`: everything for a rep and a
  period, and the stored snapshots of it.

All SQL is in :mod:`storage.kpi_queries`; this package computes over what it returns.
"""

from bot.metrics.engine import RepKpis, compute, compute_team
from bot.metrics.periods import Period, PeriodKind, period_containing
from bot.metrics.settings import TeamSettings, load_team_settings

__all__ = [
    "Period",
    "PeriodKind",
    "RepKpis",
    "TeamSettings",
    "compute",
    "compute_team",
    "load_team_settings",
    "period_containing",
]
