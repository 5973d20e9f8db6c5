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
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from torch.utils.data import Dataset

from i2i.errors import DatasetError, ImageReadError
from i2i.hookspecs import hookimpl
from i2i.specs import DataOptions, DatasetFormatSpec, DatasetReport

from .demo import make_unpaired_demo
from .image_io import IMAGE_EXTENSIONS, check_image, format_file_list, list_images, read_image
from .keys import parse_key

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
    if not split or "/" in split or os.sep in split or split.startswith("."):
        raise DatasetError(
            f"split must be a plain name like 'train' or 'test', got {split!r}; "
            "the unpaired format reads ROOT/<split>A and ROOT/<split>B"
        )
    return {key: Path(root) / f"{split}{key}" for key in KEYS}


def _layout(split: str) -> str:
    optional = " (testA/, testB/ optional)" if split == "train" else ""
    return f"expected ROOT/{split}A/ and ROOT/{split}B/ holding images{optional}"


def _check_root(root: Path) -> None:
    if not root.exists():
        raise DatasetError(
            f"dataset folder '{root}' does not exist; expected an unpaired dataset folder with "
            f"trainA/ and trainB/ (make one with 'i2i datasets demo --kind unpaired {root}')"
        )
    if not root.is_dir():
        raise DatasetError(
            f"dataset path '{root}' is a file, not a folder; pass the folder that holds "
            "trainA/ and trainB/"
        )


def _root_listing(root: Path) -> str:
    names = sorted(
        e.name + ("/" if e.is_dir() else "") for e in os.scandir(root) if not e.name.startswith(".")
    )
    return format_file_list(names) if names else "nothing (the folder is empty)"


def _resolve_folders(root: Path, split: str) -> dict[str, Path]:
    """Split folders, or a one-line DatasetError saying which are missing and what root holds."""
    _check_root(root)
    folders = split_folders(root, split)
    missing = [p.name for p in folders.values() if not p.is_dir()]
    if not missing:
        return folders
    hint = ""
    lower = {e.name.lower(): e.name for e in os.scandir(root) if e.is_dir()}
    near = [lower[m.lower()] for m in missing if m.lower() in lower]
    if near:
        hint = f" (folder names are case-sensitive: rename {', '.join(near)})"
    else:
        nested = sorted(p.parent for p in root.glob(f"*/{missing[0]}") if p.is_dir())
        if nested:
            hint = f" (did you mean the dataset folder '{nested[0]}'?)"
    not_dirs = [m for m in missing if (root / m).exists()]
    what = " and ".join(f"{m}/" for m in missing)
    extra = f" ({', '.join(not_dirs)} exists but is not a folder)" if not_dirs else ""
    raise DatasetError(
        f"unpaired dataset '{root}' has no {what} folder{extra}; {_layout(split)}; found in root: "
        f"{_root_listing(root)}{hint}"
    )


def _empty_problem(folder: Path) -> str:
    others = sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    exts = ", ".join(IMAGE_EXTENSIONS)
    if others:
        return (
            f"'{folder}' has no image files ({exts}); found {len(others)} other file(s): "
            f"{format_file_list(others)} — convert them to PNG or JPEG"
        )
    return f"'{folder}' has no image files ({exts}); the folder is empty — add images to it"


def _list_nonempty(folders: dict[str, Path]) -> dict[str, list[Path]]:
    files = {key: list_images(folder) for key, folder in folders.items()}
    problems = [_empty_problem(folders[k]) for k, v in files.items() if not v]
    if problems:
        raise DatasetError("; ".join(problems))
    return files


def _check_files(paths: list[Path]) -> list[tuple[str | None, tuple[int, int] | None]]:
    if len(paths) < 32:
        return [check_image(p) for p in paths]
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        return list(pool.map(check_image, paths, chunksize=16))


def file_problems(
    root: Path,
    groups: Iterable[list[Path]],
    options: DataOptions,
    small_fix: str = "set load_size >= size, lower size, or remove them",
) -> list[str]:
    """One-line problems for unreadable images and (train split, no resize) images smaller than
    the crop, naming the files relative to ``root``; empty when all files are usable."""
    check_small = options.split == "train" and options.load_size == 0 and options.size > 0
    bad: list[str] = []
    small: list[str] = []
    for paths in groups:
        for path, (reason, wh) in zip(paths, _check_files(paths), strict=True):
            rel = path.relative_to(root).as_posix()
            if reason is not None:
                bad.append(f"{rel} ({reason})")
            elif check_small and wh is not None and min(wh) < options.size:
                small.append(f"{rel} ({wh[0]}x{wh[1]})")
    problems = []
    if bad:
        problems.append(
            f"{len(bad)} unreadable image file(s) in '{root}': {format_file_list(bad)}; "
            "re-export or remove them"
        )
    if small:
        problems.append(
            f"{len(small)} image(s) in '{root}' are smaller than the crop size "
            f"{options.size}x{options.size} and no resize is configured (load_size=0): "
            f"{format_file_list(small)}; {small_fix}"
        )
    return problems


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
    folders = _resolve_folders(root, options.split)
    files = _list_nonempty(folders)
    problems = file_problems(root, files.values(), options)
    if problems:
        raise DatasetError("; ".join(problems))
    counts = {folder.name: len(files[key]) for key, folder in folders.items()}
    for split in ("train", "test"):
        for folder in split_folders(root, split).values():
            if folder.name not in counts and folder.is_dir():
                counts[folder.name] = len(list_images(folder))
    log.info("unpaired dataset %s: %s", root, counts)
    return DatasetReport(root=root, format=FORMAT_NAME, counts=counts)


