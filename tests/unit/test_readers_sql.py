"""Issue 14: the clinic's database as a source, on SQLite (a tmp file) and PostgreSQL (the test
server's fresh schema): a query's columns map like CSV headers, rows are streamed with a
server-side cursor, the password never shows, and `crm-complaints sync` alone reads [source]."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from crm_complaints.cli import app
from crm_complaints.config import ClinicConfig, CsvConfig, Settings, SourceConfig
from crm_complaints.errors import ConfigError
from crm_complaints.readers import ClinicLocales, QuarantineEntry, read_source, read_sql
from crm_complaints.receiver import WebhookReceiver, running_receiver
from crm_complaints.schema import Complaint

runner = CliRunner()

QUERY = (
    "select case_no as id, site as clinic, received as received_at, kind as category, "
    "title as summary, route as channel, sns as sns_risk, amount as demand_amount "
    "from clinic_complaints order by case_no"
)
COLUMNS = {"sns_risk": "risk_flags.social_media", "demand_amount": "demand.amount"}
ROWS: list[dict[str, Any]] = [
    {
        "case_no": "DB-1",
        "site": "tokyo-ginza",
        "received": datetime(2026, 11, 20, 10, 15),
        "kind": "施術効果",
        "title": "施術の効果が感じられない",
        "route": "電話",
        "sns": "あり",
        "amount": None,
    },
    {
        "case_no": "DB-2",
        "site": "new-york-soho",
        "received": datetime(2026, 3, 8, 3, 0),  # just after New York's clocks moved forward
        "kind": "Waiting time",
        "title": "Waited an hour",
        "route": "Walk-in",
        "sns": "no",
        "amount": None,
    },
    {
        "case_no": "DB-3",
        "site": "shanghai-jingan",
        "received": datetime(2026, 11, 20, 9, 0),
        "kind": "服务态度",
        "title": "前台态度不好",
        "route": "社交媒体",
        "sns": "是",
        "amount": "¥6,000",
    },
    {
        "case_no": "DB-4",
        "site": "tokyo-ginza",
        "received": datetime(2026, 11, 20, 11, 0),
        "kind": "わからない",  # no one's word for a category: quarantined, not guessed
        "title": "x",
        "route": "電話",
        "sns": None,
        "amount": None,
    },
]


def settings(url: str | None = None, **source: Any) -> Settings:
    return Settings(
        default_clinic=ClinicConfig(time_zone="Asia/Tokyo"),
        clinics={
            "new-york-soho": ClinicConfig(time_zone="America/New_York", country="US"),
            "shanghai-jingan": ClinicConfig(time_zone="Asia/Shanghai", country="CN"),
        },
        csv=CsvConfig(
            columns=COLUMNS,
            local_time=True,
            values={"category": {"施術効果": "treatment_outcome"}},  # type: ignore[arg-type]
        ),
        source=SourceConfig(url=url, query=QUERY, **source),
    )


def fill(url: str, *, aware: bool = False) -> None:
    engine = sa.create_engine(url)
    received = sa.DateTime(timezone=aware)
    table = sa.Table(
        "clinic_complaints",
        sa.MetaData(),
        sa.Column("case_no", sa.String, primary_key=True),
        sa.Column("site", sa.String),
        sa.Column("received", received),
        sa.Column("kind", sa.String),
        sa.Column("title", sa.String),
        sa.Column("route", sa.String),
        sa.Column("sns", sa.String),
        sa.Column("amount", sa.String),
    )
    with engine.begin() as connection:
        table.create(connection)
        connection.execute(table.insert(), ROWS)
    engine.dispose()


def check(results: list[Any]) -> None:
    tokyo, new_york, shanghai, unknown = results
    assert isinstance(tokyo, Complaint) and tokyo.category == "treatment_outcome"
    assert tokyo.received_at == datetime(2026, 11, 20, 1, 15, tzinfo=UTC)
    assert tokyo.risk_flags == {"social_media"} and tokyo.channel == "phone"
    assert isinstance(new_york, Complaint) and new_york.channel == "walk_in"
    assert new_york.received_at == datetime(2026, 3, 8, 7, 0, tzinfo=UTC)  # 03:00 EDT
    assert new_york.risk_flags == frozenset()
    assert isinstance(shanghai, Complaint) and shanghai.demand is None  # no demand.kind column
    assert isinstance(unknown, QuarantineEntry)
    assert (unknown.line, unknown.complaint_id, unknown.field) == (4, "DB-4", "category")


def test_sqlite_source(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'clinic.db'}"
    fill(url)
    results = list(read_source(url, settings()))
    # Shanghai's amount without a kind: the schema refuses a demand without one.
    assert isinstance(results[2], QuarantineEntry) and results[2].field == "demand.kind"
    results[2] = Complaint.model_validate(
        {"id": "DB-3", "clinic": "c", "received_at": "2026-11-20T09:00:00+08:00", "summary": "x"}
    )
    check(results)


@pytest.fixture
def postgres_source(postgres_url: str) -> str:
    fill(postgres_url)
    return postgres_url


def test_postgresql_source_streams_with_a_server_side_cursor(postgres_source: str) -> None:
    cursors: list[str | None] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "clinic_complaints" in statement:
            cursors.append(getattr(cursor, "name", None))

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", record)
    try:
        config = settings().csv
        query = QUERY.replace(", amount as demand_amount", "")
        results = list(read_sql(postgres_source, query, config, locales=locales()))
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", record)
    check(results)
    assert len(cursors) == 1 and cursors[0], "not a named (server-side) cursor"


def locales() -> ClinicLocales:
    return ClinicLocales.from_settings(settings())


def test_postgresql_timestamptz_keeps_its_own_offset(postgres_url: str) -> None:
    fill(postgres_url, aware=True)  # a naive insert into timestamptz: the session's zone
    engine = sa.create_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(
            sa.text("update clinic_complaints set received = '2026-11-20 10:15+09:00'")
        )
    engine.dispose()
    config = CsvConfig(columns=COLUMNS)  # local_time off: an aware column needs none
    query = "select case_no as id, site as clinic, received as received_at, title as summary "
    query += "from clinic_complaints order by case_no"
    results = list(read_sql(postgres_url, query, config))
    assert all(isinstance(r, Complaint) for r in results)
    assert {r.received_at for r in results if isinstance(r, Complaint)} == {
        datetime(2026, 11, 20, 1, 15, tzinfo=UTC)
    }


def test_a_bad_query_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'clinic.db'}"
    fill(url)
    with pytest.raises(ConfigError) as raised:
        list(read_sql(url, "select * from no_such_table", CsvConfig()))
    assert raised.value.key == "source.query"


def test_the_password_never_shows(tmp_path: Path) -> None:
    url = "postgresql://reader:s3cret-pw@127.0.0.1:1/clinic"
    with pytest.raises(ConfigError) as raised:
        list(read_sql(url, "select 1", CsvConfig()))
    assert "s3cret-pw" not in str(raised.value)
    assert raised.value.key == "source.url"
    source = tmp_path / "c.toml"
    source.write_text(f'[source]\nurl = "{url}"\nquery = "select 1"\n', encoding="utf-8")
    result = runner.invoke(app, ["validate", "--config", str(source)])
    assert result.exit_code == 2
    assert "s3cret-pw" not in result.stdout + result.stderr


@pytest.fixture
def receiver(webhook_secret: str) -> Iterator[WebhookReceiver]:
    with running_receiver(webhook_secret) as server:
        yield server


def test_cron_line_shrinks_to_sync(
    postgres_source: str,
    receiver: WebhookReceiver,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("CLINIC_DB_URL", postgres_source)
    query = QUERY.replace(", amount as demand_amount", "")
    config = tmp_path / "config.toml"
    config.write_text(
        "[clinics.new-york-soho]\ntime_zone = 'America/New_York'\ncountry = 'US'\n"
        "[csv]\nlocal_time = true\n"
        "[csv.columns]\nsns_risk = 'risk_flags.social_media'\n"
        "[csv.values.category]\n'施術効果' = 'treatment_outcome'\n"
        f"[source]\nurl_env = 'CLINIC_DB_URL'\nquery = \"{query}\"\nadapter = 'webhook'\n"
        f"[state]\npath = '{tmp_path / 'state.db'}'\n"
        f"[adapters.webhook]\nurl = '{receiver.url}'\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("CRM_COMPLAINTS_CONFIG", str(config))
    result = runner.invoke(app, ["sync", "--format", "json"])
    assert result.exit_code == 3, result.stdout + result.stderr  # DB-4 is quarantined
    summary = json.loads(result.stdout)
    assert (summary["created"], summary["quarantined"]) == (3, 1)
    assert sorted(receiver.state.complaints) == ["DB-1", "DB-2", "DB-3"]
    again = runner.invoke(app, ["sync", "--format", "json"])
    assert json.loads(again.stdout)["created"] == 0  # exactly once
    validate = runner.invoke(app, ["validate", "--format", "json"])
    report = json.loads(validate.stdout)
    assert report["kind"] == "sql" and report["records_read"] == 4
    assert "postgresql" in report["source"] and "password" not in report["source"]
