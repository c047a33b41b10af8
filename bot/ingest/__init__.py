"""Parsing of external data into domain events: pure functions, no I/O."""
