"""JSON Schema (2020-12) of the complaint, generated from the pydantic model and checked in."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .schema import SCHEMA_VERSION, Complaint

__all__ = ["SCHEMA_PATH", "complaint_json_schema", "render_schema", "write_schema"]

SCHEMA_PATH = Path("schemas") / "complaint.schema.json"
SCHEMA_ID = f"https://crm-complaints.invalid/schemas/complaint/v{SCHEMA_VERSION}.json"


def complaint_json_schema() -> dict[str, Any]:
    """The schema as a dict, as a JSON-producing tool must write it (validation mode)."""
    schema = Complaint.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
    }


def render_schema() -> str:
    return json.dumps(complaint_json_schema(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def write_schema(path: Path = SCHEMA_PATH) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_schema(), encoding="utf-8")
    return path
