"""The one settings object of kpibot, read from the environment and a ``.env`` file.

Nothing else in kpibot reads ``os.environ``: every component gets what it needs from a
:class:`Settings` passed to it. Secrets are :class:`pydantic.SecretStr`, so they never
appear in a ``repr`` or a log line.
"""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import ConfigError

DEFAULT_DATABASE_URL = "sqlite:///kpibot.db"


class Settings(BaseSettings):
    """Every setting of kpibot; the environment variable is the field name in upper case.

    The same list, with what each is for, is in ``.env.example`` and the README.
    """

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    database_url: str = Field(
        default=DEFAULT_DATABASE_URL,
        description="SQLAlchemy-style URL; sqlite:///path or postgresql://user@host/db.",
    )
    whatsapp_app_secret: SecretStr | None = Field(
        default=None, description="The Meta app's secret, for X-Hub-Signature-256."
    )
    whatsapp_verify_token: SecretStr | None = Field(
        default=None, description="The token typed into the Meta dashboard's Verify token."
    )
    telegram_bot_token: SecretStr | None = Field(default=None, description="From BotFather.")
    telegram_webhook_url: str | None = Field(
        default=None,
        description="Public https URL of POST /webhooks/telegram; unset means long polling.",
    )
    telegram_webhook_secret: SecretStr | None = Field(
        default=None, description="Checked against X-Telegram-Bot-Api-Secret-Token."
    )
    telegram_api_base_url: str | None = Field(
        default=None,
        description="Root URL of a self-hosted Bot API server, e.g. http://host:8081.",
    )
    kpibot_api_token: SecretStr | None = Field(
        default=None, description="Bearer token of the events API; unset turns the API off."
    )
    kpibot_http_host: str = Field(default="127.0.0.1", description="Address to listen on.")
    kpibot_http_port: int = Field(default=8080, ge=0, le=65535, description="Port to listen on.")
    kpibot_timezone: str = Field(default="Asia/Shanghai", description="The team's time zone.")
    kpibot_team_settings: str = Field(
        default="kpibot.toml",
        description="Path of the team settings file (stage, targets, working hours …).",
    )
    kpibot_log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR.")
    kpibot_max_body_bytes: int = Field(
        default=3 * 1024 * 1024 + 64 * 1024,
        gt=0,
        description="Largest webhook body accepted; Meta sends up to 3 MB (3211264 at most).",
    )

    @field_validator("kpibot_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}; use an IANA name") from exc
        return value

    @field_validator("kpibot_log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError(f"unknown log level {value!r}; use DEBUG, INFO, WARNING or ERROR")
        return level

    @field_validator(
        "whatsapp_app_secret",
        "whatsapp_verify_token",
        "telegram_bot_token",
        "kpibot_api_token",
        "telegram_webhook_secret",
    )
    @classmethod
    def _blank_is_unset(cls, value: SecretStr | None) -> SecretStr | None:
        # An empty line such as `WHATSAPP_APP_SECRET=` in .env means "not set".
        if value is not None and not value.get_secret_value().strip():
            return None
        return value

    @property
    def timezone(self) -> ZoneInfo:
        """The team's time zone as a ``ZoneInfo``."""
        return ZoneInfo(self.kpibot_timezone)


def load_settings(**overrides: object) -> Settings:
    """Read the settings, turning a validation failure into one readable ConfigError.

    Args:
        overrides: values that win over the environment (used by the CLI and tests).

    Returns:
        The settings.

    Raises:
        ConfigError: a variable has a value kpibot cannot use; the message names it.
    """
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']).upper()}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return load_settings()
