"""``i2i metrics fid|kid|is|lpips|psnr|ssim``: folder-against-folder metrics, like the reference
packages' own command lines. Details go to stderr; the number is printed last on stdout
(``--json``: one JSON object instead)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from i2i.cli.common import err_console, say
from i2i.manager import Context

_PROTOCOL_HELP = "tf (TensorFlow / torch-fidelity, default) | pytorch-fid | clean (clean-fid)"


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    """A rich progress bar on stderr; yields ``update(done, total)`` (a new task per total
    restart, e.g. one per folder)."""
    bar = Progress(
        TextColumn(f"[bold]{label}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )
    state: dict[str, Any] = {"task": None, "last": 0}

    def update(done: int, total: int) -> None:
        if state["task"] is None or done < state["last"]:
            state["task"] = bar.add_task(label, total=total)
        state["last"] = done
        bar.update(state["task"], completed=done, total=total)

    with bar:
        yield update


def _finite(v: Any) -> Any:
    return v if not isinstance(v, float) or math.isfinite(v) else str(v)


def emit(result: dict[str, Any], key: str, as_json: bool) -> None:
    """Print ``result``: details on stderr and ``result[key]`` last on stdout, or one JSON
    object."""
    if as_json:
        typer.echo(json.dumps({k: _finite(v) for k, v in result.items()}))
        return
    details = ", ".join(f"{k}={v}" for k, v in result.items() if k not in (key, "note"))
    if details:
        say(details)
    if result.get("note"):
        say(f"note: {result['note']}")
    typer.echo(f"{result[key]:.6g}" if isinstance(result[key], float) else result[key])


def _extractor(weights: Path | None, protocol: str, device: str, batch_size: int) -> Any:
    from i2i.metrics.fid import InceptionExtractor
    from i2i.metrics.weights import resolve_weights
    from i2i.training import runtime

    path = resolve_weights("inception", weights)
    return InceptionExtractor(
        path, protocol=protocol, device=runtime.resolve_device(device), batch_size=batch_size
    )


def register(app: typer.Typer, ctx: Context) -> None:
    m = typer.Typer(
        name="metrics",
        help="Compare image folders: FID, KID, IS, LPIPS, PSNR, SSIM (weights from local files).",
        no_args_is_help=True,
    )
    app.add_typer(m, name="metrics")

    inception_opt = typer.Option(
        None, "--inception-weights", help="FID Inception weights file [default: i2i weights]"
    )
    protocol_opt = typer.Option("tf", help=_PROTOCOL_HELP)
    device_opt = typer.Option("auto", help="auto | cpu | cuda | cuda:N | mps")
    batch_opt = typer.Option(32, "--batch-size", "-b", help="images per forward pass")
    json_opt = typer.Option(False, "--json", help="print one JSON object")

    @m.command("fid")
    def fid_cmd(
        dir1: Path = typer.Argument(..., help="image folder, or .npz statistics (mu, sigma)"),
        dir2: Path = typer.Argument(..., help="image folder, or .npz statistics (mu, sigma)"),
        inception_weights: Path = inception_opt,
        protocol: str = protocol_opt,
        device: str = device_opt,
        batch_size: int = batch_opt,
        as_json: bool = json_opt,
    ) -> None:
        """Frechet Inception Distance between two folders (lower is closer)."""
        from i2i.metrics.folders import fid_folders

        ex = _extractor(inception_weights, protocol, device, batch_size)
        with progress_bar("FID") as update:
            res = fid_folders(dir1, dir2, extractor=ex, progress=update, load_image=ctx.load_image)
        emit(res, "fid", as_json)

    @m.command("kid")
    def kid_cmd(
        dir1: Path = typer.Argument(..., help="image folder"),
        dir2: Path = typer.Argument(..., help="image folder"),
        inception_weights: Path = inception_opt,
        protocol: str = protocol_opt,
        subsets: int = typer.Option(100, help="random subsets"),
        subset_size: int = typer.Option(1000, help="images per subset (at most the set sizes)"),
        seed: int = typer.Option(2020, help="seed of the subset sampling"),
        device: str = device_opt,
        batch_size: int = batch_opt,
        as_json: bool = json_opt,
    ) -> None:
        """Kernel Inception Distance between two folders (mean over subsets; lower is closer)."""
        from i2i.metrics.folders import kid_folders

        ex = _extractor(inception_weights, protocol, device, batch_size)
        with progress_bar("KID") as update:
            res = kid_folders(
                dir1, dir2, extractor=ex, subsets=subsets, subset_size=subset_size, seed=seed,
                progress=update, load_image=ctx.load_image,
            )  # fmt: skip
        emit(res, "kid", as_json)

    @m.command("is")
    def is_cmd(
        folder: Path = typer.Argument(..., help="image folder"),
        inception_weights: Path = inception_opt,
        protocol: str = protocol_opt,
        splits: int = typer.Option(10, help="splits (the score's mean and std are over them)"),
        shuffle: bool = typer.Option(True, help="shuffle before splitting (torch-fidelity)"),
        seed: int = typer.Option(2020, help="seed of the shuffle"),
        device: str = device_opt,
        batch_size: int = batch_opt,
        as_json: bool = json_opt,
    ) -> None:
        """Inception Score of a folder (higher: more confident and more varied classes)."""
        from i2i.metrics.folders import is_folder

        ex = _extractor(inception_weights, protocol, device, batch_size)
        with progress_bar("IS") as update:
            res = is_folder(
                folder, extractor=ex, splits=splits, shuffle=shuffle, seed=seed,
                progress=update, load_image=ctx.load_image,
            )  # fmt: skip
        emit(res, "is", as_json)

    @m.command("lpips")
    def lpips_cmd(
        dir1: Path = typer.Argument(..., help="image folder"),
        dir2: Path = typer.Argument(..., help="image folder (files paired by name)"),
        net: str = typer.Option("alex", help="alex | vgg"),
        lpips_weights: Path = typer.Option(
            None, "--lpips-weights", help="LPIPS linear layers (lpips v0.1 alex.pth / vgg.pth)"
        ),
        lpips_backbone: Path = typer.Option(
            None, "--lpips-backbone", help="torchvision alexnet / vgg16 weights file"
        ),
        device: str = device_opt,
        as_json: bool = json_opt,
        csv: Path = typer.Option(None, help="also write per-image values to this CSV"),
    ) -> None:
        """LPIPS of images paired by file name (mean; lower is more similar)."""
        from i2i.metrics.folders import lpips_folders
        from i2i.metrics.lpips import LPIPS_NETS, load_lpips
        from i2i.metrics.report import write_csv
        from i2i.metrics.weights import resolve_weights
        from i2i.training import runtime

        if net not in LPIPS_NETS:
            from i2i.errors import ConfigError

            raise ConfigError(f"unknown LPIPS network '{net}'; use one of: {', '.join(LPIPS_NETS)}")
        model = load_lpips(
            net,
            resolve_weights(f"lpips-{net}", lpips_weights),
            resolve_weights(LPIPS_NETS[net][0], lpips_backbone),
            runtime.resolve_device(device),
        )
        with progress_bar("LPIPS") as update:
            res, rows = lpips_folders(
                dir1, dir2, model=model, progress=update, load_image=ctx.load_image
            )
        if csv is not None:
            write_csv(rows, csv)
        emit(res, "lpips", as_json)

    def pixel_command(metric: str) -> None:
        @m.command(metric)
        def cmd(
            dir1: Path = typer.Argument(..., help="image folder"),
            dir2: Path = typer.Argument(..., help="image folder (files paired by name)"),
            crop_border: int = typer.Option(0, help="pixels removed from each edge"),
            y_channel: bool = typer.Option(False, help="compare the BT.601 luma (Y) only"),
            as_json: bool = json_opt,
            csv: Path = typer.Option(None, help="also write per-image values to this CSV"),
        ) -> None:
            from i2i.metrics.folders import pixel_folders
            from i2i.metrics.report import write_csv

            with progress_bar(metric.upper()) as update:
                res, rows = pixel_folders(
                    dir1, dir2, metric, crop_border=crop_border, y_channel=y_channel,
                    progress=update, load_image=ctx.load_image,
                )  # fmt: skip
            if csv is not None:
                write_csv(rows, csv)
            emit(res, metric, as_json)

        cmd.__doc__ = {
            "psnr": "PSNR in dB of images paired by file name (mean; higher is closer).",
            "ssim": "SSIM of images paired by file name (mean; 1 = identical).",
        }[metric]

    pixel_command("psnr")
    pixel_command("ssim")
