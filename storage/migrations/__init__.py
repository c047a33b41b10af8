"""Alembic migrations of kpibot's schema; run them with ``kpibot db upgrade``."""
