"""kpibot's store: tables, engine and sessions, queries and migrations. All SQL lives here."""
