"""What every CLI command module shares: one-line errors, status lines, logging setup.

Command modules (``i2i/cli/<group>.py``) import from here, and :mod:`i2i.cli.app` imports the
command modules, so imports point one way.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from i2i.errors import I2IError

F = TypeVar("F", bound=Callable[..., Any])

err_console = Console(stderr=True)


def debug_enabled() -> bool:
    return os.environ.get("I2I_DEBUG", "") not in ("", "0", "false")


def report_error(e: BaseException) -> None:
    """Print one line for an error (the traceback only with I2I_DEBUG=1)."""
    msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    err_console.print(f"[bold red]error:[/] {escape(msg)}", highlight=False, soft_wrap=True)


def handle_errors(fn: F) -> F:
    """Decorator for command functions: I2IError -> one line on stderr and exit status 1."""

    if getattr(fn, "_i2i_handles_errors", False):
        return fn

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except I2IError as e:
            if debug_enabled():
                raise
            report_error(e)
            raise typer.Exit(1) from None

    wrapper._i2i_handles_errors = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def say(message: str) -> None:
    """Print a status line to stderr (no wrapping, no highlighting)."""
    err_console.print(escape(message), highlight=False, soft_wrap=True)


class _StderrHandler(logging.StreamHandler):
    """Logs to whatever ``sys.stderr`` is now (test runners swap it)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def setup_logging(verbose: bool = False) -> None:
    """Log INFO (DEBUG with ``-v``) lines of i2i to stderr, once per process."""
    level = logging.DEBUG if verbose else logging.INFO
    root = logging.getLogger()
    if not any(isinstance(h, _StderrHandler) for h in root.handlers):
        h = _StderrHandler()
        h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%H:%M:%S"))
        root.addHandler(h)
    root.setLevel(level)
