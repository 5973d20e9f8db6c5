"""The ``unpaired`` dataset format (built-in plugin ``unpaired``), as used by CycleGAN.

Layout::

    ROOT/
      trainA/   images of domain A (split "train"; sub-folders are scanned too)
      trainB/   images of domain B
      testA/    optional, split "test"
      testB/

Any split name ``S`` maps to ``ROOT/SA`` and ``ROOT/SB``. A and B need not have the same number
of images: a sample takes ``A = files_A[index % len_A]`` and, for the train split, a partner
``B`` drawn at random from the sample's seed (unaligned, as in CycleGAN); other splits take
``B = files_B[index % len_B]``.

Example:
    >>> from i2i.specs import DataOptions
    >>> opts = DataOptions(size=64, load_size=72, channels={"A": 3, "B": 3})
    >>> validate_unpaired(Path("data/demo"), opts).counts  # doctest: +SKIP
    {'trainA': 200, 'trainB': 200, 'testA': 16, 'testB': 16}
    >>> ds = build_unpaired(Path("data/demo"), opts)  # doctest: +SKIP
    >>> ds[(0, 1234)]["A"].shape  # doctest: +SKIP
    torch.Size([3, 64, 64])
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from i2i.hookspecs import hookimpl
from i2i.specs import DataOptions, DatasetFormatSpec, DatasetReport

from .demo import make_unpaired_demo
from .folders import (
    FolderDataset,
    check_split,
    child_seed,
    list_image_folders,
    validate_image_folders,
)
from .image_io import list_images

if TYPE_CHECKING:  # pragma: no cover
    from i2i.registry import Registrar

log = logging.getLogger(__name__)

KEYS: tuple[str, str] = ("A", "B")
FORMAT_NAME = "unpaired"


def split_folders(root: Path, split: str) -> dict[str, Path]:
    """The folder of each key for a split: ``{"A": root / f"{split}A", "B": root / f"{split}B"}``.

    Raises:
        DatasetError: ``split`` is empty or contains a path separator.
    """
    check_split(split, FORMAT_NAME, "ROOT/<split>A and ROOT/<split>B")
    return {key: Path(root) / f"{split}{key}" for key in KEYS}


def _layout(split: str) -> str:
    optional = " (testA/, testB/ optional)" if split == "train" else ""
    return f"expected ROOT/{split}A/ and ROOT/{split}B/ holding images{optional}"


def _list_split(root: Path, split: str) -> tuple[dict[str, Path], dict[str, list[Path]]]:
    """The split's folders and their images, or a one-line DatasetError."""
    folders = split_folders(root, split)
    files = list_image_folders(root, folders, format_name=FORMAT_NAME, expected=_layout(split))
    return folders, files


def validate_unpaired(root: Path, options: DataOptions) -> DatasetReport:
    """Check an unpaired dataset folder before training.

    Checks, for ``options.split``: the root and both folders exist; each holds image files;
    every image opens (header, PNG CRCs, JPEG entropy data — not a full decode); and, when no
    resize is configured (``load_size == 0``) on the train split, that no image is smaller than
    the crop size ``options.size``.

    Args:
        root: Dataset folder.
        options: Split, sizes, channels.

    Returns:
        A report with the image count of each split folder found (``trainA``, ``testB``, ...).

    Raises:
        DatasetError: one line naming the missing folders or the offending files (up to 5,
            then "and N more") and how to fix them.
    """
    root = Path(root)
    folders = split_folders(root, options.split)
    report = validate_image_folders(
        root, folders, options, format_name=FORMAT_NAME, expected=_layout(options.split)
    )
    for split in ("train", "test"):
        for folder in split_folders(root, split).values():
            if folder.name not in report.counts and folder.is_dir():
                report.counts[folder.name] = len(list_images(folder))
    return report


