from __future__ import annotations

import json
from decimal import Decimal

import pytest
from pydantic import ValidationError

from crm_complaints.jsonschema_export import complaint_json_schema, render_schema
from crm_complaints.labels import (
    CATEGORY_LABELS,
    CHANNEL_LABELS,
    DEPARTMENT_LABELS,
    LANGUAGES,
    label,
    resolve_language,
    task_title,
)
from crm_complaints.policy import TaskKind
from crm_complaints.schema import Category, Channel, Complaint, Department
from tests.conftest import REPO, complaint_data, make_complaint


def error_fields(exc: ValidationError) -> dict[str, str]:
    return {".".join(str(p) for p in e["loc"]): e["type"] for e in exc.errors()}


def test_valid_complaint_round_trips_through_json() -> None:
    complaint = make_complaint(risk_flags=["social_media", "bodily_harm"])
    again = Complaint.model_validate_json(complaint.model_dump_json())
    assert again == complaint
    assert complaint.model_dump(mode="json")["risk_flags"] == ["bodily_harm", "social_media"]


def test_naive_datetime_is_an_error() -> None:
    with pytest.raises(ValidationError) as exc:
        make_complaint(received_at="2026-11-18T10:00:00")
    assert error_fields(exc.value) == {"received_at": "timezone_aware"}


@pytest.mark.parametrize(
    "field", ["occurred_at", "acknowledged_at", "resolved_at", "closed_at", "updated_at"]
)
def test_every_datetime_field_needs_an_offset(field: str) -> None:
    with pytest.raises(ValidationError) as exc:
        make_complaint(**{field: "2026-11-18 10:00"})
    assert field in error_fields(exc.value)


def test_unknown_top_level_field_is_an_error() -> None:
    with pytest.raises(ValidationError) as exc:
        make_complaint(sumary="typo")
    assert error_fields(exc.value) == {"sumary": "extra_forbidden"}


def test_amount_without_currency_is_an_error() -> None:
    with pytest.raises(ValidationError) as exc:
        make_complaint(demand={"kind": "refund", "amount": "5000"})
    assert "demand" in error_fields(exc.value)


def test_amount_must_not_be_negative_and_currency_is_iso4217() -> None:
    with pytest.raises(ValidationError) as exc:
        make_complaint(demand={"kind": "refund", "amount": "-1", "currency": "jpy"})
    assert set(error_fields(exc.value)) == {"demand.amount", "demand.currency"}


def test_decimal_amount_is_exact() -> None:
    complaint = make_complaint(demand={"kind": "refund", "amount": "350.10", "currency": "USD"})
    assert complaint.demand is not None and complaint.demand.amount == Decimal("350.10")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"id": ""}, "id"),
        ({"id": "x" * 129}, "id"),
        ({"summary": "長" * 201}, "summary"),
        ({"summary": None}, "summary"),
        ({"clinic": None}, "clinic"),
        ({"received_at": None}, "received_at"),
        ({"category": "rudeness"}, "category"),
        ({"channel": "fax"}, "channel"),
        ({"status": "done"}, "status"),
        ({"severity": "extreme"}, "severity"),
        ({"risk_flags": ["lawsuit"]}, "risk_flags.0"),
        ({"language": "日本語"}, "language"),
        ({"schema_version": "2"}, "schema_version"),
        ({"reporter": {"department": "reception"}}, "reporter.department"),
        ({"customer": {"nickname": "x"}}, "customer.nickname"),
    ],
)
def test_schema_errors_name_the_field(overrides: dict[str, object], field: str) -> None:
    data = complaint_data(**overrides)
    if any(v is None for v in overrides.values()):
        for key, value in overrides.items():
            if value is None:
                data.pop(key, None)
    with pytest.raises(ValidationError) as exc:
        Complaint.model_validate(data)
    assert field in error_fields(exc.value)


def test_content_hash_ignores_key_order_and_sees_changes() -> None:
    data = complaint_data()
    reordered = dict(reversed(list(data.items())))
    assert Complaint.model_validate(data).content_hash() == (
        Complaint.model_validate(reordered).content_hash()
    )
    assert make_complaint().content_hash() != make_complaint(summary="別の要約").content_hash()


def test_checked_in_json_schema_matches_the_model() -> None:
    checked_in = (REPO / "schemas" / "complaint.schema.json").read_text(encoding="utf-8")
    assert checked_in == render_schema(), "run `crm-complaints schema export` and commit"


def test_json_schema_is_2020_12_and_forbids_unknown_fields() -> None:
    schema = complaint_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["additionalProperties"] is False
    assert set(schema["required"]) == {"id", "clinic", "received_at", "summary"}


def test_json_schema_accepts_the_examples_with_an_independent_validator() -> None:
    import jsonschema

    validator = jsonschema.Draft202012Validator(complaint_json_schema())
    lines = (REPO / "examples" / "complaints.jsonl").read_text(encoding="utf-8").splitlines()
    for line in lines:
        validator.validate(json.loads(line))
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(complaint_data(unknown=1))


def test_labels_exist_in_every_language_for_every_value() -> None:
    for table, values in (
        (CATEGORY_LABELS, Category),
        (CHANNEL_LABELS, Channel),
        (DEPARTMENT_LABELS, Department),
    ):
        for value in values:
            assert set(table[value]) == set(LANGUAGES), value  # type: ignore[index]
            assert all(text.strip() for text in table[value].values())  # type: ignore[index]
    for kind in TaskKind:
        assert {resolve_language(lang) for lang in LANGUAGES} == set(LANGUAGES)
        assert task_title(kind, "ja") != task_title(kind, "en")


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("ja", "ja"),
        ("ja-JP", "ja"),
        ("zh", "zh-Hans"),
        ("zh-CN", "zh-Hans"),
        ("zh-Hans-CN", "zh-Hans"),
        ("zh-TW", "zh-Hant"),
        ("zh-Hant", "zh-Hant"),
        ("zh-HK", "zh-Hant"),
        ("en-US", "en"),
        ("ko", "en"),
        (None, "en"),
    ],
)
def test_language_resolution(tag: str | None, expected: str) -> None:
    assert resolve_language(tag) == expected


def test_labels_use_the_seeds_words() -> None:
    assert label(Department.FRONT_DESK, "zh-Hant") == "櫃檯"
    assert label(Category.TREATMENT_OUTCOME, "zh-Hant") == "療程效果未達預期"
    assert label(Category.SERVICE_ATTITUDE, "zh-Hans") == "服务态度"
    assert label(Department.PHYSICIAN, "ja") == "医師"
