"""The kpibot command: schema, reps, replay, and one-line errors."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from bot import cli as cli_module
from bot.app import webhook_config
from bot.config import Settings
from bot.errors import ConfigError
from bot.ingest.whatsapp import MAX_BODY_BYTES
from storage import inbox, migrate
from storage.db import session_scope
from storage.ingest import apply_events
from storage.models import BusinessNumber, Message, Rep, Team
from tests.helpers import (
    PHONE_NUMBER_ID,
    body,
    inbound_text_payload,
    kept_logging,
    message_event,
    status_payload,
)

HEAD = migrate.head_revision()


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """The CLI configures logging: undo it for the next test."""
    with kept_logging():
        yield


def run(url: str, *args: str) -> Result:
    return CliRunner().invoke(cli_module.cli, ["--database-url", url, *args])


def url_of(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def run_main(
    url: str, *args: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    """Run the console entry point as the shell does; return exit code and stderr+stdout."""
    monkeypatch.setattr(sys, "argv", ["kpibot", "--database-url", url, *args])
    code: int | str | None = 0
    try:
        cli_module.main()
    except SystemExit as exited:
        code = exited.code
    captured = capsys.readouterr()
    return int(code or 0), captured.err + captured.out


# --- db -----------------------------------------------------------------------------------


def test_db_upgrade_then_current(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    current = run(url, "db", "current")
    assert current.exit_code == 0, current.output
    assert (
        current.output
        == f"database: empty; newest: {HEAD}\nRun `kpibot db upgrade` to bring it up to date.\n"
    )

    first = run(url, "db", "upgrade")
    assert first.exit_code == 0, first.output
    assert first.stdout == f"Database upgraded from empty to {HEAD}.\n"
    again = run(url, "db", "upgrade")
    assert again.stdout == f"The database is already at the newest schema ({HEAD}).\n"
    assert run(url, "db", "current").stdout == f"database: {HEAD}; newest: {HEAD}\n"


def test_store_not_migrated_says_to_upgrade(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, output = run_main(
        f"sqlite:///{tmp_path}/new.db", "rep", "list", monkeypatch=monkeypatch, capsys=capsys
    )
    assert code == 1
    assert output.startswith("Error: the database schema is at nothing (empty database)")
    assert "run `kpibot db upgrade`" in output
    assert output.count("\n") == 1


# --- reps ---------------------------------------------------------------------------------


def test_rep_add_with_every_option(engine: Engine, sessions: sessionmaker[Session]) -> None:
    result = run(
        url_of(engine),
        "rep",
        "add",
        "Li Na",
        "--phone-number-id",
        PHONE_NUMBER_ID,
        "--display-number",
        "+86 138 1234 5678",
        "--team",
        "Export East",
        "--role",
        "manager",
        "--hired",
        "2026-03-02",
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "Added manager Li Na with 1 number(s).\n"
    with session_scope(sessions) as session:
        rep = session.execute(select(Rep)).scalar_one()
        team = session.execute(select(Team)).scalar_one()
        number = session.execute(select(BusinessNumber)).scalar_one()
    assert (rep.name, rep.role, rep.hire_date.isoformat() if rep.hire_date else None) == (
        "Li Na",
        "manager",
        "2026-03-02",
    )
    assert (rep.team_id, team.name) == (team.id, "Export East")
    assert (number.phone_number_id, number.display_number, number.rep_id) == (
        PHONE_NUMBER_ID,
        "8613812345678",
        rep.id,
    )


def test_rep_add_attributes_earlier_messages(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    with session_scope(sessions) as session:
        apply_events(session, [message_event("wamid.1"), message_event("wamid.2")])
    result = run(url_of(engine), "rep", "add", "Omar", "--phone-number-id", PHONE_NUMBER_ID)
    assert result.stdout == (
        "Added rep Omar with 1 number(s).\n"
        "2 messages already received on those numbers are now theirs.\n"
    )
    with session_scope(sessions) as session:
        rep_id = session.execute(select(Rep.id)).scalar_one()
        assert set(session.execute(select(Message.rep_id)).scalars()) == {rep_id}


def test_rep_list_shows_reps_and_unclaimed_numbers(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    from tests.helpers import NUMBER

    other = type(NUMBER)(phone_number_id="999000111", display_number="15550001111")
    with session_scope(sessions) as session:
        apply_events(
            session,
            [
                message_event("wamid.1"),
                message_event("wamid.2", number=other),
                message_event("wamid.3", number=other),
            ],
        )
    run(
        url_of(engine),
        "rep",
        "add",
        "Li Na",
        "--phone-number-id",
        PHONE_NUMBER_ID,
        "--team",
        "East",
        "--hired",
        "2026-01-05",
    )
    result = run(url_of(engine), "rep", "list")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "Li Na (rep, team East, hired 2026-01-05): 1 messages",
        f"    {PHONE_NUMBER_ID} (+15550783881)",
        "Unclaimed number 999000111 (+15550001111): 2 messages waiting for "
        "`kpibot rep add NAME --phone-number-id 999000111`",
    ]


def test_rep_list_when_empty(engine: Engine) -> None:
    assert run(url_of(engine), "rep", "list").stdout == (
        "No reps yet. Add one with `kpibot rep add NAME --phone-number-id ID`.\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["--hired", "05/01/2026"],
            "'05/01/2026' is not a date; write it as YYYY-MM-DD",
            id="bad-date",
        ),
        pytest.param(["--role", "boss"], "'boss' is not one of 'rep', 'manager'", id="bad-role"),
    ],
)
def test_rep_add_bad_option_is_one_line(engine: Engine, args: list[str], message: str) -> None:
    result = run(url_of(engine), "rep", "add", "Li Na", "--phone-number-id", "1", *args)
    assert result.exit_code == 2
    (line,) = [ln for ln in result.output.splitlines() if ln.startswith("Error:")]
    assert message in line


@pytest.mark.parametrize(
    ("first", "second", "message"),
    [
        pytest.param(
            ["Li Na", "--phone-number-id", "1"],
            ["Li Na", "--phone-number-id", "2"],
            "Error: a rep called 'Li Na' already exists; `kpibot rep list` shows them",
            id="duplicate-rep",
        ),
        pytest.param(
            ["Li Na", "--phone-number-id", "1"],
            ["Omar", "--phone-number-id", "1"],
            "Error: phone number id 1 already belongs to Li Na",
            id="number-taken",
        ),
    ],
)
def test_rep_add_conflict_is_one_line(
    engine: Engine,
    sessions: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    first: list[str],
    second: list[str],
    message: str,
) -> None:
    assert run(url_of(engine), "rep", "add", *first).exit_code == 0
    code, output = run_main(
        url_of(engine), "rep", "add", *second, monkeypatch=monkeypatch, capsys=capsys
    )
    assert (code, output) == (1, message + "\n")
    with session_scope(sessions) as session:
        assert session.execute(select(Rep.name)).scalars().all() == ["Li Na"]


# --- replay -------------------------------------------------------------------------------


def _fail_one_and_process_one(engine: Engine) -> None:
    from bot.normaliser import normalise_all

    bad = inbound_text_payload("wamid.bad")
    bad["entry"][0]["changes"][0]["value"]["messages"][0]["timestamp"] = "soon"
    inbox.store_bodies(engine, [body(bad), body(status_payload("wamid.ok"))])
    normalise_all(engine)


def test_replay_list_shows_failures(engine: Engine) -> None:
    assert run(url_of(engine), "replay", "--list").stdout == "No failed webhook bodies.\n"
    _fail_one_and_process_one(engine)
    result = run(url_of(engine), "replay", "--list")
    (line,) = result.stdout.splitlines()
    assert line.startswith("#1: not a readable WhatsApp payload: entry[0].changes[0]")
    assert "not a unix time: 'soon'" in line


def test_replay_retries_failed_only(engine: Engine) -> None:
    _fail_one_and_process_one(engine)
    result = run(url_of(engine), "replay")
    assert result.stdout == (
        "Replayed 1 bodies: 0 processed, 1 failed (0 new messages, 0 statuses).\n"
        "See why with `kpibot replay --list`.\n"
    )
    assert inbox.counts(engine) == {inbox.FAILED: 1, inbox.PROCESSED: 1}


def test_replay_all_reprocesses_without_double_counting(
    engine: Engine, sessions: sessionmaker[Session]
) -> None:
    _fail_one_and_process_one(engine)
    result = run(url_of(engine), "replay", "--all")
    assert result.stdout.startswith(
        "Replayed 2 bodies: 1 processed, 1 failed (0 new messages, 1 statuses)."
    )
    with session_scope(sessions) as session:
        assert session.execute(select(Message.wamid)).scalars().all() == ["wamid.ok"]


# --- serve's configuration ----------------------------------------------------------------


def test_webhook_config_refuses_to_run_without_app_secret() -> None:
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    with pytest.raises(ConfigError, match="WHATSAPP_APP_SECRET is not set") as raised:
        webhook_config(settings)
    assert "--insecure-skip-signature" in str(raised.value)


def test_webhook_config_insecure_only_when_asked() -> None:
    config = webhook_config(Settings(_env_file=None), insecure=True)  # type: ignore[call-arg]
    assert (config.app_secret, config.verify_signatures) == (None, False)


def test_webhook_config_caps_the_body_limit_at_the_parsers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = Settings(_env_file=None, kpibot_max_body_bytes=10 * 1024 * 1024)  # type: ignore[call-arg]
    config = webhook_config(settings, insecure=True)
    assert config.max_body_bytes == MAX_BODY_BYTES
    assert "KPIBOT_MAX_BODY_BYTES=10485760 is over" in caplog.text


def test_webhook_config_with_secret_verifies() -> None:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        whatsapp_app_secret="abc",
        whatsapp_verify_token="tok",
        kpibot_max_body_bytes=1000,
    )
    config = webhook_config(settings, insecure=True)
    assert (config.app_secret, config.verify_token, config.max_body_bytes) == (b"abc", "tok", 1000)
    assert config.verify_signatures is True
