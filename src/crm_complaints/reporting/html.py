"""The report as one self-contained HTML page: inline SVG charts drawn here (no scripts, no
CDN), labels in the chosen language, laid out for A4 print. Only the report's numbers and
labels reach the page, so no personal data can."""

from __future__ import annotations

from collections import defaultdict
from html import escape
from typing import Any

from ..labels import resolve_language
from .render import as_of, value_label
from .words import word

__all__ = ["render_html"]

# Colour-blind-safe palette (Okabe & Ito), one colour per series.
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#000000",
    "#999999",
    "#882255",
)

CSS = """
@page { size: A4; margin: 14mm; }
body { font-family: "Noto Sans CJK JP", "Noto Sans JP", "Hiragino Sans", sans-serif;
       color: #222; margin: 24px; max-width: 182mm; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 24px; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; width: 100%; font-size: 12px; }
th, td { border-bottom: 1px solid #e5e5e5; padding: 3px 6px; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 8px 0 16px; break-inside: avoid; }
figcaption { font-size: 12px; font-weight: bold; }
.legend span { display: inline-block; margin-right: 12px; font-size: 11px; }
.legend i { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
.note { font-size: 11px; color: #555; }
section { break-inside: avoid-page; }
@media print { body { margin: 0; } }
"""


def _legend(names: list[tuple[str, str]]) -> str:
    items = "".join(
        f'<span><i style="background:{colour}"></i>{escape(name)}</span>' for name, colour in names
    )
    return f'<div class="legend">{items}</div>'


def _trend_chart(report: dict[str, Any], language: str) -> str:
    series: dict[str, dict[str, int]] = defaultdict(dict)
    for row in report["volume"]["month"]:
        if row["clinic"] != "*":
            series[row["clinic"]][row["key"]] = row["current"]
    first, last = report["period"]["from"][:7], report["period"]["to"][:7]
    months = sorted({m for s in series.values() for m in s if first <= m <= last})
    width, height, pad = 640, 200, 32
    top = max([1, *(v for s in series.values() for v in s.values())])
    step = (width - 2 * pad) / max(1, len(months) - 1)
    parts = [
        f'<svg class="chart trend" role="img" aria-label="{escape(word("trend", language))}" '
        f'viewBox="0 0 {width} {height}" width="100%">',
        f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" '
        'stroke="#999"/>',
    ]
    for index, month in enumerate(months):
        x = pad + index * step
        parts.append(
            f'<text x="{x:.1f}" y="{height - 12}" font-size="10" text-anchor="middle">'
            f"{escape(month[2:])}</text>"
        )
    names = []
    for number, (clinic, values) in enumerate(sorted(series.items())):
        colour = PALETTE[number % len(PALETTE)]
        names.append((clinic, colour))
        points = " ".join(
            f"{pad + i * step:.1f},{height - pad - values.get(m, 0) / top * (height - 2 * pad):.1f}"
            for i, m in enumerate(months)
        )
        parts.append(
            f'<polyline class="series" fill="none" stroke="{colour}" stroke-width="2" '
            f'points="{points}"/>'
        )
    parts.append(f'<text x="4" y="{pad}" font-size="10">{top}</text></svg>')
    return _figure(word("trend", language), "".join(parts) + _legend(names))


def _category_chart(report: dict[str, Any], language: str) -> str:
    per_month: dict[str, dict[str, int]] = defaultdict(dict)
    categories: set[str] = set()
    for row in report["volume"].get("category_month", []):
        per_month[row["month"]][row["key"]] = row["current"]
        categories.add(row["key"])
    months = sorted(per_month)
    ordered = sorted(categories)
    colours = {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(ordered)}
    width, height, pad = 640, 220, 32
    top = max([1, *(sum(v.values()) for v in per_month.values())])
    bar = (width - 2 * pad) / max(1, len(months))
    parts = [
        '<svg class="chart stacked" role="img" '
        f'aria-label="{escape(word("by_category", language))}"'
        f' viewBox="0 0 {width} {height}" width="100%">'
    ]
    for index, month in enumerate(months):
        x = pad + index * bar
        y = float(height - pad)
        for category in ordered:
            count = per_month[month].get(category, 0)
            if not count:
                continue
            h = count / top * (height - 2 * pad)
            y -= h
            parts.append(
                f'<rect class="bar" x="{x + 2:.1f}" y="{y:.1f}" width="{bar - 4:.1f}" '
                f'height="{h:.1f}" fill="{colours[category]}"><title>'
                f"{escape(value_label('category', category, language))}: {count}</title></rect>"
            )
        parts.append(
            f'<text x="{x + bar / 2:.1f}" y="{height - 12}" font-size="10" '
            f'text-anchor="middle">{escape(month[2:])}</text>'
        )
    parts.append("</svg>")
    names = [(value_label("category", c, language), colours[c]) for c in ordered]
    return _figure(word("by_category", language), "".join(parts) + _legend(names))


