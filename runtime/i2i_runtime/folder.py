"""Translating a folder of images with an engine: output names, resuming, label-map inputs.

:func:`translate_folder` is the whole of ``i2i-run translate`` and of ``i2i translate`` once the
engine is open: it lists the images under the input folder (recursively), mirrors the tree in
the output folder (PNG by default, or ``jpg`` / ``tiff`` / each input's own format), skips
outputs that already exist unless ``overwrite`` (so an interrupted run resumes), matches
instance maps and style images of label-map models to the label maps by name, and hands the
rest to the threaded pipeline (:func:`i2i_runtime.pipeline.run_folder`). Outputs never go where
inputs are read from.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

from .engine import Engine
from .errors import ConfigError, InputError
from .imageio import DEFAULT_MAX_PIXELS, format_file_list, list_images
from .info import InferenceInfo
from .labels import PALETTE_NAME, Palette, read_palette
from .pipeline import parse_bit_depth, run_folder
from .tiling import check_tiling

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclasses.dataclass
class TranslateResult:
    """What a folder translation did.

    Attributes:
        written: Outputs written by this call.
        skipped_existing: Outputs that already existed (not redone without ``overwrite``).
        failed: ``(input, reason)`` of unreadable images.
        pairs: ``(input, output)`` of every image found.
        images_per_s: Throughput of the images translated by this call.
        seconds: Wall time of the translation (without loading the model).
        engine: The engine's description (e.g. ``onnxruntime CPU``).
    """

    written: list[Path] = dataclasses.field(default_factory=list)
    skipped_existing: list[Path] = dataclasses.field(default_factory=list)
    failed: list[tuple[Path, str]] = dataclasses.field(default_factory=list)
    pairs: list[tuple[Path, Path]] = dataclasses.field(default_factory=list)
    images_per_s: float = 0.0
    seconds: float = 0.0
    engine: str = ""


def check_translated(result: TranslateResult) -> None:
    """Raise when images were skipped (unreadable, too large, refused by the model): each was
    reported in its own line as it happened; this is the summary line, for a non-zero exit.

    Raises:
        InputError: ``N of M images were not translated ...``.
    """
    if not result.failed:
        return
    todo = len(result.pairs) - len(result.skipped_existing)
    raise InputError(
        f"{len(result.failed)} of {todo} images were not translated (each is named above with "
        f"the reason: {format_file_list([p.name for p, _ in result.failed], 3)}); the other "
        f"{len(result.written)} were written — fix or remove those files and run again (outputs "
        "that exist are kept)"
    )


#: ``--format`` of translate outputs -> file suffix (``same`` keeps each input's format).
OUTPUT_FORMATS = {"png": ".png", "jpg": ".jpg", "tiff": ".tif", "same": ""}


def output_paths(
    inputs: list[Path], in_dir: Path, out_dir: Path, out_format: str = "png"
) -> list[Path]:
    """Output file for each input: the same relative path with the output format's suffix.

    Inputs that would collide (``a.jpg`` and ``a.png`` both to ``a.png``) keep their extension
    in the name (``a.jpg.png``). ``out_format="same"`` keeps every input's own suffix.

    Raises:
        ConfigError: unknown ``out_format``.
    """
    if out_format not in OUTPUT_FORMATS:
        raise ConfigError(
            f"unknown output format '{out_format}'; use one of: {', '.join(OUTPUT_FORMATS)}"
        )

    def target(p: Path) -> Path:
        rel = p.relative_to(in_dir)
        return out_dir / rel.with_suffix(OUTPUT_FORMATS[out_format] or rel.suffix)

    counts: dict[Path, int] = {}
    for p in inputs:
        counts[target(p)] = counts.get(target(p), 0) + 1
    outs: list[Path] = []
    for p in inputs:
        cand = target(p)
        if counts[cand] > 1:
            rel = p.relative_to(in_dir)
            cand = out_dir / rel.with_name(rel.name + cand.suffix)
        outs.append(cand)
    return outs


def check_folders(in_dir: Path, out_dir: Path) -> None:
    """Refuse layouts where outputs could overwrite inputs.

    Raises:
        ConfigError: ``in_dir`` missing, or one folder inside the other.
    """
    if not in_dir.is_dir():
        raise ConfigError(f"input folder {in_dir} does not exist or is not a folder")
    a, b = in_dir.resolve(), out_dir.resolve()
    if a == b or b.is_relative_to(a):
        raise ConfigError(
            f"output folder {out_dir} is inside the input folder {in_dir}; choose an output "
            "folder outside it (outputs never go where inputs are read from)"
        )
    if a.is_relative_to(b):
        raise ConfigError(
            f"input folder {in_dir} is inside the output folder {out_dir}; choose another output"
        )


def _progress_adapter(
    progress: Callable[..., None] | None, offset: int, total: int
) -> Callable[[int, int, float], None] | None:
    """Accept ``progress(done, total)`` and ``progress(done, total, images_per_s)`` callbacks."""
    if progress is None:
        return None
    try:
        params = inspect.signature(progress).parameters.values()
        takes_rate = any(p.kind is p.VAR_POSITIONAL for p in params) or (
            sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params) >= 3
        )
    except (TypeError, ValueError):
        takes_rate = False

    def call(done: int, _total: int, rate: float) -> None:
        if takes_rate:
            progress(offset + done, total, rate)
        else:
            progress(offset + done, total)

    return call


def translate_folder(
    engine: Engine,
    in_dir: str | Path,
    out_dir: str | Path,
    *,
    overwrite: bool = False,
    strict: bool = False,
    progress: Callable[..., None] | None = None,
    tile: int = 0,
    overlap: int = 32,
    batch_size: int = 4,
    workers: int = 2,
    bit_depth: int | str = "auto",
    out_format: str = "png",
    style: str | Path | None = None,
    instances: str | Path | None = None,
    palette: str | Path | None = None,
    load_image: Callable[[Path, int], np.ndarray] | None = None,
    shard: Callable[[list[T]], list[T]] | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    max_memory: int = 0,
) -> TranslateResult:
    """Translate every image under ``in_dir`` into ``out_dir`` with an open engine.

    Outputs that exist are skipped unless ``overwrite``, so an interrupted run resumes. The
    engine is not closed.

    Args:
        engine: The engine (:class:`~i2i_runtime.engine.OrtEngine`, or i2i's PyTorch engine).
        in_dir: Folder of input images (searched recursively).
        out_dir: Output folder (created; must not overlap ``in_dir``).
        overwrite: Re-translate images whose output exists.
        strict: Stop on the first unreadable image instead of reporting it.
        progress: ``progress(done, total)`` or ``progress(done, total, images_per_s)`` after
            each image (skipped outputs count as done at the start).
        tile: Translate images larger than this in overlapping tiles (0 = never).
        overlap: Tile overlap in pixels.
        batch_size: Most same-size images per engine call.
        workers: Decoding threads and encoding threads (each; 0 = no threads).
        bit_depth: ``auto`` (16-bit out for 16-bit in), ``8`` or ``16``.
        out_format: ``png`` (default), ``jpg``, ``tiff`` or ``same`` (each input's format).
        style: Label-map models with a style encoder: a style image file used for every label
            map, or a folder of style images matched to the label maps by relative path without
            extension.
        instances: Label-map models trained with instance maps: the folder of instance maps,
            matched to the label maps by relative path without extension.
        palette: Palette file (``ID R G B [NAME]`` lines) for RGB label maps; default
            ``IN_DIR/palette.txt`` when it exists.
        load_image: ``load_image(path, channels)`` (default
            :func:`i2i_runtime.imageio.read_image`).
        shard: Keeps this process's share of a list (distributed translation: every image is
            translated by exactly one process); None = all.
        max_pixels: Largest input (width x height): larger images are reported and skipped
            from their header, before decoding (0 / None: no limit).
        max_memory: Budget of the process's peak resident memory in bytes (0 = none): images
            are tiled automatically when a whole one would not fit, and refused (reported,
            skipped) when not even small tiles fit; see
            :func:`i2i_runtime.pipeline.run_folder`.

    Raises:
        ConfigError: bad folders or options; a missing instance map or style image.
        ImageReadError: a corrupt input with ``strict``.
    """
    in_dir, out_dir = Path(in_dir), Path(out_dir)
    check_folders(in_dir, out_dir)
    parse_bit_depth(bit_depth)
    if workers < 0 or batch_size < 1:
        raise ConfigError(
            f"--workers must be >= 0 and --batch-size >= 1, got {workers}, {batch_size}"
        )
    if tile:
        check_tiling(tile, overlap, engine.info.stride)
    if engine.info.kind == "sampler":
        raise ConfigError(
            "this model samples images from noise and a class id; it does not translate "
            "folders (sample from it instead)"
        )
    inputs = list_images(in_dir)
    if not inputs:
        raise ConfigError(f"no images found in {in_dir} (looked for PNG, JPEG, TIFF, BMP, WebP)")
    outs = output_paths(inputs, in_dir, out_dir, out_format)
    extras, pal = _label_inputs(engine.info, inputs, in_dir, style, instances, palette)
    if shard is not None:
        inputs, outs = shard(inputs), shard(outs)
        extras = {k: shard(v) for k, v in extras.items()}
    result = TranslateResult(engine=engine.description)
    todo_in: list[Path] = []
    todo_out: list[Path] = []
    todo_extras: dict[str, list[Path]] = {k: [] for k in extras}
    for i, (src, dst) in enumerate(zip(inputs, outs, strict=True)):
        result.pairs.append((src, dst))
        if dst.exists() and not overwrite:
            result.skipped_existing.append(dst)
        else:
            todo_in.append(src)
            todo_out.append(dst)
            for k, v in extras.items():
                todo_extras[k].append(v[i])
    log.info(
        "translating %d images with %s (%d already done)",
        len(todo_in),
        engine.description,
        len(result.skipped_existing),
    )
    skipped = len(result.skipped_existing)
    report = _progress_adapter(progress, skipped, len(inputs))
    if report is not None and skipped:
        report(0, len(todo_in), 0.0)
    res = run_folder(
        engine,
        todo_in,
        todo_out,
        batch_size=batch_size,
        decode_workers=workers,
        encode_workers=workers,
        tile=tile,
        overlap=overlap,
        bit_depth=bit_depth,
        strict=strict,
        progress=report,
        load_image=load_image,
        extras=todo_extras,
        palette=pal,
        max_pixels=max_pixels,
        max_memory=max_memory,
    )
    result.written = res.written
    result.failed = res.failed
    result.images_per_s = res.images_per_s
    result.seconds = res.seconds
    return result


def _match_by_stem(inputs: list[Path], in_dir: Path, folder: Path, what: str) -> list[Path]:
    if not folder.is_dir():
        raise ConfigError(f"{what} folder {folder} does not exist or is not a folder")
    by_stem: dict[str, list[Path]] = {}
    for p in list_images(folder):
        by_stem.setdefault(p.relative_to(folder).with_suffix("").as_posix(), []).append(p)
    out, missing = [], []
    for p in inputs:
        key = p.relative_to(in_dir).with_suffix("").as_posix()
        found = by_stem.get(key, [])
        if len(found) != 1:
            missing.append(p.relative_to(in_dir).as_posix())
        else:
            out.append(found[0])
    if missing:
        raise ConfigError(
            f"{len(missing)} label map(s) have no unique {what} of the same name in {folder}: "
            f"{format_file_list(missing)}; add them (matched by relative path without extension)"
        )
    return out


def _label_inputs(
    info: InferenceInfo,
    inputs: list[Path],
    in_dir: Path,
    style: str | Path | None,
    instances: str | Path | None,
    palette: str | Path | None,
) -> tuple[dict[str, list[Path]], Palette | None]:
    """Extra input files per kind and the palette for a label-map model (empty for images)."""
    if info.kind != "label":
        for name, value in (("--style", style), ("--instances", instances), ("--palette", palette)):
            if value is not None:
                raise ConfigError(
                    f"{name} applies to label-map models (SPADE); this one takes images"
                )
        return {}, None
    kinds = info.inputs[1:]
    if style is not None and "style" not in kinds:
        raise ConfigError(
            "--style needs a model with a style encoder (trained with use_vae=true) translating "
            "in direction 'style'"
        )
    if instances is not None and "instance" not in kinds:
        raise ConfigError("--instances: this model was trained without instance maps")
    extras: dict[str, list[Path]] = {}
    for kind in kinds:
        if kind == "instance":
            if instances is None:
                raise ConfigError(
                    "this model was trained with instance maps (use_instances): pass their folder "
                    "with --instances DIR"
                )
            extras[kind] = _match_by_stem(inputs, in_dir, Path(instances), "instance map")
        elif kind == "style":
            if style is None:
                raise ConfigError("direction 'style' needs --style (an image file or a folder)")
            sp = Path(style)
            if sp.is_file():
                extras[kind] = [sp] * len(inputs)
            else:
                extras[kind] = _match_by_stem(inputs, in_dir, sp, "style image")
    pal_path = Path(palette) if palette is not None else in_dir / PALETTE_NAME
    if palette is not None and not pal_path.is_file():
        raise ConfigError(f"palette file {pal_path} does not exist")
    pal = read_palette(pal_path) if pal_path.is_file() else None
    return extras, pal
