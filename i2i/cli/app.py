"""The ``i2i`` command: a Typer app built from the plugin context.

Every command group lives in its own module; plugins add commands through the
``i2i_register_commands`` hook. Errors print one line (``error: ...``) and exit 1; set
``I2I_DEBUG=1`` for the traceback.
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
from i2i.manager import Context, load_context

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


def _wrap_commands(app: typer.Typer) -> None:
    """Give every command (plugin commands too) the one-line error handling."""
    for cmd in app.registered_commands:
        if cmd.callback is not None:
            cmd.callback = handle_errors(cmd.callback)
    for group in app.registered_groups:
        if group.typer_instance is not None:
            _wrap_commands(group.typer_instance)


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


def build_app(ctx: Context) -> typer.Typer:
    """The root Typer app for a plugin context."""
    from i2i.cli import (
        datasets,
        demo,
        evaluate,
        export,
        importing,
        info,
        sample,
        serve,
        train,
        translate,
    )
    from i2i.cli import metrics as metrics_cli
    from i2i.cli import weights as weights_cli

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
    ) -> None:
        setup_logging(verbose)

    for module in (
        train,
        translate,
        export,
        sample,
        evaluate,
        datasets,
        info,
        demo,
        importing,
        serve,
    ):
        module.register(app, ctx)
    metrics_cli.register(app, ctx)
    weights_cli.register(app, ctx)
    ctx.pm.hook.i2i_register_commands(app=app)
    _wrap_commands(app)
    return app


def main(argv: list[str] | None = None) -> None:
    """Console entry point (``i2i`` and ``python -m i2i``)."""
    try:
        ctx = load_context()
        app = build_app(ctx)
    except I2IError as e:
        if debug_enabled():
            raise
        report_error(e)
        sys.exit(1)
    app(args=argv, prog_name="i2i")
