"""``i2i plugins`` and ``i2i models``."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from i2i.cli.common import handle_errors
from i2i.config import TrainConfig, describe, from_dict, merge, to_dict
from i2i.manager import Context
from i2i.specs import ModelSpec


def config_rows(spec: ModelSpec) -> list[tuple[str, str, str]]:
    """``(key, default, help)`` of every option of a family, as a run with no options records
    them: the family's config defaults, then ``train.*`` with the family's ``default_train``.

    Raises:
        ConfigError: ``default_train`` holds an unknown key or a value of the wrong type.
    """
    defaults = merge(to_dict(TrainConfig()), spec.default_train)
    train = from_dict(TrainConfig, defaults, prefix="train.")
    return describe(spec.config_cls) + describe(train, "train.")


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
            for row in config_rows(spec):
                table.add_row(*row)
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
