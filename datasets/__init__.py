"""Dataset formats, image I/O, augmentation pipelines and demo data (``i2i.datasets``).

Importing this package is light (numpy, Pillow, torch); albumentations is imported only when a
pipeline is built (:mod:`i2i.datasets.transforms`).

Example:
    >>> from i2i.datasets import make_unpaired_demo, validate_unpaired  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .demo import make_unpaired_demo
from .image_io import IMAGE_EXTENSIONS, image_size, list_images, read_image, write_image
from .unpaired import SPEC as UNPAIRED_SPEC
from .unpaired import UnpairedDataset, build_unpaired, validate_unpaired

if TYPE_CHECKING:  # pragma: no cover
    from .transforms import apply, test_pipeline, to_tensor, train_pipeline

_LAZY = {"apply", "test_pipeline", "to_tensor", "train_pipeline"}

__all__ = [
    "IMAGE_EXTENSIONS",
    "UNPAIRED_SPEC",
    "UnpairedDataset",
    "apply",
    "build_unpaired",
    "image_size",
    "list_images",
    "make_unpaired_demo",
    "read_image",
    "test_pipeline",
    "to_tensor",
    "train_pipeline",
    "validate_unpaired",
    "write_image",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from . import transforms

        return getattr(transforms, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
