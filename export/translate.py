"""Batch translation of image folders with a checkpoint or an ONNX model.

Any image size: inputs are padded (reflect) to a multiple of the network's stride and the output
is cropped back, never resized; images too large for memory are translated in blended tiles
(``tile``). Outputs mirror the input tree as PNG files; existing outputs are skipped unless
``overwrite`` (so an interrupted run resumes); a corrupt input is reported and skipped (fatal
with ``strict``). Label-map models (SPADE) translate a folder of label maps (integer ids; RGB
maps through a palette), with instance maps and style images matched by name.

This module opens the engine (:func:`i2i.export.engine.open_engine`: PyTorch for checkpoints,
onnxruntime for ``.onnx`` files, or a plugin's) and shards the work under ``torchrun``; the
folder translation itself is the torch-free runtime's
(:func:`i2i_runtime.folder.translate_folder`, the same code ``i2i-run translate`` runs), so the
same ONNX model gives the same files with either command.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

import torch

from i2i.errors import ConfigError, I2IError
from i2i.manager import Context
from i2i.training import distributed
from i2i_runtime import folder
from i2i_runtime.folder import OUTPUT_FORMATS, TranslateResult, check_folders, output_paths
from i2i_runtime.memory import resolve_budget
from i2i_runtime.pipeline import parse_bit_depth

from .engine import DEFAULT_MAX_PIXELS

__all__ = [
    "OUTPUT_FORMATS",
    "TranslateResult",
    "check_folders",
    "output_paths",
    "record_translations",
    "translate_folder",
]

log = logging.getLogger(__name__)


def translate_folder(
    ctx: Context,
    source: str | Path,
    in_dir: str | Path,
    out_dir: str | Path,
    *,
    direction: str | None = None,
    overwrite: bool = False,
    device: str = "auto",
    precision: str = "fp32",
    strict: bool = False,
    progress: Callable[..., None] | None = None,
    provider: str = "auto",
    tile: int = 0,
    overlap: int = 32,
    batch_size: int = 4,
    workers: int = 2,
    bit_depth: int | str = "auto",
    threads: int | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    out_format: str = "png",
    style: str | Path | None = None,
    instances: str | Path | None = None,
    palette: str | Path | None = None,
    spec: str | None = None,
    max_memory: str | int | None = "auto",
) -> TranslateResult:
    """Translate every image under ``in_dir`` into ``out_dir`` with a checkpoint or ONNX model.

    The engine comes from :func:`~i2i.export.engine.open_engine`; the folder goes through
    :func:`i2i_runtime.folder.translate_folder` (threaded decode/encode, batches of same-size
    images, images read with the context's ``i2i_load_image`` hook). Outputs that exist are
    skipped unless ``overwrite``, so an interrupted run resumes.

    Args:
        ctx: Plugin context.
        source: Run directory, checkpoint directory, weights file or ``.onnx`` file.
        in_dir: Folder of input images (searched recursively).
        out_dir: Output folder (created; must not overlap ``in_dir``).
        direction: e.g. ``AtoB`` / ``BtoA`` (default: the model's own default direction).
        overwrite: Re-translate images whose output exists.
        device: ``auto``, ``cpu``, ``cuda``...
        precision: ``fp32``, ``bf16`` or ``fp16`` (PyTorch checkpoints).
        strict: Stop on the first unreadable image instead of reporting it.
        progress: ``progress(done, total)`` or ``progress(done, total, images_per_s)`` after
            each image (skipped outputs count as done at the start).
        provider: onnxruntime provider for ``.onnx`` sources: ``auto``, ``cuda``,
            ``tensorrt``, ``cpu``.
        tile: Translate images larger than this in overlapping tiles (0 = never).
        overlap: Tile overlap in pixels.
        batch_size: Most same-size images per engine call.
        workers: Decoding threads and encoding threads (each; 0 = no threads).
        bit_depth: ``auto`` (16-bit out for 16-bit in), ``8`` or ``16``.
        threads: CPU threads of an onnxruntime session.
        max_pixels: Largest input (width x height): larger images are reported and skipped from
            their header, before decoding; also the per-call limit of the engine (0 = none).
        out_format: ``png`` (default), ``jpg``, ``tiff`` or ``same`` (each input's format).
        style: Label-map models with a style encoder: a style image file used for every label
            map, or a folder of style images matched to the label maps by relative path without
            extension. Selects direction ``style`` unless ``direction`` is given.
        instances: Label-map models trained with instance maps: the folder of instance maps,
            matched to the label maps by relative path without extension.
        palette: Palette file (``ID R G B [NAME]`` lines) for RGB label maps; default
            ``IN_DIR/palette.txt`` when it exists.
        spec: Input spec of an ONNX model without i2i metadata (``"channels=3,stride=4"``).
        max_memory: Budget of the process's peak resident memory: ``auto`` (a quarter of the
            machine's or container's memory), a size (``2GB``, bytes) or 0 (none). Images that
            would not fit whole are translated in blended tiles that do; images that cannot
            fit at all are reported and skipped (see :mod:`i2i_runtime.budget`).

    Raises:
        ConfigError: bad folders, direction or options; a missing instance map or style image.
        ImageReadError: a corrupt input with ``strict``.
    """
    from .engine import open_engine

    check_folders(Path(in_dir), Path(out_dir))  # before loading a model
    parse_bit_depth(bit_depth)
    budget = resolve_budget(max_memory)
    if workers < 0 or batch_size < 1:
        raise ConfigError(
            f"--workers must be >= 0 and --batch-size >= 1, got {workers}, {batch_size}"
        )
    if style is not None and direction is None:
        direction = "style"
    rank = distributed.env_info()
    if rank.enabled and device in ("auto", "cuda") and torch.cuda.is_available():
        device = f"cuda:{rank.local_rank}"  # torchrun: one GPU per rank
    engine = open_engine(
        ctx,
        source,
        direction=direction,
        device=device,
        precision=precision,
        provider=provider,
        threads=threads,
        max_pixels=max_pixels,
        spec=spec,
    )
    try:
        return folder.translate_folder(
            engine,
            in_dir,
            out_dir,
            overwrite=overwrite,
            strict=strict,
            progress=progress,
            tile=tile,
            overlap=overlap,
            batch_size=batch_size,
            workers=workers,
            bit_depth=bit_depth,
            out_format=out_format,
            style=style,
            instances=instances,
            palette=palette,
            load_image=ctx.load_image,
            # torchrun: each rank translates its own share, every image exactly once
            shard=(lambda items: distributed.shard(items, rank)) if rank.enabled else None,
            max_pixels=max_pixels,
            max_memory=budget,
        )
    finally:
        engine.close()


def record_translations(run_dir: Path, pairs: list[tuple[Path, Path]]) -> Path:
    """Add input/output pairs to ``RUN/translations/index.json`` for the results page."""
    from i2i.training.run import write_text_atomic

    index = run_dir / "translations" / "index.json"
    entries = []
    if index.exists():
        try:
            entries = json.loads(index.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, OSError) as e:
            raise I2IError(f"{index} is not valid JSON ({e}); delete it to start afresh") from e
    seen = {e["output"] for e in entries}
    for src, dst in pairs:
        if not dst.exists():
            continue
        out = os.path.relpath(dst.resolve(), run_dir.resolve())
        inp = os.path.relpath(src.resolve(), run_dir.resolve())
        if out not in seen:
            entries.append({"input": inp, "output": out})
            seen.add(out)
    write_text_atomic(index, json.dumps(entries, indent=1))
    return index
