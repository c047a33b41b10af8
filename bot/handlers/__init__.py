"""Telegram command handlers, one module per feature (the Telegram side is built next)."""
