"""Realistic sample complaints for tests: Japanese, Chinese and English, with personal data."""

from __future__ import annotations

from ..schema import Complaint

__all__ = ["sample_complaints"]

_PEOPLE = (
    ("山田 花子", "hanako.yamada@example.jp", "+81-90-1234-5678", "ja", "tokyo-ginza"),
    ("李 娜", "lina@example.cn", "+86-138-0000-1111", "zh-Hans", "shanghai-jingan"),
    ("林 美玲", "meiling@example.tw", "+886-912-345-678", "zh-Hant", "taipei-daan"),
    ("Emily Carter", "emily.carter@example.com", "+1-212-555-0147", "en", "new-york-soho"),
)
_CATEGORIES = ("side_effect", "product", "treatment_outcome", "price_billing", "wait_time")


def sample_complaints(count: int, prefix: str = "SAMPLE") -> list[Complaint]:
    """``count`` valid complaints with ids ``<prefix>-0000``…, personal data included."""
    result = []
    for index in range(count):
        name, email, phone, language, clinic = _PEOPLE[index % len(_PEOPLE)]
        result.append(
            Complaint.model_validate(
                {
                    "id": f"{prefix}-{index:04d}",
                    "clinic": clinic,
                    "received_at": "2026-11-18T10:00:00+09:00",
                    "channel": "phone",
                    "language": language,
                    "category": _CATEGORIES[index % len(_CATEGORIES)],
                    "summary": f"Complaint {index}",
                    "description": f"{name} says the redness has not gone down; call {phone}.",
                    "reporter": {
                        "staff_id": f"S-{index % 7}",
                        "name": "佐藤 美咲",
                        "department": "front_desk",
                    },
                    "customer": {
                        "external_id": f"P-{index}",
                        "name": name,
                        "email": email,
                        "phone": phone,
                    },
                }
            )
        )
    return result
