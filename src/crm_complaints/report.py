"""Reconciliation reports for people (text, HTML) and machines (JSON).

The HTML report is one self-contained file: inline CSS and inline SVG charts of open and
overdue work by department and by category, no scripts, nothing fetched.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

from .labels import Language, label, resolve_language
from .reconcile import Finding, FindingKind, ReconcileReport
from .reporting.words import human_time
from .schema import Category, Department

__all__ = ["render_html", "render_json", "render_text"]

_TITLES = {
    FindingKind.MISSING: "Missing in the CRM",
    FindingKind.DRIFTED: "Drifted fields",
    FindingKind.ORPHANED: "Orphaned tickets (reported only, never deleted)",
    FindingKind.STALE: "Stale local state",
    FindingKind.OVERDUE: "Overdue work (first responses first)",
    FindingKind.STATUS_MOVED: "Status moved in the CRM",
    FindingKind.OWNER_FALLBACK: "Work sent to a fallback owner",
    FindingKind.CHANGED_IN_CRM: "Changed by staff in the CRM (information)",
    FindingKind.DELETED_IN_CRM: "Deleted in the CRM (information)",
}


# The page's own words for a clinic manager, in the four languages of the labels.
_PAGE: dict[str, dict[Language, str]] = {
    "title": {
        "en": "Reconciliation",
        "ja": "CRM照合レポート",
        "zh-Hans": "CRM 核对报告",
        "zh-Hant": "CRM 核對報告",
    },
    "complaints": {"en": "complaints", "ja": "件の苦情", "zh-Hans": "件投诉", "zh-Hant": "件投訴"},
    "tickets": {
        "en": "tickets in the CRM",
        "ja": "件のCRMチケット",
        "zh-Hans": "张CRM工单",
        "zh-Hant": "張CRM工單",
    },
    "open": {"en": "open", "ja": "未完了", "zh-Hans": "未完成", "zh-Hant": "未完成"},
    "overdue": {"en": "overdue", "ja": "期限超過", "zh-Hans": "逾期", "zh-Hant": "逾期"},
    "by_department": {
        "en": "Open and overdue tasks by department",
        "ja": "部門別の未完了・期限超過",
        "zh-Hans": "各部门未完成与逾期任务",
        "zh-Hant": "各部門未完成與逾期任務",
    },
    "by_category": {
        "en": "Open and overdue tasks by category",
        "ja": "分類別の未完了・期限超過",
        "zh-Hans": "各类别未完成与逾期任务",
        "zh-Hant": "各類別未完成與逾期任務",
    },
    "complaint": {"en": "complaint", "ja": "苦情ID", "zh-Hans": "投诉编号", "zh-Hant": "投訴編號"},
    "what": {"en": "what", "ja": "内容", "zh-Hans": "内容", "zh-Hant": "內容"},
    "field": {"en": "field", "ja": "項目", "zh-Hans": "字段", "zh-Hant": "欄位"},
    "ours": {"en": "ours", "ja": "本来の値", "zh-Hans": "应有值", "zh-Hant": "應有值"},
    "theirs": {
        "en": "in the CRM",
        "ja": "CRM上の値",
        "zh-Hans": "CRM 中的值",
        "zh-Hant": "CRM 中的值",
    },
    "department": {"en": "department", "ja": "部門", "zh-Hans": "部门", "zh-Hant": "部門"},
    "due": {"en": "due", "ja": "期限", "zh-Hans": "截止", "zh-Hant": "截止"},
    "todo": {"en": "What to do", "ja": "対応", "zh-Hans": "处理方法", "zh-Hant": "處理方法"},
    "in_sync": {
        "en": "Everything is in sync.",
        "ja": "すべて一致しています。",
        "zh-Hans": "全部一致。",
        "zh-Hant": "全部一致。",
    },
}
_KIND_TITLES: dict[FindingKind, dict[Language, str]] = {
    FindingKind.MISSING: {
        "en": _TITLES[FindingKind.MISSING],
        "ja": "CRMに未登録",
        "zh-Hans": "CRM 中缺失",
        "zh-Hant": "CRM 中缺失",
    },
    FindingKind.DRIFTED: {
        "en": _TITLES[FindingKind.DRIFTED],
        "ja": "CRMで変更された項目",
        "zh-Hans": "CRM 中被改动的字段",
        "zh-Hant": "CRM 中被改動的欄位",
    },
    FindingKind.ORPHANED: {
        "en": _TITLES[FindingKind.ORPHANED],
        "ja": "元の苦情がないチケット",
        "zh-Hans": "无对应投诉的工单",
        "zh-Hant": "無對應投訴的工單",
    },
    FindingKind.STALE: {
        "en": _TITLES[FindingKind.STALE],
        "ja": "同期記録の不一致",
        "zh-Hans": "同步记录不一致",
        "zh-Hant": "同步記錄不一致",
    },
    FindingKind.OVERDUE: {
        "en": _TITLES[FindingKind.OVERDUE],
        "ja": "期限超過の業務",
        "zh-Hans": "逾期任务",
        "zh-Hant": "逾期任務",
    },
    FindingKind.STATUS_MOVED: {
        "en": _TITLES[FindingKind.STATUS_MOVED],
        "ja": "CRMでステータス変更",
        "zh-Hans": "CRM 中状态被更改",
        "zh-Hant": "CRM 中狀態被更改",
    },
    FindingKind.OWNER_FALLBACK: {
        "en": _TITLES[FindingKind.OWNER_FALLBACK],
        "ja": "代わりの担当者に割り当て",
        "zh-Hans": "已改派给备用负责人",
        "zh-Hant": "已改派給備用負責人",
    },
    FindingKind.CHANGED_IN_CRM: {
        "en": _TITLES[FindingKind.CHANGED_IN_CRM],
        "ja": "CRMでスタッフが変更（参考）",
        "zh-Hans": "员工在 CRM 中修改（仅供参考）",
        "zh-Hant": "員工在 CRM 中修改（僅供參考）",
    },
    FindingKind.DELETED_IN_CRM: {
        "en": _TITLES[FindingKind.DELETED_IN_CRM],
        "ja": "CRMで削除済み（参考）",
        "zh-Hans": "已在 CRM 中删除（仅供参考）",
        "zh-Hant": "已在 CRM 中刪除（僅供參考）",
    },
}
_WHAT_TO_DO: dict[FindingKind, dict[Language, str]] = {
    FindingKind.MISSING: {
        "en": "Run reconcile --repair (or the next sync) to create it.",
        "ja": "reconcile --repair（または次回の同期）で作成されます。",
        "zh-Hans": "运行 reconcile --repair（或下次同步）即可创建。",
        "zh-Hant": "執行 reconcile --repair（或下次同步）即可建立。",
    },
    FindingKind.DRIFTED: {
        "en": "Someone changed it in the CRM: --repair restores ours, or add the field to "
        "reconcile.ignore_fields if people may change it.",
        "ja": "CRM上で変更されています。--repair で戻すか、人が変えてよい項目なら "
        "reconcile.ignore_fields に追加してください。",
        "zh-Hans": "有人在 CRM 中修改了它：--repair 恢复，或将该字段加入 reconcile.ignore_fields。",
        "zh-Hant": "有人在 CRM 中修改了它：--repair 還原，或將該欄位加入 reconcile.ignore_fields。",
    },
    FindingKind.ORPHANED: {
        "en": "Check whether the complaint was deleted from the source; nothing is deleted for "
        "you.",
        "ja": "元データから削除されていないか確認してください（自動では削除しません）。",
        "zh-Hans": "请确认投诉是否已从来源删除；系统不会自动删除。",
        "zh-Hant": "請確認投訴是否已從來源刪除；系統不會自動刪除。",
    },
    FindingKind.STALE: {
        "en": "Run reconcile --repair to write it again.",
        "ja": "reconcile --repair で再送してください。",
        "zh-Hans": "运行 reconcile --repair 重新写入。",
        "zh-Hant": "執行 reconcile --repair 重新寫入。",
    },
    FindingKind.OVERDUE: {
        "en": "Call the owner today; first responses first.",
        "ja": "本日中に担当者へ連絡してください（初回対応を最優先）。",
        "zh-Hans": "今天联系负责人；首次回应优先。",
        "zh-Hant": "今天聯絡負責人；首次回應優先。",
    },
    FindingKind.STATUS_MOVED: {
        "en": "Confirm the status in the source matches the CRM; plan the follow-up call.",
        "ja": "元データのステータスをCRMと合わせ、フォローアップの電話を予定してください。",
        "zh-Hans": "确认来源中的状态与 CRM 一致，并安排回访电话。",
        "zh-Hant": "確認來源中的狀態與 CRM 一致，並安排回訪電話。",
    },
    FindingKind.OWNER_FALLBACK: {
        "en": "The configured owner is deactivated or unknown: fix the owner in the config.",
        "ja": "設定の担当者が無効または不明です。設定ファイルの担当者を直してください。",
        "zh-Hans": "配置的负责人已停用或不存在：请修改配置中的负责人。",
        "zh-Hant": "設定的負責人已停用或不存在：請修改設定中的負責人。",
    },
    FindingKind.CHANGED_IN_CRM: {
        "en": "Nothing to undo: staff may change this field in the CRM. Check it if it "
        "surprises you.",
        "ja": "対応不要です（CRM上で変更してよい項目です）。意図しない変更なら確認してください。",
        "zh-Hans": "无需撤销：员工可以在 CRM 中修改此字段。如属意外请核实。",
        "zh-Hant": "無需復原：員工可以在 CRM 中修改此欄位。如屬意外請核實。",
    },
    FindingKind.DELETED_IN_CRM: {
        "en": "Left deleted. If it was a mistake, run reconcile --repair --recreate-deleted.",
        "ja": "削除されたままにします。誤って削除した場合は reconcile --repair "
        "--recreate-deleted を実行してください。",
        "zh-Hans": "保持删除状态。如系误删，请运行 reconcile --repair --recreate-deleted。",
        "zh-Hant": "保持刪除狀態。如係誤刪，請執行 reconcile --repair --recreate-deleted。",
    },
}


def clinic_time(moment: datetime, page_zone: tzinfo, language: Language) -> str:
    """A date in the clinic's own zone when the value carries it, else the page's.

    Dates from the plan are in their clinic's zone (a ``ZoneInfo``, or written with its
    offset, as reconcile writes task due dates); dates read from a CRM come in UTC and show in
    the page's zone. A date shown in another zone than the page's says which, so a page for
    several clinics never mixes clocks silently."""
    zone = moment.tzinfo
    if zone is None or moment.utcoffset() == timedelta(0):
        return human_time(moment, page_zone, language)
    text = human_time(moment, zone, language)
    if moment.astimezone(page_zone).utcoffset() == moment.utcoffset():
        return text
    if isinstance(zone, ZoneInfo):
        return f"{text} ({zone.key})"
    return f"{text} ({timezone(moment.utcoffset() or timedelta(0))})"  # "UTC-05:00"


def _humanize(value: str | None, zone: tzinfo, language: Language) -> str | None:
    """ISO date-times in a finding (due dates) become human; anything else stays."""
    if value and len(value) >= 16 and value[4] == "-" and "T" in value:
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        if moment.tzinfo is not None:
            return clinic_time(moment, zone, language)
    return value


def _finding_dict(finding: Finding) -> dict[str, Any]:
    return {
        "kind": finding.kind.value,
        "complaint_id": finding.complaint_id,
        "detail": finding.detail,
        "field": finding.field,
        "ours": finding.ours,
        "theirs": finding.theirs,
        "department": finding.department,
        "category": finding.category,
        "due_at": finding.due_at.isoformat() if finding.due_at else None,
    }


def render_json(report: ReconcileReport) -> str:
    data = {
        "adapter": report.adapter,
        "run_id": report.run_id,
        "now": report.now.isoformat(),
        "complaints": report.complaints,
        "remote_tickets": report.remote_tickets,
        "quarantined_input": report.quarantined_input,
        "read_requests": report.read_requests,
        "counts": report.counts(),
        "exit_code": report.exit_code,
        "open_by_department": dict(report.open_by_department),
        "overdue_by_department": dict(report.overdue_by_department),
        "open_by_category": dict(report.open_by_category),
        "overdue_by_category": dict(report.overdue_by_category),
        "findings": [_finding_dict(f) for f in report.findings],
        "repair": report.repair.counts() if report.repair else None,
        "crm_changes": report.crm_changes,  # what staff changed, as `pull` writes it
        "owner_labels": report.owner_labels,  # owner id → staff e-mail (no patient data)
    }
    return json.dumps(data, ensure_ascii=False, indent=2)


def _owner_shown(report: ReconcileReport, finding: Finding, value: str | None) -> str | None:
    """An owner id as "e-mail (id)" when the CRM's user directory named it."""
    if finding.field == "owner" and value in report.owner_labels:
        return f"{report.owner_labels[value]} ({value})"
    return value


