"""Deterministic generator of realistic complaints for benchmarks (no personal data of anyone)."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

CLINICS = [
    ("tokyo-ginza", "ja", 9, "JPY"),
    ("shanghai-jingan", "zh-Hans", 8, "CNY"),
    ("taipei-daan", "zh-Hant", 8, "TWD"),
    ("new-york-soho", "en", -5, "USD"),
]
CATEGORIES = [
    "medical_quality",
    "treatment_outcome",
    "side_effect",
    "product",
    "price_billing",
    "service_attitude",
    "wait_time",
    "facility",
    "privacy",
    "other",
]
FLAGS = ["bodily_harm", "social_media", "legal_action", "media", "regulator", "repeat_complaint"]
SUMMARIES = {
    "ja": "施術後の赤みが引かないとの訴え",
    "zh-Hans": "顾客认为疗程收费与报价不一致",
    "zh-Hant": "雷射術後紅腫比預期嚴重",
    "en": "Charged twice for a chemical peel",
}


def generate(count: int, seed: int = 7, prefix: str = "BENCH") -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    start = datetime(2026, 1, 5, 9, 0)
    for index in range(count):
        clinic, lang, offset, currency = CLINICS[index % len(CLINICS)]
        tz = timezone(timedelta(hours=offset))
        received = (start + timedelta(minutes=rng.randrange(0, 60 * 24 * 330))).replace(tzinfo=tz)
        record: dict[str, Any] = {
            "id": f"{prefix}-{index:07d}",
            "clinic": clinic,
            "received_at": received.isoformat(),
            "channel": rng.choice(["phone", "walk_in", "email", "web_form", "social_media"]),
            "language": lang,
            "category": rng.choice(CATEGORIES),
            "summary": f"{SUMMARIES[lang]} #{index}",
            "description": f"{SUMMARIES[lang]}。詳細 {index}",
            "risk_flags": rng.sample(FLAGS, k=rng.choice([0, 0, 0, 1, 2])),
            "reporter": {
                "staff_id": f"S-{rng.randrange(100)}",
                "department": rng.choice(["front_desk", "care_staff", "physician"]),
            },
            "customer": {"external_id": f"P-{index}", "name": f"Test Patient {index}"},
        }
        if rng.random() < 0.4:
            record["demand"] = {
                "kind": rng.choice(["refund", "compensation", "apology"]),
                "amount": str(rng.randrange(0, 300000)),
                "currency": currency,
            }
        if rng.random() < 0.3:
            record["status"] = "resolved"
            record["acknowledged_at"] = (received + timedelta(hours=1)).isoformat()
            record["resolved_at"] = (received + timedelta(days=3)).isoformat()
        yield record


def write_jsonl(path: Path, count: int, seed: int = 7, prefix: str = "BENCH") -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for record in generate(count, seed, prefix):
            handle.write(json.dumps(record, ensure_ascii=False))
            handle.write("\n")
    return path
