"""Alerts: nudge people before a deadline and escalate after one (``crm-complaints alerts``).

Light on purpose: the configuration section is importable from :mod:`crm_complaints.config`
without pulling in the engine; run alerts with :func:`crm_complaints.alerts.engine.run_alerts`.
"""

from __future__ import annotations

from .settings import AlertsConfig, Level

__all__ = ["AlertsConfig", "Level"]