def render_text(report: ReconcileReport, console: Console) -> None:
    summary = Table(
        title=f"Reconciliation against {report.adapter} at {report.now:%Y-%m-%d %H:%M %Z}"
    )
    summary.add_column("finding")
    summary.add_column("count", justify="right")
    for kind, count in report.counts().items():
        summary.add_row(_TITLES[FindingKind(kind)], str(count))
    console.print(summary)
    console.print(
        f"{report.complaints} complaints, {report.remote_tickets} tickets in the CRM, "
        f"{report.read_requests} read requests"
    )
    for kind in FindingKind:
        found = report.of(kind)
        if not found:
            continue
        table = Table(title=_TITLES[kind])
        for column in ("complaint", "what", "field", "ours", "theirs", "department"):
            table.add_column(column, overflow="fold")
        for finding in found:
            table.add_row(
                finding.complaint_id,
                finding.detail,
                finding.field or "",
                _owner_shown(report, finding, finding.ours) or "",
                _owner_shown(report, finding, finding.theirs) or "",
                finding.department or "",
            )
        console.print(table)
    if report.repair is not None:
        console.print(f"repair: {report.repair.line()}")


def _bars(
    title: str,
    open_work: Counter[str],
    overdue: Counter[str],
    names: dict[str, str],
    words: tuple[str, str] = ("open", "overdue"),
) -> str:
    keys = sorted(set(open_work) | set(overdue), key=lambda k: -(open_work[k] + overdue[k]))
    peak = max([open_work[k] for k in keys] + [overdue[k] for k in keys] + [1])
    row, width, left = 26, 360, 190
    height = 40 + row * max(len(keys), 1) + 24
    parts = [
        f'<svg class="chart" role="img" aria-label="{html.escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg" width="{left + width + 60}" height="{height}">',
        f'<text x="0" y="16" class="t">{html.escape(title)}</text>',
    ]
    for index, key in enumerate(keys):
        y = 30 + index * row
        open_w = round(width * open_work[key] / peak)
        late_w = round(width * overdue[key] / peak)
        parts += [
            f'<text x="0" y="{y + 14}">{html.escape(names.get(key, key))}</text>',
            f'<rect class="open" x="{left}" y="{y}" width="{open_w}" height="9">'
            f"<title>{html.escape(words[0])} {open_work[key]}</title></rect>",
            f'<rect class="late" x="{left}" y="{y + 10}" width="{late_w}" height="9">'
            f"<title>{html.escape(words[1])} {overdue[key]}</title></rect>",
            f'<text x="{left + max(open_w, late_w) + 6}" y="{y + 14}">'
            f"{open_work[key]} / {overdue[key]}</text>",
        ]
    legend_y = height - 12
    parts += [
        f'<g class="legend"><rect class="open" x="{left}" y="{legend_y - 9}" width="10" '
        f'height="10"/><text x="{left + 14}" y="{legend_y}">{html.escape(words[0])}</text>',
        f'<rect class="late" x="{left + 110}" y="{legend_y - 9}" width="10" height="10"/>'
        f'<text x="{left + 124}" y="{legend_y}">{html.escape(words[1])}</text></g>',
        "</svg>",
    ]
    return "".join(parts)


