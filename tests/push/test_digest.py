"""The weekly review: its exact lines, its pictures, and the same for /digest and Friday."""

from __future__ import annotations

import io

import matplotlib.image
from sqlalchemy import Engine

from bot.push import digest
from bot.push.clock import FakeClock
from bot.push.context import PushContext
from bot.render import LOCALES, Renderer
from storage import outbox
from tests.push.builders import MANAGER_CHAT, Team, berlin_settings, local

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def seed_week(team: Team) -> None:
    """Alice reaches two customers, one replies and buys; 王芳 messages one who stays silent."""
    team.message("4915100000001", local("2025-10-20", "10:00"), inbound=False)
    team.message("4915100000001", local("2025-10-20", "11:00"), inbound=True, text="price?")
    team.message("4915100000002", local("2025-10-21", "10:00"), inbound=False)
    team.deal("4915100000001", local("2025-10-22", "15:00"), "4200")
    team.message("4915200000001", local("2025-10-21", "10:00"), inbound=False, rep="王芳")


def test_the_review_lines_and_pictures(engine: Engine) -> None:
    team = Team(engine)
    seed_week(team)
    settings = berlin_settings()
    review = digest.build_digest(
        engine, Renderer(settings.timezone), settings, team.team_id, "en",
        local("2025-10-24", "17:00"),
    )  # fmt: skip
    assert review.period.label() == "2025-W43"
    lines = "\n".join(review.texts).split("\n")
    assert lines[0] == "🗓 <b>Weekly review</b> · week 2025-W43 · as of 10/24/25, 5:00\u202fPM"
    assert lines[2:5] == [
        "<b>Team by score</b>",
        "1. Alice — 42/100 (+42 since last week)",
        "2. 王芳 — 0.7/100 (+0.7 since last week)",
    ]
    assert lines[6:9] == [
        "<b>The week's best</b>",
        "💬 Top reply rate: <b>Alice</b> (50%)",
        "💰 Largest deal: <b>Alice</b> ($4,200.00)",
    ]
    assert (
        "🧭 <b>Coaching</b>: quote rate below target two weeks in a row — look at their "
        "stalled conversations together: 王芳"
    ) in lines
    assert "<b>Tag accuracy</b>: Alice no data, 王芳 no data" in lines
    # Alice's first customer asked for a price on Monday and still waits for her answer.
    assert "<b>Open nudges</b>: Alice 1, 王芳 0" in lines
    alice = lines.index("<b>Alice</b> · 42/100")
    assert lines[alice + 1 : alice + 4] == [
        "⛔ Effective reach: 2 / 20",
        "▫️ Messages sent: 2",
        "✅ Reply rate: 50% / 20%",
    ]
    assert "▫️ Deal amount: $4,200.00" in lines
    assert "⛔ Reply rate: 0% / 20%" in lines  # 王芳's customer did not reply
    assert lines[-1] == "The numbers start the conversation with each rep; they don't replace it."

    assert [chart.name for chart in review.charts] == ["score", "funnel"]
    assert review.charts[0].caption == "Score, week 2025-W43"
    for chart in review.charts:
        assert chart.png.startswith(PNG_SIGNATURE)
        pixels = matplotlib.image.imread(io.BytesIO(chart.png), format="png")
        assert pixels.shape[0] > 100
        assert pixels.shape[1] > 100
        assert pixels.std() > 0  # not a blank picture


def test_the_review_in_chinese(engine: Engine) -> None:
    team = Team(engine)
    seed_week(team)
    settings = berlin_settings()
    review = digest.build_digest(
        engine, Renderer(settings.timezone), settings, team.team_id, "zh",
        local("2025-10-24", "17:00"),
    )  # fmt: skip
    text = "\n".join(review.texts)
    assert text.startswith("🗓 <b>每周复盘</b> · 周 2025-W43")
    assert "💰 最大一单：<b>Alice</b>（US$4,200.00）" in text
    assert review.charts[0].caption == "得分 · 2025-W43 周"


def test_friday_review_is_queued_for_the_manager_as_digest_shows_it(engine: Engine) -> None:
    team = Team(engine)
    seed_week(team)
    settings = berlin_settings()
    clock = FakeClock(local("2025-10-24", "17:00"))
    ctx = PushContext(engine, Renderer(settings.timezone), settings, clock, "test")
    week = digest.review_week(
        clock.now(), digest._team_for(engine, team.team_id), settings.timezone
    )
    added = digest.enqueue_review(
        ctx, team.team_id, week, clock.now(), "digest:team-1", "2025-W43"
    )
    rows = outbox.rows(engine, kinds=["digest"])
    assert added == len(rows)
    assert {r.recipient for r in rows} == {MANAGER_CHAT}
    shown = digest.build_digest(engine, ctx.renderer, settings, team.team_id, "en", clock.now())
    queued_texts = [r.payload["text"] for r in rows if r.payload["method"] == "sendMessage"]
    assert queued_texts == shown.texts
    photos = [r for r in rows if r.payload["method"] == "sendPhoto"]
    assert [r.subject for r in photos] == ["chart-score", "chart-funnel"]


def test_every_push_template_renders_in_both_locales() -> None:
    renderer = Renderer(berlin_settings().timezone)
    for locale in LOCALES:
        names = [n for n in renderer.template_names(locale) if n.startswith("push_")]
        assert len(names) == 13, names
    assert {n for n in renderer.template_names("en") if n.startswith("push_")} == {
        n for n in renderer.template_names("zh") if n.startswith("push_")
    }
