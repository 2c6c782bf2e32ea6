"""A template to start from: an empty workbook (or CSV) with the right headers in the clinic's
language, drop-down lists for the enumerated columns, and a sheet explaining each column.

Its headers and list entries are the labels the readers know in every language, so a filled-in
template reads without any ``csv.columns`` or ``csv.values``. Written with openpyxl
(https://openpyxl.readthedocs.io/en/stable/validation.html for the drop-downs).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from ..labels import FIELD_LABELS, NO_WORDS, RISK_FLAG_LABELS, Language, labels_of
from ..schema import Category, Channel, DemandKind, Department, RiskFlag, Status
from .rows import DATE_FIELDS, REQUIRED_FIELDS

__all__ = ["TEMPLATE_FIELDS", "TemplateColumn", "template_columns", "write_template"]

TEMPLATE_FIELDS: tuple[str, ...] = (
    "id",
    "clinic",
    "received_at",
    "channel",
    "category",
    "summary",
    "description",
    "status",
    "demand.kind",
    "demand.amount",
    "demand.currency",
    "reporter.staff_id",
    "reporter.name",
    "reporter.department",
    "assignee",
    "customer.external_id",
    "customer.name",
    "customer.phone",
    "customer.email",
    "related.treatment",
    "related.product",
    "related.lot_number",
    "occurred_at",
    "acknowledged_at",
    "resolved_at",
    "closed_at",
)
_CHOICES: dict[str, type[StrEnum]] = {
    "channel": Channel,
    "category": Category,
    "status": Status,
    "demand.kind": DemandKind,
    "reporter.department": Department,
}
_YES_NO: dict[Language, tuple[str, str]] = {
    "en": ("yes", "no"),
    "ja": ("あり", "なし"),
    "zh-Hans": ("是", "否"),
    "zh-Hant": ("是", "否"),
}
assert all(no in NO_WORDS for _, no in _YES_NO.values())
_HOW: dict[str, dict[Language, str]] = {
    "text": {"en": "Text", "ja": "文字", "zh-Hans": "文字", "zh-Hant": "文字"},
    "date": {
        "en": "Date and time, e.g. 2026/11/20 10:15 (the clinic's local time)",
        "ja": "日時 例: 2026/11/20 10:15(院の現地時刻)",
        "zh-Hans": "日期时间,例:2026/11/20 10:15(诊所当地时间)",
        "zh-Hant": "日期時間,例:2026/11/20 10:15(診所當地時間)",
    },
    "choice": {
        "en": "Choose from the list",
        "ja": "リストから選択",
        "zh-Hans": "从列表中选择",
        "zh-Hant": "從清單中選擇",
    },
    "flag": {
        "en": "yes / no",
        "ja": "あり / なし",
        "zh-Hans": "是 / 否",
        "zh-Hant": "是 / 否",
    },
    "amount": {
        "en": "Amount, e.g. 30000 (with the currency column, or ¥30,000)",
        "ja": "金額 例: 30000 または 30,000円",
        "zh-Hans": "金额,例:30000 或 ¥30,000",
        "zh-Hant": "金額,例:30000 或 NT$30,000",
    },
    "currency": {
        "en": "ISO 4217 code: JPY, CNY, TWD, USD…",
        "ja": "通貨コード: JPY など",
        "zh-Hans": "币种代码:CNY 等",
        "zh-Hant": "幣別代碼:TWD 等",
    },
}
_REQUIRED: dict[Language, tuple[str, str]] = {
    "en": ("required", ""),
    "ja": ("必須", ""),
    "zh-Hans": ("必填", ""),
    "zh-Hant": ("必填", ""),
}
_GUIDE_HEADERS: dict[Language, tuple[str, str, str, str]] = {
    "en": ("Column", "Field", "Required", "How to fill it in"),
    "ja": ("列", "項目", "必須", "記入方法"),
    "zh-Hans": ("列", "字段", "必填", "填写说明"),
    "zh-Hant": ("欄", "欄位", "必填", "填寫說明"),
}
_SHEETS: dict[Language, tuple[str, str]] = {
    "en": ("Complaints", "How to fill in"),
    "ja": ("苦情", "記入方法"),
    "zh-Hans": ("投诉", "填写说明"),
    "zh-Hant": ("投訴", "填寫說明"),
}
_ROWS_WITH_LISTS = 5000


@dataclass(frozen=True)
class TemplateColumn:
    """One column of the template: its header, the field it fills, how to fill it in."""

    header: str
    field: str
    how: str  # a key of _HOW
    choices: tuple[str, ...] = ()


def template_columns(language: Language) -> list[TemplateColumn]:
    """The template's columns in ``language``: the fields, then one yes/no column per flag."""
    columns = []
    for path in TEMPLATE_FIELDS:
        header = FIELD_LABELS[path][language]
        if path in _CHOICES:
            choices = tuple(labels_of(member)[language] for member in _CHOICES[path])  # type: ignore[arg-type]
            columns.append(TemplateColumn(header, path, "choice", choices))
        elif path in DATE_FIELDS:
            columns.append(TemplateColumn(header, path, "date"))
        elif path == "demand.amount":
            columns.append(TemplateColumn(header, path, "amount"))
        elif path == "demand.currency":
            columns.append(TemplateColumn(header, path, "currency"))
        else:
            columns.append(TemplateColumn(header, path, "text"))
    for flag in RiskFlag:
        columns.append(
            TemplateColumn(
                RISK_FLAG_LABELS[flag][language],
                f"risk_flags.{flag.value}",
                "flag",
                _YES_NO[language],
            )
        )
    return columns


