"""What every ``kpibot`` subcommand gets from the command group: settings and the store.

Kept apart from :mod:`bot.cli` so that command modules (imports, stats, Telegram
linking) can use it while ``bot.cli`` registers them.
"""

from __future__ import annotations

import click
from sqlalchemy import Engine

from bot.config import Settings
from storage import migrate
from storage.db import check_connection, create_db_engine


class CliContext:
    """Settings and a lazily created engine, shared by the subcommands."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._engine: Engine | None = None

    def engine(self, *, require_current: bool = True) -> Engine:
        """The store's engine, checked to be reachable and, by default, migrated."""
        if self._engine is None:
            self._engine = create_db_engine(self.settings.database_url)
            click.get_current_context().find_root().call_on_close(self._engine.dispose)
            check_connection(self._engine)
            if require_current:
                migrate.ensure_current(self._engine)
        return self._engine


pass_context = click.make_pass_decorator(CliContext)
"""Decorator handing a subcommand the :class:`CliContext`."""
