"""albumentations pipelines for training and testing, and per-sample seeding.

Pipelines work on HxWxC float32 images in [0, 1] with any channel count (no ``Normalize``:
:func:`to_tensor` maps to [-1, 1]). Paired images are passed as additional targets so they get
the identical crop and flip::

    pipe = train_pipeline(256, 286, flip=True, additional_targets={"B": "image"})
    out = apply(pipe, seed=1234, image=a, B=b)  # same crop/flip for out["image"], out["B"]

All randomness of a call comes from ``seed`` (see :func:`apply`), so a sample is reproducible
from ``(index, seed)`` alone, in any worker process, after a resume.

Note:
    Importing this module sets ``NO_ALBUMENTATIONS_UPDATE=1`` (unless already set): otherwise
    albumentations contacts PyPI at import time.
"""

from __future__ import annotations

import os
import random
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")

import albumentations as A  # noqa: E402 - the environment variable must be set first
import cv2  # noqa: E402 - installed with albumentations

from i2i.errors import ConfigError, InputError  # noqa: E402

__all__ = ["apply", "test_pipeline", "to_tensor", "train_pipeline"]


def train_pipeline(
    size: int,
    load_size: int,
    flip: bool,
    additional_targets: Mapping[str, str] | None = None,
) -> A.Compose:
    """Training augmentation: resize, random crop, random horizontal flip.

    Steps: ``Resize(load_size, load_size)`` if ``load_size > 0``; then, if ``size > 0``,
    ``RandomCrop(size, size)`` — preceded by a reflect ``PadIfNeeded`` when ``load_size == 0``
    so images smaller than the crop still work; then ``HorizontalFlip(p=0.5)`` if ``flip``.
    Resizing is bilinear (area interpolation when shrinking).

    Args:
        size: Square crop size; 0 = no crop.
        load_size: Square resize before cropping; 0 = no resize.
        flip: Random horizontal flip.
        additional_targets: Extra inputs that get the same geometry, e.g. ``{"B": "image"}``
            (or ``"mask"`` for label maps: nearest-neighbour resizing).

    Returns:
        The pipeline; call it through :func:`apply` for seeded, reproducible samples.

    Raises:
        ConfigError: negative sizes, or ``0 < load_size < size``.
    """
    if size < 0 or load_size < 0:
        raise ConfigError(
            f"size and load_size must be >= 0, got size={size}, load_size={load_size}"
        )
    if 0 < load_size < size:
        raise ConfigError(
            f"load_size ({load_size}) is smaller than the crop size ({size}); set load_size >= "
            "size, or load_size=0 to crop without resizing"
        )
    steps: list[Any] = []
    if load_size > 0:
        steps.append(A.Resize(load_size, load_size, area_for_downscale="image"))
    if size > 0:
        if load_size == 0:
            steps.append(A.PadIfNeeded(size, size, border_mode=cv2.BORDER_REFLECT_101))
        steps.append(A.RandomCrop(size, size))
    if flip:
        steps.append(A.HorizontalFlip(p=0.5))
    return A.Compose(steps, additional_targets=dict(additional_targets or {}))


def test_pipeline(size: int, additional_targets: Mapping[str, str] | None = None) -> A.Compose:
    """Test-time pipeline: ``Resize(size, size)`` if ``size > 0``, else the identity.

    Args:
        size: Square output size; 0 keeps the image as it is.
        additional_targets: As in :func:`train_pipeline`.
    """
    if size < 0:
        raise ConfigError(f"size must be >= 0, got {size}")
    steps: list[Any] = [A.Resize(size, size, area_for_downscale="image")] if size > 0 else []
    return A.Compose(steps, additional_targets=dict(additional_targets or {}))


test_pipeline.__test__ = False  # type: ignore[attr-defined]  # not a pytest test when imported


def apply(pipeline: A.Compose, seed: int, **images: np.ndarray) -> dict[str, Any]:
    """Run ``pipeline`` on ``images`` with all randomness drawn from ``seed``.

    The same seed gives the same crop and flip; every target of one call (``image`` and the
    additional targets) gets the same geometry.

    Note:
        This uses ``Compose.set_random_state`` with one numpy and one Python generator shared
        by all transforms. ``Compose.set_random_seed(seed)`` (albumentations 2.x) would seed
        every transform with the *same* seed, which correlates them (e.g. the crop offset
        decides the flip). Not thread-safe: use one pipeline per thread (DataLoader workers are
        processes, which is fine).

    Args:
        pipeline: From :func:`train_pipeline` or :func:`test_pipeline`.
        seed: Any non-negative integer (larger ones are reduced modulo 2**64).
        **images: Targets, e.g. ``image=a`` or ``image=a, B=b``.

    Returns:
        The pipeline's output dict (same keys as ``images``).
    """
    seed = int(seed) % 2**64
    pipeline.set_random_state(np.random.default_rng(seed), random.Random(seed))
    return pipeline(**images)


def to_tensor(img: np.ndarray) -> torch.Tensor:
    """HxWxC (or HxW) image in [0, 1] -> CHW float32 tensor in [-1, 1].

    Floats are clipped to [0, 1] first (resampling can overshoot); ``uint8``/``uint16`` arrays
    are scaled by 255/65535.

    Shape:
        - Input: ``(H, W, C)`` or ``(H, W)``.
        - Output: ``(C, H, W)`` (``C = 1`` for 2-D input).
    """
    arr = np.asarray(img)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3:
        raise InputError(f"to_tensor expects an HxWxC or HxW array, got shape {arr.shape}")
    if arr.dtype.kind in "ui":
        arr = arr.astype(np.float32) / float(np.iinfo(arr.dtype).max)
    arr = np.clip(arr.astype(np.float32, copy=False), 0.0, 1.0)
    t = torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1)))
    return t * 2.0 - 1.0