def write_template(path: Path, language: Language, file_format: str) -> Path:
    """Write the template as ``xlsx`` or ``csv`` (UTF-8 with a BOM, as Excel opens it)."""
    columns = template_columns(language)
    if file_format == "csv":
        with path.open("w", encoding="utf-8-sig", newline="") as handle:
            csv.writer(handle).writerow(c.header for c in columns)
        return path
    _write_workbook(path, language, columns)
    return path


def _write_workbook(path: Path, language: Language, columns: Sequence[TemplateColumn]) -> None:
    workbook = Workbook()
    data = workbook.active
    assert data is not None
    data_title, guide_title = _SHEETS[language]
    data.title = data_title
    lists = workbook.create_sheet("lists")
    lists.sheet_state = "hidden"
    bold = Font(bold=True)
    required_fill = PatternFill("solid", start_color="FFF2CC")
    for number, column in enumerate(columns, start=1):
        cell = data.cell(row=1, column=number, value=column.header)
        cell.font = bold
        if column.field in REQUIRED_FIELDS:
            cell.fill = required_fill
        letter = get_column_letter(number)
        data.column_dimensions[letter].width = max(12, min(40, 2 * len(column.header) + 4))
        rows = f"{letter}2:{letter}{_ROWS_WITH_LISTS}"
        if column.how == "date":
            for row in range(2, 202):  # typed as dates where people start typing
                data.cell(row=row, column=number).number_format = "yyyy/mm/dd hh:mm"
        if column.choices:
            for offset, choice in enumerate(column.choices, start=1):
                lists.cell(row=offset, column=number, value=choice)
            source = f"=lists!${letter}$1:${letter}${len(column.choices)}"
            validation = DataValidation(type="list", formula1=source, allow_blank=True)
            validation.add(rows)
            data.add_data_validation(validation)
    data.freeze_panes = "A2"
    guide = workbook.create_sheet(guide_title, 1)
    for number, text in enumerate(_GUIDE_HEADERS[language], start=1):
        guide.cell(row=1, column=number, value=text).font = bold
    for row, column in enumerate(columns, start=2):
        how = _HOW[column.how][language]
        if column.choices:
            how += ": " + " / ".join(column.choices)
        guide.cell(row=row, column=1, value=column.header)
        guide.cell(row=row, column=2, value=column.field)
        guide.cell(
            row=row, column=3, value=_REQUIRED[language][column.field not in REQUIRED_FIELDS]
        )
        guide.cell(row=row, column=4, value=how)
    for letter, width in zip("ABCD", (24, 24, 10, 80), strict=True):
        guide.column_dimensions[letter].width = width
    workbook.save(path)
