"""Paired dataset formats (built-in plugin ``paired``), as used by Pix2Pix.

Two layouts of the same data, one sample per (A, B) pair:

``aligned`` — the layout of the public pix2pix datasets (facades, maps, edges2shoes, ...)::

    ROOT/
      train/   A|B images: A is the left half, B the right half (split "train")
      val/     optional, split "val"
      test/    optional, split "test" (when there is no test/, split "test" reads val/)

``paired_folders`` — one folder per side, pairs matched by file name without extension (so
``trainA/cat.png`` pairs with ``trainB/cat.jpg``; sub-folders are matched by relative path)::

    ROOT/
      trainA/  inputs  (split "train"; any split name S maps to ROOT/SA and ROOT/SB)
      trainB/  targets
      testA/   optional, split "test"
      testB/

Both sides of a pair get the *same* random resize, crop and flip (albumentations additional
targets), so pixels stay aligned; A and B may have different channel counts
(``options.channels``, e.g. ``{"A": 1, "B": 3}``). Items are fetched with
``dataset[(index, seed)]`` exactly as for the ``unpaired`` format.

Example:
    >>> from i2i.specs import DataOptions
    >>> opts = DataOptions(size=64, load_size=72, channels={"A": 1, "B": 3})
    >>> validate_aligned(Path("data/sketch2photo"), opts).counts  # doctest: +SKIP
    {'train': 200, 'val': 16, 'test': 16}
    >>> ds = build_aligned(Path("data/sketch2photo"), opts)  # doctest: +SKIP
    >>> ds[(0, 1234)]["A"].shape, ds[(0, 1234)]["B"].shape  # doctest: +SKIP
    (torch.Size([1, 64, 64]), torch.Size([3, 64, 64]))
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from i2i.errors import DatasetError
from i2i.hookspecs import hookimpl
from i2i.specs import DataOptions, DatasetFormatSpec, DatasetReport

from .demo import make_paired_demo
from .folders import (
    FolderDataset,
    check_files,
    check_split,
    dataset_root,
    list_image_folders,
)
from .image_io import format_file_list, list_images

if TYPE_CHECKING:  # pragma: no cover
    from i2i.registry import Registrar

log = logging.getLogger(__name__)

KEYS: tuple[str, str] = ("A", "B")
ALIGNED = "aligned"
PAIRED_FOLDERS = "paired_folders"
#: Split folders counted in an aligned dataset's report.
ALIGNED_SPLITS: tuple[str, ...] = ("train", "val", "test")

_STEM_RULE = "pairs are matched by file name without extension (a.png pairs with a.jpg)"


# -- folders -----------------------------------------------------------------------------------


def _other_layout(root: Path, fmt: str) -> str:
    """A hint when the root looks like the other paired layout."""
    dirs = {e.name.lower() for e in os.scandir(root) if e.is_dir()}
    if fmt == ALIGNED and {"traina", "trainb"} <= dirs:
        return (
            " (this looks like one folder per side: use --format paired_folders, or build A|B "
            "images with 'i2i datasets combine A_DIR B_DIR OUT')"
        )
    if fmt == PAIRED_FOLDERS and "train" in dirs:
        return " (this looks like the aligned A|B layout: use --format aligned)"
    return ""


def aligned_folder(root: Path, split: str) -> Path:
    """The folder of a split of an aligned dataset: ``root / split``.

    Split ``"test"`` falls back to ``root / "val"`` when there is no ``test/`` but a ``val/``
    (edges2shoes and other pix2pix datasets ship only train/ and val/).

    Raises:
        DatasetError: ``split`` is not a plain name.
    """
    check_split(split, ALIGNED, "ROOT/<split>/")
    folder = Path(root) / split
    if split == "test" and not folder.is_dir() and (Path(root) / "val").is_dir():
        log.info("aligned dataset %s has no test/; split 'test' reads val/", root)
        return Path(root) / "val"
    return folder


def _list_aligned(root: Path, split: str) -> tuple[Path, list[Path]]:
    """The split folder of an aligned dataset and its images, or a one-line DatasetError."""
    root = dataset_root(root, ALIGNED, "train/ (and optional val/, test/)", demo_kind="paired")
    folder = aligned_folder(root, split)
    optional = " (val/, test/ optional)" if split == "train" else ""
    files = list_image_folders(
        root, {"AB": folder}, format_name=ALIGNED,
        expected=f"expected ROOT/{split}/ holding A|B images side by side{optional}",
        hint=_other_layout(root, ALIGNED),
    )  # fmt: skip
    return folder, files["AB"]


def paired_folders(root: Path, split: str) -> dict[str, Path]:
    """The folder of each side for a split: ``{"A": root / f"{split}A", "B": ...}``.

    Raises:
        DatasetError: ``split`` is not a plain name.
    """
    check_split(split, PAIRED_FOLDERS, "ROOT/<split>A and ROOT/<split>B")
    return {key: Path(root) / f"{split}{key}" for key in KEYS}


def _list_paired_folders(root: Path, split: str) -> tuple[dict[str, Path], dict[str, list[Path]]]:
    """The folders of a paired_folders split and their images, or a one-line DatasetError."""
    root = dataset_root(root, PAIRED_FOLDERS, "trainA/ and trainB/")
    folders = paired_folders(root, split)
    optional = " (testA/, testB/ optional)" if split == "train" else ""
    files = list_image_folders(
        root, folders, format_name=PAIRED_FOLDERS,
        expected=f"expected ROOT/{split}A/ and ROOT/{split}B/ holding images with the same file "
        f"names{optional}",
        hint=_other_layout(root, PAIRED_FOLDERS),
    )  # fmt: skip
    return folders, files


# -- matching by stem --------------------------------------------------------------------------


@dataclasses.dataclass
class StemMatch:
    """Files of two folders matched by relative path without extension.

    Attributes:
        pairs: ``(key, a_path, b_path)`` sorted by key (e.g. ``"sub/cat"``).
        only_a: Relative paths (with extension) of A files without a partner in B.
        only_b: The same for B.
        ambiguous: ``"side/key (x.jpg, x.png)"`` for keys held by several files of one side
            (such keys are not paired).
    """

    pairs: list[tuple[str, Path, Path]]
    only_a: list[str]
    only_b: list[str]
    ambiguous: list[str]


def _by_stem(files: Sequence[Path], root: Path) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {}
    for path in files:
        out.setdefault(path.relative_to(root).with_suffix("").as_posix(), []).append(path)
    return out


def match_stems(
    a_files: Sequence[Path], a_root: Path, b_files: Sequence[Path], b_root: Path
) -> StemMatch:
    """Pair the files of two folders by relative path without extension.

    ``a_root/x.png`` pairs with ``b_root/x.jpg``; ``a_root/sub/x.png`` with ``b_root/sub/x.png``.
    Matching is case-sensitive.

    Args:
        a_files: Files under ``a_root`` (e.g. from :func:`~i2i.datasets.list_images`).
        a_root: Folder the A keys are relative to.
        b_files: Files under ``b_root``.
        b_root: Folder the B keys are relative to.

    Returns:
        The pairs, the files without a partner on each side and the ambiguous keys.
    """
    a_root, b_root = Path(a_root), Path(b_root)
    by_a, by_b = _by_stem(a_files, a_root), _by_stem(b_files, b_root)
    ambiguous = []
    for by, root in ((by_a, a_root), (by_b, b_root)):
        for key, paths in sorted(by.items()):
            if len(paths) > 1:
                names = ", ".join(sorted(p.name for p in paths))
                ambiguous.append(f"{root.name}/{key} ({names})")
    pairs = [
        (key, by_a[key][0], by_b[key][0])
        for key in sorted(by_a.keys() & by_b.keys())
        if len(by_a[key]) == 1 and len(by_b[key]) == 1
    ]
    only_a = sorted(
        p.relative_to(a_root).as_posix() for k, v in by_a.items() if k not in by_b for p in v
    )
    only_b = sorted(
        p.relative_to(b_root).as_posix() for k, v in by_b.items() if k not in by_a for p in v
    )
    return StemMatch(pairs=pairs, only_a=only_a, only_b=only_b, ambiguous=ambiguous)


# -- validation --------------------------------------------------------------------------------


def _unreadable_problem(root: Path, bad: list[str]) -> str:
    return (
        f"{len(bad)} unreadable image file(s) in '{root}': {format_file_list(bad)}; "
        "re-export or remove them"
    )


def _small_problem(root: Path, small: list[str], size: int, what: str) -> str:
    return (
        f"{len(small)} {what} in '{root}' are smaller than the crop size {size}x{size} and no "
        f"resize is configured (load_size=0): {format_file_list(small)}; set load_size >= size, "
        "lower size, or remove them"
    )


def _checks_small(options: DataOptions) -> bool:
    return options.split == "train" and options.load_size == 0 and options.size > 0


def validate_aligned(root: Path, options: DataOptions) -> DatasetReport:
    """Check an aligned (A|B side by side) dataset folder before training.

    Checks, for ``options.split``: the root and the split folder exist; it holds image files;
    every image opens (header, PNG CRCs, JPEG entropy data — not a full decode); every width is
    even (the image is split in the middle); and, when no resize is configured
    (``load_size == 0``) on the train split, that no half is smaller than the crop size.

    Args:
        root: Dataset folder.
        options: Split, sizes, channels.

    Returns:
        A report with the image count of each split folder found (``train``, ``val``, ``test``).

    Raises:
        DatasetError: one line naming the missing folder or the offending files (up to 5, then
            "and N more") and how to fix them.
    """
    root = Path(root)
    folder, files = _list_aligned(root, options.split)
    bad: list[str] = []
    odd: list[str] = []
    small: list[str] = []
    for path, (reason, wh) in zip(files, check_files(files), strict=True):
        rel = path.relative_to(root).as_posix()
        if reason is not None or wh is None:
            bad.append(f"{rel} ({reason})")
        elif wh[0] % 2:
            odd.append(f"{rel} ({wh[0]}x{wh[1]})")
        elif _checks_small(options) and min(wh[0] // 2, wh[1]) < options.size:
            small.append(f"{rel} (halves {wh[0] // 2}x{wh[1]})")
    problems = []
    if bad:
        problems.append(_unreadable_problem(root, bad))
    if odd:
        problems.append(
            f"{len(odd)} aligned image(s) in '{root}' have an odd width (width must be even: A|B "
            f"halves side by side): {format_file_list(odd)}; rebuild them with 'i2i datasets "
            "combine A_DIR B_DIR OUT' or remove them"
        )
    if small:
        problems.append(_small_problem(root, small, options.size, "image(s) have halves that"))
    if problems:
        raise DatasetError("; ".join(problems))
    counts = {folder.name: len(files)}
    for name in ALIGNED_SPLITS:
        if name not in counts and (root / name).is_dir():
            counts[name] = len(list_images(root / name))
    log.info("aligned dataset %s: %s", root, counts)
    return DatasetReport(root=root, format=ALIGNED, counts=counts)


def validate_paired_folders(root: Path, options: DataOptions) -> DatasetReport:
    """Check a paired_folders dataset (``trainA/`` + ``trainB/`` matched by name) before training.

    Checks, for ``options.split``: the root and both folders exist and hold images; every file
    has a partner of the same name (without extension) on the other side, and no name is used
    twice on one side; every image opens; both images of a pair have the same width and height;
    and, when no resize is configured (``load_size == 0``) on the train split, that no image is
    smaller than the crop size.

    Args:
        root: Dataset folder.
        options: Split, sizes, channels.

    Returns:
        A report with the image count of each split folder found (``trainA``, ``testB``, ...).

    Raises:
        DatasetError: one line naming the missing folders or the offending files (up to 5 per
            problem, then "and N more") and how to fix them.
    """
    root = Path(root)
    folders, files = _list_paired_folders(root, options.split)
    match = match_stems(files["A"], folders["A"], files["B"], folders["B"])
    sizes: dict[Path, tuple[int, int]] = {}
    bad: list[str] = []
    small: list[str] = []
    for paths in files.values():
        for path, (reason, wh) in zip(paths, check_files(paths), strict=True):
            rel = path.relative_to(root).as_posix()
            if reason is not None or wh is None:
                bad.append(f"{rel} ({reason})")
                continue
            sizes[path] = wh
            if _checks_small(options) and min(wh) < options.size:
                small.append(f"{rel} ({wh[0]}x{wh[1]})")
    mismatch = []
    for _, a, b in match.pairs:
        if a in sizes and b in sizes and sizes[a] != sizes[b]:
            (wa, ha), (wb, hb) = sizes[a], sizes[b]
            mismatch.append(
                f"{a.relative_to(root).as_posix()} {wa}x{ha} vs "
                f"{b.relative_to(root).as_posix()} {wb}x{hb}"
            )
    problems = []
    name_a, name_b = folders["A"].name, folders["B"].name
    unmatched = []
    if match.only_a:
        unmatched.append(
            f"{len(match.only_a)} file(s) in {name_a}/ have no partner in {name_b}/: "
            f"{format_file_list(match.only_a)}"
        )
    if match.only_b:
        unmatched.append(
            f"{len(match.only_b)} file(s) in {name_b}/ have no partner in {name_a}/: "
            f"{format_file_list(match.only_b)}"
        )
    if unmatched:
        problems.append(
            f"unmatched names in '{root}': {'; '.join(unmatched)} ({_STEM_RULE}); add the "
            "partners or remove these files"
        )
    if match.ambiguous:
        problems.append(
            f"{len(match.ambiguous)} name(s) in '{root}' are used by several files of one side: "
            f"{format_file_list(match.ambiguous)}; keep one file per name"
        )
    if bad:
        problems.append(_unreadable_problem(root, bad))
    if mismatch:
        problems.append(
            f"{len(mismatch)} pair(s) in '{root}' differ in size between A and B: "
            f"{format_file_list(mismatch)}; both images of a pair must have the same width and "
            "height — resize one side or remove the pair"
        )
    if small:
        problems.append(_small_problem(root, small, options.size, "image(s)"))
    if problems:
        raise DatasetError("; ".join(problems))
    counts = {folder.name: len(files[key]) for key, folder in folders.items()}
    for split in ("train", "test"):
        for folder in paired_folders(root, split).values():
            if folder.name not in counts and folder.is_dir():
                counts[folder.name] = len(list_images(folder))
    log.info("paired_folders dataset %s: %s", root, counts)
    return DatasetReport(root=root, format=PAIRED_FOLDERS, counts=counts)


# -- datasets ----------------------------------------------------------------------------------


class PairedDataset(FolderDataset):
    """Base of the paired formats: a list of (A file, B file) pairs, one sample per pair.

    Items are fetched with ``dataset[(index, seed)]`` (``dataset[i]`` means
    ``dataset[(i, i)]``). On the train split both sides get the identical random resize, crop
    and flip, drawn from ``seed``; other splits use the deterministic test pipeline (see
    :class:`~i2i.datasets.FolderDataset`, which also skips, remembers and counts corrupt files).

    A sample is ``{"A": Tensor, "B": Tensor, "A_path": str, "B_path": str, "skipped": int}``
    with CHW float32 tensors in [-1, 1] and channels from ``options.channels``.

    Subclasses implement :meth:`read_pair`.
    """

    format_name = "paired"
    item_noun = "pairs"

    def __init__(
        self, root: Path, options: DataOptions, pairs: Sequence[tuple[Path, Path]]
    ) -> None:
        super().__init__(root, options, pairs)
        self.channels = {key: int(options.channels.get(key, 3)) for key in KEYS}

    @property
    def pairs(self) -> list[tuple[Path, Path]]:
        return self.samples

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(root='{self.root}', split={self.split!r}, "
            f"pairs={len(self.pairs)})"
        )

    def read_pair(self, a_path: Path, b_path: Path) -> tuple[np.ndarray, np.ndarray]:
        """Decode one pair as two HxWxC float32 arrays of the same height and width."""
        raise NotImplementedError

    def read_sample(self, item: tuple[Path, Path]) -> dict[str, np.ndarray]:
        a, b = self.read_pair(*item)
        return {"A": a, "B": b}

    def sample_paths(self, item: tuple[Path, Path]) -> dict[str, str]:
        return {"A_path": str(item[0]), "B_path": str(item[1])}


class AlignedDataset(PairedDataset):
    """A|B images side by side (the ``aligned`` format); see :class:`PairedDataset`.

    Each image is split in the middle: A is the left half, B the right half; ``"A_path"`` and
    ``"B_path"`` of a sample are the same file. When A and B ask for the same channel count the
    file is decoded once, else once per count.

    Args:
        root: Dataset folder.
        options: Split, sizes, flip, channels, strictness and the image loader.

    Raises:
        DatasetError: the split folder is missing or holds no images.
    """

    format_name = ALIGNED

    def __init__(self, root: Path, options: DataOptions) -> None:
        self.folder, files = _list_aligned(Path(root), options.split)
        super().__init__(root, options, [(p, p) for p in files])

    @property
    def files(self) -> list[Path]:
        return [a for a, _ in self.pairs]

    def read_pair(self, a_path: Path, b_path: Path) -> tuple[np.ndarray, np.ndarray]:
        decoded: dict[int, np.ndarray] = {}
        for key in KEYS:
            channels = self.channels[key]
            if channels not in decoded:
                decoded[channels] = self.read(a_path, channels)
        h, w = decoded[self.channels["A"]].shape[:2]
        if w % 2:
            raise DatasetError(
                f"aligned image '{a_path}' is {w}x{h}: width must be even: A|B halves side by "
                "side; run 'i2i datasets check' and rebuild or remove the odd-width images"
            )
        half = w // 2
        a = np.ascontiguousarray(decoded[self.channels["A"]][:, :half])
        b = np.ascontiguousarray(decoded[self.channels["B"]][:, half:])
        return a, b


class PairedFoldersDataset(PairedDataset):
    """``ROOT/<split>A`` + ``ROOT/<split>B`` matched by name (``paired_folders``).

    Only matched pairs are used (unmatched files are logged; :func:`validate_paired_folders`
    rejects them). See :class:`PairedDataset` for the item contract.

    Args:
        root: Dataset folder.
        options: Split, sizes, flip, channels, strictness and the image loader.

    Raises:
        DatasetError: a split folder is missing or empty, or no file has a partner.
    """

    format_name = PAIRED_FOLDERS

    def __init__(self, root: Path, options: DataOptions) -> None:
        root = Path(root)
        self.folders, files = _list_paired_folders(root, options.split)
        match = match_stems(files["A"], self.folders["A"], files["B"], self.folders["B"])
        if not match.pairs:
            raise DatasetError(
                f"no file of '{self.folders['A']}' has a partner in '{self.folders['B']}' "
                f"(A: {format_file_list(match.only_a)}; B: {format_file_list(match.only_b)}); "
                f"{_STEM_RULE}"
            )
        left_out = len(match.only_a) + len(match.only_b) + len(match.ambiguous)
        if left_out:
            log.warning(
                "paired_folders dataset %s: %d file(s) without a unique partner are not used "
                "(run 'i2i datasets check' for the list)",
                root,
                left_out,
            )
        super().__init__(root, options, [(a, b) for _, a, b in match.pairs])

    def read_pair(self, a_path: Path, b_path: Path) -> tuple[np.ndarray, np.ndarray]:
        a = self.read(a_path, self.channels["A"])
        b = self.read(b_path, self.channels["B"])
        if a.shape[:2] != b.shape[:2]:
            raise DatasetError(
                f"the pair '{a_path}' ({a.shape[1]}x{a.shape[0]}) and '{b_path}' "
                f"({b.shape[1]}x{b.shape[0]}) differ in size; both images of a pair must have "
                "the same width and height (run 'i2i datasets check')"
            )
        return a, b


def build_aligned(root: Path, options: DataOptions) -> AlignedDataset:
    """Build the torch Dataset of one split of an aligned dataset (see :class:`AlignedDataset`).

    Run :func:`validate_aligned` first for a full check; this only lists the files.
    """
    return AlignedDataset(Path(root), options)


def build_paired_folders(root: Path, options: DataOptions) -> PairedFoldersDataset:
    """Build the torch Dataset of one split of a paired_folders dataset.

    Run :func:`validate_paired_folders` first for a full check; this only lists and matches.
    """
    return PairedFoldersDataset(Path(root), options)


def make_paired_folders_demo(out_dir: Path, seed: int = 0) -> None:
    """The paired demo in the ``paired_folders`` layout (``make_paired_demo(layout="folders")``)."""
    make_paired_demo(out_dir, seed, layout="folders")


ALIGNED_SPEC = DatasetFormatSpec(
    name=ALIGNED,
    summary="Paired A|B images side by side (pix2pix layout): train/ (+ val/, test/)",
    keys=KEYS,
    validate=validate_aligned,
    build=build_aligned,
    demo=make_paired_demo,
    demo_kind="paired",
)

PAIRED_FOLDERS_SPEC = DatasetFormatSpec(
    name=PAIRED_FOLDERS,
    summary="Paired images in trainA/ + trainB/ (+ testA/, testB/) matched by file name",
    keys=KEYS,
    validate=validate_paired_folders,
    build=build_paired_folders,
    demo=make_paired_folders_demo,
)


@hookimpl
def i2i_register_dataset_formats(registrar: Registrar) -> None:
    """Register the ``aligned`` and ``paired_folders`` formats."""
    registrar.add(ALIGNED, ALIGNED_SPEC)
    registrar.add(PAIRED_FOLDERS, PAIRED_FOLDERS_SPEC)


__all__ = [
    "ALIGNED",
    "ALIGNED_SPEC",
    "KEYS",
    "PAIRED_FOLDERS",
    "PAIRED_FOLDERS_SPEC",
    "AlignedDataset",
    "PairedDataset",
    "PairedFoldersDataset",
    "StemMatch",
    "aligned_folder",
    "build_aligned",
    "build_paired_folders",
    "make_paired_folders_demo",
    "match_stems",
    "paired_folders",
    "validate_aligned",
    "validate_paired_folders",
]
