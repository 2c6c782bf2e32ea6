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
