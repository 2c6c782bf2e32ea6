"""Reconciliation reports for people (text, HTML) and machines (JSON).

The HTML report is one self-contained file: inline CSS and inline SVG charts of open and
overdue work by department and by category, no scripts, nothing fetched.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from typing import Any

from rich.console import Console
from rich.table import Table

from .labels import label
from .reconcile import Finding, FindingKind, ReconcileReport
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
}


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
    }
    return json.dumps(data, ensure_ascii=False, indent=2)


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
                finding.ours or "",
                finding.theirs or "",
                finding.department or "",
            )
        console.print(table)
    if report.repair is not None:
        console.print(f"repair: {report.repair.line()}")


def _bars(title: str, open_work: Counter[str], overdue: Counter[str], names: dict[str, str]) -> str:
    keys = sorted(set(open_work) | set(overdue), key=lambda k: -(open_work[k] + overdue[k]))
    peak = max([open_work[k] for k in keys] + [overdue[k] for k in keys] + [1])
    row, width, left = 26, 360, 190
    height = 40 + row * max(len(keys), 1)
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
            f"<title>open {open_work[key]}</title></rect>",
            f'<rect class="late" x="{left}" y="{y + 10}" width="{late_w}" height="9">'
            f"<title>overdue {overdue[key]}</title></rect>",
            f'<text x="{left + max(open_w, late_w) + 6}" y="{y + 14}">'
            f"{open_work[key]} / {overdue[key]}</text>",
        ]
    parts.append("</svg>")
    return "".join(parts)


def render_html(report: ReconcileReport, language: str = "en") -> str:
    departments = {d.value: label(d, language) for d in Department}
    categories = {c.value: label(c, language) for c in Category}
    counts = report.counts()
    cards = "".join(
        f'<div class="card {kind}"><b>{count}</b><span>{html.escape(_TITLES[FindingKind(kind)])}'
        "</span></div>"
        for kind, count in counts.items()
    )
    sections = []
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
                    f.ours,
                    f.theirs,
                    departments.get(f.department or "", f.department),
                )
            )
            + "</tr>"
            for f in found
        )
        sections.append(
            f'<section id="{kind.value}"><h2>{html.escape(_TITLES[kind])} ({len(found)})</h2>'
            "<table><thead><tr><th>complaint</th><th>what</th><th>field</th><th>ours</th>"
            f"<th>theirs</th><th>department</th></tr></thead><tbody>{rows}</tbody></table>"
            "</section>"
        )
    charts = _bars(
        "Open / overdue tasks by department",
        report.open_by_department,
        report.overdue_by_department,
        departments,
    ) + _bars(
        "Open / overdue tasks by category",
        report.open_by_category,
        report.overdue_by_category,
        categories,
    )
    return f"""<!doctype html>
<html lang="{html.escape(language)}"><head><meta charset="utf-8">
<title>crm-complaints reconciliation</title>
<style>
body{{font-family:system-ui,"Hiragino Sans","Noto Sans CJK JP",sans-serif;margin:2rem;color:#222}}
.cards{{display:flex;gap:.6rem;flex-wrap:wrap}}
.card{{border:1px solid #ccc;border-radius:6px;padding:.5rem .8rem;min-width:9rem}}
.card b{{display:block;font-size:1.6rem}}
.chart{{margin:1rem 2rem 1rem 0;font-size:12px}} .chart .t{{font-weight:bold}}
.open{{fill:#4a7bd0}} .late{{fill:#d9534f}}
table{{border-collapse:collapse;margin:.5rem 0 1.5rem}}
td,th{{border:1px solid #ddd;padding:.2rem .5rem}}
</style></head><body>
<h1>Reconciliation: {html.escape(report.adapter)}</h1>
<p>{report.now:%Y-%m-%d %H:%M %Z} · {report.complaints} complaints · {report.remote_tickets}
tickets in the CRM · {report.read_requests} read requests</p>
<div class="cards">{cards}</div>
<div id="charts">{charts}</div>
{"".join(sections) or "<p>Everything is in sync.</p>"}
</body></html>
"""
