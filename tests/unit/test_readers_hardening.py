"""Issue 10 hardening: nothing lost silently, nothing personal echoed, no input crashes a reader."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from crm_complaints.cli import app
from crm_complaints.config import CsvConfig
from crm_complaints.errors import ConfigError
from crm_complaints.readers import QuarantineEntry, ReadResult, read_csv, read_jsonl
from crm_complaints.schema import Complaint
from tests.conftest import complaint_data, make_complaint

runner = CliRunner()

HEADER = "id,clinic,received_at,summary\n"
WHEN = "2026-11-18T10:00:00+09:00"


def csv_results(text: str, config: CsvConfig | None = None) -> list[ReadResult]:
    return list(read_csv(io.BytesIO(text.encode("utf-8")), config, source="in.csv"))


def ids(results: list[ReadResult]) -> list[str]:
    return [r.id for r in results if isinstance(r, Complaint)]


def entries(results: list[ReadResult]) -> list[QuarantineEntry]:
    return [r for r in results if isinstance(r, QuarantineEntry)]


def all_output(result: Any) -> str:
    return str(result.stdout) + str(result.stderr)


# 1. Silent loss in CSV --------------------------------------------------------------------------


def test_csv_unbalanced_quote_to_end_of_file_loses_no_row() -> None:
    text = HEADER + f'A,c,{WHEN},"unbalanced quote\n' + f"B,c,{WHEN},ok\n" + f"C,c,{WHEN},ok\n"
    results = csv_results(text)
    assert ids(results) == ["B", "C"]
    [entry] = entries(results)
    assert (entry.line, entry.field) == (2, "summary")
    assert "quote" in entry.message
    assert "unbalanced" not in entry.model_dump_json()


def test_csv_unbalanced_quote_closed_by_a_later_stray_quote_loses_no_row() -> None:
    text = (
        HEADER
        + f'A,c,{WHEN},"oops\n'
        + f"B,c,{WHEN},ok\n"
        + f"C,c,{WHEN},ok\n"
        + f'D,c,{WHEN},x"y" and more\n'
        + f"E,c,{WHEN},ok\n"
    )
    results = csv_results(text)
    assert ids(results) == ["B", "C", "D", "E"]
    assert [(e.line, e.field) for e in entries(results)] == [(2, "summary")]


def test_csv_single_last_row_ending_inside_a_quote_is_quarantined() -> None:
    results = csv_results(HEADER + f"A,c,{WHEN},ok\n" + f'B,c,{WHEN},"never closed\n')
    assert ids(results) == ["A"]
    assert [(e.line, e.field) for e in entries(results)] == [(3, "summary")]


def test_csv_legitimate_multiline_cells_with_commas_are_kept() -> None:
    text = HEADER + f'A,c,{WHEN},"first line, with a comma\nsecond, line"\nB,c,{WHEN},ok\n'
    results = csv_results(text)
    assert ids(results) == ["A", "B"]
    first = results[0]
    assert isinstance(first, Complaint) and first.summary.count("\n") == 1


def test_csv_unbalanced_quote_in_the_header_does_not_hide_the_rows() -> None:
    text = f'id,"clinic,received_at,summary\nA,c,{WHEN},ok\nB,c,{WHEN},ok\n'
    results = csv_results(text)
    assert [(e.line, e.field) for e in entries(results)] == [
        (1, "(header)"),
        (2, "(line)"),
        (3, "(line)"),
    ]


def test_validate_reports_records_read_and_never_hides_swallowed_rows(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text(
        HEADER + f'A,c,{WHEN},"unbalanced\nB,c,{WHEN},ok\nC,c,{WHEN},ok\n', encoding="utf-8"
    )
    result = runner.invoke(app, ["validate", str(source)])
    assert result.exit_code == 3, all_output(result)
    assert "3 records read: 2 valid, 1 quarantined" in result.stderr


# 2. Personal data echoed -----------------------------------------------------------------------

MARKERS = ("MARKERNAME", "MARKERPHONE", "MARKERKEY", "MARKERNEST", "山田花子")


def assert_no_marker(text: str) -> None:
    for marker in MARKERS:
        assert marker not in text


def test_headerless_csv_never_echoes_the_first_patient(tmp_path: Path) -> None:
    text = (
        f"A-1,c,{WHEN},MARKERNAME 山田花子,MARKERPHONE 090\n"
        f"A-2,c,{WHEN},MARKERNAME 山田花子,MARKERPHONE 091\n"
    )
    results = csv_results(text)
    bad = entries(results)
    assert len(results) == len(bad) == 2  # the header line is reported, not silently eaten
    assert bad[0].line == 1 and bad[0].field == "(header)"
    assert any(p.field == "unknown column 4" for p in bad[1].problems)
    assert_no_marker("".join(e.model_dump_json() for e in bad))

    source = tmp_path / "in.csv"
    source.write_text(text, encoding="utf-8")
    for command in (["validate"], ["plan", "--format", "json"]):
        result = runner.invoke(app, [*command, str(source)])
        assert result.exit_code == 3, all_output(result)
        assert_no_marker(all_output(result))


def test_unknown_csv_column_is_named_by_position() -> None:
    results = csv_results(
        "id,clinic,received_at,summary,MARKERKEY\n" + f"A,c,{WHEN},ok,MARKERNAME\n"
    )
    [entry] = entries(results)
    assert [p.field for p in entry.problems] == ["unknown column 5"]
    assert_no_marker(entry.model_dump_json())


def test_unknown_json_keys_are_never_quoted(tmp_path: Path) -> None:
    record = complaint_data(
        id="K-1",
        MARKERKEY山田花子="x",
        customer={"name": "n", "MARKERNEST": "MARKERPHONE"},
    )
    [entry] = list(read_jsonl(io.BytesIO(json.dumps(record).encode())))
    assert isinstance(entry, QuarantineEntry)
    assert {p.field for p in entry.problems} == {
        "unknown field (13 chars)",
        "customer.unknown field (10 chars)",
    }
    assert_no_marker(entry.model_dump_json())

    source = tmp_path / "in.jsonl"
    source.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["validate", str(source)])
    assert result.exit_code == 3
    assert_no_marker(all_output(result))


# 3. Crashes instead of quarantine --------------------------------------------------------------


@pytest.mark.parametrize("depth", [100, 500, 990, 1000, 5000])
def test_deeply_nested_json_is_quarantined_not_a_crash(depth: int) -> None:
    deep = '{"id":"D-1","custom":{"x":' + "[" * depth + "]" * depth + "}}"
    good = json.dumps(complaint_data(id="G-1"))
    results = list(read_jsonl(io.BytesIO(f"{deep}\n{good}\n".encode())))
    assert ids(results) == ["G-1"]
    [entry] = entries(results)
    assert entry.line == 1
    entry.model_dump_json()


def test_deeply_nested_json_in_a_csv_custom_cell_is_quarantined() -> None:
    deep = '"{""x"":' + "[" * 1000 + "]" * 1000 + '}"'
    results = csv_results(f"id,clinic,received_at,summary,custom\nA,c,{WHEN},ok,{deep}\n")
    [entry] = entries(results)
    assert (entry.line, entry.field) == (2, "custom")


def test_lone_surrogate_in_id_is_quarantined_and_serializable(tmp_path: Path) -> None:
    line = json.dumps(complaint_data(id="X")).replace('"X"', '"\\ud800"')
    [entry] = list(read_jsonl(io.BytesIO(line.encode() + b"\n")))
    assert isinstance(entry, QuarantineEntry)
    assert (entry.line, entry.field, entry.complaint_id) == (1, "id", None)
    json.loads(entry.model_dump_json())

    source = tmp_path / "in.jsonl"
    source.write_text(line + "\n", encoding="utf-8")
    result = runner.invoke(app, ["validate", str(source)])
    assert result.exit_code == 3, all_output(result)
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_lone_surrogate_in_an_unknown_key_is_not_a_crash() -> None:
    line = json.dumps(complaint_data(id="X", odd=1)).replace('"odd"', '"\\udc8a"')
    [entry] = list(read_jsonl(io.BytesIO(line.encode() + b"\n")))
    assert isinstance(entry, QuarantineEntry)
    json.loads(entry.model_dump_json())


SJIS_CSV = (
    "受付番号,院,受付日時,概要\n"
    + f"A-1,c,{WHEN},受付の説明が不十分\n"
    + f"A-2,c,{WHEN},待ち時間\n"
).encode("cp932")
SJIS_COLUMNS = {"受付番号": "id", "院": "clinic", "受付日時": "received_at", "概要": "summary"}


def test_shift_jis_csv_read_as_utf8_is_one_config_error_naming_the_key() -> None:
    # csv.encoding set wins over detection (issue 14): the wrong one is one config error.
    with pytest.raises(ConfigError) as raised:
        list(read_csv(io.BytesIO(SJIS_CSV), CsvConfig(columns=SJIS_COLUMNS, encoding="utf-8")))
    assert raised.value.key == "csv.encoding"
    assert "cp932" in str(raised.value)  # the likely fix, named


def test_shift_jis_csv_reads_with_the_right_encoding() -> None:
    config = CsvConfig(columns=SJIS_COLUMNS, encoding="cp932")
    assert ids(list(read_csv(io.BytesIO(SJIS_CSV), config))) == ["A-1", "A-2"]


def test_unknown_csv_encoding_name_is_a_config_error() -> None:
    with pytest.raises(ConfigError) as raised:
        list(read_csv(io.BytesIO(b"id\n"), CsvConfig(encoding="no-such-codec")))
    assert raised.value.key == "csv.encoding"


def test_validate_shift_jis_exits_2_with_a_message_not_a_traceback(tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_bytes(SJIS_CSV)
    config = tmp_path / "config.toml"
    config.write_text('[csv]\nencoding = "utf-8"\n', encoding="utf-8")
    for command in (["validate"], ["plan"]):
        result = runner.invoke(app, [*command, str(source), "--config", str(config)])
        assert result.exit_code == 2, all_output(result)
        assert "csv.encoding" in result.stderr
        assert "Traceback" not in all_output(result)


# 4. UTF-8 BOM ----------------------------------------------------------------------------------


def test_jsonl_with_utf8_bom_reads_the_first_record() -> None:
    lines = [json.dumps(complaint_data(id=i)).encode() for i in ("A", "B")]
    results = list(read_jsonl(io.BytesIO(b"\xef\xbb\xbf" + b"\n".join(lines) + b"\n")))
    assert ids(results) == ["A", "B"]


# 5. Duplicate ids in validate and plan ---------------------------------------------------------


def test_validate_and_plan_flag_duplicate_ids(tmp_path: Path) -> None:
    source = tmp_path / "in.jsonl"
    records = [complaint_data(id="A"), complaint_data(id="B"), complaint_data(id="A")]
    source.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")

    result = runner.invoke(app, ["validate", str(source)])
    assert result.exit_code == 3, all_output(result)
    assert "3 records read: 2 valid, 1 quarantined" in result.stderr
    assert "appears again in the same input (first as record 1)" in result.stderr

    result = runner.invoke(app, ["plan", str(source), "--format", "json"])
    assert result.exit_code == 3, all_output(result)
    assert [json.loads(line)["complaint_id"] for line in result.stdout.splitlines()] == ["A", "B"]
    [entry] = [json.loads(line) for line in result.stderr.splitlines() if line.startswith("{")]
    assert entry["complaint_id"] == "A" and entry["problems"][0]["field"] == "id"


# 6. Currency codes -----------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["ZZZ", "XXX", "XTS"])
def test_unknown_or_non_money_currency_is_a_validation_error(code: str) -> None:
    with pytest.raises(ValidationError) as raised:
        make_complaint(demand={"kind": "refund", "amount": "10", "currency": code})
    [error] = raised.value.errors()
    assert error["loc"] == ("demand", "currency")


@pytest.mark.parametrize("code", ["JPY", "CNY", "TWD", "USD", "EUR", "GBP", "KRW"])
def test_iso_4217_currencies_are_accepted(code: str) -> None:
    complaint = make_complaint(demand={"kind": "refund", "amount": "10", "currency": code})
    assert complaint.demand is not None and complaint.demand.currency == code


def test_unknown_currency_is_quarantined_without_quoting_it() -> None:
    record = complaint_data(id="M-1", demand={"kind": "refund", "amount": "10", "currency": "ZZZ"})
    [entry] = list(read_jsonl(io.BytesIO(json.dumps(record).encode())))
    assert isinstance(entry, QuarantineEntry)
    assert entry.field == "demand.currency" and "ISO 4217" in entry.message
    assert "ZZZ" not in entry.model_dump_json()