def _child_seed(ss: np.random.SeedSequence) -> int:
    return int(ss.generate_state(1, np.uint64)[0])


class UnpairedDataset(Dataset):
    """Unaligned A/B images; items are fetched with ``dataset[(index, seed)]``.

    Every random choice of a sample (B partner, crops, flips, replacements for corrupt files)
    derives from ``seed`` through ``np.random.SeedSequence``, so a sample is reproducible in any
    worker and after a resume. ``dataset[i]`` (an int) means ``dataset[(i, i)]``.

    A sample is ``{"A": Tensor, "B": Tensor, "A_path": str, "B_path": str, "skipped": int}``
    with CHW float32 tensors in [-1, 1] and channels from ``options.channels``.

    A corrupt file raises :class:`~i2i.errors.ImageReadError` when ``options.strict``; otherwise
    it is logged once, remembered (never read again by this dataset object; each DataLoader
    worker has its own copy), replaced by another file of the same folder chosen from the seed,
    and counted in ``"skipped"``.

    Args:
        root: Dataset folder.
        options: Split, sizes, flip, channels, strictness and the image loader.

    Raises:
        DatasetError: a split folder is missing or holds no images.
    """

    def __init__(self, root: Path, options: DataOptions) -> None:
        from .transforms import test_pipeline, train_pipeline

        self.root = Path(root)
        self.options = options
        self.split = options.split
        self.folders = _resolve_folders(self.root, options.split)
        self.files: dict[str, list[Path]] = _list_nonempty(self.folders)
        self.channels = {key: int(options.channels.get(key, 3)) for key in KEYS}
        self._load: Callable[[Path, int], np.ndarray] = options.load_image or read_image
        self.bad_files: set[Path] = set()
        self.train = options.split == "train"
        if self.train:
            self.pipeline = train_pipeline(options.size, options.load_size, options.flip)
        else:
            self.pipeline = test_pipeline(options.size)

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

    def _parse_key(self, key: Any) -> tuple[int, int]:
        return parse_key(key, len(self), type(self).__name__)

    def _candidates(self, key: str, first: int, ss: np.random.SeedSequence) -> Iterator[int]:
        yield first
        n = len(self.files[key])
        order = np.random.default_rng(ss).permutation(n)
        yield from (int(i) for i in order if i != first)

    def _load_key(self, key: str, first: int, ss: np.random.SeedSequence) -> tuple[Any, Path, int]:
        files = self.files[key]
        channels = self.channels[key]
        skipped = 0
        for i in self._candidates(key, first, ss):
            path = files[i]
            if path in self.bad_files:
                skipped += 1
                continue
            try:
                img = self._load(path, channels)
            except ImageReadError as e:
                if self.options.strict:
                    raise
                log.warning("skipping a corrupt image (strict=False): %s", e)
                self.bad_files.add(path)
                skipped += 1
                continue
            return self._check_array(img, path, channels), path, skipped
        raise DatasetError(
            f"all {len(files)} images in '{self.folders[key]}' are unreadable (e.g. "
            f"{format_file_list([p.name for p in files])}); re-export them or fix the image loader"
        )

    @staticmethod
    def _check_array(img: Any, path: Path, channels: int) -> np.ndarray:
        arr = np.asarray(img, dtype=np.float32)
        if arr.ndim == 2:
            arr = arr[:, :, None]
        if arr.ndim != 3 or arr.shape[2] != channels:
            raise DatasetError(
                f"the image loader returned shape {arr.shape} for '{path}'; expected "
                f"H x W x {channels}; fix the plugin implementing i2i_load_image"
            )
        return arr

    def __getitem__(self, key: Any) -> dict[str, Any]:
        from .transforms import apply, to_tensor

        index, seed = self._parse_key(key)
        partner, aug_a, aug_b, retry_a, retry_b = np.random.SeedSequence(seed).spawn(5)
        n_a, n_b = len(self.files["A"]), len(self.files["B"])
        index_b = int(np.random.default_rng(partner).integers(n_b)) if self.train else index % n_b
        img_a, path_a, skip_a = self._load_key("A", index % n_a, retry_a)
        img_b, path_b, skip_b = self._load_key("B", index_b, retry_b)
        out_a = apply(self.pipeline, _child_seed(aug_a), image=img_a)["image"]
        out_b = apply(self.pipeline, _child_seed(aug_b), image=img_b)["image"]
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
