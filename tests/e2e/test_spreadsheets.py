"""Issue 14, end to end through the CLI: the template command writes a workbook, the test fills
it in as a front desk would (typed date cells, drop-down labels, あり / なし), and validate and
plan read it with no column mapping; sheets by name; a CSV template saved as GB18030."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from typer.testing import CliRunner, Result

from crm_complaints.cli import app

runner = CliRunner()


def run(*args: str) -> Result:
    return runner.invoke(app, list(args))


def config(tmp_path: Path, text: str = "") -> str:
    path = tmp_path / "clinic.toml"
    path.write_text(
        "[clinics.new-york-soho]\ntime_zone = 'America/New_York'\ncountry = 'US'\n"
        "[csv]\nlocal_time = true\n" + text,
        encoding="utf-8",
    )
    return str(path)


def fill(path: Path, rows: list[dict[str, Any]], sheet: int = 0) -> None:
    workbook = openpyxl.load_workbook(path)
    data = workbook.worksheets[sheet]
    headers = {cell.value: cell.column for cell in data[1]}
    for number, row in enumerate(rows, start=2):
        for header, value in row.items():
            data.cell(row=number, column=headers[header], value=value)
    workbook.save(path)


JA_ROWS: list[dict[str, Any]] = [
    {
        "受付番号": "GNZ-2026-1120-01",
        "院": "tokyo-ginza",
        "受付日時": datetime(2026, 11, 20, 10, 15),  # a date cell: no zone, read as Tokyo's
        "受付経路": "電話",
        "分類": "施術後の副作用",
        "概要": "レーザー後に赤みが引かない",
        "患者氏名": "山田 花子",
        "要求内容": "返金",
        "金額": 30000,
        "通貨": "JPY",
        "受付者 部署": "受付",
        "SNS拡散の恐れ": "あり",
        "訴訟の可能性": "なし",
    },
    {
        "受付番号": 20261120,  # a number cell: read as the id "20261120", not 20261120.0
        "院": "new-york-soho",
        "受付日時": "2026/03/08 03:30",  # typed as text, in New York, just after the DST jump
        "受付経路": "来院・窓口",
        "分類": "待ち時間",
        "概要": "1時間待たされた",
    },
    {
        "受付番号": "GNZ-2026-1120-03",
        "院": "tokyo-ginza",
        "受付日時": datetime(2026, 11, 20, 16, 0),
        "分類": "よくわからない",  # no one's word: quarantined with the field, not guessed
        "概要": "不明",
    },
]


def test_template_xlsx_has_headers_lists_and_a_guide(tmp_path: Path) -> None:
    target = tmp_path / "t.xlsx"
    result = run("template", "--format", "xlsx", "--language", "ja", "--output", str(target))
    assert result.exit_code == 0, result.stderr
    workbook = openpyxl.load_workbook(target)
    data, guide = workbook.worksheets[0], workbook.worksheets[1]
    assert (data.title, guide.title) == ("苦情", "記入方法")
    headers = [cell.value for cell in data[1]]
    assert headers[:6] == ["受付番号", "院", "受付日時", "受付経路", "分類", "概要"]
    assert "SNS拡散の恐れ" in headers
    category_letter = openpyxl.utils.get_column_letter(headers.index("分類") + 1)
    [formula] = [
        v.formula1
        for v in data.data_validations.dataValidation
        if f"{category_letter}2" in v.sqref and v.type == "list"
    ]
    lists_sheet = workbook["lists"]
    choices = [row[0].value for row in lists_sheet[formula.split("!")[1].replace("$", "")]]
    assert "施術後の副作用" in choices and len(choices) == 10
    assert lists_sheet.sheet_state == "hidden"
    assert guide.max_row == len(headers) + 1  # one line per column
    assert [c.value for c in guide[2]][:3] == ["受付番号", "id", "必須"]
    again = run("template", "--format", "xlsx", "--language", "ja", "--output", str(target))
    assert again.exit_code == 2  # never overwrites without --force


def test_filled_template_validates_and_plans_without_a_mapping(tmp_path: Path) -> None:
    target = tmp_path / "苦情.xlsx"
    assert run("template", "--language", "ja", "--output", str(target)).exit_code == 0
    fill(target, JA_ROWS)
    cfg = config(tmp_path)

    result = run("validate", str(target), "--config", cfg, "--format", "json")
    assert result.exit_code == 3, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert (report["kind"], report["sheet"]) == ("spreadsheet", "苦情")
    assert (report["records_read"], report["valid"], report["quarantined"]) == (3, 2, 1)
    assert report["required_missing"] == []
    assert [p["field"] for p in report["problems"]] == ["category"]
    assert report["problems"][0]["lines"] == [4]  # the sheet's row number, as Excel shows it
    assert "山田" not in result.stdout + result.stderr

    planned = run("plan", str(target), "--config", cfg, "--format", "json")
    plans = {p["complaint_id"]: p for p in map(json.loads, planned.stdout.splitlines())}
    assert set(plans) == {"GNZ-2026-1120-01", "20261120"}
    tokyo = plans["GNZ-2026-1120-01"]
    assert tokyo["severity"] == "high"  # side effect, social media risk
    first = next(t for t in tokyo["tasks"] if t["kind"] == "initial_response")
    assert first["due_at"] == "2026-11-20T12:15:00+09:00"  # 10:15 Tokyo + 2 h
    new_york = next(t for t in plans["20261120"]["tasks"] if t["kind"] == "initial_response")
    assert new_york["due_at"].endswith("-04:00") and "T05:30" in new_york["due_at"]


def test_unknown_columns_are_one_grouped_line_by_position(tmp_path: Path) -> None:
    target = tmp_path / "own.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["受付番号", "院", "受付日時", "概要", "担当医メモ"])
    for n in range(5):
        sheet.append([f"X-{n}", "tokyo-ginza", datetime(2026, 11, 20, 10, n), "概要", "山田様"])
    workbook.save(target)
    result = run("validate", str(target), "--config", config(tmp_path))
    assert result.exit_code == 3
    assert "unknown column 5" in result.stdout and "担当医メモ" not in result.stdout
    assert "山田" not in result.stdout + result.stderr
    table_lines = [line for line in result.stdout.splitlines() if "unknown column 5" in line]
    assert len(table_lines) == 2  # one in the column table, one (grouped) in the problems
    assert "5 read, 0 valid, 5 quarantined" in result.stdout


def test_sheet_by_name_and_a_missing_sheet(tmp_path: Path) -> None:
    target = tmp_path / "book.xlsx"
    workbook = openpyxl.Workbook()
    first = workbook.active
    assert first is not None
    first.title = "集計"
    first.append(["合計", 1])
    second = workbook.create_sheet("2026年11月")
    second.append(["id", "clinic", "received_at", "summary"])
    second.append(["S-1", "tokyo-ginza", datetime(2026, 11, 20, 10, 0), "ok"])
    workbook.save(target)
    ok = run("validate", str(target), "--config", config(tmp_path, "sheet = '2026年11月'\n"))
    assert ok.exit_code == 0, ok.stdout + ok.stderr
    missing = run("validate", str(target), "--config", config(tmp_path, "sheet = 'Dec'\n"))
    assert missing.exit_code == 2 and "csv.sheet" in missing.stderr


@pytest.mark.parametrize(("language", "codec"), [("zh-Hans", "gb18030"), ("zh-Hant", "big5")])
def test_csv_template_filled_and_saved_in_a_local_encoding(
    tmp_path: Path, language: str, codec: str
) -> None:
    target = tmp_path / "t.csv"
    assert run("template", "-f", "csv", "-l", language, "-o", str(target)).exit_code == 0
    header = target.read_text(encoding="utf-8-sig").splitlines()[0].split(",")
    cells = {
        0: "C-1",
        1: "shanghai-jingan" if language == "zh-Hans" else "taipei-daan",
        2: "2026年11月20日 10時15分",
        4: "服务态度" if language == "zh-Hans" else "服務態度",
        5: "态度不好" if language == "zh-Hans" else "態度不好",
    }
    row = [cells.get(i, "") for i in range(len(header))]
    (tmp_path / "saved.csv").write_bytes(
        (",".join(header) + "\r\n" + ",".join(row) + "\r\n").encode(codec)
    )
    result = run("validate", str(tmp_path / "saved.csv"), "-c", config(tmp_path), "-f", "json")
    assert result.exit_code == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["encoding"].lower().startswith(codec[:3]) and report["valid"] == 1
