"""kpibot: the KPI system of a WhatsApp sales team, delivered in Telegram."""

__version__ = "0.1.0"