def _share_chart(report: dict[str, Any], language: str) -> str:
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in report["deadlines"]:
        totals[row["department"]][0] += row["on_time"]
        totals[row["department"]][1] += row["on_time"] + row["late"]
    width, row_height, label_width = 640, 22, 200
    height = row_height * max(1, len(totals)) + 10
    parts = [
        '<svg class="chart share" role="img" '
        f'aria-label="{escape(word("on_time_share", language))}"'
        f' viewBox="0 0 {width} {height}" width="100%">'
    ]
    for index, (department, (on_time, judged)) in enumerate(sorted(totals.items())):
        y = 5 + index * row_height
        share = on_time / judged if judged else 0.0
        full = width - label_width - 60
        parts.append(
            f'<text x="0" y="{y + 14}" font-size="11">'
            f"{escape(value_label('department', department, language))}</text>"
            f'<rect x="{label_width}" y="{y}" width="{full}" height="16" fill="#eee"/>'
            f'<rect class="bar" x="{label_width}" y="{y}" width="{share * full:.1f}" height="16" '
            f'fill="{PALETTE[2]}"/>'
            f'<text x="{label_width + full + 4}" y="{y + 13}" font-size="11">'
            f"{share * 100:.1f}%</text>"
        )
    parts.append("</svg>")
    legend = _legend([(word("on_time", language), PALETTE[2]), (word("late", language), "#eee")])
    return _figure(word("on_time_share", language), "".join(parts) + legend)


def _figure(caption: str, body: str) -> str:
    return f"<figure><figcaption>{escape(caption)}</figcaption>{body}</figure>"


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{escape(str(v))}</td>'
            if isinstance(v, int | float)
            else f"<td>{escape(str(v))}</td>"
            for v in row
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(report: dict[str, Any], language: str = "en") -> str:
    lang = resolve_language(language)

    def w(key: str) -> str:
        return word(key, lang)

    period = report["period"]

    def share(value: float | None) -> str:
        return "–" if value is None else f"{value * 100:.1f}%"

    deadline_rows = [
        [
            r["clinic"],
            value_label("department", r["department"], lang),
            value_label("task", r["task"], lang),
            r["on_time"],
            r["late"],
            share(r["on_time_share"]),
            (
                f"{r['delay_business_hours_median']} / {r['delay_business_hours_p90']}"
                if r.get("delay_business_hours_median") is not None
                else ""
            ),
        ]
        for r in report["deadlines"]
    ]
    mix_rows = [
        [w(dimension), value_label(dimension, r["key"], lang), r["current"], r["previous"]]
        for dimension in ("category", "channel", "severity", "risk_flag")
        for r in report["volume"][dimension]
        if r["clinic"] == "*"
    ]
    recurrence = report["recurrence"]
    recurrence_rows = [
        [i["rank"], w(i["key"]), i["value"], i["recurrences"], i["complaints"], i["clinics"]]
        for i in recurrence["items"]
    ]
    open_rows = [
        [r["clinic"], value_label("department", r["department"], lang), r["open"], r["overdue"]]
        for r in report["open_work"]
    ]
    body = [
        f"<h1>{escape(w('title'))}</h1>",
        f"<p>{escape(period['from'])} – {escape(period['to'])} · {report['totals']['current']} "
        f"{escape(w('complaints'))} ({escape(w('previous_period'))} "
        f"{escape(period['previous_from'])} – {escape(period['previous_to'])}: "
        f"{report['totals']['previous']})</p>",
        f"<section><h2>{escape(w('deadlines'))}</h2>",
        _share_chart(report, lang),
        _table(
            [
                w("clinic"),
                w("department"),
                w("task"),
                w("on_time"),
                w("late"),
                w("share"),
                w("delay"),
            ],
            deadline_rows,
        ),
        "</section>",
        f"<section><h2>{escape(w('volume'))}</h2>",
        _trend_chart(report, lang),
        _category_chart(report, lang),
        _table(["", "", w("current"), w("previous_period")], mix_rows),
        "</section>",
        f"<section><h2>{escape(w('recurrence'))} ({period['window_days']} d)</h2>",
        _table(["#", "", "", w("recurrences"), w("complaints"), w("clinic")], recurrence_rows),
        f"<p>{escape(w('repeat_complainants'))}: {recurrence['repeat_complainants']} "
        f"({recurrence['repeat_complaints']} {escape(w('recurrences'))})</p>",
        "</section>",
        f"<section><h2>{escape(w('open_work'))}</h2>",
        f'<p class="note">{escape(w("as_of"))}: {escape(as_of(report, lang))}</p>',
        _table([w("clinic"), w("department"), w("open"), w("overdue")], open_rows),
        "</section>",
        f'<p class="note">{escape(w("no_personal_data"))}</p>',
    ]
    return (
        f'<!DOCTYPE html><html lang="{escape(lang)}"><head><meta charset="utf-8">'
        f"<title>{escape(w('title'))}</title><style>{CSS}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )
