"""The pure building blocks: quote lexicon, broadcast detection, periods, working time."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.content_keys import content_key, normalise_text
from bot.metrics.classify import broadcast_ids
from bot.metrics.periods import period_containing, period_starting, previous
from bot.metrics.settings import parse_team_settings
from bot.metrics.worktime import WorkingClock
from bot.quotes import asks_for_price, names_a_quote

T = datetime(2025, 3, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "asks"),
    [
        pytest.param("What are your PRICES?", True, id="en-plural-upper"),
        pytest.param("I appreciate it", False, id="en-appreciate-is-no-price"),
        pytest.param("priced too high", False, id="en-priced-not-a-lexicon-word"),
        pytest.param("how   much for 2 containers", True, id="en-how-much-spaces"),
        pytest.param("MOQ?", True, id="en-moq"),
        pytest.param("CIF Jebel Ali please", True, id="en-incoterm"),
        pytest.param("Cotización por favor", True, id="es-accented"),
        pytest.param("cotizacion", True, id="es-unaccented"),
        pytest.param("Qual o preço?", True, id="pt"),
        pytest.param("COTAÇÃO", True, id="pt-upper-accented"),
        pytest.param("Envoyez le devis", True, id="fr-devis"),
        pytest.param("Какая цена?", True, id="ru"),
        pytest.param("ما هو السعر؟", True, id="ar"),
        pytest.param("请给我报价", True, id="zh-substring"),
        pytest.param("价格多少", True, id="zh-price"),
        pytest.param("你好", False, id="zh-greeting"),
        pytest.param("", False, id="empty"),
    ],
)
def test_quote_lexicon(text: str, asks: bool) -> None:
    assert asks_for_price(text) is asks


@pytest.mark.parametrize(
    ("filename", "caption", "names"),
    [
        pytest.param("PI-2025-001.pdf", None, True, id="pi"),
        pytest.param("Proforma_Invoice_ACME.pdf", None, True, id="proforma"),
        pytest.param("pipeline.pdf", None, False, id="pipeline-is-no-pi"),
        pytest.param("报价单.xlsx", None, True, id="zh-quotation"),
        pytest.param("catalogue.pdf", "our price list", True, id="caption"),
        pytest.param("Cotizacion-ACME.pdf", None, True, id="es"),
        pytest.param("catalogue.pdf", None, False, id="catalogue"),
    ],
)
def test_quote_documents(filename: str, caption: str | None, names: bool) -> None:
    assert names_a_quote(filename, caption) is names


def test_normalised_text_folds_case_space_and_digits() -> None:
    assert normalise_text("Order 12  READY\n") == normalise_text("order 907 ready")


def test_content_key_is_the_normalised_text_s() -> None:
    assert content_key("Order 12  READY\n") == content_key("order 907 ready")
    assert content_key("order ready") != content_key("order 0 ready")
    assert content_key("  \n") is None
    assert content_key(None) is None
    key = content_key("Price list")
    assert isinstance(key, int)
    assert -(2**63) <= key < 2**63


@pytest.mark.parametrize(
    ("customers", "spacing", "broadcast"),
    [
        pytest.param(5, timedelta(hours=6), 5, id="5-customers-in-24h"),
        pytest.param(4, timedelta(hours=1), 0, id="4-customers"),
        pytest.param(5, timedelta(hours=6, seconds=1), 0, id="5-customers-over-24h"),
    ],
)
def test_broadcast_window(customers: int, spacing: timedelta, broadcast: int) -> None:
    sends = [(n, n, T + n * spacing, content_key("Hello")) for n in range(customers)]
    assert len(broadcast_ids(sends)) == broadcast


def test_same_customer_twice_is_one_customer() -> None:
    sends = [(n, n % 4, T + timedelta(minutes=n), content_key("Hello")) for n in range(8)]
    assert broadcast_ids(sends) == set()


def test_month_and_previous_periods_in_the_team_zone() -> None:
    zone = ZoneInfo("Asia/Shanghai")
    month = period_containing("month", datetime(2025, 2, 28, 17, tzinfo=UTC), zone)
    assert month.first_day == date(2025, 3, 1)  # 01:00 on 1 March in Shanghai
    assert month.days == 31
    assert previous(month).first_day == date(2025, 2, 1)
    assert previous(month).days == 28
    with pytest.raises(ValueError, match="does not start a week"):
        period_starting("week", date(2025, 3, 4), zone)


def test_naive_evaluation_time_is_refused() -> None:
    with pytest.raises(ValueError, match="naive"):
        period_containing("day", datetime(2025, 3, 3), ZoneInfo("UTC"))


def test_working_clock_across_the_dst_change() -> None:
    settings = parse_team_settings(
        {
            "timezone": "Europe/Berlin",
            "working_hours": {"sat": ["09:00-17:00"], "mon": ["09:00-10:00"]},
        }
    )
    clock = WorkingClock(settings)
    # Saturday 29 March CET to Monday 31 March CEST: 8 h Saturday, 1 h Monday.
    start = datetime(2025, 3, 29, 0, tzinfo=UTC)
    end = datetime(2025, 3, 31, 12, tzinfo=UTC)
    assert clock.elapsed(start, end) == timedelta(hours=9)
    assert clock.elapsed(end, start) == timedelta(0)
