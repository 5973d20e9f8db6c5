"""Batch translation of image folders with a checkpoint's inference module.

Any image size: inputs are padded (reflect) to a multiple of the network's stride and the output
is cropped back, never resized. Outputs mirror the input tree as PNG files; existing outputs are
skipped unless ``overwrite``; a corrupt input is reported and skipped (fatal with ``strict``).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from i2i.errors import ConfigError, I2IError, ImageReadError, InputError
from i2i.manager import Context
from i2i.specs import InferenceInfo
from i2i.training import runtime
from i2i.training.checkpoint import load_model

log = logging.getLogger(__name__)


@dataclasses.dataclass
class TranslateResult:
    """What a folder translation did."""

    written: list[Path] = dataclasses.field(default_factory=list)
    skipped_existing: list[Path] = dataclasses.field(default_factory=list)
    failed: list[tuple[Path, str]] = dataclasses.field(default_factory=list)
    pairs: list[tuple[Path, Path]] = dataclasses.field(default_factory=list)


def pad_to_stride(x: torch.Tensor, stride: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Pad NCHW ``x`` on the bottom/right to multiples of ``stride``.

    Returns:
        The padded tensor and the original (H, W).
    """
    h, w = x.shape[-2:]
    ph, pw = (-h) % stride, (-w) % stride
    if ph or pw:
        mode = "reflect" if ph < h and pw < w else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return x, (h, w)


@torch.no_grad()
def translate_tensor(
    module: torch.nn.Module,
    x: torch.Tensor,
    info: InferenceInfo,
    amp_dtype: torch.dtype | None = None,
) -> torch.Tensor:
    """Translate an NCHW tensor in [-1, 1] of any size; output has size * ``info.scale``.

    Raises:
        InputError: wrong channel count or non-finite values.
    """
    if x.ndim != 4 or x.shape[1] != info.in_channels:
        raise InputError(
            f"expected an N x {info.in_channels} x H x W input, got shape {tuple(x.shape)}"
        )
    if not torch.isfinite(x).all():
        raise InputError("input has NaN or infinite values")
    padded, (h, w) = pad_to_stride(x, info.stride)
    with runtime.autocast(x.device, amp_dtype):
        y = module(padded)
    y = y.float()[..., : h * info.scale, : w * info.scale]
    return y.clamp(-1, 1)


def output_paths(inputs: list[Path], in_dir: Path, out_dir: Path) -> list[Path]:
    """Output file for each input: the same relative path with ``.png``.

    Inputs that would collide (``a.jpg`` and ``a.png``) keep their extension in the name
    (``a.jpg.png``).
    """
    outs: list[Path] = []
    taken: dict[Path, int] = {}
    for p in inputs:
        rel = p.relative_to(in_dir)
        cand = out_dir / rel.with_suffix(".png")
        taken[cand] = taken.get(cand, 0) + 1
    for p in inputs:
        rel = p.relative_to(in_dir)
        cand = out_dir / rel.with_suffix(".png")
        if taken[cand] > 1:
            cand = out_dir / rel.with_name(rel.name + ".png")
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
    progress: Callable[[int, int], None] | None = None,
) -> TranslateResult:
    """Translate every image under ``in_dir`` into ``out_dir`` with a checkpoint.

    Args:
        ctx: Plugin context.
        source: Run directory, checkpoint directory or weights file.
        in_dir: Folder of input images (searched recursively).
        out_dir: Output folder (created; must not overlap ``in_dir``).
        direction: e.g. ``AtoB`` / ``BtoA`` (default: the model's own default direction).
        overwrite: Re-translate images whose output exists.
        device: ``auto``, ``cpu``, ``cuda``...
        precision: ``fp32``, ``bf16`` or ``fp16``.
        strict: Stop on the first unreadable image instead of reporting it.
        progress: Called as ``progress(done, total)`` after each image.

    Raises:
        ConfigError: bad folders or direction. ImageReadError: a corrupt input with ``strict``.
    """
    from i2i.datasets.image_io import list_images, write_image

    in_dir, out_dir = Path(in_dir), Path(out_dir)
    check_folders(in_dir, out_dir)
    dev = runtime.resolve_device(device)
    amp = runtime.check_precision(precision, dev)
    loaded = load_model(ctx, source, dev)
    directions = loaded.model.inference_directions()
    if direction is not None and direction not in directions:
        raise ConfigError(
            f"this '{loaded.spec.name}' model translates in direction(s) "
            f"{', '.join(directions)}; got '{direction}'"
        )
    model = loaded.model.eval()
    module = model.inference_module(direction)
    info = model.inference_info(direction)
    if info.inputs != ("image",):
        raise ConfigError(
            f"'{loaded.spec.name}' takes inputs {info.inputs}; folder translation needs "
            "image inputs"
        )
    inputs = list_images(in_dir)
    if not inputs:
        raise ConfigError(f"no images found in {in_dir} (looked for PNG, JPEG, TIFF, BMP, WebP)")
    outs = output_paths(inputs, in_dir, out_dir)
    result = TranslateResult()
    for i, (src, dst) in enumerate(zip(inputs, outs, strict=True)):
        if dst.exists() and not overwrite:
            result.skipped_existing.append(dst)
        else:
            try:
                img = ctx.load_image(src, info.in_channels)
            except ImageReadError as e:
                if strict:
                    raise
                log.warning("skipped unreadable image: %s", e)
                result.failed.append((src, str(e)))
                img = None
            if img is not None:
                x = torch.from_numpy(img).permute(2, 0, 1)[None].to(dev) * 2 - 1
                y = translate_tensor(module, x, info, amp)
                arr = ((y[0].permute(1, 2, 0) + 1) / 2).cpu().numpy()
                write_image(dst, arr)
                result.written.append(dst)
        result.pairs.append((src, dst))
        if progress is not None:
            progress(i + 1, len(inputs))
    return result


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
