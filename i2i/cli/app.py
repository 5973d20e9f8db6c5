"""The ``i2i`` command: a Typer app built from the plugin context.

Every command group lives in its own module; plugins add commands through the
``i2i_register_commands`` hook. Every command, built-in or a plugin's, goes through ONE error
path (:func:`report_failure`): any failure (an i2i error, a full disk, out of memory, an
unexpected exception, Ctrl-C or SIGTERM) prints one line on stderr and exits non-zero (1 failed,
130 SIGINT, 143 SIGTERM); ``--debug`` or ``I2I_DEBUG=1`` adds the traceback.
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
from typing import Any, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from i2i.errors import StopSignal, describe_failure
from i2i.manager import Context, load_context

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


def _wrap_commands(app: typer.Typer) -> None:
    """Give every command (plugin commands too) the one-line error handling."""
    for cmd in app.registered_commands:
        if cmd.callback is not None:
            cmd.callback = handle_errors(cmd.callback)
    for group in app.registered_groups:
        if group.typer_instance is not None:
            _wrap_commands(group.typer_instance)


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


def build_app(ctx: Context) -> typer.Typer:
    """The root Typer app for a plugin context."""
    from i2i.cli import datasets, demo, evaluate, export, info, sample, train, translate

    app = typer.Typer(
        name="i2i",
        help="Image-to-image translation: train, translate, export. Model families are plugins.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )

    @app.callback()
    def _root(
        verbose: bool = typer.Option(False, "--verbose", "-v", help="debug logging"),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="warnings and errors only"),
        debug: bool = typer.Option(
            False, "--debug", help="show the traceback of a failure (same as I2I_DEBUG=1)"
        ),
    ) -> None:
        if debug:
            os.environ["I2I_DEBUG"] = "1"  # also reaches torchrun's worker processes
        setup_logging(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)

    for module in (train, translate, export, sample, evaluate, datasets, info, demo):
        module.register(app, ctx)
    ctx.pm.hook.i2i_register_commands(app=app)
    _wrap_commands(app)
    return app


def main(argv: list[str] | None = None) -> None:
    """Console entry point (``i2i`` and ``python -m i2i``)."""
    args = sys.argv[1:] if argv is None else argv
    for a in args:  # the global --debug, before the plugins load (their errors too)
        if a == "--debug":
            os.environ["I2I_DEBUG"] = "1"
        if not a.startswith("-"):
            break
    with stop_signals_raise():
        try:
            ctx = load_context()
            app = build_app(ctx)
        except BaseException as e:  # noqa: BLE001 - the one error path
            sys.exit(report_failure(e))
        app(args=argv, prog_name="i2i")
