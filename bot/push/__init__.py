"""Scheduled jobs and push messages."""
