"""Shared helpers for the dataset tests: real image files written with Pillow."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def save_rgb(path: Path, w: int = 40, h: int = 40, seed: int = 0, fmt: str | None = None) -> Path:
    """Write a random RGB image (PNG unless the suffix says otherwise)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path, format=fmt)
    return path


@pytest.fixture
def rgb_file() -> Callable[..., Path]:
    """The :func:`save_rgb` helper, as a fixture."""
    return save_rgb


@pytest.fixture
def make_unpaired(tmp_path: Path) -> Callable[..., Path]:
    """Factory: an unpaired dataset folder with ``n_a``/``n_b`` images of ``w`` x ``h``."""

    def make(
        n_a: int = 3, n_b: int = 5, w: int = 40, h: int = 40, split: str = "train", name="ds"
    ) -> Path:
        root = tmp_path / name
        for i in range(n_a):
            save_rgb(root / f"{split}A" / f"a{i}.png", w, h, seed=i)
        for i in range(n_b):
            save_rgb(root / f"{split}B" / f"b{i}.png", w, h, seed=100 + i)
        return root

    return make
