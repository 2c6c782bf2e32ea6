"""Text, JSON and CSV of the report: the same numbers, for people, programs and spreadsheets.

CSV is the JSON flattened to one number per row (``section, clinic, group, key, metric,
value``), so a BI tool gets exactly what the JSON says."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from ..labels import label, resolve_language
from ..policy import TaskKind
from ..schema import Category, Channel, Department, RiskFlag, Severity
from .words import human_time, word

__all__ = ["csv_rows", "render_csv", "render_json", "render_text"]

CSV_HEADER = ("section", "clinic", "group", "key", "metric", "value")


def render_json(report: dict[str, Any]) -> str:
    return json.dumps(report, ensure_ascii=False, indent=2)


def csv_rows(report: dict[str, Any]) -> Iterator[tuple[str, str, str, str, str, Any]]:
    """One row per number of the JSON."""
    yield ("totals", "*", "", "", "current", report["totals"]["current"])
    yield ("totals", "*", "", "", "previous", report["totals"]["previous"])
    for row in report["deadlines"]:
        for metric, value in row.items():
            if metric not in ("clinic", "department", "task"):
                yield ("deadlines", row["clinic"], row["department"], row["task"], metric, value)
    for row in report["volume"]["category_month"]:
        yield (
            "volume",
            "*",
            "category_month",
            f"{row['month']}/{row['key']}",
            "current",
            row["current"],
        )
    for dimension, rows in report["volume"].items():
        if dimension == "category_month":
            continue
        for row in rows:
            for metric in ("current", "previous"):
                yield ("volume", row["clinic"], dimension, row["key"], metric, row[metric])
    recurrence = report["recurrence"]
    for item in recurrence["items"]:
        for metric in ("rank", "complaints", "recurrences", "clinics"):
            yield ("recurrence", "*", item["key"], item["value"], metric, item[metric])
    for key, count in recurrence["by_key"].items():
        yield ("recurrence_by_key", "*", key, "", "recurrences", count)
    for metric in ("repeat_complainants", "repeat_complaints"):
        yield ("recurrence_customers", "*", "customer", "", metric, recurrence[metric])
    for row in report["open_work"]:
        for metric, value in row.items():
            if metric not in ("clinic", "department"):
                yield ("open_work", row["clinic"], row["department"], "", metric, value)


def render_csv(report: dict[str, Any]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    for row in csv_rows(report):
        writer.writerow(["" if v is None else v for v in row])
    return buffer.getvalue()


def value_label(dimension: str, key: str, language: str) -> str:
    """A category, channel, severity, flag, department or task in the chosen language."""
    enums: dict[str, Any] = {
        "category": Category,
        "channel": Channel,
        "severity": Severity,
        "risk_flag": RiskFlag,
        "department": Department,
    }
    if dimension == "task":
        from ..labels import task_title

        return task_title(TaskKind(key).value, language)
    if dimension in enums:
        return label(enums[dimension](key), language)
    return key


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f}%"


def as_of(report: dict[str, Any], language: str) -> str:
    """When "now" was for the open work, on each clinic's own clock."""
    lang = resolve_language(language)
    moments = report["period"].get("now_local", {})
    return " · ".join(
        f"{clinic} {human_time(local, local.tzinfo or UTC, lang)}"
        for clinic, local in ((c, datetime.fromisoformat(m)) for c, m in moments.items())
    )


def render_text(report: dict[str, Any], language: str = "en") -> str:
    def w(key: str) -> str:
        return word(key, language)

    period = report["period"]
    lines = [
        f"{w('title')}: {period['from']} – {period['to']} "
        f"({w('previous_period')} {period['previous_from']} – {period['previous_to']})",
        f"{w('complaints')}: {report['totals']['current']} "
        f"({w('previous_period')}: {report['totals']['previous']})",
        "",
        f"## {w('deadlines')}",
    ]
    for row in report["deadlines"]:
        delay = ""
        if "delay_business_hours_median" in row:
            median, p90 = row["delay_business_hours_median"], row["delay_business_hours_p90"]
            if median is not None:
                delay = f"  {w('median')} {median} h, p90 {p90} h"
        lines.append(
            f"{row['clinic']}  {value_label('department', row['department'], language)}  "
            f"{value_label('task', row['task'], language)}: {_share(row['on_time_share'])} "
            f"({row['on_time']}/{row['on_time'] + row['late']}){delay}"
        )
    lines += ["", f"## {w('volume')}"]
    for dimension in ("category", "channel", "severity", "risk_flag"):
        for row in report["volume"][dimension]:
            if row["clinic"] == "*":
                lines.append(
                    f"{w(dimension)}  {value_label(dimension, row['key'], language)}: "
                    f"{row['current']} ({w('previous_period')}: {row['previous']})"
                )
    lines += ["", f"## {w('recurrence')} ({period['window_days']} d)"]
    for item in report["recurrence"]["items"]:
        lines.append(
            f"{item['rank']}. {w(item['key'])} {item['value']}: {item['recurrences']} "
            f"{w('recurrences')} / {item['complaints']} {w('complaints')}"
        )
    recurrence = report["recurrence"]
    lines.append(
        f"{w('repeat_complainants')}: {recurrence['repeat_complainants']} "
        f"({recurrence['repeat_complaints']} {w('recurrences')})"
    )
    lines += ["", f"## {w('open_work')} ({w('as_of')} {as_of(report, language)})"]
    for row in report["open_work"]:
        lines.append(
            f"{row['clinic']}  {value_label('department', row['department'], language)}: "
            f"{w('open')} {row['open']}, {w('overdue')} {row['overdue']}"
        )
    return "\n".join(lines) + "\n"
