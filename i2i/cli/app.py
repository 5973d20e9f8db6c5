"""The ``i2i`` command: a Typer app built from the plugin context.

Every command group lives in its own module; plugins add commands through the
``i2i_register_commands`` hook. Every command, built-in or a plugin's, goes through ONE error
path (:func:`report_failure`): any failure (an i2i error, a full disk, out of memory, an
unexpected exception, Ctrl-C or SIGTERM) prints one line on stderr and exits non-zero (1 failed,
130 SIGINT, 143 SIGTERM); ``--debug`` or ``I2I_DEBUG=1`` adds the traceback.
"""

from __future__ import annotations

import logging
import os
import sys

import typer

from i2i.cli.common import handle_errors, report_failure, setup_logging, stop_signals_raise
from i2i.manager import Context, load_context


def _wrap_commands(app: typer.Typer) -> None:
    """Give every command (plugin commands too) the one-line error handling."""
    for cmd in app.registered_commands:
        if cmd.callback is not None:
            cmd.callback = handle_errors(cmd.callback)
    for group in app.registered_groups:
        if group.typer_instance is not None:
            _wrap_commands(group.typer_instance)


def _print_version(value: bool) -> None:
    if value:
        from i2i.cli.version import version_report

        typer.echo(version_report())
        raise typer.Exit()


def build_app(ctx: Context) -> typer.Typer:
    """The root Typer app for a plugin context."""
    from i2i.cli import (
        datasets,
        demo,
        evaluate,
        export,
        importing,
        info,
        plugin,
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
        version: bool = typer.Option(
            False,
            "--version",
            is_eager=True,
            callback=_print_version,
            help="show the versions of i2i, torch (CUDA), onnxruntime and the plugins, and exit",
        ),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="warnings and errors only"),
        debug: bool = typer.Option(
            False, "--debug", help="show the traceback of a failure (same as I2I_DEBUG=1)"
        ),
    ) -> None:
        if debug:
            os.environ["I2I_DEBUG"] = "1"  # also reaches torchrun's worker processes
        setup_logging(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)

    for module in (
        train,
        translate,
        export,
        sample,
        evaluate,
        datasets,
        info,
        demo,
        plugin,
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
    args = sys.argv[1:] if argv is None else argv
    if args == ["--version"]:  # without loading plugins: it must work when one is broken
        from i2i.cli.version import version_report

        typer.echo(version_report())
        return
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
