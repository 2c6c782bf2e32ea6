"""The ``crm-complaints`` command: a thin layer over the library.

``app`` (the Typer application) and ``main`` (the console-script entry,
``crm_complaints.cli:main`` in pyproject) live here; the commands live in modules by theme:

- :mod:`.common`   the apps (``app``, ``schema_app``, ``emulator_app``, ``audit_app``), the
                   shared options (``ConfigOption``, ``SourceOption``, ``SourceArgument``,
                   ``SummaryFormat``), the ``err`` console and the helpers ``_settings``,
                   ``_source``, ``_adapter``, ``_require_file``, ``_run_session`` (state, lock,
                   auth and config errors as exit codes), ``_configure_logging``;
- :mod:`.readers`  plan, validate, template, schema export (no CRM, no state);
- :mod:`.sync`     sync, status, adapters, setup, check, demo, reconcile;
- :mod:`.reports`  alerts, report, history, audit verify / prune;
- :mod:`.staff`    pull, ack (what staff did in the CRM);
- :mod:`.emulator` emulator hubspot;
- :mod:`.signals`  SIGINT / SIGTERM and broken pipes, used by ``main``.

Adding commands: write ``cli/<theme>.py`` that imports what it needs from ``.common`` and
decorates its functions with ``@app.command("name")`` (or ``@audit_app.command`` for a
subcommand; a new group is ``typer.Typer(...)`` plus ``app.add_typer``), then import the module
below, beside the others. Importing it is what registers its commands; ``--help`` lists
commands in import order, then the groups. Keep each command a few lines over a library
function, and document it in the README (tests/unit/test_docs.py checks every command is).
"""

from __future__ import annotations

import signal
import sys

import typer

from .. import __version__
from ..exit_codes import ExitCode
from .common import _run_session, app, err
from .signals import _exit_quietly_on_broken_pipe, _stop_on_signals

# Importing a command module registers its commands on ``app``; ``--help`` lists them in this
# order, so it is kept by hand.
# isort: off
from . import readers as readers
from . import sync as sync
from . import reports as reports
from . import staff as staff
from . import emulator as emulator
# isort: on

__all__ = ["app", "main"]


@app.command()
def version() -> None:
    """Print the version."""
    print(__version__)


def main() -> None:
    """Console-script entry.

    Beyond each command's own exit codes: 1 for an unexpected error (a one-line message); 2 or 4
    for a state store problem wherever it surfaces (as in the commands); 130 / 143 when SIGINT /
    SIGTERM stopped the process (128 + the signal number, as a shell reports it; a sync in
    progress lets its batch in flight finish and is recorded as ``stopped: SIGINT`` /
    ``stopped: SIGTERM``); 141 when the reader of stdout went away (``… | head -1``), silently,
    as ``cat`` does, so a ``pipefail`` pipeline still sees the output was cut short.
    """
    stdout = sys.stdout
    try:
        stdout_fd: int | None = stdout.fileno()
    except (OSError, ValueError):  # not a real file (an embedding host's stream)
        stdout_fd = None
    with _stop_on_signals() as received:
        try:
            with _run_session():  # state errors raised outside a command's own session
                app()
        except SystemExit as exit_:
            # Typer ends a KeyboardInterrupt with 130 whichever signal raised it; on a broken
            # pipe click swaps in a stdout that ignores it, then exits 1.
            if received and exit_.code == 130:
                name = signal.Signals(received[0]).name
                err.print(f"[yellow]stopped[/yellow] by {name}; unconfirmed records stay pending")
                sys.exit(128 + received[0])
            if sys.stdout is not stdout:
                _exit_quietly_on_broken_pipe(stdout_fd)
            raise
        except typer.Exit as exit_:  # from _run_session, outside click's own handling
            sys.exit(exit_.exit_code)
        except BrokenPipeError:
            _exit_quietly_on_broken_pipe(stdout_fd)
        except Exception as exc:
            err.print(f"[red]unexpected error[/red] {type(exc).__name__}: {exc}")
            sys.exit(ExitCode.UNEXPECTED)
