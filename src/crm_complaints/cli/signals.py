"""Stopping cleanly: SIGINT / SIGTERM raised where every ``finally`` runs, and a reader of stdout
that went away ending the process as ``cat`` does."""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import NoReturn

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
BROKEN_PIPE_EXIT = 128 + signal.SIGPIPE  # 141, what a shell reports for `cat` killed by SIGPIPE


class _Signalled(KeyboardInterrupt):
    """SIGINT or SIGTERM, raised in the main thread so that every ``finally`` runs: the sync
    engine records the run as ``stopped: SIGTERM`` (its message is the signal's name) and
    leaves what was not confirmed pending."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal.Signals(signum).name)


@contextmanager
def _stop_on_signals() -> Iterator[list[int]]:
    """Turn the first SIGINT or SIGTERM into :class:`_Signalled`; yields the signals received.
    A second one gets the system's default (the process ends at once): the way out when winding
    down hangs, safe too since the state is written ahead."""
    received: list[int] = []

    def stop(signum: int, _frame: FrameType | None) -> None:
        received.append(signum)
        for each in STOP_SIGNALS:
            signal.signal(each, signal.SIG_DFL)
        raise _Signalled(signum)

    if threading.current_thread() is not threading.main_thread():
        yield received  # only the main thread may set handlers (main() called in a thread)
        return
    previous = {each: signal.signal(each, stop) for each in STOP_SIGNALS}
    try:
        yield received
    finally:
        for each, handler in previous.items():
            signal.signal(each, handler)


def _exit_quietly_on_broken_pipe(stdout_fd: int | None) -> NoReturn:
    # Python flushes stdout again at exit and would print "Exception ignored … BrokenPipeError":
    # point the descriptor at /dev/null first (the recipe in Python's signal module docs).
    if stdout_fd is not None:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stdout_fd)
        os.close(devnull)
    sys.exit(BROKEN_PIPE_EXIT)
