"""The one way kpibot turns data into message text: Jinja2 templates per locale.

Templates live in ``bot/templates/<locale>/<name>.html``, are written for Telegram's
HTML parse mode and are autoescaped, so a customer's name can never inject markup.
Every template gets ``fmt``, a :class:`Formatter` that writes numbers, percentages,
amounts, dates and durations the way the locale writes them (Babel), and masks phone
numbers. Button labels are macros of ``_labels.html``, so they are translated too.

The locale is the rep's own choice, else the team's, else English
(:func:`pick_locale`).
"""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal, format_percent
from babel.units import format_unit
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup

logger = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
LOCALES = ("en", "zh")
DEFAULT_LOCALE = "en"
MESSAGE_LIMIT = 4096

_BABEL_LOCALES = {"en": "en", "zh": "zh_Hans_CN"}
_BLANK_RUN = re.compile(r"\n{3,}")

# ITU country calling codes: 1 and 7 have one digit; these two-digit prefixes are whole
# codes; every other code has three digits.
_TWO_DIGIT_CODES = frozenset(
    {
        "20",
        "27",
        "30",
        "31",
        "32",
        "33",
        "34",
        "36",
        "39",
        "40",
        "41",
        "43",
        "44",
        "45",
        "46",
        "47",
        "48",
        "49",
        "51",
        "52",
        "53",
        "54",
        "55",
        "56",
        "57",
        "58",
        "60",
        "61",
        "62",
        "63",
        "64",
        "65",
        "66",
        "81",
        "82",
        "84",
        "86",
        "90",
        "91",
        "92",
        "93",
        "94",
        "95",
        "98",
    }
)


def pick_locale(*choices: str | None) -> str:
    """The first of ``choices`` kpibot speaks (``zh-hans`` counts as ``zh``), else English."""
    for choice in choices:
        if not choice:
            continue
        short = choice.replace("_", "-").split("-")[0].lower()
        if short in LOCALES:
            return short
    return DEFAULT_LOCALE


def mask_customer_phone(wa_id: str | None) -> str:
    """A WhatsApp number as people read it, middle hidden: ``+86 138****5678``."""
    digits = "".join(ch for ch in wa_id or "" if ch.isdigit())
    if len(digits) < 7:
        return "****"
    if digits[0] in "17":
        code_length = 1
    elif digits[:2] in _TWO_DIGIT_CODES:
        code_length = 2
    else:
        code_length = 3
    code, national = digits[:code_length], digits[code_length:]
    shown = national[:3] if len(national) > 7 else national[:1]
    return f"+{code} {shown}****{national[-4:]}"


class Formatter:
    """Numbers, amounts, dates and durations as the locale writes them.

    Args:
        locale: ``en`` or ``zh``.
        zone: the team's zone; dates and times are shown in it.
    """

    def __init__(self, locale: str, zone: ZoneInfo) -> None:
        self.locale = locale
        self.zone = zone
        self._babel = Locale.parse(_BABEL_LOCALES[locale])

    def number(self, value: float | int | Decimal, digits: int = 1) -> str:
        """A count or measure: ``1,234`` or ``2.5``."""
        pattern = "#,##0" + ("." + "#" * digits if digits else "")
        return format_decimal(value, format=pattern, locale=self._babel)

    def signed(self, value: float | int, digits: int = 1) -> str:
        """A change with its sign: ``+3``, ``-1.5``, ``±0``."""
        if round(value, digits) == 0:
            return "±0"
        return ("+" if value > 0 else "-") + self.number(abs(value), digits)

    def percent(self, value: float) -> str:
        """A fraction as a percentage: ``0.234`` is ``23.4%``."""
        return format_percent(value, format="#,##0.#%", locale=self._babel)

    def money(self, amount: Decimal | float, currency: str) -> str:
        """An amount in its currency: ``$1,200.00`` / ``US$1,200.00``."""
        return format_currency(amount, currency, locale=self._babel)

    def date(self, value: datetime) -> str:
        """The local date of an instant."""
        return format_date(value.astimezone(self.zone).date(), format="medium", locale=self._babel)

    def datetime(self, value: datetime) -> str:
        """The local date and time of an instant."""
        return format_datetime(value, format="short", tzinfo=self.zone, locale=self._babel)

    def duration(self, value: float | timedelta) -> str:
        """A length of time in days, hours and minutes, at most two units: ``3h 20m``."""
        seconds = int(value.total_seconds() if isinstance(value, timedelta) else value)
        days, rest = divmod(max(seconds, 0), 86400)
        hours, rest = divmod(rest, 3600)
        minutes = rest // 60
        parts = [
            (days, "duration-day"),
            (hours, "duration-hour"),
            (minutes, "duration-minute"),
        ]
        shown = [(n, unit) for n, unit in parts if n][:2] or [(0, "duration-minute")]
        return " ".join(
            format_unit(n, unit, length="narrow", locale=self._babel) for n, unit in shown
        )

    def phone(self, wa_id: str | None) -> str:
        """A customer's number, middle masked."""
        return mask_customer_phone(wa_id)


