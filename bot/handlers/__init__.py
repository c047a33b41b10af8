"""The bot's commands, one module per feature; :data:`MODULES` lists them for assembly.

Each module offers ``COMMANDS`` (for ``/help`` and Telegram's command menu) and
``handlers(deps)``, the PTB handlers of the feature. ``bot.telegram.application``
assembles them all in :func:`bot.telegram.application.register_handlers`.
"""

from bot.handlers import (
    customers,
    leaderboard,
    manager,
    mystats,
    records,
    reminders,
    start,
    teamchat,
)

MODULES = (start, mystats, leaderboard, customers, records, manager, teamchat, reminders)

__all__ = [
    "MODULES",
    "customers",
    "leaderboard",
    "manager",
    "mystats",
    "records",
    "reminders",
    "start",
    "teamchat",
]
