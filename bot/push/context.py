"""What every push job shares: the store, the templates, the team settings, the clock, and
the one way a job's results are written (claim the run and enqueue, in one transaction).
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session
from telegram.constants import ParseMode

from bot.metrics.settings import TeamSettings
from bot.push.clock import Clock
from bot.render import Renderer, pick_locale, split_message
from storage import outbox, push_queries
from storage.db import readonly, session_factory, session_scope
from storage.outbox import OutboxItem
from storage.push_queries import Person, TeamRow

logger = logging.getLogger(__name__)

Buttons = Sequence[Sequence[tuple[str, str]]]
"""Rows of (label, callback data) pairs."""


def team_settings(base: TeamSettings, overrides: dict[str, str]) -> TeamSettings:
    """The settings file's values with the team's changes made in Telegram on top, by the
    handlers' own rule, so a push and a command show the same numbers."""
    # Imported here: bot.handlers imports bot.push.digest for /digest.
    from bot.handlers.base import effective_settings

    return effective_settings(base, overrides)


@dataclass(frozen=True, slots=True)
class ManagedTeam:
    """A team that manager pushes go to: its settings, its reps and reachable managers."""

    team: TeamRow
    settings: TeamSettings
    rep_ids: frozenset[int]
    managers: list[Person]


@dataclass
class PushContext:
    """The dependencies of the push jobs.

    Attributes:
        engine: the store.
        renderer: the templates.
        settings: the team settings file's values.
        clock: the push side's clock.
        worker: this process's id, recorded with each job run.
    """

    engine: Engine
    renderer: Renderer
    settings: TeamSettings
    clock: Clock
    worker: str = "kpibot"
    _sessions: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._sessions = session_factory(self.engine)

    def read(self) -> Any:
        """A read-only connection (a context manager); on SQLite it takes no write lock."""
        return readonly(self.engine).connect()

    def settings_for(self, team: TeamRow | None) -> TeamSettings:
        """The effective settings of ``team`` (the file's alone for no team)."""
        return team_settings(self.settings, team.overrides if team else {})

    def managed_teams(self, conn: Connection) -> Iterator[ManagedTeam]:
        """Every team with reps and at least one manager the bot can write to."""
        for team in push_queries.teams(conn):
            members = push_queries.people(conn, team.id)
            rep_ids = frozenset(p.rep_id for p in members if p.role == "rep")
            managers = [p for p in members if p.role == "manager" and p.chat_id is not None]
            if rep_ids and managers:
                yield ManagedTeam(team, self.settings_for(team), rep_ids, managers)

    @staticmethod
    def locale_for(person: Person | None, team: TeamRow | None) -> str:
        """The language to write to ``person`` in: theirs, else the team's, else English."""
        team_language = team.overrides.get("language") if team else None
        return pick_locale(person.language if person else None, team_language)

    def message(
        self,
        kind: str,
        recipient: int,
        subject: str,
        period_key: str,
        locale: str,
        template: str,
        /,
        *,
        buttons: Buttons | None = None,
        **values: Any,
    ) -> list[OutboxItem]:
        """Render ``template`` into outbox items, one per part Telegram accepts.

        A long message becomes several rows (``subject#2`` …); buttons go on the last.

        Returns:
            The items, in the order they are to arrive.
        """
        text = self.renderer.render(locale, template, **values)
        parts = split_message(text)
        items = []
        for index, part in enumerate(parts):
            payload: dict[str, Any] = {
                "method": "sendMessage",
                "text": part,
                "parse_mode": ParseMode.HTML.value,
            }
            if buttons and index == len(parts) - 1:
                payload["buttons"] = [[list(pair) for pair in row] for row in buttons]
            part_subject = subject if index == 0 else f"{subject}#{index + 1}"
            items.append(OutboxItem(kind, recipient, part_subject, period_key, payload))
        return items

    def text(self, locale: str, template: str, **values: Any) -> str:
        """A template rendered as plain text (a button label, a chart's title)."""
        return html.unescape(self.renderer.render(locale, template, **values))

    def commit(
        self,
        job_id: str,
        period_key: str,
        items: Sequence[OutboxItem],
        extra: Callable[[Session], Sequence[OutboxItem]] | None = None,
    ) -> int | None:
        """Claim the run and enqueue its pushes in one transaction.

        Args:
            job_id: the job's stable id.
            period_key: the period the run is for.
            items: the pushes.
            extra: called inside the transaction after the claim, for pushes that need
                rows written with them (a button's action); returns more pushes.

        Returns:
            How many outbox rows were added, or None when the period had already run
            (in this process or another one).
        """
        now = self.clock.now()
        with session_scope(self._sessions) as session:
            if not outbox.claim_run(session, job_id, period_key, now, self.worker):
                return None
            added = outbox.enqueue(session, items, now)
            if extra is not None:
                added += outbox.enqueue(session, extra(session), now)
        return added

    def write(self, work: Callable[[Session], Any]) -> Any:
        """Run ``work`` in one write transaction and return what it returns."""
        with session_scope(self._sessions) as session:
            return work(session)


def connection_of(session: Session) -> Connection:
    """The connection of a session, for the Core queries of :mod:`storage`."""
    return session.connection()
