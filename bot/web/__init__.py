"""kpibot's HTTP side: aiohttp routes for the WhatsApp webhook and health checks."""
