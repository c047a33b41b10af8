"""kpibot in Telegram: the PTB application, how it runs (polling or webhook), a fake Bot
API server for tests and the console, and the console itself."""
