"""Folder-against-folder metrics: what ``i2i metrics fid|kid|is|lpips|psnr|ssim`` compute.

Distribution metrics (FID, KID, IS) compare two sets of images whatever their names and sizes;
paired metrics (LPIPS, PSNR, SSIM) match files by their path relative to each folder without
the extension (``a/x.png`` pairs with ``b/x.jpg``) and need both images of a pair to have one
size. Every function returns a flat dict of plain numbers, the last of which is the headline
value, plus per-image rows for the paired metrics.

Example:
    >>> fid_folders("real/", "fake/", weights="pt_inception-2015-12-05-6726825d.pth")
    ... # doctest: +SKIP
    {'fid': 41.27, 'images_1': 500, 'images_2': 500, 'protocol': 'tf'}
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from i2i.errors import DatasetError, InputError
from i2i.metrics.fid import (
    FeatureStats,
    InceptionExtractor,
    InceptionOutputs,
    frechet_distance,
    frechet_distance_features,
    inception_score,
    kernel_inception_distance,
)
from i2i.metrics.inception import FEATURE_DIM

__all__ = [
    "FEW_IMAGES_NOTE",
    "fid_folders",
    "fid_result",
    "is_folder",
    "kid_folders",
    "lpips_folders",
    "paired_files",
    "pixel_folders",
]

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
Loader = Callable[[Path, int], np.ndarray]

#: Added to a FID computed from fewer images than the feature width.
FEW_IMAGES_NOTE = (
    "fewer images than the 2048 feature dimensions: the covariance is rank-deficient and FID is "
    "biased upwards; compare only FIDs computed from the same number of images"
)


def fid_result(a: InceptionOutputs | FeatureStats, b: InceptionOutputs | FeatureStats,
               protocol: str) -> dict[str, Any]:  # fmt: skip
    """The FID of two feature sets as a result dict (with :data:`FEW_IMAGES_NOTE` when due)."""
    sa = a.stats if isinstance(a, InceptionOutputs) else a
    sb = b.stats if isinstance(b, InceptionOutputs) else b
    fa = a.features if isinstance(a, InceptionOutputs) else None
    fb = b.features if isinstance(b, InceptionOutputs) else None
    if fa is not None and fb is not None and min(len(fa), len(fb)) <= FEATURE_DIM:
        value = frechet_distance_features(fa, fb)  # exact and O(n^2 d), not O(d^3)
    else:
        value = frechet_distance(*sa.mean_cov(), *sb.mean_cov())
    out: dict[str, Any] = {"protocol": protocol, "images_1": sa.n, "images_2": sb.n}
    counts = [n for n in (sa.n, sb.n) if n]  # statistics files may not record their count
    if counts and min(counts) < FEATURE_DIM:
        out["note"] = FEW_IMAGES_NOTE
    out["fid"] = value
    return out


def _extract(ex: InceptionExtractor, source: str | Path, progress: Progress | None,
             load_image: Loader | None, **kw: Any) -> InceptionOutputs | FeatureStats:  # fmt: skip
    path = Path(source)
    if path.suffix == ".npz" and path.is_file():
        return FeatureStats.from_npz(path)
    return ex.folder(path, progress=progress, load_image=load_image, **kw)


def fid_folders(
    dir1: str | Path,
    dir2: str | Path,
    *,
    extractor: InceptionExtractor,
    progress: Progress | None = None,
    load_image: Loader | None = None,
) -> dict[str, Any]:
    """FID between two folders (either may be an ``.npz`` of ``mu``/``sigma`` statistics).

    Returns:
        ``{"protocol", "images_1", "images_2", ["note"], "fid"}``.
    """
    a = _extract(extractor, dir1, progress, load_image, keep_features=None)
    b = _extract(extractor, dir2, progress, load_image, keep_features=None)
    return fid_result(a, b, extractor.protocol)


def kid_folders(
    dir1: str | Path,
    dir2: str | Path,
    *,
    extractor: InceptionExtractor,
    subsets: int = 100,
    subset_size: int = 1000,
    seed: int = 2020,
    progress: Progress | None = None,
    load_image: Loader | None = None,
) -> dict[str, Any]:
    """KID between two folders (see :func:`~i2i.metrics.fid.kernel_inception_distance`).

    Returns:
        ``{"protocol", "images_1", "images_2", "subsets", "subset_size", "kid_std", "kid"}``.
    """
    a = extractor.folder(dir1, progress=progress, load_image=load_image)
    b = extractor.folder(dir2, progress=progress, load_image=load_image)
    mean, std, m = kernel_inception_distance(
        a.features, b.features, subsets=subsets, subset_size=subset_size, seed=seed
    )
    return {
        "protocol": extractor.protocol,
        "images_1": a.n,
        "images_2": b.n,
        "subsets": subsets,
        "subset_size": m,
        "kid_std": std,
        "kid": mean,
    }


def is_folder(
    folder: str | Path,
    *,
    extractor: InceptionExtractor,
    splits: int = 10,
    shuffle: bool = True,
    seed: int = 2020,
    progress: Progress | None = None,
    load_image: Loader | None = None,
) -> dict[str, Any]:
    """The Inception Score of a folder.

    Returns:
        ``{"protocol", "images", "splits", "is_std", "is"}``.
    """
    from i2i.datasets.image_io import list_images

    n = len(list_images(folder))
    if n < splits:  # say so before running the network over the folder
        inception_score(np.zeros((n, 1)), splits=splits)
    out = extractor.folder(
        folder, keep_features=False, keep_logits=True, progress=progress, load_image=load_image
    )
    mean, std = inception_score(out.logits, splits=splits, shuffle=shuffle, seed=seed)
    return {
        "protocol": extractor.protocol,
        "images": out.n,
        "splits": splits,
        "is_std": std,
        "is": mean,
    }


def paired_files(dir1: str | Path, dir2: str | Path) -> list[tuple[str, Path, Path]]:
    """``(name, file1, file2)`` for the files of two folders matched by relative path without
    extension.

    Raises:
        DatasetError: a folder is missing or empty, two files of one folder share a name, or
            names do not match (the message lists some).
    """
    from i2i.datasets.image_io import format_file_list, list_images

    def index(root: Path) -> dict[str, Path]:
        files = list_images(root)
        if not files:
            raise DatasetError(f"no images in '{root}'; give a folder of images")
        out: dict[str, Path] = {}
        for p in files:
            key = p.relative_to(root).with_suffix("").as_posix()
            if key in out:
                raise DatasetError(
                    f"'{root}' holds two images named {key} ({out[key].name}, {p.name}); keep one"
                )
            out[key] = p
        return out

    a, b = index(Path(dir1)), index(Path(dir2))
    only_a, only_b = sorted(set(a) - set(b)), sorted(set(b) - set(a))
    if only_a or only_b:
        parts = [f"only in {dir1}: {format_file_list(only_a)}"] if only_a else []
        parts += [f"only in {dir2}: {format_file_list(only_b)}"] if only_b else []
        raise DatasetError(
            f"images pair by name (without extension) and some have no partner: {'; '.join(parts)}"
        )
    return [(k, a[k], b[k]) for k in sorted(a)]


def _load_pair(name: str, p1: Path, p2: Path, load: Loader, channels: int
               ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    x, y = load(p1, channels), load(p2, channels)
    if x.shape != y.shape:
        raise InputError(
            f"{name}: {p1} is {x.shape[1]}x{x.shape[0]} but {p2} is {y.shape[1]}x{y.shape[0]}; "
            "paired metrics compare images of one size"
        )
    return x, y


def pixel_folders(
    dir1: str | Path,
    dir2: str | Path,
    metric: str,
    *,
    crop_border: int = 0,
    y_channel: bool = False,
    progress: Progress | None = None,
    load_image: Loader | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """PSNR or SSIM (``metric``) of paired images (see :mod:`i2i.metrics.image`).

    Returns:
        ``(summary, rows)``: ``{"images", "crop_border", "y_channel", metric: mean}`` and one
        ``{"image", metric}`` row per pair.
    """
    from i2i.datasets.image_io import read_image
    from i2i.metrics.image import psnr, ssim
    from i2i.metrics.report import summarize

    fn = {"psnr": psnr, "ssim": ssim}[metric]
    load = load_image or read_image
    pairs = paired_files(dir1, dir2)
    rows = []
    for i, (name, p1, p2) in enumerate(pairs):
        x, y = _load_pair(name, p1, p2, load, 3)
        rows.append({"image": name, metric: fn(x, y, crop_border=crop_border, y_channel=y_channel)})
        if progress is not None:
            progress(i + 1, len(pairs))
    summary = {"images": len(rows), "crop_border": crop_border, "y_channel": y_channel}
    summary[metric] = summarize(rows)[metric]
    return summary, rows


def lpips_folders(
    dir1: str | Path,
    dir2: str | Path,
    *,
    model: torch.nn.Module,
    progress: Progress | None = None,
    load_image: Loader | None = None,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """LPIPS of paired images (``model`` from :func:`~i2i.metrics.lpips.load_lpips`).

    Images are read as RGB in [0, 1] (grayscale repeated, 16-bit kept) and mapped to [-1, 1].

    Returns:
        ``(summary, rows)``: ``{"images", "net", "lpips": mean}`` and ``{"image", "lpips"}`` rows.
    """
    from i2i.datasets.image_io import read_image

    load = load_image or read_image
    pairs = paired_files(dir1, dir2)
    device = next(model.parameters()).device
    rows = []
    with torch.no_grad():
        for i, (name, p1, p2) in enumerate(pairs):
            x, y = _load_pair(name, p1, p2, load, 3)
            tx = torch.from_numpy(x).permute(2, 0, 1)[None].to(device) * 2 - 1
            ty = torch.from_numpy(y).permute(2, 0, 1)[None].to(device) * 2 - 1
            rows.append({"image": name, "lpips": float(model(tx, ty)[0])})
            if progress is not None:
                progress(i + 1, len(pairs))
    mean = float(np.mean([r["lpips"] for r in rows]))
    return {"images": len(rows), "net": getattr(model, "kind", ""), "lpips": mean}, rows