class Renderer:
    """Renders the templates of every locale.

    Args:
        zone: the team's zone, for dates and times.
        directory: the templates folder (``bot/templates`` by default).
    """

    def __init__(self, zone: ZoneInfo, directory: Path = TEMPLATES) -> None:
        self.zone = zone
        self._directory = directory
        self._env = Environment(
            loader=FileSystemLoader(directory),
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
            undefined=StrictUndefined,
        )

    def formatter(self, locale: str) -> Formatter:
        """The formatter of ``locale``."""
        return Formatter(locale, self.zone)

    def render(self, locale: str, template: str, **values: Any) -> str:
        """The message ``name`` in ``locale``, as Telegram HTML.

        Args:
            locale: ``en`` or ``zh``.
            template: the template's name without ``.html``.
            values: what the template shows.

        Returns:
            The text, blank-line runs folded and ends stripped.

        Raises:
            jinja2.TemplateNotFound: no such template in that locale.
            jinja2.UndefinedError: the template needs a value that was not given.
        """
        loaded = self._env.get_template(f"{locale}/{template}.html")
        text = loaded.render(fmt=self.formatter(locale), **values)
        return _BLANK_RUN.sub("\n\n", text).strip()

    def label(self, locale: str, macro: str, **values: Any) -> str:
        """A button label, a macro of ``_labels.html``, as plain text (buttons take no HTML)."""
        module = self._env.get_template(f"{locale}/_labels.html").make_module(
            {"fmt": self.formatter(locale)}
        )
        return Markup(str(getattr(module, macro)(**values))).unescape().strip()

    def template_names(self, locale: str) -> list[str]:
        """Every template of ``locale``, by name."""
        return sorted(path.stem for path in (self._directory / locale).glob("*.html"))

    def label_names(self, locale: str) -> list[str]:
        """Every button label macro of ``locale``."""
        module = self._env.get_template(f"{locale}/_labels.html").make_module(
            {"fmt": self.formatter(locale)}
        )
        return sorted(name for name in dir(module) if not name.startswith("_"))


def utf16_length(text: str) -> int:
    """The length Telegram measures: UTF-16 code units (an emoji often counts two)."""
    return len(text.encode("utf-16-le")) // 2


def split_message(text: str, limit: int = MESSAGE_LIMIT) -> list[str]:
    """Cut a message into parts Telegram accepts, at line ends.

    Templates keep every HTML tag within one line, so cutting between lines never
    splits a tag. A single line longer than the limit is cut at the limit.

    Args:
        text: the rendered message.
        limit: the most UTF-16 code units per part.

    Returns:
        One or more parts, none empty.
    """
    parts: list[str] = []
    current: list[str] = []
    size = 0
    for line in text.split("\n"):
        while utf16_length(line) > limit:
            head, line = _cut(line, limit)
            if current:
                parts.append("\n".join(current))
                current, size = [], 0
            parts.append(head)
        added = utf16_length(line) + (1 if current else 0)
        if current and size + added > limit:
            parts.append("\n".join(current))
            current, size = [], 0
            added = utf16_length(line)
        current.append(line)
        size += added
    if current and "\n".join(current).strip():
        parts.append("\n".join(current))
    return [part.strip("\n") for part in parts if part.strip()]


def _cut(line: str, limit: int) -> tuple[str, str]:
    end = len(line)
    while utf16_length(line[:end]) > limit:
        end -= max(1, (utf16_length(line[:end]) - limit) // 2)
    return line[:end], line[end:]


class _PlainText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._href: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._href.append(dict(attrs).get("href"))

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href:
            href = self._href.pop()
            if href:
                self.parts.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(text: str) -> str:
    """Telegram HTML as plain text for a terminal: tags dropped, links kept in brackets."""
    parser = _PlainText()
    parser.feed(text)
    parser.close()
    return "".join(parser.parts)
