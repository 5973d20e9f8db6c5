"""What every CLI command module shares: the one error path, status lines, logging setup and
stop signals.

Command modules (``i2i/cli/<group>.py``) import from here, and :mod:`i2i.cli.app` imports the
command modules, so imports point one way.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from i2i.errors import StopSignal, describe_failure

F = TypeVar("F", bound=Callable[..., Any])

err_console = Console(stderr=True)


def debug_enabled() -> bool:
    return os.environ.get("I2I_DEBUG", "") not in ("", "0", "false")


def report_failure(e: BaseException) -> int:
    """THE error path: one line on stderr for any exception (after its traceback with
    ``--debug`` / ``I2I_DEBUG=1``); returns the exit status (1, or 128 + signal)."""
    failure = describe_failure(e)
    if debug_enabled():
        traceback.print_exception(type(e), e, e.__traceback__, file=sys.stderr)
    label = "interrupted" if failure.status == "interrupted" else "error"
    err_console.print(
        f"[bold red]{label}:[/] {escape(failure.message)}", highlight=False, soft_wrap=True
    )
    return failure.exit_code


# typer's own exits, aborts and usage errors (typer.BadParameter ...) keep their behaviour
_PASS_THROUGH = (typer.Exit, typer.Abort, typer.TyperException, SystemExit)


def handle_errors(fn: F) -> F:
    """Decorator for command functions: every exception -> :func:`report_failure`'s one line
    and exit status (typer's own exits and usage errors pass through)."""

    if getattr(fn, "_i2i_handles_errors", False):
        return fn

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except _PASS_THROUGH:
            raise
        except BaseException as e:  # noqa: BLE001 - the one error path
            raise typer.Exit(report_failure(e)) from None

    wrapper._i2i_handles_errors = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def _raise_stop(signum: int, _frame: Any) -> None:
    raise StopSignal(signum)


@contextlib.contextmanager
def stop_signals_raise() -> Iterator[None]:
    """SIGTERM (and SIGHUP) raise :class:`~i2i.errors.StopSignal` in the main thread, as Ctrl-C
    raises ``KeyboardInterrupt``: commands unwind (temporary files removed), print one line and
    exit 128 + N. The trainer installs its own handlers while it trains."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    sigs = [signal.SIGTERM] + ([signal.SIGHUP] if hasattr(signal, "SIGHUP") else [])
    old = {s: signal.signal(s, _raise_stop) for s in sigs}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def say(message: str) -> None:
    """Print a status line to stderr (no wrapping, no highlighting; nothing with ``-q``)."""
    if logging.getLogger().getEffectiveLevel() > logging.INFO:
        return
    err_console.print(escape(message), highlight=False, soft_wrap=True)


class _StderrHandler(logging.StreamHandler):
    """Logs to whatever ``sys.stderr`` is now (test runners swap it)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def setup_logging(level: int = logging.INFO) -> None:
    """Log lines of ``level`` and above to stderr (one handler per process)."""
    root = logging.getLogger()
    if not any(isinstance(h, _StderrHandler) for h in root.handlers):
        h = _StderrHandler()
        h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
        root.addHandler(h)
    root.setLevel(level)


def check_summary(root: Path, format: str, report: Any) -> str:  # noqa: A002
    """The line ``i2i datasets check`` prints for a valid dataset."""
    counts = ", ".join(f"{k}: {v}" for k, v in report.counts.items())
    return f"{root} is a valid '{format}' dataset ({counts})"
