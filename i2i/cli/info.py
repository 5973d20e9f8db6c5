"""``i2i plugins`` and ``i2i models``."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from i2i.cli.common import handle_errors
from i2i.config import TrainConfig, describe, to_dict
from i2i.manager import Context


def register(app: typer.Typer, ctx: Context) -> None:
    console = Console()

    @app.command("plugins")
    @handle_errors
    def plugins_cmd() -> None:
        """List loaded plugins with their versions and the hooks they implement."""
        table = Table(title="i2i plugins")
        for col in ("plugin", "version", "kind", "module", "hooks"):
            table.add_column(col)
        for p in ctx.plugins():
            table.add_row(
                p.name,
                p.version,
                "built-in" if p.builtin else "entry point",
                p.module,
                ", ".join(h.removeprefix("i2i_") for h in p.hooks),
            )
        console.print(table)
        for kind, reg in (
            ("generators", ctx.generators),
            ("discriminators", ctx.discriminators),
            ("GAN losses", ctx.losses),
            ("dataset formats", ctx.dataset_formats),
        ):
            console.print(f"[bold]{kind}:[/] {', '.join(reg.names())}", highlight=False)

    @app.command("models")
    @handle_errors
    def models_cmd(
        name: str = typer.Argument(None, help="show one family's config keys and defaults"),
    ) -> None:
        """List model families (or show one family's options)."""
        if name:
            spec = ctx.models.get(name)
            console.print(f"[bold]{spec.name}[/]: {spec.summary}", highlight=False)
            table = Table(title=f"{spec.name} config keys (--set KEY=VALUE)")
            for col in ("key", "default", "help"):
                table.add_column(col)
            for key, default, help_ in describe(spec.config_cls):
                table.add_row(key, default, help_)
            train_defaults = {**to_dict(TrainConfig()), **spec.default_train}
            for key, _, help_ in describe(TrainConfig, "train."):
                table.add_row(key, repr(train_defaults[key[6:]]), help_)
            console.print(table)
            return
        table = Table(title="i2i model families")
        for col in ("family", "summary", "dataset format", "directions", "plugin"):
            table.add_column(col)
        for n, spec in ctx.models.items():
            table.add_row(
                n,
                spec.summary,
                spec.dataset_format,
                ", ".join(spec.directions),
                ctx.models.owner(n),
            )
        console.print(table)
