"""``i2i sample RUN_OR_CKPT OUT.png``: image grids from class-conditional models."""

from __future__ import annotations

from pathlib import Path

import typer

from i2i.cli.common import handle_errors, say
from i2i.manager import Context


def register(app: typer.Typer, ctx: Context) -> None:
    @app.command("sample")
    @handle_errors
    def sample_cmd(
        source: Path = typer.Argument(..., metavar="SOURCE", help="run or checkpoint"),
        out: Path = typer.Argument(..., metavar="OUT", help="output PNG grid"),
        class_id: int = typer.Option(None, "--class", "-c", help="class id (default: all)"),
        n: int = typer.Option(64, "-n", help="samples (per row with --per-class/--interpolate)"),
        per_class: bool = typer.Option(False, "--per-class", help="one row per class"),
        interpolate: bool = typer.Option(False, "--interpolate", help="walk the latent space"),
        seed: int = typer.Option(0, help="noise seed (same seed, same images)"),
        device: str = typer.Option("auto", help="auto | cpu | cuda | cuda:N | mps"),
        overwrite: bool = typer.Option(False, help="replace OUT if it exists"),
    ) -> None:
        """Sample a grid of images from a class-conditional model."""
        from i2i.errors import ConfigError
        from i2i.export.sampling import sample, save_sample_grid

        if out.exists() and not overwrite:
            raise ConfigError(f"{out} exists; pass --overwrite to replace it")
        images, cols = sample(
            ctx, source, class_id=class_id, n=n, per_class=per_class,
            interpolate=interpolate, seed=seed, device=device,
        )  # fmt: skip
        save_sample_grid(images, cols, out)
        say(f"wrote {len(images)} samples ({cols} per row) to {out}")
