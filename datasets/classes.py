"""The ``classes`` dataset format (built-in plugin ``classes``): one sub-folder per class.

The ImageFolder layout, for class-conditional GANs and the classifier metrics::

    ROOT/                       or      ROOT/
      circle/  *.png (any depth)          train/
      square/                               circle/ ...
      ...                                 test/        optional, split "test"
                                            circle/ ...

Class ids are the indices of the sorted class-folder names (hidden folders are ignored). When
ROOT holds only ``train/`` (and ``test/``, ``val/``) the split layout is used: split ``S`` reads
``ROOT/S``, and class ids always come from ``ROOT/train`` so they agree across splits.
Otherwise ROOT itself holds the class folders and every split reads it.

Sizes: on the train split an image is resized to ``options.size`` x ``options.size`` (no crop,
so the object is never cut off; bicubic when enlarging, area when shrinking) and flipped at
random when ``options.flip``; ``load_size`` only matters when it is 0: then no resize is done
and a random ``size`` crop is taken (as in the other formats). Other splits are resized to
``size`` (0 = unchanged). Items are fetched with ``dataset[(index, seed)]``: all randomness
(flip, crop, the replacement of a corrupt file) derives from ``seed``.

Example:
    >>> from i2i.specs import DataOptions
    >>> opts = DataOptions(size=32, load_size=32, channels={"image": 3})
    >>> validate_classes(Path("data/shapes"), opts).classes  # doctest: +SKIP
    ['circle', 'cross', 'square', 'triangle']
    >>> ds = build_classes(Path("data/shapes"), opts)  # doctest: +SKIP
    >>> item = ds[(0, 1234)]  # doctest: +SKIP
    >>> item["image"].shape, item["class"]  # doctest: +SKIP
    (torch.Size([3, 32, 32]), tensor(0))
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from i2i.errors import DatasetError
from i2i.hookspecs import hookimpl
from i2i.specs import DataOptions, DatasetFormatSpec, DatasetReport

from .demo import make_classes_demo
from .folders import (
    FolderDataset,
    check_images,
    check_split,
    child_seed,
    dataset_root,
    root_listing,
)
from .image_io import format_file_list, list_images

if TYPE_CHECKING:  # pragma: no cover
    from i2i.registry import Registrar

log = logging.getLogger(__name__)

FORMAT_NAME = "classes"
KEYS: tuple[str, str] = ("image", "class")
#: Folder names that make ROOT a split layout (when ROOT holds nothing else).
SPLIT_NAMES: tuple[str, ...] = ("train", "test", "val")
MIN_CLASSES = 2

_LAYOUT = "ROOT/<class>/*.png or ROOT/train/<class>/*.png (+ ROOT/test/<class>/)"


def _subdirs(folder: Path) -> list[str]:
    with os.scandir(folder) as entries:
        return sorted(e.name for e in entries if e.is_dir() and not e.name.startswith("."))


def is_split_layout(root: Path) -> bool:
    """True when ``root`` holds ``train/`` and no other folders than ``test/``, ``val/``."""
    dirs = _subdirs(Path(root))
    return "train" in dirs and set(dirs) <= set(SPLIT_NAMES)


def split_folder(root: Path, split: str) -> Path:
    """The folder holding the class folders of ``split`` (``ROOT/split`` or ROOT itself).

    Raises:
        DatasetError: the root is missing, ``split`` is not a plain name, or the split layout
            has no folder for ``split``.
    """
    root = dataset_root(root, FORMAT_NAME, f"one sub-folder per class ({_LAYOUT})")
    check_split(split, FORMAT_NAME, _LAYOUT)
    if not is_split_layout(root):
        return root
    folder = root / split
    if not folder.is_dir():
        raise DatasetError(
            f"classes dataset '{root}' has no {split}/ folder; expected ROOT/{split}/<class>/ "
            f"holding images; found in root: {root_listing(root)}"
        )
    return folder


def _class_problem(folder: Path, names: list[str]) -> str:
    loose = list_images(folder, recursive=False)
    hint = (
        f"; {len(loose)} image(s) lie directly in '{folder}' — move them into one sub-folder "
        "per class"
        if loose
        else ""
    )
    found = f"found {len(names)}: {format_file_list(names)}" if names else "found none"
    return (
        f"classes dataset '{folder}' has fewer than {MIN_CLASSES} class folders ({found}); "
        f"class-conditional training needs at least {MIN_CLASSES} class folders, expected "
        f"{_LAYOUT}{hint}"
    )


def class_names(root: Path) -> list[str]:
    """The class names of a classes dataset: sorted non-hidden sub-folders of its train folder.

    The class id of a sample is the index of its folder name in this list.

    Raises:
        DatasetError: the root is missing or holds fewer than 2 class folders.
    """
    folder = split_folder(Path(root), "train")
    names = _subdirs(folder)
    if len(names) < MIN_CLASSES:
        raise DatasetError(_class_problem(folder, names))
    return names


def _list_classes(root: Path, split: str) -> tuple[Path, list[str], dict[str, list[Path]]]:
    """Split folder, class names and the image files of each class folder found in the split."""
    names = class_names(root)
    folder = split_folder(root, split)
    present = _subdirs(folder)
    extra = [n for n in present if n not in names]
    if extra:
        raise DatasetError(
            f"classes dataset '{root}': {folder.name}/ holds class folder(s) not in train/: "
            f"{format_file_list(extra)}; the classes are {format_file_list(names, limit=20)} "
            "(class ids come from train/) — rename or remove them"
        )
    files = {n: list_images(folder / n) for n in names if n in present}
    empty = [f"{n}/" for n, paths in files.items() if not paths]
    if empty:
        raise DatasetError(
            f"{len(empty)} empty class folder(s) in '{folder}' (no image files): "
            f"{format_file_list(empty)}; add images or remove the folder(s)"
        )
    return folder, names, files


def validate_classes(root: Path, options: DataOptions) -> DatasetReport:
    """Check a class-folder dataset before training.

    Checks, for ``options.split``: the root (and split folder) exist; there are at least 2
    class folders; no class folder is empty; every image opens (header, PNG CRCs, JPEG entropy
    data); and, when no resize is configured (``load_size == 0``) on the train split, that no
    image is smaller than the crop size.

    Args:
        root: Dataset folder.
        options: Split, sizes, channels.

    Returns:
        A report with ``counts`` (images per class of the split), ``classes`` (sorted names)
        and ``problems`` naming classes that the split has no folder for (not an error: a test
        split may lack some).

    Raises:
        DatasetError: one line naming the offending folders or files and how to fix them.
    """
    root = Path(root)
    folder, names, files = _list_classes(root, options.split)
    problems = check_images(
        root,
        files.values(),
        options,
        "set load_size > 0 (resize to size), lower size, or remove them",
    )
    if problems:
        raise DatasetError("; ".join(problems))
    counts = {n: len(files.get(n, [])) for n in names}
    missing = [n for n in names if n not in files]
    warnings = []
    if missing:
        warnings.append(
            f"{folder.name}/ of '{root}' has no folder for {len(missing)} class(es): "
            f"{format_file_list(missing)}; that split has no images of them"
        )
    log.info("classes dataset %s (%s): %s", root, options.split, counts)
    return DatasetReport(
        root=root, format=FORMAT_NAME, counts=counts, problems=warnings, classes=list(names)
    )


class ClassesDataset(FolderDataset):
    """Images with their class id; items are fetched with ``dataset[(index, seed)]``.

    A sample is ``{"image": Tensor, "class": Tensor, "path": str, "skipped": int}``: a CHW
    float32 tensor in [-1, 1] with ``options.channels["image"]`` channels (default 3) and a
    ``torch.long`` scalar class id (index into :attr:`classes`). ``dataset[i]`` (an int) means
    ``dataset[(i, i)]``.

    A corrupt file raises :class:`~i2i.errors.ImageReadError` when ``options.strict``; otherwise
    it is logged, remembered (never read again by this dataset object), replaced by another
    image of the *same class* chosen from the seed, and counted in ``"skipped"``.

    Args:
        root: Dataset folder.
        options: Split, sizes, flip, channels, strictness and the image loader.

    Raises:
        DatasetError: the folder layout is unusable (see :func:`validate_classes`).
    """

    def __init__(self, root: Path, options: DataOptions) -> None:
        super().__init__(root, options)
        self.folder, self.classes, files = _list_classes(self.root, options.split)
        #: ``(file, class id)`` per sample.
        self.samples: list[tuple[Path, int]] = [
            (p, c) for c, name in enumerate(self.classes) for p in files.get(name, [])
        ]
        self.by_class: dict[int, list[int]] = {}
        for i, (_, c) in enumerate(self.samples):
            self.by_class.setdefault(c, []).append(i)
        self.channels = int(options.channels.get("image", 3))

    def make_pipeline(self, names: tuple[str, ...]) -> Any:
        """Train split: resize to ``size`` (bicubic when enlarging, area when shrinking; no
        crop, so objects are never cut off) and a random flip, or with ``load_size == 0`` a
        random crop without resize; other splits: resize to ``size``."""
        from .transforms import A, cv2

        size = self.options.size
        if not self.train or self.options.load_size == 0:
            return super().make_pipeline(names)
        steps: list[Any] = []
        if size > 0:
            steps.append(
                A.Resize(size, size, interpolation=cv2.INTER_CUBIC, area_for_downscale="image")
            )
        if self.options.flip:
            steps.append(A.HorizontalFlip(p=0.5))
        return A.Compose(steps)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def files(self) -> list[Path]:
        return [p for p, _ in self.samples]

    @property
    def labels(self) -> list[int]:
        return [c for _, c in self.samples]

    def __repr__(self) -> str:
        return (
            f"ClassesDataset(root='{self.root}', split={self.split!r}, images={len(self)}, "
            f"classes={len(self.classes)})"
        )

    def __getitem__(self, key: Any) -> dict[str, Any]:
        from .transforms import to_tensor

        index, seed = self.parse_key(key)
        aug, retry = np.random.SeedSequence(seed).spawn(2)
        label = self.samples[index][1]
        img, k, skipped = self.first_readable(
            self.samples, index, retry, lambda item: self.read(item[0], self.channels),
            among=self.by_class[label], where=self.folder / self.classes[label],
        )  # fmt: skip
        out = self.augment(child_seed(aug), {"image": img})["image"]
        return {
            "image": to_tensor(out),
            "class": torch.tensor(label, dtype=torch.long),
            "path": str(self.samples[k][0]),
            "skipped": skipped,
        }


def build_classes(root: Path, options: DataOptions) -> ClassesDataset:
    """Build the torch Dataset of one split (see :class:`ClassesDataset`).

    Run :func:`validate_classes` first for a full check; this only lists the files.
    """
    return ClassesDataset(Path(root), options)


SPEC = DatasetFormatSpec(
    name=FORMAT_NAME,
    summary="One sub-folder per class (ImageFolder): ROOT/<class>/ or ROOT/train/<class>/",
    keys=KEYS,
    validate=validate_classes,
    build=build_classes,
    demo=make_classes_demo,
    demo_kind="classes",
)


@hookimpl
def i2i_register_dataset_formats(registrar: Registrar) -> None:
    """Register the ``classes`` format."""
    registrar.add(FORMAT_NAME, SPEC)


__all__ = [
    "FORMAT_NAME",
    "KEYS",
    "SPEC",
    "ClassesDataset",
    "build_classes",
    "class_names",
    "is_split_layout",
    "split_folder",
    "validate_classes",
]
