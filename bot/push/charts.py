"""The digest's pictures: the team's scores as bars, and a funnel per rep.

Drawn with matplotlib's Agg canvas straight into PNG bytes (no window, no pyplot state,
safe in a worker thread). Rep names may be Chinese: the first installed CJK font is
used; without one the names show as boxes, which is logged once.
"""

from __future__ import annotations

import io
import logging
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# matplotlib is imported when a chart is drawn, not with this module: it takes a quarter
# of a second, and every kpibot command imports the push modules.

logger = logging.getLogger(__name__)

# Families that carry Chinese glyphs, most common on Linux servers first.
CJK_FAMILIES = (
    "Noto Sans CJK SC",
    "Noto Sans CJK JP",
    "Noto Sans SC",
    "Noto Serif CJK SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Zen Hei",
    "WenQuanYi Micro Hei",
    "Droid Sans Fallback",
    "AR PL UMing CN",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
)
FUNNEL_STEPS = ("messaged", "replied", "quoted", "closed")
_BAR = "#2e7d32"
_FUNNEL = ("#1565c0", "#2e7d32", "#f9a825", "#c62828")


@dataclass(frozen=True, slots=True)
class Funnel:
    """A rep's week as a funnel: customers messaged, replied, asked for a quote, closed."""

    rep: str
    reached: int
    replied: int
    quoted: int
    closed: int

    @property
    def steps(self) -> tuple[int, int, int, int]:
        """The four counts, widest first."""
        return (self.reached, self.replied, self.quoted, self.closed)


# File names of CJK fonts, for fonts installed after matplotlib cached its font list.
_CJK_FILES = ("notosanscjk", "notoserifcjk", "sourcehansans", "wqy", "droidsansfallback", "uming")


def _installed_families() -> set[str]:
    from matplotlib import font_manager

    return {entry.name for entry in font_manager.fontManager.ttflist}


@lru_cache(maxsize=1)
def cjk_font() -> str | None:
    """The family name of an installed CJK font, or None (logged once)."""
    from matplotlib import font_manager

    installed = _installed_families()
    if not installed.intersection(CJK_FAMILIES):
        for path in font_manager.findSystemFonts():
            if any(hint in Path(path).name.lower() for hint in _CJK_FILES):
                font_manager.fontManager.addfont(path)
        installed = _installed_families()
    for family in CJK_FAMILIES:
        if family in installed:
            logger.info("chart font with Chinese glyphs family=%s", family)
            return family
    logger.warning(
        "no CJK font installed: Chinese rep names in charts will show as boxes "
        "(install fonts-noto-cjk)"
    )
    return None


def _fonts() -> Any:
    family = cjk_font()
    return {
        "font.family": ["sans-serif"],
        "font.sans-serif": [family, "DejaVu Sans"] if family else ["DejaVu Sans"],
    }


def _png(figure: Figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    return buffer.getvalue()


def score_chart(title: str, scores: Sequence[tuple[str, float | None]], no_data: str) -> bytes:
    """A horizontal bar per rep, best at the top, out of 100.

    Args:
        title: the chart's title.
        scores: (rep name, score or None) pairs, best first.
        no_data: the label for a rep with no score.

    Returns:
        PNG bytes.
    """
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(_fonts()), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font")
        height = 1.2 + 0.45 * max(len(scores), 1)
        figure = Figure(figsize=(7, height), dpi=110, layout="constrained")
        axes = figure.add_subplot()
        names = [name for name, _ in scores][::-1]
        values = [score or 0.0 for _, score in scores][::-1]
        bars = axes.barh(names, values, color=_BAR)
        for bar, (_, score) in zip(bars, list(scores)[::-1], strict=True):
            label = no_data if score is None else f"{score:.1f}"
            axes.text(bar.get_width() + 1, bar.get_y() + bar.get_height() / 2, label, va="center")
        axes.set_xlim(0, 110)
        axes.set_title(title)
        axes.spines[["top", "right"]].set_visible(False)
        return _png(figure)


def funnel_chart(title: str, funnels: Sequence[Funnel], steps: Sequence[str]) -> bytes:
    """One small funnel per rep: messaged, replied, asked for a quote, closed.

    Args:
        title: the chart's title.
        funnels: the reps' funnels.
        steps: the four step names, in the locale's words.

    Returns:
        PNG bytes.
    """
    import matplotlib
    from matplotlib.figure import Figure

    with matplotlib.rc_context(_fonts()), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"Glyph \d+ .*missing from font")
        columns = min(3, max(len(funnels), 1))
        rows = max(math.ceil(len(funnels) / columns), 1)
        figure = Figure(figsize=(3.4 * columns, 2.6 * rows + 0.6), dpi=110, layout="constrained")
        figure.suptitle(title)
        for index, funnel in enumerate(funnels):
            axes = figure.add_subplot(rows, columns, index + 1)
            widest = max(max(funnel.steps), 1)
            for level, (count, colour) in enumerate(zip(funnel.steps, _FUNNEL, strict=True)):
                y = len(steps) - 1 - level
                axes.barh(y, count, left=(widest - count) / 2, color=colour, height=0.8)
                axes.text(widest / 2, y, f"{steps[level]} {count}", ha="center", va="center")
            axes.set_title(funnel.rep)
            axes.set_xlim(0, widest)
            axes.set_axis_off()
        return _png(figure)
