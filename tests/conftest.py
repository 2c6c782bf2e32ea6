"""Shared fixtures: realistic complaints in Japanese, Chinese and English."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from crm_complaints.schema import Complaint

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"


def complaint_data(**overrides: Any) -> dict[str, Any]:
    """A valid complaint as a JSON-like dict; override any field."""
    data: dict[str, Any] = {
        "id": "GNZ-T-0001",
        "clinic": "tokyo-ginza",
        "received_at": "2026-11-18T10:00:00+09:00",
        "channel": "phone",
        "language": "ja",
        "category": "service_attitude",
        "summary": "受付の説明が不十分だったとの苦情",
        "description": "受付で料金の説明がなかった。山田花子、090-1234-5678。",
        "reporter": {"staff_id": "FD-1", "name": "佐藤 美咲", "department": "front_desk"},
        "customer": {
            "external_id": "P-1",
            "name": "山田 花子",
            "email": "hanako@example.jp",
            "phone": "+81-90-1234-5678",
        },
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def make_complaint(**overrides: Any) -> Complaint:
    return Complaint.model_validate(complaint_data(**overrides))


@pytest.fixture
def examples_dir() -> Path:
    return EXAMPLES


@pytest.fixture
def webhook_secret(monkeypatch: pytest.MonkeyPatch) -> str:
    from crm_complaints.webhook import generate_secret

    secret = generate_secret()
    monkeypatch.setenv("CRM_COMPLAINTS_WEBHOOK_SECRET", secret)
    return secret


@pytest.fixture
def store(tmp_path: Path) -> Any:
    from crm_complaints.state import open_store

    opened = open_store(tmp_path / "state.db")
    yield opened
    opened.close()


def realistic_complaints(count: int, prefix: str = "E2E") -> list[Complaint]:
    """Complaints with realistic personal data in ja / zh / en, for sync and leak tests."""
    people = [
        ("山田 花子", "hanako.yamada@example.jp", "+81-90-1234-5678", "ja", "tokyo-ginza"),
        ("李 娜", "lina@example.cn", "+86-138-0000-1111", "zh-Hans", "shanghai-jingan"),
        ("林 美玲", "meiling@example.tw", "+886-912-345-678", "zh-Hant", "taipei-daan"),
        ("Emily Carter", "emily.carter@example.com", "+1-212-555-0147", "en", "new-york-soho"),
    ]
    categories = ["side_effect", "product", "treatment_outcome", "price_billing", "wait_time"]
    result = []
    for index in range(count):
        name, email, phone, lang, clinic = people[index % len(people)]
        result.append(
            make_complaint(
                id=f"{prefix}-{index:04d}",
                clinic=clinic,
                language=lang,
                category=categories[index % len(categories)],
                summary=f"Complaint {index}",
                description=f"{name} says the redness has not gone down; call {phone}.",
                reporter={
                    "staff_id": f"S-{index % 7}",
                    "name": "佐藤 美咲",
                    "department": "front_desk",
                },
                customer={
                    "external_id": f"P-{index}",
                    "name": name,
                    "email": email,
                    "phone": phone,
                },
            )
        )
    return result


def edited(complaint: Complaint, **changes: Any) -> Complaint:
    """A validated copy with some fields changed (``model_copy`` would skip validation)."""
    return Complaint.model_validate({**complaint.model_dump(), **changes})


POSTGRES_URL_ENV = "CRM_COMPLAINTS_TEST_POSTGRES"
DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """The test PostgreSQL server (``make test`` starts one if the machine has none).

    Never skips: a suite that silently drops its PostgreSQL half would report green while the
    production path goes untested.
    """
    import os

    import psycopg

    url = os.environ.get(POSTGRES_URL_ENV, DEFAULT_POSTGRES_URL)
    try:
        with psycopg.connect(url, connect_timeout=5) as conn:
            conn.execute("select 1")
    except psycopg.Error as exc:
        pytest.fail(
            f"PostgreSQL is required by the tests but {url} is unreachable "
            f"({type(exc).__name__}); run `make test`, which starts one, or set {POSTGRES_URL_ENV}",
            pytrace=False,
        )
    return url


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Any:
    """A fresh, empty schema on the test server, as a SQLAlchemy URL; dropped afterwards."""
    import uuid

    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(f'create schema "{schema}"')
    url = postgres_server_url.replace("postgresql://", "postgresql+psycopg://", 1)
    yield f"{url}?options=-csearch_path%3D{schema}"
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(f'drop schema "{schema}" cascade')


STORE_BACKENDS = ("sqlite", "postgresql")


@pytest.fixture(params=STORE_BACKENDS)
def state_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh state database on each backend in turn: a SQLite file, a PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'state.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def any_store(state_url: str) -> Any:
    """The state store on each backend in turn (see ``state_url``)."""
    from crm_complaints.state import open_store

    opened = open_store(url=state_url)
    yield opened
    opened.close()


@pytest.fixture
def emulator(hubspot_emulator: Any) -> Any:
    """The packaged plugin's HubSpot emulator (demo portal; fails the test on any contract
    violation), under the short name these tests use."""
    return hubspot_emulator
