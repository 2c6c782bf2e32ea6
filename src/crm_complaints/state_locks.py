"""The run and migration locks: one run per namespace and adapter, released by the kernel or the
database server when the process dies (even on SIGKILL)."""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .errors import LockHeldError

__all__ = ["advisory_lock", "file_lock", "file_safe"]


@contextmanager
def advisory_lock(engine: Engine, name: str, deadline: float, held: str) -> Iterator[sa.Connection]:
    """A PostgreSQL session advisory lock on ``name`` within the current schema (tests and
    deployments may keep several stores in one database), and the connection holding it."""
    key = sa.func.hashtextextended(sa.func.concat(sa.func.current_schema(), "/", name), 0)
    with engine.connect() as conn:
        while not conn.scalar(sa.select(sa.func.pg_try_advisory_lock(key))):
            conn.rollback()
            if time.monotonic() >= deadline:
                raise LockHeldError(held)
            time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
        conn.commit()  # the lock is the session's; no transaction stays open for the run
        try:
            yield conn
        finally:
            if conn.in_transaction():
                conn.rollback()
            conn.execute(sa.select(sa.func.pg_advisory_unlock(key)))
            conn.commit()


@contextmanager
def file_lock(path: Path, deadline: float, held: str) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (created owner-only), retried until ``deadline``."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockHeldError(held) from None
                time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def file_safe(name: str) -> str:
    """An adapter name as part of a file name: itself when it is plain, else a digest."""
    if re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name):
        return name
    return "h" + hashlib.sha256(name.encode()).hexdigest()[:16]
