"""What the state database refused, as an error that says what to check (never the statement or
its parameters: they hold complaint ids and quarantine reasons)."""

from __future__ import annotations

import sqlalchemy as sa

from .errors import LockHeldError, StateError

__all__ = ["raise_for"]


def raise_for(context: sa.engine.ExceptionContext, where: str, busy_timeout_seconds: float) -> None:
    """SQLAlchemy's ``handle_error`` hook: what the database refused, as a StateError that
    says what to check. The driver's own text only: the statement and its parameters hold
    complaint ids and quarantine reasons. Constraint and programming errors pass through."""
    wrapped, error = context.sqlalchemy_exception, context.original_exception
    if context.is_pre_ping or not (
        isinstance(wrapped, sa.exc.OperationalError) or type(wrapped) is sa.exc.DatabaseError
    ):
        return  # a pool's liveness probe must see the disconnect itself
    code = getattr(error, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    if primary in (5, 6):  # SQLITE_BUSY, SQLITE_LOCKED
        raise LockHeldError(
            f"the state database {where} is locked by another process (waited "
            f"{busy_timeout_seconds:g} s): another crm-complaints run, or a tool "
            "holding it open"
        ) from error
    hints = {
        8: f"the state database {where} is read-only: check the permissions of the file "
        "and of its directory (SQLite writes -wal and -shm files beside it) and the mount",
        10: f"input/output error on the state database {where}: check the disk",
        11: f"the state database {where} is corrupt: restore it from a backup",
        13: f"the disk holding the state database {where} is full: free space and run "
        "again (records not confirmed stay pending)",
        14: f"cannot open the state database {where}: check that its directory exists and "
        "is writable",
        26: f"{where} is not a usable SQLite database (another kind of file, or encrypted): "
        "check state.path",
    }
    if primary in hints:
        raise StateError(hints[primary]) from error
    first_line = (str(error).strip().splitlines() or [""])[0]
    raise StateError(
        f"the state database {where} failed: {type(error).__name__}: {first_line}; check "
        "state.path / state.url, that the database is reachable and that we may write"
    ) from error
