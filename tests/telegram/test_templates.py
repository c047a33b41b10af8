"""Both locales have the same templates and labels, and every template renders."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from bot.handlers.base import Command
from bot.metrics import TeamSettings, compute_team
from bot.metrics.periods import period_containing
from bot.render import LOCALES, Renderer, html_to_text, split_message, utf16_length
from bot.telegram import kpis
from storage import telegram as store
from tests.telegram.conftest import NOW, seed

RENDERER = Renderer(TeamSettings().timezone)


def test_locales_have_the_same_templates_and_labels() -> None:
    names = {locale: RENDERER.template_names(locale) for locale in LOCALES}
    assert names["en"] == names["zh"]
    assert len(names["en"]) >= 25
    assert RENDERER.label_names("en") == RENDERER.label_names("zh")


def contexts(engine: Engine) -> dict[str, dict[str, Any]]:
    seed(engine)
    settings = TeamSettings()
    team = compute_team(engine, "week", NOW, settings)
    alice = next(k for k in team if k.rep == "Alice")
    report = kpis.build_report(alice, alice, settings)
    customer = store.CustomerRow(1, "8613812345678", "Wang <Wei>")
    rep = store.LinkedRep(1, "Alice", "rep", 1, None)
    period = period_containing("week", NOW, settings.timezone)
    record = {
        "command": "deal",
        "query": "5678",
        "amount": "12000",
        "currency": "USD",
        "margin": 0.18,
    }
    tagged = store.TaggedCustomer(customer, NOW - timedelta(days=9), False)
    ranked = [(k, k.score) for k in team]
    return {
        "_labels": {},
        "_macros": {},
        "button_gone": {},
        "customers": {
            "waiting": [store.WaitingCustomer(customer, NOW - timedelta(hours=5))],
            "tagged": [tagged],
            "stale": [tagged],
            "now": NOW,
        },
        "error": {},
        "help": {"commands": [Command("help").name, "mystats"], "private": True},
        "invite": {"rep": rep, "link": "https://t.me/x?start=abc", "expires_at": NOW},
        "leaderboard": {
            "ranked": ranked,
            "metric": "score",
            "kind": "week",
            "base_currency": "USD",
            "period": period,
            "me": 1,
        },
        "managers_only": {},
        "metric_customers": {
            "metric": "deal_amount",
            "period": period,
            "rep": rep,
            "drill": kpis.Drilldown(
                "deal_amount", [kpis.CountedCustomer(customer, [(12000, "USD")])], 1, None, 0, 1
            ),
        },
        "mystats": {"report": report, "own": True},
        "no_customer": {"query": "+86 138"},
        "no_rep": {"name": "Nobody"},
        "not_linked": {},
        "pick_customer": {"record": record},
        "private_only": {"bot_username": "kpibot_bot"},
        "recorded": {"record": record, "customer": customer, "created": True},
        "settings": {
            "language": "en",
            "settings": settings,
            "digest_day": "fri",
            "digest_time": "17:00",
            "targets": {"quote_rate": 0.3, "deal_amount": None, "effective_reach": 20.0},
        },
        "settings_changed": {"key": "stage", "value": "mature"},
        "start_linked": {"rep": rep},
        "start_refused": {"reason": "expired"},
        "team": {"ranked": ranked, "period": period, "base_currency": "USD"},
        "teamchat_bound": {"title": "Export team"},
        "teamchat_needs_group": {},
        "teamchat_no_team": {},
        "undone": {},
        "usage": {"command": "deal"},
    }


@pytest.mark.parametrize("locale", LOCALES)
def test_every_template_renders(engine: Engine, locale: str) -> None:
    samples = contexts(engine)
    # The push templates have their own test (tests/push).
    assert sorted(samples) == [
        n for n in RENDERER.template_names(locale) if not n.startswith("push_")
    ]
    for name, values in samples.items():
        if name.startswith("_"):
            continue
        text = RENDERER.render(locale, name, **values)
        assert text, name
        assert "Wang <Wei>" not in text, f"{name} did not escape a customer's name"


def test_customer_names_are_escaped() -> None:
    customer = store.CustomerRow(1, "8613812345678", "<b>Boss</b> & co")
    record = {"command": "quote", "query": "x"}
    text = RENDERER.render("en", "recorded", record=record, customer=customer, created=True)
    assert text == (
        "✅ Quote recorded for <b>&lt;b&gt;Boss&lt;/b&gt; &amp; co</b> (+86 138****5678)."
    )
    assert html_to_text(text) == "✅ Quote recorded for <b>Boss</b> & co (+86 138****5678)."


def test_split_message_keeps_every_line_and_the_limit() -> None:
    lines = [f"{i}. <b>rep {i}</b> — {'x' * 80} 😀" for i in range(200)]
    text = "\n".join(lines)
    parts = split_message(text)
    assert len(parts) > 1
    assert all(utf16_length(part) <= 4096 for part in parts)
    assert "\n".join(parts).split("\n") == lines


def test_split_message_cuts_a_line_longer_than_the_limit() -> None:
    parts = split_message("a" * 5000)
    assert [len(p) for p in parts] == [4096, 904]
