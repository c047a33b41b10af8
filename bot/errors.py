"""The errors kpibot raises on purpose, under one base class.

    KpibotError
    ├── ConfigError          a setting is missing or invalid
    ├── PayloadError         a webhook body is not a WhatsApp payload kpibot can read
    ├── StorageError         the database cannot be reached or refused a write
    │   └── SchemaOutOfDateError  the database needs ``kpibot db upgrade``
    └── NotFoundError        a named rep, number or customer does not exist

Messages name the value that was wrong and, where there is one, the fix.
"""

from __future__ import annotations


class KpibotError(Exception):
    """Base class of every error kpibot raises on purpose."""


class ConfigError(KpibotError):
    """A setting is missing or has a value kpibot cannot use."""


class PayloadError(KpibotError):
    """A webhook body cannot be read as a WhatsApp Business Platform payload.

    Attributes:
        where: the path inside the payload that is wrong, e.g.
            ``entry[0].changes[1].value.messages[2].timestamp``; empty for the whole body.
    """

    def __init__(self, reason: str, where: str = "") -> None:
        self.reason = reason
        self.where = where
        super().__init__(f"{where}: {reason}" if where else reason)


class StorageError(KpibotError):
    """The database cannot be reached, or refused an operation."""


class SchemaOutOfDateError(StorageError):
    """The database schema is older than this version of kpibot."""


class NotFoundError(KpibotError):
    """A rep, business number or customer named by the user does not exist."""
