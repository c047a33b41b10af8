"""The buttons under a tag reminder: each works once, and lower re-tags the customer."""

from __future__ import annotations

from datetime import UTC

from sqlalchemy import Engine, select

from bot.handlers.base import Deps
from bot.handlers.reminders import PATTERN, decide
from bot.push import reminders
from bot.render import Renderer
from storage import telegram as store
from storage.db import session_factory, session_scope
from storage.models import CustomerTag
from tests.push.builders import Team, berlin_settings, local

CUSTOMER = "4915112345678"


def test_lower_takes_the_high_intent_tag_off_once(engine: Engine) -> None:
    team = Team(engine)
    team.message(CUSTOMER, local("2025-10-20", "09:00"), inbound=True)
    team.tag(CUSTOMER, local("2025-10-20", "09:30"))
    settings = berlin_settings()
    now = local("2025-10-27", "10:00").astimezone(UTC)
    deps = Deps(engine, Renderer(settings.timezone), settings, clock=lambda: now)
    sessions = session_factory(engine)
    alice_id = team.rep_ids["Alice"]
    with session_scope(sessions) as session:
        rep = store.rep_by_id(session, alice_id)
        assert rep is not None
        token = store.create_action(
            session, alice_id, reminders.ACTION_KIND, {"customer_id": 1, "tagged_at": "x"}, now
        )
    import re

    assert re.match(PATTERN, f"tagrem:lower:{token}")
    with session_scope(sessions) as session:
        customer = decide(session, rep, "lower", token, deps)
    assert customer is not None
    assert customer.wa_id == CUSTOMER
    with session_scope(sessions) as session:
        assert decide(session, rep, "lower", token, deps) is None  # used up
        tags = session.execute(select(CustomerTag.tag, CustomerTag.removed_at)).all()  # type: ignore[call-overload]
    assert sorted((tag, removed is not None) for tag, removed in tags) == [
        ("high-intent", True),
        ("medium-intent", False),
    ]
