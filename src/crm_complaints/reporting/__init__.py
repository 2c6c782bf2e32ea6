"""The monthly compliance and recurrence report (``crm-complaints report``): local data only,
zero CRM calls, no personal data in any output. :func:`compute_report` gives the numbers;
the renderers only format them."""

from __future__ import annotations

from .compute import ReportOptions, compute_report
from .render import render_csv, render_json, render_text

__all__ = ["ReportOptions", "compute_report", "render_csv", "render_json", "render_text"]