def render_html(
    report: ReconcileReport,
    language: str = "en",
    *,
    time_zone: str | tzinfo | None = None,
    owners: Mapping[str, str] | None = None,
) -> str:
    """The page for a clinic manager: its words in ``language`` (en, ja, zh-Hans, zh-Hant),
    dates in ``time_zone`` (the clinic's) in a human format, owner ids shown through
    ``owners`` (remote id → name or e-mail, from the adapter's discovery, when given), a
    legend on each chart and a "what to do" line per finding kind."""
    lang = resolve_language(language)
    zone: tzinfo = ZoneInfo(time_zone) if isinstance(time_zone, str) else (time_zone or UTC)
    names = {**report.owner_labels, **(owners or {})}

    def w(key: str) -> str:
        return _PAGE[key][lang]

    def shown(finding: Finding, value: str | None) -> str | None:
        if finding.field == "owner" and value in names:
            return f"{names[value]} ({value})"
        return _humanize(value, zone, lang)

    departments = {d.value: label(d, lang) for d in Department}
    categories = {c.value: label(c, lang) for c in Category}
    counts = report.counts()
    cards = "".join(
        f'<div class="card {kind}"><b>{count}</b>'
        f"<span>{html.escape(_KIND_TITLES[FindingKind(kind)][lang])}</span></div>"
        for kind, count in counts.items()
    )
    sections = []
    headers = "".join(
        f"<th>{html.escape(w(k))}</th>"
        for k in ("complaint", "what", "field", "ours", "theirs", "department", "due")
    )
    for kind in FindingKind:
        found = report.of(kind)
        if not found:
            continue
        rows = "".join(
            "<tr>"
            + "".join(
                f"<td>{html.escape(str(v or ''))}</td>"
                for v in (
                    f.complaint_id,
                    f.detail,
                    f.field,
                    shown(f, f.ours),
                    shown(f, f.theirs),
                    departments.get(f.department or "", f.department),
                    clinic_time(f.due_at, zone, lang) if f.due_at else "",
                )
            )
            + "</tr>"
            for f in found
        )
        sections.append(
            f'<section id="{kind.value}"><h2>{html.escape(_KIND_TITLES[kind][lang])} '
            f'({len(found)})</h2><p class="todo"><b>{html.escape(w("todo"))}:</b> '
            f"{html.escape(_WHAT_TO_DO[kind][lang])}</p>"
            f"<table><thead><tr>{headers}</tr></thead><tbody>{rows}</tbody></table></section>"
        )
    words = (w("open"), w("overdue"))
    charts = _bars(
        w("by_department"),
        report.open_by_department,
        report.overdue_by_department,
        departments,
        words,
    ) + _bars(
        w("by_category"), report.open_by_category, report.overdue_by_category, categories, words
    )
    return f"""<!doctype html>
<html lang="{html.escape(lang)}"><head><meta charset="utf-8">
<title>{html.escape(w("title"))}</title>
<style>
body{{font-family:system-ui,"Hiragino Sans","Noto Sans CJK JP",sans-serif;margin:2rem;color:#222}}
.cards{{display:flex;gap:.6rem;flex-wrap:wrap}}
.card{{border:1px solid #ccc;border-radius:6px;padding:.5rem .8rem;min-width:9rem}}
.card b{{display:block;font-size:1.6rem}}
.chart{{margin:1rem 2rem 1rem 0;font-size:12px}} .chart .t{{font-weight:bold}}
.open{{fill:#4a7bd0}} .late{{fill:#d9534f}}
.todo{{background:#fff8e1;padding:.3rem .6rem;border-left:4px solid #f0ad4e}}
table{{border-collapse:collapse;margin:.5rem 0 1.5rem}}
td,th{{border:1px solid #ddd;padding:.2rem .5rem}}
@page{{size:A4;margin:14mm}}
</style></head><body>
<h1>{html.escape(w("title"))}: {html.escape(report.adapter)}</h1>
<p>{html.escape(human_time(report.now, zone, lang))} · {report.complaints}
{html.escape(w("complaints"))} · {report.remote_tickets} {html.escape(w("tickets"))}</p>
<div class="cards">{cards}</div>
<div id="charts">{charts}</div>
{"".join(sections) or f"<p>{html.escape(w('in_sync'))}</p>"}
</body></html>
"""
