"""``i2i translate RUN_OR_CKPT IN_DIR OUT_DIR``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from i2i.cli.app import err_console, handle_errors, say
from i2i.manager import Context


def register(app: typer.Typer, ctx: Context) -> None:
    @app.command("translate")
    @handle_errors
    def translate_cmd(
        source: Path = typer.Argument(..., help="run directory, checkpoint directory or weights"),
        in_dir: Path = typer.Argument(..., help="folder of input images (searched recursively)"),
        out_dir: Path = typer.Argument(..., help="output folder (outside the input folder)"),
        direction: str = typer.Option(None, help="AtoB | BtoA (default: the family's first)"),
        overwrite: bool = typer.Option(False, help="re-translate images whose output exists"),
        device: str = typer.Option("auto", help="auto | cpu | cuda | cuda:N | mps"),
        precision: str = typer.Option("fp32", help="fp32 | bf16 | fp16"),
        strict: bool = typer.Option(False, help="stop at the first unreadable image"),
    ) -> None:
        """Translate a folder of any-size images (padded to the network stride, never resized)."""
        from i2i.export.translate import translate_folder

        progress = Progress(
            TextColumn("[bold]translate"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=err_console,
        )
        task = None
        import time

        t0 = time.perf_counter()

        def on_progress(done: int, total: int) -> None:
            nonlocal task
            if task is None:
                task = progress.add_task("translate", total=total, rate="")
            rate = done / max(1e-9, time.perf_counter() - t0)
            progress.update(task, completed=done, rate=f"{rate:.1f} img/s")

        with progress:
            result = translate_folder(
                ctx,
                source,
                in_dir,
                out_dir,
                direction=direction,
                overwrite=overwrite,
                device=device,
                precision=precision,
                strict=strict,
                progress=on_progress,
            )
        say(
            f"wrote {len(result.written)} images to {out_dir}; "
            f"{len(result.skipped_existing)} already existed (use --overwrite to redo); "
            f"{len(result.failed)} unreadable"
        )
        for path, why in result.failed:
            say(f"  unreadable: {path}: {why}")
