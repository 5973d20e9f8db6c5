"""Dataset formats, image I/O, augmentation pipelines and demo data (``i2i.datasets``).

The building blocks every built-in format is made of are public, for plugins' formats too:
:func:`list_image_folders`, :func:`check_images`, :class:`FolderDataset` (see
:mod:`i2i.datasets.folders`), :func:`read_image`, :func:`write_image`, :func:`list_images`,
:func:`convert_channels`; the transforms are :func:`train_pipeline`, :func:`test_pipeline`,
:func:`apply` and :func:`to_tensor`.

Importing this package is light (numpy, Pillow, torch); albumentations is imported only when a
pipeline is built (:mod:`i2i.datasets.transforms`).

Example:
    >>> from i2i.datasets import make_unpaired_demo, validate_unpaired  # doctest: +SKIP
    >>> from i2i.datasets import combine_pairs, make_paired_demo, validate_aligned  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .classes import SPEC as CLASSES_SPEC
from .classes import ClassesDataset, build_classes, class_names, validate_classes
from .combine import CombineReport, combine_pairs
from .demo import make_classes_demo, make_images_demo, make_paired_demo, make_unpaired_demo
from .folders import (
    FolderDataset,
    check_files,
    check_images,
    check_split,
    child_seed,
    dataset_root,
    list_image_folders,
    root_listing,
    validate_image_folders,
)
from .image_io import (
    IMAGE_EXTENSIONS,
    check_image,
    convert_channels,
    format_file_list,
    image_size,
    list_images,
    read_image,
    write_image,
)
from .paired import (
    ALIGNED_SPEC,
    PAIRED_FOLDERS_SPEC,
    AlignedDataset,
    PairedFoldersDataset,
    build_aligned,
    build_paired_folders,
    validate_aligned,
    validate_paired_folders,
)
from .unpaired import SPEC as UNPAIRED_SPEC
from .unpaired import UnpairedDataset, build_unpaired, validate_unpaired

if TYPE_CHECKING:  # pragma: no cover
    from .transforms import apply, test_pipeline, to_tensor, train_pipeline

_LAZY = {"apply", "test_pipeline", "to_tensor", "train_pipeline"}

__all__ = [
    "ALIGNED_SPEC",
    "CLASSES_SPEC",
    "IMAGE_EXTENSIONS",
    "PAIRED_FOLDERS_SPEC",
    "UNPAIRED_SPEC",
    "AlignedDataset",
    "ClassesDataset",
    "CombineReport",
    "FolderDataset",
    "PairedFoldersDataset",
    "UnpairedDataset",
    "apply",
    "build_aligned",
    "build_classes",
    "build_paired_folders",
    "build_unpaired",
    "check_files",
    "check_image",
    "check_images",
    "check_split",
    "child_seed",
    "class_names",
    "combine_pairs",
    "convert_channels",
    "dataset_root",
    "format_file_list",
    "image_size",
    "list_image_folders",
    "list_images",
    "make_classes_demo",
    "make_images_demo",
    "make_paired_demo",
    "make_unpaired_demo",
    "read_image",
    "root_listing",
    "test_pipeline",
    "to_tensor",
    "train_pipeline",
    "validate_aligned",
    "validate_classes",
    "validate_image_folders",
    "validate_paired_folders",
    "validate_unpaired",
    "write_image",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from . import transforms

        return getattr(transforms, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
