from __future__ import annotations

import io
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from crm_complaints.config import CsvConfig
from crm_complaints.readers import QuarantineEntry, read_csv, read_jsonl
from crm_complaints.schema import Complaint
from tests.conftest import complaint_data


def jsonl(*records: Any) -> io.BytesIO:
    lines = [
        r if isinstance(r, bytes) else json.dumps(r, ensure_ascii=False).encode() for r in records
    ]
    return io.BytesIO(b"\n".join(lines) + b"\n")


def test_jsonl_good_records_flow_past_bad_ones() -> None:
    stream = jsonl(
        complaint_data(id="A"),
        complaint_data(id="B", received_at="2026-11-18T10:00:00"),
        b"{not json",
        b"",
        b"[1, 2]",
        complaint_data(id="C"),
        b"\xff\xfe\x00garbage",
    )
    results = list(read_jsonl(stream, source="in.jsonl"))
    assert [r.id for r in results if isinstance(r, Complaint)] == ["A", "C"]
    bad = [r for r in results if isinstance(r, QuarantineEntry)]
    assert [(q.line, q.complaint_id, q.field) for q in bad] == [
        (2, "B", "received_at"),
        (3, None, "(line)"),
        (5, None, "(line)"),
        (7, None, "(line)"),
    ]
    assert all(q.source == "in.jsonl" for q in bad)
    assert "time-zone offset" in bad[0].message
    assert "not valid JSON" in bad[1].message
    assert "JSON object" in bad[2].message
    assert "UTF-8" in bad[3].message


def test_quarantine_messages_never_quote_personal_data() -> None:
    record = complaint_data(
        id="PII-1",
        customer={"name": "山田 花子", "nickname": "はなちゃん", "phone": "x" * 41},
        summary="山田 花子" * 50,
    )
    [entry] = list(read_jsonl(jsonl(record)))
    assert isinstance(entry, QuarantineEntry)
    dumped = entry.model_dump_json()
    assert "山田" not in dumped and "はなちゃん" not in dumped and "xxxx" not in dumped
    assert {p.field for p in entry.problems} == {
        "summary",
        "customer.unknown field (8 chars)",  # an unknown key is input too: never quoted
        "customer.phone",
    }


def csv_bytes(text: str) -> io.BytesIO:
    return io.BytesIO(text.encode("utf-8"))


def test_csv_with_column_mapping_dotted_names_and_lists() -> None:
    config = CsvConfig(
        columns={
            "No.": "id",
            "院": "clinic",
            "受付日時": "received_at",
            "分類": "category",
            "概要": "summary",
            "リスク": "risk_flags",
            "要求": "demand.kind",
            "金額": "demand.amount",
            "通貨": "demand.currency",
            "担当部署": "reporter.department",
            "氏名": "customer.name",
        },
        list_separator="|",
    )
    text = (
        "No.,院,受付日時,分類,概要,リスク,要求,金額,通貨,担当部署,氏名\n"
        'K-1,tokyo,2026-11-18T10:00:00+09:00,side_effect,"赤み, 腫れ",social_media|bodily_harm,'
        "refund,45000,JPY,front_desk,山田 花子\n"
        "K-2,tokyo,2026-11-18T10:00:00+09:00,side_effect,要約,,,,,,\n"
        "K-3,tokyo,2026-11-18T10:00:00+09:00,bogus,要約,,refund,10,,,\n"
    )
    results = list(read_csv(csv_bytes(text), config, source="in.csv"))
    first, second, third = results
    assert isinstance(first, Complaint) and isinstance(second, Complaint)
    assert first.summary == "赤み, 腫れ"
    assert {f.value for f in first.risk_flags} == {"social_media", "bodily_harm"}
    assert first.demand is not None and str(first.demand.amount) == "45000"
    assert first.customer is not None and first.customer.name == "山田 花子"
    assert second.demand is None and second.risk_flags == frozenset()
    assert isinstance(third, QuarantineEntry)
    assert third.line == 4 and third.complaint_id == "K-3"
    assert {p.field for p in third.problems} == {"category", "demand"}


def test_csv_multiline_cells_keep_line_numbers_right() -> None:
    text = (
        "id,clinic,received_at,summary\n"
        'A,c,2026-11-18T10:00:00+09:00,"two\nlines"\n'
        "B,c,2026-11-18T10:00:00,naive\n"
        "C,c,2026-11-18T10:00:00+09:00,too,many\n"
    )
    results = list(read_csv(csv_bytes(text)))
    assert isinstance(results[0], Complaint) and results[0].summary == "two\nlines"
    assert isinstance(results[1], QuarantineEntry) and results[1].line == 4
    assert isinstance(results[2], QuarantineEntry) and results[2].line == 5
    assert "cells" in results[2].message


def test_csv_invalid_utf8_cell_is_quarantined_not_crashing() -> None:
    raw = b"id,clinic,received_at,summary\nA,c,2026-11-18T10:00:00+09:00,\xff\xfe\n"
    [entry] = list(read_csv(io.BytesIO(raw)))
    assert isinstance(entry, QuarantineEntry)
    assert entry.field == "summary" and "UTF-8" in entry.message


def test_csv_header_only_and_empty_file() -> None:
    assert list(read_csv(csv_bytes("id,clinic\n"))) == []
    assert list(read_csv(csv_bytes(""))) == []


GOOD_LINES = [
    json.dumps(complaint_data(id=f"G-{i}"), ensure_ascii=False).encode() for i in range(5)
]


@settings(max_examples=200, deadline=None)
@given(
    noise=st.lists(st.binary(max_size=80), max_size=12),
    picks=st.lists(st.integers(min_value=0, max_value=4), max_size=6),
    seed=st.randoms(use_true_random=False),
)
def test_jsonl_never_crashes_and_never_loses_a_good_record(
    noise: list[bytes], picks: list[int], seed: Any
) -> None:
    good = [GOOD_LINES[i] for i in picks]
    lines = [n.replace(b"\n", b" ") for n in noise] + good
    seed.shuffle(lines)
    results = list(read_jsonl(io.BytesIO(b"\n".join(lines) + b"\n")))
    ids = sorted(r.id for r in results if isinstance(r, Complaint))
    expected = sorted(json.loads(g)["id"] for g in good)
    # Random noise may itself be a valid complaint only if it is one of ours; it never is.
    assert ids == expected
    non_blank = sum(1 for line in lines if line.strip())
    assert len(results) == non_blank


@settings(max_examples=200, deadline=None)
@given(noise=st.binary(max_size=400), position=st.integers(min_value=0, max_value=3))
def test_csv_never_crashes_and_never_loses_a_good_record(noise: bytes, position: int) -> None:
    header = b"id,clinic,received_at,summary\n"
    good = [b"G-%d,c,2026-11-18T10:00:00+09:00,ok %d\n" % (i, i) for i in range(3)]
    # Noise is fenced into its own lines so it can't swallow a good row into a quoted cell.
    fenced = noise.replace(b'"', b"").replace(b"\r", b"")
    rows = list(good)
    rows.insert(position, fenced + b"\n")
    results = list(read_csv(io.BytesIO(header + b"".join(rows))))
    ids = sorted(r.id for r in results if isinstance(r, Complaint))
    assert {"G-0", "G-1", "G-2"} <= set(ids)
