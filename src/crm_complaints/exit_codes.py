"""The process exit codes of ``crm-complaints``, in one place, so schedulers can branch on them.

The library's run summaries say which one a run means (``SyncSummary.exit_code``,
``ReconcileReport.exit_code``); the CLI adds the ones only a process has (usage, lock).
"""

from __future__ import annotations

from enum import IntEnum

__all__ = ["ExitCode"]


class ExitCode(IntEnum):
    OK = 0
    """Everything done; nothing needs a person."""
    UNEXPECTED = 1
    """A bug or an unexpected failure; the message says what."""
    USAGE = 2
    """Bad arguments or configuration, a refused token, an unknown adapter."""
    PARTIAL = 3
    """Some records were quarantined or left for the next run."""
    LOCKED = 4
    """Another run holds the state lock; try again later."""
    FINDINGS = 5
    """Reconciliation found drift or overdue work."""