class UnpairedDataset(FolderDataset):
    """Unaligned A/B images; items are fetched with ``dataset[(index, seed)]``.

    Every random choice of a sample (B partner, crops, flips, replacements for corrupt files)
    derives from ``seed`` through ``np.random.SeedSequence``, so a sample is reproducible in any
    worker and after a resume. ``dataset[i]`` (an int) means ``dataset[(i, i)]``.

    A sample is ``{"A": Tensor, "B": Tensor, "A_path": str, "B_path": str, "skipped": int}``
    with CHW float32 tensors in [-1, 1] and channels from ``options.channels``.

    A corrupt file raises :class:`~i2i.errors.ImageReadError` when ``options.strict``; otherwise
    it is logged once, remembered (never read again by this dataset object; each DataLoader
    worker has its own copy), replaced by another file of the same folder chosen from the seed,
    and counted in ``"skipped"`` (see :class:`~i2i.datasets.FolderDataset`).

    Args:
        root: Dataset folder.
        options: Split, sizes, flip, channels, strictness and the image loader.

    Raises:
        DatasetError: a split folder is missing or holds no images.
    """

    def __init__(self, root: Path, options: DataOptions) -> None:
        super().__init__(root, options)
        self.folders, self.files = _list_split(self.root, options.split)
        self.channels = {key: int(options.channels.get(key, 3)) for key in KEYS}

    @property
    def files_A(self) -> list[Path]:  # noqa: N802 - named after the domain
        return self.files["A"]

    @property
    def files_B(self) -> list[Path]:  # noqa: N802
        return self.files["B"]

    def __len__(self) -> int:
        return max(len(self.files["A"]), len(self.files["B"]))

    def __repr__(self) -> str:
        return (
            f"UnpairedDataset(root='{self.root}', split={self.split!r}, "
            f"A={len(self.files['A'])}, B={len(self.files['B'])})"
        )

    def _load_key(self, key: str, first: int, ss: np.random.SeedSequence) -> tuple[Any, Path, int]:
        files = self.files[key]
        img, k, skipped = self.first_readable(
            files, first, ss, lambda p: self.read(p, self.channels[key]), where=self.folders[key]
        )
        return img, files[k], skipped

    def __getitem__(self, key: Any) -> dict[str, Any]:
        from .transforms import to_tensor

        index, seed = self.parse_key(key)
        partner, aug_a, aug_b, retry_a, retry_b = np.random.SeedSequence(seed).spawn(5)
        n_a, n_b = len(self.files["A"]), len(self.files["B"])
        index_b = int(np.random.default_rng(partner).integers(n_b)) if self.train else index % n_b
        img_a, path_a, skip_a = self._load_key("A", index % n_a, retry_a)
        img_b, path_b, skip_b = self._load_key("B", index_b, retry_b)
        out_a = self.augment(child_seed(aug_a), {"A": img_a})["A"]
        out_b = self.augment(child_seed(aug_b), {"B": img_b})["B"]
        return {
            "A": to_tensor(out_a),
            "B": to_tensor(out_b),
            "A_path": str(path_a),
            "B_path": str(path_b),
            "skipped": skip_a + skip_b,
        }


def build_unpaired(root: Path, options: DataOptions) -> UnpairedDataset:
    """Build the torch Dataset of one split (see :class:`UnpairedDataset`).

    Run :func:`validate_unpaired` first for a full check; this only lists the files.
    """
    return UnpairedDataset(Path(root), options)


SPEC = DatasetFormatSpec(
    name=FORMAT_NAME,
    summary="Two unaligned image folders per split: trainA/, trainB/ (+ testA/, testB/)",
    keys=KEYS,
    validate=validate_unpaired,
    build=build_unpaired,
    demo=make_unpaired_demo,
)


@hookimpl
def i2i_register_dataset_formats(registrar: Registrar) -> None:
    """Register the ``unpaired`` format."""
    registrar.add(FORMAT_NAME, SPEC)


__all__ = [
    "KEYS",
    "SPEC",
    "UnpairedDataset",
    "build_unpaired",
    "split_folders",
    "validate_unpaired",
]
