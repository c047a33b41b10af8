"""The engine and column types: SQLite pragmas, exact datetimes and money on every backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.orm import Session, sessionmaker

from bot.errors import StorageError
from storage.db import check_connection, create_db_engine, readonly, session_scope
from storage.models import Customer, Deal, Rep
from storage.types import money_from_units


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path: object) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path}/nested/dir/kpibot.db")
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
    finally:
        engine.dispose()


def test_foreign_keys_enforced(sessions: sessionmaker[Session]) -> None:
    with pytest.raises(IntegrityError), session_scope(sessions) as session:
        session.add(Rep(name="Ghost", team_id=999))


def test_check_connection_passes_on_a_reachable_store(engine: Engine) -> None:
    check_connection(engine)


def test_check_connection_names_an_unreachable_store() -> None:
    engine = create_db_engine("postgresql://nobody@127.0.0.1:1/none")
    with pytest.raises(StorageError, match=r"cannot reach the database .*127\.0\.0\.1"):
        check_connection(engine)
    engine.dispose()


@pytest.mark.parametrize(
    "moment",
    [
        pytest.param(datetime(2026, 3, 8, 1, 30, 15, 123456, tzinfo=UTC), id="utc"),
        pytest.param(
            datetime(2026, 11, 1, 9, 5, tzinfo=ZoneInfo("Asia/Shanghai")), id="asia-shanghai"
        ),
        pytest.param(
            datetime(2026, 3, 29, 2, 30, tzinfo=timezone(timedelta(hours=-5))), id="fixed-offset"
        ),
    ],
)
def test_aware_datetimes_round_trip_as_utc(
    sessions: sessionmaker[Session], moment: datetime
) -> None:
    with session_scope(sessions) as session:
        session.add(Customer(wa_id="8613800000001", created_at=moment, updated_at=moment))
    with session_scope(sessions) as session:
        stored = session.execute(select(Customer)).scalar_one()
    assert stored.created_at == moment
    assert stored.created_at.tzinfo is UTC
    assert stored.created_at.utcoffset() == timedelta(0)


def test_naive_datetime_refused(sessions: sessionmaker[Session]) -> None:
    naive = datetime(2026, 1, 1, 12, 0)
    session = sessions()
    session.add(Customer(wa_id="8613800000002", created_at=naive, updated_at=naive))
    with pytest.raises(StatementError, match="naive datetime"):
        session.commit()
    session.close()
    with session_scope(sessions) as session:
        assert session.execute(select(Customer)).first() is None


@pytest.mark.parametrize(
    "amount",
    [
        pytest.param(Decimal("0.1"), id="tenth"),
        pytest.param(Decimal("12345678901.2345"), id="large-with-scale"),
        pytest.param(Decimal("-3.0001"), id="negative"),
        pytest.param(Decimal("0"), id="zero"),
    ],
)
def test_money_round_trips_exactly(sessions: sessionmaker[Session], amount: Decimal) -> None:
    with session_scope(sessions) as session:
        customer = Customer(wa_id="8613800000003")
        session.add(customer)
        session.flush()
        assert customer.id is not None
        session.add(
            Deal(
                customer_id=customer.id,
                amount=amount,
                currency="USD",
                closed_at=datetime(2026, 2, 1, tzinfo=UTC),
            )
        )
    with session_scope(sessions) as session:
        deal = session.execute(select(Deal)).scalar_one()
    assert deal.amount == amount
    assert isinstance(deal.amount, Decimal)


def test_money_sum_stays_exact(engine: Engine, sessions: sessionmaker[Session]) -> None:
    with session_scope(sessions) as session:
        customer = Customer(wa_id="8613800000004")
        session.add(customer)
        session.flush()
        assert customer.id is not None
        for _ in range(10):
            session.add(
                Deal(
                    customer_id=customer.id,
                    amount=Decimal("0.1"),
                    currency="USD",
                    closed_at=datetime(2026, 2, 1, tzinfo=UTC),
                )
            )
    with engine.connect() as conn:
        units = conn.execute(text("SELECT SUM(amount) FROM deal")).scalar_one()
    assert money_from_units(int(units)) == Decimal("1.0000")


def test_readonly_engine_reads(engine: Engine, sessions: sessionmaker[Session]) -> None:
    with session_scope(sessions) as session:
        session.add(Customer(wa_id="8613800000005"))
    with readonly(engine).connect() as conn:
        assert conn.execute(text("SELECT wa_id FROM customer")).scalar_one() == "8613800000005"
