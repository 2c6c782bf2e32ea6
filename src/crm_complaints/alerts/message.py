"""Alert text in the complaint's language, with times in the clinic's own zone.

Only what a person needs to find the work: the complaint id, the clinic, the task, the
department, the due time and how late it is, plus the category and severity when the field
allowlist lets them leave the clinic. Never names, phones, e-mails or free text (the summary
and description stay home even where a CRM may receive them: a chat channel is wider).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from ..labels import Language, label, resolve_language, task_title
from ..schema import Category, Department
from .settings import Level

__all__ = ["AlertText", "render"]

_LEVEL: dict[Level, dict[Language, str]] = {
    Level.DUE_SOON: {
        "en": "Due soon",
        "ja": "期限間近",
        "zh-Hans": "即将到期",
        "zh-Hant": "即將到期",
    },
    Level.OVERDUE: {"en": "Overdue", "ja": "期限超過", "zh-Hans": "已逾期", "zh-Hant": "已逾期"},
    Level.ESCALATION: {
        "en": "Escalation to management",
        "ja": "経営層へエスカレーション",
        "zh-Hans": "上报管理层",
        "zh-Hant": "上報管理層",
    },
}
_FIELDS: dict[Language, tuple[str, str, str, str, str, str]] = {
    # complaint, clinic, task, department, due, category
    "en": ("Complaint", "Clinic", "Task", "Department", "Due", "Category"),
    "ja": ("苦情", "院", "タスク", "部署", "期限", "分類"),
    "zh-Hans": ("投诉", "门店", "任务", "部门", "截止", "类别"),
    "zh-Hant": ("客訴", "門店", "任務", "部門", "截止", "類別"),
}
_LATE: dict[Language, tuple[str, str]] = {
    "en": ("late by {}", "due in {}"),
    "ja": ("{}超過", "あと{}"),
    "zh-Hans": ("已逾期{}", "还剩{}"),
    "zh-Hant": ("已逾期{}", "還剩{}"),
}
_UNITS: dict[Language, tuple[str, str, str]] = {
    "en": (" min", " h", " d"),
    "ja": ("分", "時間", "日"),
    "zh-Hans": ("分钟", "小时", "天"),
    "zh-Hant": ("分鐘", "小時", "天"),
}


@dataclass(frozen=True)
class AlertText:
    title: str
    body: str


def render(
    *,
    level: Level,
    language: str | None,
    complaint_id: str,
    clinic: str,
    task: str,
    department: Department,
    due_at: datetime,
    now: datetime,
    zone: ZoneInfo,
    category: Category | None = None,
    severity: str | None = None,
) -> AlertText:
    """The title and body of one alert (``category``/``severity``: only when allowed)."""
    lang = resolve_language(language)
    names = _FIELDS[lang]
    task_name = task_title(task, lang)
    local = due_at.astimezone(zone)
    late, ahead = _LATE[lang]
    when = (late if now >= due_at else ahead).format(_span(due_at, now, lang))
    lines = [
        f"{names[0]}: {complaint_id}" + (f" ({severity})" if severity else ""),
        f"{names[1]}: {clinic}",
        f"{names[2]}: {task_name}",
        f"{names[3]}: {label(department, lang)}",
        f"{names[4]}: {local:%Y-%m-%d %H:%M} ({zone.key}) · {when}",
    ]
    if category is not None:
        lines.append(f"{names[5]}: {label(category, lang)}")
    title = f"[{_LEVEL[level][lang]}] {complaint_id} · {task_name}"
    return AlertText(title=title, body="\n".join(lines))


def _span(due_at: datetime, now: datetime, lang: Language) -> str:
    minutes = int(abs((now - due_at).total_seconds()) // 60)
    minute, hour, day = _UNITS[lang]
    if minutes < 120:
        return f"{minutes}{minute}"
    hours = minutes // 60
    return f"{hours}{hour}" if hours < 48 else f"{hours // 24}{day}"
