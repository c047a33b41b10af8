"""Column types that keep kpibot's values exact on every database.

SQLite has neither time zones nor exact decimals, so these types store a portable form
and hand back what the rest of kpibot expects: aware UTC datetimes and ``Decimal``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

MONEY_SCALE = 10_000
"""Amounts are stored as integers of 1/10,000 of a currency unit."""


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    Naive datetimes are refused when written: a time without a zone is a bug waiting
    for a daylight-saving change.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert to UTC; SQLite gets a naive UTC value, since it stores no zone."""
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r} given where an aware one is required")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Attach UTC to what SQLite returns naive; normalise other zones to UTC."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Money(TypeDecorator[Decimal]):
    """An exact amount of money, stored as a scaled integer so SUM() stays exact."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> int | None:
        """Scale a ``Decimal`` (or int / numeric string) to integer units."""
        if value is None:
            return None
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
        return int((amount * MONEY_SCALE).to_integral_value(rounding=ROUND_HALF_EVEN))

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        """Turn the stored integer back into a ``Decimal``."""
        if value is None:
            return None
        return money_from_units(int(value))


def money_from_units(units: int) -> Decimal:
    """Convert a stored (or summed) integer amount back to a ``Decimal``."""
    return (Decimal(units) / MONEY_SCALE).quantize(Decimal("0.0001"))


def utcnow() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(UTC)
