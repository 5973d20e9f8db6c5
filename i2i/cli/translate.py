"""``i2i translate SOURCE IN_DIR OUT_DIR``: a checkpoint or an exported ONNX model."""

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

from i2i.cli.common import err_console, handle_errors, say
from i2i.manager import Context
from i2i_runtime.folder import check_translated
from i2i_runtime.imageio import DEFAULT_MAX_PIXELS


def register(app: typer.Typer, ctx: Context) -> None:
    @app.command("translate")
    @handle_errors
    def translate_cmd(
        source: Path = typer.Argument(
            ...,
            metavar="SOURCE",
            help="run directory, checkpoint directory or weights, or an exported .onnx file",
        ),
        in_dir: Path = typer.Argument(
            ..., metavar="IN_DIR", help="folder of input images (searched recursively)"
        ),
        out_dir: Path = typer.Argument(
            ..., metavar="OUT_DIR", help="output folder (outside the input folder)"
        ),
        direction: str = typer.Option(None, help="AtoB | BtoA (default: the model's own)"),
        overwrite: bool = typer.Option(False, help="re-translate images whose output exists"),
        device: str = typer.Option("auto", help="auto | cpu | cuda | cuda:N | mps"),
        precision: str = typer.Option("fp32", help="fp32 | bf16 | fp16 (PyTorch checkpoints)"),
        provider: str = typer.Option(
            "auto", help="onnxruntime provider for .onnx: auto | tensorrt | cuda | cpu"
        ),
        tile: int = typer.Option(0, help="translate in tiles of N pixels (0 = whole images)"),
        overlap: int = typer.Option(32, help="tile overlap in pixels, blended"),
        batch_size: int = typer.Option(4, "--batch-size", "-b", help="same-size images per batch"),
        workers: int = typer.Option(2, help="decode / encode threads (0 = no threads)"),
        bit_depth: str = typer.Option("auto", help="auto (as the input) | 8 | 16"),
        out_format: str = typer.Option(
            "png", "--format", help="output format: png | jpg | tiff | same (as each input)"
        ),
        threads: int = typer.Option(None, help="intra-op threads of the engine"),
        strict: bool = typer.Option(False, help="stop at the first unreadable image"),
        style: Path = typer.Option(
            None, help="label-map models with a style encoder: style image file or folder"
        ),
        instances: Path = typer.Option(
            None, help="label-map models trained with instance maps: their folder (same names)"
        ),
        palette: Path = typer.Option(
            None, help="palette file for RGB label maps (default: IN_DIR/palette.txt)"
        ),
        spec: str = typer.Option(
            None, help="describe an ONNX model without i2i metadata: channels=3,stride=4,..."
        ),
        max_memory: str = typer.Option(
            "auto",
            help="budget of this process's peak memory, e.g. 2GB: larger images are tiled to "
            "fit (auto = a quarter of the machine's memory; 0 = no budget)",
        ),
        max_pixels: int = typer.Option(
            DEFAULT_MAX_PIXELS,
            help="largest image (width x height) accepted, checked from the file header before "
            "decoding (0 = no limit)",
        ),
    ) -> None:
        """Translate a folder of any-size images (padded to the network stride, never resized).

        For label-map models (SPADE) IN_DIR holds label maps (class-id PNGs); outputs have
        their size."""
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

        def on_progress(done: int, total: int, images_per_s: float = 0.0) -> None:
            nonlocal task
            if task is None:
                task = progress.add_task("translate", total=total, rate="")
            progress.update(task, completed=done, rate=f"{images_per_s:.1f} img/s")

        with progress:
            result = translate_folder(
                ctx, source, in_dir, out_dir, direction=direction, overwrite=overwrite,
                device=device, precision=precision, strict=strict, progress=on_progress,
                provider=provider, tile=tile, overlap=overlap, batch_size=batch_size,
                workers=workers, bit_depth=bit_depth, threads=threads, out_format=out_format,
                style=style, instances=instances, palette=palette, spec=spec,
                max_memory=max_memory, max_pixels=max_pixels,
            )  # fmt: skip
        say(
            f"wrote {len(result.written)} images to {out_dir}; "
            f"{len(result.skipped_existing)} already existed (use --overwrite to redo); "
            f"{len(result.failed)} skipped; {result.images_per_s:.2f} images/s with "
            f"{result.engine}"
        )
        check_translated(result)
