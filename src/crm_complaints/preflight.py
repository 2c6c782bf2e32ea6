"""Preflight checks: what ``crm-complaints check --adapter NAME`` runs before a first sync.

A sync that meets a missing scope, a mistyped owner or a portal without our properties fails
record by record, far from the cause. A preflight asks the remote side each question once and
answers with one :class:`Step` per question: passed, failed (with the fix in one line) or
skipped (with why: a later step cannot run when an earlier one failed). The report renders as
text or JSON and maps to an exit code: 0 all passed, 2 anything failed. Steps carry config
keys, scope and property names and remote ids, never a token or personal data.

Adapters with a preflight are listed in :data:`PREFLIGHTS` (imported lazily, like adapters).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .config import Settings
from .errors import ConfigError
from .exit_codes import ExitCode

__all__ = ["PREFLIGHTS", "PreflightReport", "Step", "StepOutcome", "run_preflight"]


class StepOutcome(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Step:
    """One question asked of the remote side, and its answer."""

    name: str
    outcome: StepOutcome
    detail: str
    """What was found (passed), what is wrong (failed) or why it did not run (skipped)."""
    fix: str = ""
    """One line saying what to do; empty unless failed."""

    @classmethod
    def passed(cls, name: str, detail: str) -> Step:
        return cls(name, StepOutcome.PASSED, detail)

    @classmethod
    def failed(cls, name: str, detail: str, fix: str) -> Step:
        return cls(name, StepOutcome.FAILED, detail, fix)

    @classmethod
    def skipped(cls, name: str, because: str) -> Step:
        return cls(name, StepOutcome.SKIPPED, because)


@dataclass
class PreflightReport:
    """The steps of one preflight, in the order they ran."""

    adapter: str
    steps: list[Step] = field(default_factory=list)

    def add(self, step: Step) -> Step:
        self.steps.append(step)
        return step

    @property
    def failed(self) -> list[Step]:
        return [s for s in self.steps if s.outcome is StepOutcome.FAILED]

    @property
    def ok(self) -> bool:
        """All steps ran and passed (a skipped step is not a pass)."""
        return all(s.outcome is StepOutcome.PASSED for s in self.steps)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if self.ok else ExitCode.USAGE

    def to_json(self) -> dict[str, Any]:
        return {
            "adapter": self.adapter,
            "ok": self.ok,
            "exit_code": int(self.exit_code),
            "steps": [
                {"name": s.name, "outcome": s.outcome.value, "detail": s.detail, "fix": s.fix}
                for s in self.steps
            ],
        }

    def lines(self) -> list[str]:
        """The report as plain text lines: one per step, its fix indented below it."""
        marks = {
            StepOutcome.PASSED: "ok  ",
            StepOutcome.FAILED: "FAIL",
            StepOutcome.SKIPPED: "skip",
        }
        out: list[str] = []
        for step in self.steps:
            out.append(f"{marks[step.outcome]} {step.name}: {step.detail}")
            if step.fix:
                out.append(f"     fix: {step.fix}")
        verdict = "all checks passed" if self.ok else f"{len(self.failed)} check(s) failed"
        out.append(f"{self.adapter}: {verdict}")
        return out


Preflight = Callable[[Settings, Mapping[str, str]], PreflightReport]

PREFLIGHTS: dict[str, str] = {
    "hubspot": "crm_complaints.adapters.hubspot.preflight:check",
}
"""Adapter name → ``module:function`` of its preflight."""


def run_preflight(settings: Settings, adapter: str, environ: Mapping[str, str]) -> PreflightReport:
    """Run the named adapter's preflight; a ConfigError for an adapter that has none."""
    target = PREFLIGHTS.get(adapter)
    if target is None:
        raise ConfigError(
            f"no preflight check for adapter {adapter!r} (there is one for {sorted(PREFLIGHTS)})"
        )
    module, _, function = target.partition(":")
    check: Preflight = getattr(importlib.import_module(module), function)
    return check(settings, environ)
