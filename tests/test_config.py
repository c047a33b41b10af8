"""Settings: defaults, database URLs, secrets kept out of sight, readable errors."""

from __future__ import annotations

import logging
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from bot.config import Settings, load_settings
from bot.errors import ConfigError, StorageError
from storage.db import check_connection, create_db_engine, normalise_url, redact_url

SECRET = "s3cr3t-app-secret-value"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests see only the variables they set, whatever the developer's shell has."""
    for name in list(Settings.model_fields):
        monkeypatch.delenv(name.upper(), raising=False)


def test_defaults() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.database_url == "sqlite:///kpibot.db"
    assert settings.kpibot_http_host == "127.0.0.1"
    assert settings.kpibot_http_port == 8080
    assert settings.kpibot_timezone == "Asia/Shanghai"
    assert settings.timezone == ZoneInfo("Asia/Shanghai")
    assert settings.whatsapp_app_secret is None
    assert settings.whatsapp_verify_token is None


def test_default_database_is_kpibot_db_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    engine = create_db_engine(Settings(_env_file=None).database_url)  # type: ignore[call-arg]
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    finally:
        engine.dispose()
    assert (tmp_path / "kpibot.db").is_file()


def test_settings_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://kpi@db.internal:5432/kpibot")
    monkeypatch.setenv("KPIBOT_HTTP_PORT", "9090")
    monkeypatch.setenv("KPIBOT_TIMEZONE", "Europe/Istanbul")
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.database_url == "postgresql://kpi@db.internal:5432/kpibot"
    assert settings.kpibot_http_port == 9090
    assert settings.timezone == ZoneInfo("Europe/Istanbul")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("sqlite:///data/kpibot.db", "sqlite:///data/kpibot.db", id="sqlite-relative"),
        pytest.param("sqlite:////var/kpibot.db", "sqlite:////var/kpibot.db", id="sqlite-absolute"),
        pytest.param("sqlite://", "sqlite://", id="sqlite-memory"),
        pytest.param(
            "postgresql://kpi@db:5432/kpibot", "postgresql+psycopg://kpi@db:5432/kpibot", id="pg"
        ),
        pytest.param(
            "postgres://kpi@db:5432/kpibot", "postgresql+psycopg://kpi@db:5432/kpibot", id="heroku"
        ),
        pytest.param(
            "postgresql+psycopg2://kpi@db/kpibot", "postgresql+psycopg://kpi@db/kpibot", id="pg2"
        ),
        pytest.param(
            "postgresql+psycopg://kpi@db/kpibot",
            "postgresql+psycopg://kpi@db/kpibot",
            id="psycopg",
        ),
    ],
)
def test_plain_urls_get_kpibots_driver(url: str, expected: str) -> None:
    assert normalise_url(url) == expected


def test_postgres_url_opens_with_psycopg3() -> None:
    engine = create_db_engine("postgresql://kpi@127.0.0.1:5432/kpibot")
    assert engine.dialect.driver == "psycopg"
    engine.dispose()


@pytest.mark.parametrize(
    ("url", "named"),
    [
        pytest.param("mysql://kpi@db/kpibot", "mysql", id="mysql"),
        pytest.param("mssql+pyodbc://kpi@db/kpibot", "mssql", id="mssql"),
        pytest.param("not a url", "not a url", id="garbage"),
    ],
)
def test_unsupported_database_url_names_it(url: str, named: str) -> None:
    with pytest.raises(ConfigError, match="DATABASE_URL") as raised:
        create_db_engine(url)
    assert named in str(raised.value)


def test_secrets_never_in_repr() -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        whatsapp_app_secret=SECRET,
        whatsapp_verify_token="verify-me-token",
        telegram_bot_token="123456:ABCDEF-telegram",
    )
    shown = repr(settings) + str(settings) + repr(settings.model_dump())
    assert SECRET not in shown
    assert "verify-me-token" not in shown
    assert "123456:ABCDEF-telegram" not in shown
    assert settings.whatsapp_app_secret is not None
    assert settings.whatsapp_app_secret.get_secret_value() == SECRET


def test_blank_secret_means_unset() -> None:
    settings = Settings(_env_file=None, whatsapp_app_secret="  ")  # type: ignore[call-arg]
    assert settings.whatsapp_app_secret is None


def test_database_password_masked_in_errors(caplog: pytest.LogCaptureFixture) -> None:
    url = "postgresql://kpi:hunter2-password@127.0.0.1:1/kpibot"
    assert "hunter2-password" not in redact_url(url)
    engine = create_db_engine(url, connect_args={"connect_timeout": 2})
    caplog.set_level(logging.DEBUG)
    with pytest.raises(StorageError, match="cannot reach the database") as raised:
        check_connection(engine)
    engine.dispose()
    assert "hunter2-password" not in str(raised.value)
    assert "hunter2-password" not in caplog.text


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        pytest.param("KPIBOT_TIMEZONE", "Mars/Olympus_Mons", id="timezone"),
        pytest.param("KPIBOT_HTTP_PORT", "70000", id="port-too-big"),
        pytest.param("KPIBOT_HTTP_PORT", "eighty", id="port-not-a-number"),
        pytest.param("KPIBOT_LOG_LEVEL", "CHATTY", id="log-level"),
    ],
)
def test_invalid_setting_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as raised:
        load_settings(_env_file=None)
    message = str(raised.value)
    assert variable in message
    assert "\n" not in message


def test_invalid_setting_error_does_not_show_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WHATSAPP_APP_SECRET", SECRET)
    monkeypatch.setenv("KPIBOT_HTTP_PORT", "-1")
    with pytest.raises(ConfigError, match="KPIBOT_HTTP_PORT") as raised:
        load_settings(_env_file=None)
    assert SECRET not in str(raised.value)


def test_env_example_documents_every_setting() -> None:
    """.env.example names every setting, and nothing that is not one."""
    import re
    from pathlib import Path

    from bot.config import Settings

    text = (Path(__file__).parent.parent / ".env.example").read_text(encoding="utf-8")
    documented = set(re.findall(r"^([A-Z_]+)=", text, re.MULTILINE))
    assert documented == {name.upper() for name in Settings.model_fields}
