"""Issue 14: what validate and plan print. validate: the encoding, each column, required
fields no column fills, problems grouped (a header problem once, not per row), JSON on request.
plan: readable at 80 columns, task names in the complaint's language, a legend for its marks."""

from __future__ import annotations

import json
from pathlib import Path

from rich.cells import cell_len
from typer.testing import CliRunner

from crm_complaints.cli import app

runner = CliRunner()


def test_plan_reads_at_80_columns_in_the_complaints_language(examples_dir: Path) -> None:
    result = runner.invoke(
        app,
        ["plan", str(examples_dir / "complaints.jsonl"), "-c", str(examples_dir / "config.toml")],
        env={"COLUMNS": "80"},
    )
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    too_wide = [line for line in lines if cell_len(line) > 80]
    assert too_wide == []
    text = result.stdout
    assert "お詫びの電話と事実確認" in text  # ja (titles wrap, but not inside these words)
    assert "致歉电话与事实确认" in text  # zh-Hans
    assert "Apology call and fact" in text  # en
    assert "✓ただちに上司へ報告" in text  # a done step, its mark on the same line
    assert "initial_response" not in text
    assert "⇧ escalated to management · ✓ step already done" in lines[-1]


def test_validate_summary_names_encoding_columns_and_missing_fields(tmp_path: Path) -> None:
    source = tmp_path / "export.csv"
    rows = ["受付番号,受付日時,概要,メモ"] + [
        f"A-{n},2026-11-20T10:15:00+09:00,要約,山田様のメモ" for n in range(4)
    ]
    source.write_bytes(("\r\n".join(rows) + "\r\n").encode("cp932"))
    result = runner.invoke(app, ["validate", str(source)], env={"COLUMNS": "120"})
    assert result.exit_code == 3
    out = result.stdout
    assert "encoding cp932 (Shift_JIS) (detected)" in out
    assert "required but missing: no column fills clinic" in out
    assert "unknown column 4" in out and "メモ" not in out.replace("メモ)", "")
    assert "山田" not in out + result.stderr
    # One grouped line per problem, not one per row.
    problem_lines = [line for line in out.splitlines() if "is not a complaint field" in line]
    assert len(problem_lines) == 1 and "unknown column 4" in problem_lines[0]
    assert "4 records read: 0 valid, 4 quarantined" in result.stderr

    as_json = runner.invoke(app, ["validate", str(source), "--format", "json"])
    report = json.loads(as_json.stdout)
    assert report["encoding"] == "cp932 (Shift_JIS) (detected)"
    assert report["required_missing"] == ["clinic"]
    assert [c["status"] for c in report["columns"]] == ["mapped", "mapped", "mapped", "unknown"]
    assert report["columns"][3]["header"] is None  # an unknown header is never shown
    groups = {(p["field"], p["count"]) for p in report["problems"]}
    assert groups == {("unknown column 4", 4)}  # one line for four rows
    assert report["problems"][0]["lines"] == [2, 3, 4, 5]


def test_headerless_file_is_one_header_line_in_the_summary(tmp_path: Path) -> None:
    source = tmp_path / "noheader.csv"
    source.write_text(
        "".join(f"A-{n},tokyo,2026-11-20T10:15:00+09:00,山田花子\n" for n in range(6)),
        encoding="utf-8",
    )
    result = runner.invoke(app, ["validate", str(source), "--format", "json"])
    report = json.loads(result.stdout)
    header = [p for p in report["problems"] if p["field"] == "(header)"]
    assert len(header) == 1 and header[0]["count"] == 1
    assert "山田" not in result.stdout + result.stderr


def test_template_csv_writes_headers_excel_opens(tmp_path: Path) -> None:
    target = tmp_path / "t.csv"
    result = runner.invoke(app, ["template", "-f", "csv", "-l", "en", "-o", str(target)])
    assert result.exit_code == 0
    raw = target.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # Excel needs the BOM to read UTF-8
    header = raw.decode("utf-8-sig").splitlines()[0].split(",")
    assert header[:4] == ["Complaint no.", "Clinic", "Received at", "Channel"]
    assert "Risk of spreading on social media" in header


def test_the_japanese_example_export_reads_with_its_config(examples_dir: Path) -> None:
    folder = examples_dir / "ja-clinic"
    source, config = folder / "front-desk-export.csv", folder / "config.toml"
    raw = source.read_bytes()
    try:
        raw.decode("utf-8")
        raise AssertionError("the example must be a cp932 export, as Excel in Japan saves it")
    except UnicodeDecodeError:
        pass
    result = runner.invoke(app, ["validate", str(source), "-c", str(config), "-f", "json"])
    assert result.exit_code == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["encoding"] == "cp932 (Shift_JIS) (detected)"
    assert (report["valid"], report["quarantined"]) == (5, 0)
    planned = runner.invoke(app, ["plan", str(source), "-c", str(config), "-f", "json"])
    plans = {p["complaint_id"]: p for p in map(json.loads, planned.stdout.splitlines())}
    assert plans["2026-1102"]["severity"] == "high"  # 副作用 + SNS拡散の恐れ: あり
    umeda = plans["2026-1103"]  # 梅田院 → osaka-umeda; 2026年11月21日 11時05分 Tokyo time
    first = next(t for t in umeda["tasks"] if t["kind"] == "initial_response")
    assert first["due_at"] == "2026-11-21T13:05:00+09:00"


def test_excel_unicode_text_saved_as_txt_reads_as_is(tmp_path: Path) -> None:
    # Excel's "Unicode text" (*.txt): UTF-16 LE with a BOM, tab-separated, CRLF.
    rows = [
        "投诉编号\t诊所\t受理时间\t分类\t概要",
        "SH-1\tshanghai-jingan\t2026-11-20T10:15:00+08:00\t服务态度\t前台态度不好",
    ]
    source = tmp_path / "投诉.txt"
    source.write_bytes(
        b"\xff\xfe" + "\r\n".join(rows).encode("utf-16-le") + "\r\n".encode("utf-16-le")
    )
    result = runner.invoke(app, ["validate", str(source), "--format", "json"])
    report = json.loads(result.stdout)
    assert (report["encoding"], report["delimiter"]) == ("UTF-16 (byte order mark)", "tab")
    assert (report["valid"], report["quarantined"]) == (1, 0), result.stderr
