"""``i2i datasets check`` and ``i2i datasets demo``."""

from __future__ import annotations

from pathlib import Path

import typer

from i2i.cli.app import handle_errors, say
from i2i.errors import ConfigError
from i2i.manager import Context
from i2i.specs import DataOptions


def register(app: typer.Typer, ctx: Context) -> None:
    ds = typer.Typer(
        help="Check dataset folders and write offline demo datasets.", no_args_is_help=True
    )

    @ds.command("check")
    @handle_errors
    def check_cmd(
        root: Path = typer.Argument(..., help="dataset folder"),
        format: str = typer.Option(..., "--format", "-f", help="dataset format name"),  # noqa: A002
        size: int = typer.Option(0, help="crop size to check images against (0 = any size)"),
        channels: int = typer.Option(3, help="channels to load images as"),
    ) -> None:
        """Validate a dataset folder without training (same checks as before training)."""
        spec = ctx.dataset_formats.get(format)
        options = DataOptions(
            split="train",
            size=size,
            load_size=0,
            channels={k: channels for k in spec.keys},
            load_image=ctx.load_image,
        )
        report = spec.validate(root, options)
        counts = ", ".join(f"{k}: {v}" for k, v in report.counts.items())
        say(f"{root} is a valid '{format}' dataset ({counts})")

    @ds.command("demo")
    @handle_errors
    def demo_cmd(
        out: Path = typer.Argument(..., help="folder to write the demo dataset into"),
        kind: str = typer.Option("unpaired", "--kind", "-k", help="dataset format to write"),
        seed: int = typer.Option(0, help="random seed"),
    ) -> None:
        """Write a small procedural demo dataset (offline, deterministic for a seed)."""
        spec = ctx.dataset_formats.get(kind)
        if spec.demo is None:
            kinds = [n for n, s in ctx.dataset_formats.items() if s.demo is not None]
            raise ConfigError(
                f"dataset format '{kind}' has no demo data; kinds with demos: {', '.join(kinds)}"
            )
        spec.demo(out, seed)
        say(f"wrote a '{kind}' demo dataset to {out}")

    app.add_typer(ds, name="datasets")
