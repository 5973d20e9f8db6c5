"""Building blocks of image-folder dataset formats: the plumbing every built-in format uses.

A plugin's dataset format is made of the same pieces (they are public: ``i2i.datasets`` and
``i2i``), so its errors, validation and resumable sampling behave like the built-ins':

- :func:`list_image_folders` — check a dataset root and its folders and list their images; every
  mistake is one :class:`~i2i.errors.DatasetError` line (missing root, missing or misspelt
  folder with what the root holds, an empty folder with the other files found);
- :func:`check_images` — the validation of the files themselves (unreadable or truncated images,
  images smaller than the crop when nothing resizes them), as one-line problems;
  :func:`validate_image_folders` is both, for a format whose split is a few image folders;
- :class:`FolderDataset` — a ``torch`` Dataset base class: items ``dataset[(index, seed)]``,
  seeded resize/crop/flip with the same geometry for every image of a sample, and corrupt files
  skipped (or fatal with ``strict``), remembered and counted in ``"skipped"``.

Image files are read and written with :func:`~i2i.datasets.image_io.read_image` (through the
context's loader, ``DataOptions.load_image``) and :func:`~i2i.datasets.image_io.write_image`.

Example (a format with one folder of RGB images per split, ``ROOT/train/``)::

    class Images(FolderDataset):
        def __init__(self, root, options):
            super().__init__(root, options)
            folder = Path(root) / options.split
            self.samples = list_image_folders(root, {"B": folder}, format_name="rgb",
                                              expected=f"ROOT/{options.split}/ with images")["B"]

        def read_sample(self, path):
            rgb = self.read(path, 3)
            return {"A": convert_channels(rgb, 1), "B": rgb}  # a grayscale input, RGB target
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from torch.utils.data import Dataset

from i2i.errors import DatasetError, ImageReadError
from i2i.specs import DataOptions, DatasetReport

from .image_io import (
    DEFAULT_MAX_PIXELS,
    IMAGE_EXTENSIONS,
    check_image,
    format_file_list,
    limited_loader,
    list_images,
)
from .keys import parse_key

log = logging.getLogger(__name__)

T = TypeVar("T")
V = TypeVar("V")

#: A sample's files: one path, or a tuple of paths (None entries are allowed and ignored).
Item = Any

__all__ = [
    "FolderDataset",
    "check_files",
    "check_images",
    "check_split",
    "child_seed",
    "dataset_root",
    "list_image_folders",
    "root_listing",
    "validate_image_folders",
]


# -- folders -----------------------------------------------------------------------------------


def dataset_root(
    root: str | os.PathLike[str], format_name: str, layout: str, demo_kind: str | None = None
) -> Path:
    """Check that a dataset root exists and is a folder.

    Args:
        root: The dataset folder.
        format_name: The format, for the message.
        layout: What the root should hold, e.g. ``"trainA/ and trainB/"``.
        demo_kind: The ``i2i datasets demo --kind`` that makes such a folder (default: the
            format's name).

    Raises:
        DatasetError: the root is missing or a file.
    """
    root = Path(root)
    if not root.exists():
        raise DatasetError(
            f"dataset folder '{root}' does not exist; expected a '{format_name}' dataset folder "
            f"with {layout} (make one with 'i2i datasets demo --kind {demo_kind or format_name} "
            f"{root}')"
        )
    if not root.is_dir():
        raise DatasetError(
            f"dataset path '{root}' is a file, not a folder; pass the folder that holds {layout}"
        )
    return root


def check_split(split: str, format_name: str, reads: str) -> str:
    """Return ``split`` if it is a plain folder name (``train``, ``test``, ``val``, ...).

    Args:
        split: The split name (``DataOptions.split``).
        format_name: The format, for the message.
        reads: Where the format reads a split, e.g. ``"ROOT/<split>A and ROOT/<split>B"``.

    Raises:
        DatasetError: an empty name, a path separator or a leading dot.
    """
    if not split or "/" in split or os.sep in split or split.startswith("."):
        raise DatasetError(
            f"split must be a plain name like 'train' or 'test', got {split!r}; the "
            f"{format_name} format reads {reads}"
        )
    return split


def root_listing(root: Path) -> str:
    """What a folder holds (``"a/, b/, notes.txt"``, at most 5 names), for error messages."""
    names = sorted(
        e.name + ("/" if e.is_dir() else "") for e in os.scandir(root) if not e.name.startswith(".")
    )
    return format_file_list(names) if names else "nothing (the folder is empty)"


def _folder_hint(root: Path, missing: Sequence[str], extra: str) -> str:
    """Why folders may be missing: wrong case, one level too high, ``extra``, loose images."""
    dirs = {e.name.lower(): e.name for e in os.scandir(root) if e.is_dir()}
    near = [dirs[m.lower()] for m in missing if m.lower() in dirs and dirs[m.lower()] != m]
    if near:
        return f" (folder names are case-sensitive: rename {', '.join(near)})"
    nested = sorted(p.parent for p in root.glob(f"*/{missing[0]}") if p.is_dir())
    if nested:
        return f" (did you mean the dataset folder '{nested[0]}'?)"
    if extra:
        return extra
    if list_images(root, recursive=False):
        return f" (images lie directly in the root: move them into {'/, '.join(missing)}/)"
    return ""


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


def list_image_folders(
    root: str | os.PathLike[str],
    folders: Mapping[str, Path],
    *,
    format_name: str,
    expected: str,
    hint: str = "",
) -> dict[str, list[Path]]:
    """Check a dataset root and the folders of one split, and list their images.

    Images are listed with :func:`~i2i.datasets.list_images` (recursive, sorted, hidden files
    skipped).

    Args:
        root: The dataset folder.
        folders: The folder of each batch key, e.g. ``{"A": root / "trainA", "B": ...}``.
        format_name: The format, for messages.
        expected: The layout, for messages: ``"expected ROOT/trainA/ and ROOT/trainB/ ..."``.
        hint: Said when a folder is missing and neither a case nor a nesting mistake explains
            it (e.g. ``" (this looks like the aligned layout: use --format aligned)"``).

    Returns:
        The image files of each key, in the order of ``folders``.

    Raises:
        DatasetError: one line: the root is missing; folders are missing (with what the root
            holds and a hint); or folders hold no image (with the other files found).
    """
    root = dataset_root(root, format_name, expected.removeprefix("expected "))
    missing = [p for p in folders.values() if not p.is_dir()]
    if missing:
        names = [
            p.relative_to(root).as_posix() if p.is_relative_to(root) else str(p) for p in missing
        ]
        not_dirs = [n for n, p in zip(names, missing, strict=True) if p.exists()]
        extra = f" ({', '.join(not_dirs)} exists but is not a folder)" if not_dirs else ""
        raise DatasetError(
            f"{format_name} dataset '{root}' has no {' and '.join(f'{n}/' for n in names)} "
            f"folder{extra}; {expected}; found in root: {root_listing(root)}"
            f"{_folder_hint(root, names, hint)}"
        )
    files = {key: list_images(folder) for key, folder in folders.items()}
    problems = [_empty_problem(folders[k]) for k, v in files.items() if not v]
    if problems:
        raise DatasetError("; ".join(problems))
    return files


# -- validation of the files -------------------------------------------------------------------


def check_files(
    paths: Sequence[Path], max_pixels: int | None = DEFAULT_MAX_PIXELS
) -> list[tuple[str | None, tuple[int, int] | None]]:
    """:func:`~i2i.datasets.image_io.check_image` of every file (threads for long lists):
    ``(None, (width, height))`` for a good file, ``(reason, None)`` for a bad one (also for
    an image of more than ``max_pixels`` pixels, found from its header)."""

    def check(p: Path) -> tuple[str | None, tuple[int, int] | None]:
        return check_image(p, max_pixels)

    if len(paths) < 32:
        return [check(p) for p in paths]
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        return list(pool.map(check, paths, chunksize=16))


def check_images(
    root: Path,
    groups: Iterable[Sequence[Path]],
    options: DataOptions,
    small_fix: str = "set load_size >= size, lower size, or remove them",
) -> list[str]:
    """Validate image files the way the built-in formats do, without decoding them fully.

    Every file is opened (header, PNG chunks and CRCs, the whole JPEG entropy stream at 1/8
    scale), so unreadable, empty and truncated files are found before training, and so are
    images of more than ``options.max_pixels`` pixels (from the header alone). On the train
    split with no resize (``options.load_size == 0``) and a crop (``options.size > 0``), images
    smaller than the crop are problems too.

    Args:
        root: The dataset folder (files are named relative to it).
        groups: Lists of files (e.g. one per folder).
        options: Split and sizes.
        small_fix: How to fix images smaller than the crop (the end of that message).

    Returns:
        One-line problems (naming up to 5 files each, then "and N more"); empty when every file
        is usable. Raise ``DatasetError("; ".join(problems))`` to refuse the dataset.
    """
    check_small = options.split == "train" and options.load_size == 0 and options.size > 0
    bad: list[str] = []
    large: list[str] = []
    small: list[str] = []
    for paths in groups:
        for path, (reason, wh) in zip(paths, check_files(paths, options.max_pixels), strict=True):
            rel = path.relative_to(root).as_posix()
            if reason is not None:
                (large if wh is not None else bad).append(f"{rel} ({reason})")
            elif check_small and wh is not None and min(wh) < options.size:
                small.append(f"{rel} ({wh[0]}x{wh[1]})")
    problems = []
    if bad:
        problems.append(
            f"{len(bad)} unreadable image file(s) in '{root}': {format_file_list(bad)}; "
            "re-export or remove them"
        )
    if large:
        problems.append(
            f"{len(large)} image(s) in '{root}' are larger than the limit (read from their "
            f"headers, nothing decoded): {format_file_list(large)}; downscale or remove them, or "
            "raise the limit (--max-pixels N, or --set train.max_pixels=N when training)"
        )
    if small:
        problems.append(
            f"{len(small)} image(s) in '{root}' are smaller than the crop size "
            f"{options.size}x{options.size} and no resize is configured (load_size=0): "
            f"{format_file_list(small)}; {small_fix}"
        )
    return problems


def validate_image_folders(
    root: str | os.PathLike[str],
    folders: Mapping[str, Path],
    options: DataOptions,
    *,
    format_name: str,
    expected: str,
    hint: str = "",
) -> DatasetReport:
    """The whole validation of a format whose split is a few image folders:
    :func:`list_image_folders`, then :func:`check_images` of every file.

    Args:
        root: The dataset folder.
        folders: The folder of each batch key for ``options.split``.
        options: Split and sizes.
        format_name: The format, for messages and the report.
        expected: The layout, for messages (see :func:`list_image_folders`).
        hint: See :func:`list_image_folders`.

    Returns:
        A report with the image count of each folder (by its path relative to ``root``).

    Raises:
        DatasetError: one line with every problem found.
    """
    files = list_image_folders(root, folders, format_name=format_name, expected=expected, hint=hint)
    root = Path(root)
    problems = check_images(root, files.values(), options)
    if problems:
        raise DatasetError("; ".join(problems))
    counts = {folders[k].relative_to(root).as_posix(): len(v) for k, v in files.items()}
    log.info("%s dataset %s: %s", format_name, root, counts)
    return DatasetReport(root=root, format=format_name, counts=counts)


# -- datasets ----------------------------------------------------------------------------------


def child_seed(ss: np.random.SeedSequence) -> int:
    """A 64-bit integer seed from a ``SeedSequence`` (for a transform or a torch generator)."""
    return int(ss.generate_state(1, np.uint64)[0])


def _paths(item: Item) -> tuple[Path, ...]:
    items = item if isinstance(item, (tuple, list)) else (item,)
    return tuple(p for p in items if isinstance(p, (str, os.PathLike)))


class FolderDataset(Dataset):
    """Base class of image-folder datasets (every built-in format's dataset derives from it).

    Items are fetched as ``dataset[(index, seed)]`` (``dataset[i]`` means ``dataset[(i, i)]``):
    every random choice of a sample derives from its seed, so samples are the same in any
    DataLoader worker and after a resume.

    A subclass puts its samples in :attr:`samples` (one entry per sample: a file, or a tuple of
    the files that make one sample) and implements :meth:`read_sample`. The default
    :meth:`__getitem__` then

    1. splits the seed into an augmentation seed and a replacement seed;
    2. reads the sample with :meth:`first_readable`: a corrupt file raises
       :class:`~i2i.errors.ImageReadError` with ``options.strict``; otherwise it is logged, its
       sample's files are remembered (never read again by this object — each DataLoader worker
       has its own copy) and another sample, chosen from the seed, takes its place;
    3. transforms every array with the same geometry (:meth:`augment`: on the train split
       resize to ``options.load_size``, random ``options.size`` crop, random horizontal flip;
       other splits resize to ``options.size``; 0 = none) and makes CHW float32 tensors in
       [-1, 1];
    4. adds :meth:`sample_paths` and ``"skipped"`` (corrupt files skipped for this sample).

    Args:
        root: The dataset folder.
        options: Split, sizes, flip, channels, strictness and the image loader.
        samples: The samples (may also be set later, before use).
    """

    #: Names of :meth:`read_sample`'s arrays that are masks (label maps: nearest-neighbour
    #: resizing, no interpolation); the others are images.
    mask_keys: tuple[str, ...] = ()
    #: What one entry of :attr:`samples` is, for messages.
    item_noun: str = "images"

    def __init__(self, root: Path, options: DataOptions, samples: Sequence[Item] = ()) -> None:
        self.root = Path(root)
        self.options = options
        self.split = options.split
        self.train = options.split == "train"
        self.samples: list[Item] = list(samples)
        #: Files found corrupt (skipped from then on).
        self.bad_files: set[Path] = set()
        #: ``options.load_image`` (default: read_image), refusing images of more than
        #: ``options.max_pixels`` pixels before decoding them
        self._loader: Callable[[Path, int], np.ndarray] = limited_loader(
            options.load_image, options.max_pixels
        )
        self._pipelines: dict[tuple[str, ...], Any] = {}
        self._log = logging.getLogger(type(self).__module__)

    def __len__(self) -> int:
        return len(self.samples)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(root='{self.root}', split={self.split!r}, samples={len(self)})"
        )

    # -- reading -----------------------------------------------------------------------------
    def read(self, path: Path, channels: int) -> np.ndarray:
        """Decode one image through the options' loader as an ``H x W x channels`` float32 array
        in [0, 1].

        Raises:
            ImageReadError: the file cannot be decoded, or it has more than
                ``options.max_pixels`` pixels (:class:`~i2i.errors.ImageTooLargeError`).
            DatasetError: the loader (a plugin's ``i2i_load_image``) returned another shape.
        """
        arr = np.asarray(self._loader(path, channels), dtype=np.float32)
        if arr.ndim == 2:
            arr = arr[:, :, None]
        if arr.ndim != 3 or arr.shape[2] != channels:
            raise DatasetError(
                f"the image loader returned shape {arr.shape} for '{path}'; expected "
                f"H x W x {channels}; fix the plugin implementing i2i_load_image"
            )
        return arr

    def read_sample(self, item: Item) -> dict[str, np.ndarray]:
        """The arrays of one sample (``H x W x C`` float32 in [0, 1], all of one height and
        width), by batch key; the first is the main image of the transform."""
        raise NotImplementedError

    def sample_paths(self, item: Item) -> dict[str, str]:
        """Extra entries naming the files of a sample: ``{"path": ...}`` for one file,
        ``{"paths": [...]}`` for several."""
        paths = _paths(item)
        return {"path": str(paths[0])} if len(paths) == 1 else {"paths": [str(p) for p in paths]}

    def parse_key(self, key: Any) -> tuple[int, int]:
        """``(index, seed)`` of an item key (see :func:`~i2i.datasets.keys.parse_key`)."""
        return parse_key(key, len(self), type(self).__name__)

    def first_readable(
        self,
        items: Sequence[T],
        first: int,
        seed: np.random.SeedSequence,
        read: Callable[[T], V],
        *,
        among: Sequence[int] | None = None,
        where: str | os.PathLike[str] | None = None,
    ) -> tuple[V, int, int]:
        """Read ``items[first]``, or, when it holds a corrupt file, a replacement.

        Replacements are tried in a random order drawn from ``seed`` (the same for the same
        seed); files of a corrupt item are remembered in :attr:`bad_files` and never read
        again.

        Args:
            items: The candidates (files or tuples of files).
            first: Index of the wanted item.
            seed: Where the replacement order comes from.
            read: ``read(item) -> value``; raises ImageReadError for a corrupt file.
            among: Indices replacements may come from (default: all), e.g. the same class.
            where: The folder named when every candidate is unreadable (default: the root).

        Returns:
            ``(value, index of the item read, number of items skipped)``.

        Raises:
            ImageReadError: a corrupt file with ``options.strict``.
            DatasetError: every candidate is unreadable.
        """
        pool = range(len(items)) if among is None else among
        skipped = 0
        for k in self._candidates(first, pool, seed):
            files = _paths(items[k])
            if any(p in self.bad_files for p in files):
                skipped += 1
                continue
            try:
                return read(items[k]), k, skipped
            except ImageReadError as e:
                if self.options.strict:
                    raise
                self._log.warning("skipping a corrupt image (strict=False): %s", e)
                self.bad_files.update(Path(p) for p in files)
                skipped += 1
        names = sorted({Path(p).name for k in pool for p in _paths(items[k])})
        raise DatasetError(
            f"all {len(pool)} {self.item_noun} in '{where or self.root}' are unreadable (e.g. "
            f"{format_file_list(names)}); re-export them or fix the image loader (run "
            "'i2i datasets check')"
        )

    @staticmethod
    def _candidates(first: int, pool: Sequence[int], seed: np.random.SeedSequence) -> Iterator[int]:
        yield first
        order = np.random.default_rng(seed).permutation(len(pool))
        yield from (int(pool[i]) for i in order if int(pool[i]) != first)

    # -- transforms --------------------------------------------------------------------------
    def make_pipeline(self, names: tuple[str, ...]) -> Any:
        """The albumentations pipeline for arrays ``names`` (the first is the main image).

        Default: :func:`~i2i.datasets.transforms.train_pipeline` on the train split, else
        :func:`~i2i.datasets.transforms.test_pipeline`; override for another augmentation.
        """
        from .transforms import test_pipeline, train_pipeline

        targets = {n: "mask" if n in self.mask_keys else "image" for n in names[1:]}
        o = self.options
        if self.train:
            return train_pipeline(o.size, o.load_size, o.flip, additional_targets=targets)
        return test_pipeline(o.size, additional_targets=targets)

    def augment(self, seed: int, arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Transform the arrays of one sample with the same random geometry, drawn from ``seed``.

        Returns:
            The transformed arrays, by the same names.
        """
        from .transforms import apply

        names = tuple(arrays)
        if names not in self._pipelines:
            self._pipelines[names] = self.make_pipeline(names)
        main, *rest = names
        out = apply(
            self._pipelines[names], seed, image=arrays[main], **{n: arrays[n] for n in rest}
        )
        return {main: out["image"], **{n: out[n] for n in rest}}

    def __getitem__(self, key: Any) -> dict[str, Any]:
        from .transforms import to_tensor

        index, seed = self.parse_key(key)
        aug, retry = np.random.SeedSequence(seed).spawn(2)
        arrays, k, skipped = self.first_readable(self.samples, index, retry, self.read_sample)
        out = self.augment(child_seed(aug), arrays)
        sample: dict[str, Any] = {name: to_tensor(arr) for name, arr in out.items()}
        sample.update(self.sample_paths(self.samples[k]))
        sample["skipped"] = skipped
        return sample
