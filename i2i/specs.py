"""The specs a plugin registers: model families, dataset formats and dataset sources.

These are plain frozen dataclasses. A plugin builds one and hands it to the registrar it receives
in :func:`i2i.hookspecs.i2i_register_models` / :func:`i2i.hookspecs.i2i_register_dataset_formats`
/ :func:`i2i.hookspecs.i2i_register_dataset_sources`.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from i2i.errors import ConfigError

# owned by the torch-free runtime (exported models describe themselves with it); public here too
from i2i_runtime.imageio import DEFAULT_MAX_PIXELS
from i2i_runtime.info import InferenceInfo

__all__ = [
    "DataOptions",
    "DatasetFormatSpec",
    "DatasetReport",
    "DemoRecipe",
    "InferenceInfo",
    "ModelSpec",
]

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    from torch.utils.data import Dataset

    from i2i.manager import Context
    from i2i.model import GANModel


@dataclasses.dataclass(frozen=True)
class DemoRecipe:
    """How ``i2i demo FAMILY`` shows a family end to end on its format's offline demo data.

    The demo makes the family's dataset format's demo data (``DatasetFormatSpec.demo``), trains
    a small model for a couple of CPU minutes, then translates test folders and/or runs the
    family's evaluation, and writes the HTML results page.

    Attributes:
        steps: Training steps (the CLI's ``--steps`` overrides it).
        overrides: ``--set`` strings for a small model that learns the demo data quickly.
        train: Train options besides ``steps`` (e.g. ``{"size": 64, "batch_size": 2}``).
        translate: ``(direction, folder)`` pairs: translate the data root's ``folder`` (e.g.
            ``"testA"``) in ``direction``; their outputs go on the results page.
        evaluate: Run :attr:`ModelSpec.evaluate` on the data root (e.g. PSNR against bicubic).
        format: Dataset format whose demo data to make and train on (default: the family's
            :attr:`ModelSpec.dataset_format`), e.g. ``"paired_folders"`` so that test inputs
            are plain images.
        summary: What the demo trains, printed when it starts.
    """

    steps: int
    overrides: tuple[str, ...] = ()
    train: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    translate: tuple[tuple[str, str], ...] = ()
    evaluate: bool = False
    format: str = ""
    summary: str = ""


def ab_channels(config: Any) -> dict[str, int]:
    """The default :attr:`ModelSpec.data_channels`: ``{"A": config.input_nc, "B":
    config.output_nc}``.

    Raises:
        ConfigError: the config has no ``input_nc`` / ``output_nc`` (give the spec its own
            ``data_channels``).
    """
    try:
        return {"A": int(config.input_nc), "B": int(config.output_nc)}
    except AttributeError:
        raise ConfigError(
            f"{type(config).__name__} has no input_nc / output_nc, which the default "
            "ModelSpec.data_channels reads; add them or give the spec data_channels=..."
        ) from None


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """A model family.

    Attributes:
        name: CLI name, e.g. ``"cyclegan"`` (``i2i train NAME``).
        summary: One line shown by ``i2i models``.
        config_cls: Frozen dataclass of the family's options (fields made with :func:`i2i.opt`).
        build: ``build(config, context) -> GANModel``.
        dataset_format: Name of the dataset format it trains on (e.g. ``"unpaired"``).
        batch_keys: Keys the model reads from a batch; the dataset format must provide them
            (default ``("A", "B")``).
        data_channels: ``data_channels(config) -> {batch key: channels}`` for the dataset;
            default :func:`ab_channels` (``{"A": config.input_nc, "B": config.output_nc}``).
        directions: Inference directions; the first is the default.
        default_train: Overrides of :class:`i2i.config.TrainConfig` defaults for this family.
        tiny: ``--set`` overrides that make a tiny model (a few channels) for smoke tests and
            the contract test every registered family must pass.
        adapt_config: ``adapt_config(config, report) -> config`` fills values that come from the
            data (e.g. the class count from the dataset's :class:`DatasetReport`) before the
            model is built; the result is what config.toml and checkpoints record.
        evaluate: ``evaluate(context, loaded, data_root, out_dir) -> dict`` for ``i2i eval``
            (``loaded`` is an :class:`i2i.LoadedModel`, as :func:`i2i.load_checkpoint` returns), or
            None.
        data_params: ``data_params(config) -> {name: value}``: format-specific settings the
            dataset needs from the model config (e.g. the super-resolution scale and
            degradations), passed as :attr:`DataOptions.params`; or None.
        demo: How ``i2i demo NAME`` runs the family (:class:`DemoRecipe`), or None.
    """

    name: str
    summary: str
    config_cls: type
    build: Callable[[Any, Context], GANModel]
    dataset_format: str
    batch_keys: tuple[str, ...] = ("A", "B")
    data_channels: Callable[[Any], Mapping[str, int]] = ab_channels
    directions: tuple[str, ...] = ("AtoB",)
    default_train: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    tiny: tuple[str, ...] = ()
    adapt_config: Callable[[Any, DatasetReport], Any] | None = None
    evaluate: Callable[..., dict[str, Any]] | None = None
    data_params: Callable[[Any], Mapping[str, Any]] | None = None
    demo: DemoRecipe | None = None


@dataclasses.dataclass(frozen=True)
class DataOptions:
    """How a dataset format should load a split.

    Attributes:
        split: ``"train"`` or ``"test"`` (formats map these to their folders).
        size: Crop size (square) for training; 0 means no resize or crop (test/inference).
        load_size: Resize to this before cropping (0 = no resize); the trainer and
            ``i2i datasets check`` resolve it from ``train.size`` / ``train.load_size`` with
            :func:`i2i.effective_load_size`.
        channels: Channels per batch key, e.g. ``{"A": 3, "B": 1}``.
        flip: Random horizontal flip.
        strict: Raise on a corrupt image instead of skipping it.
        load_image: ``load_image(path, channels) -> HxWxC float32 array in [0, 1]``
            (the context's image loader; plugins can override it through a hook).
        params: Format-specific settings from the model (:attr:`ModelSpec.data_params`), e.g.
            ``{"scale": 4}`` for super-resolution; formats document the keys they read.
        max_pixels: Largest image (width x height) read; validation reports larger files and
            reading refuses them, both from the header before decoding (0 = no limit;
            ``train.max_pixels``, ``i2i datasets check --max-pixels``).
    """

    split: str = "train"
    size: int = 256
    load_size: int = 286
    channels: Mapping[str, int] = dataclasses.field(default_factory=lambda: {"A": 3, "B": 3})
    flip: bool = True
    strict: bool = False
    load_image: Callable[[Path, int], np.ndarray] | None = None
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    max_pixels: int = DEFAULT_MAX_PIXELS


@dataclasses.dataclass
class DatasetReport:
    """What validation found.

    Attributes:
        root: The dataset folder.
        format: The format's name.
        counts: Files (or samples) per folder or split, e.g. ``{"trainA": 200, "trainB": 180}``.
        problems: Findings that do not stop training (validation raises
            :class:`i2i.errors.DatasetError` for those that do), e.g. a test split without some
            class folder; ``i2i datasets check`` prints them and the trainer logs them.
        classes: Class names, when the format has classes (what ``adapt_config`` reads).
    """

    root: Path
    format: str
    counts: dict[str, int] = dataclasses.field(default_factory=dict)
    problems: list[str] = dataclasses.field(default_factory=list)
    classes: list[str] | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclasses.dataclass(frozen=True)
class DatasetFormatSpec:
    """A dataset layout on disk.

    Attributes:
        name: Format name, e.g. ``"unpaired"`` (``--format NAME``).
        summary: One line.
        keys: Batch keys its samples carry (e.g. ``("A", "B")``).
        validate: ``validate(root, options) -> DatasetReport``; raises
            :class:`i2i.errors.DatasetError` naming the offending files when unusable.
        build: ``build(root, options) -> Dataset``. Items are fetched with
            ``dataset[(index, seed)]``: all randomness of the sample (crop, flip, unpaired
            partner) derives from ``seed``, so data order and augmentation resume exactly.
            A sample is a dict of CHW float tensors in [-1, 1] per key, plus ``"skipped"`` (the
            number of corrupt files skipped to produce it).
        demo: ``demo(out_dir, seed) -> None`` writes an offline demo dataset (or None).
        demo_kind: Name of the demo for ``i2i datasets demo --kind KIND`` (default: ``name``).
    """

    name: str
    summary: str
    keys: tuple[str, ...]
    validate: Callable[[Path, DataOptions], DatasetReport]
    build: Callable[[Path, DataOptions], Dataset]
    demo: Callable[[Path, int], None] | None = None
    demo_kind: str | None = None


# -- dataset sources (``i2i datasets download / prepare``) ------------------------------------

#: Folder and file names that archives carry but datasets never want (macOS/Windows litter).
JUNK_NAMES: frozenset[str] = frozenset({"__MACOSX", ".DS_Store", "Thumbs.db", "desktop.ini"})


@dataclasses.dataclass(frozen=True)
class SourceFile:
    """One file of a :class:`DatasetSource`.

    Attributes:
        url: Direct download URL.
        name: File name (default: the URL's last path component); ``--mirror BASE`` fetches
            ``BASE/name``.
        sha256: Expected SHA-256 (hex) when published; None when unknown (then the lock file
            records what the first download got).
        size: Exact size in bytes when published, else None.
        checksum_origin: Where ``sha256``/``size`` were taken from (for ``i2i datasets info``).
    """

    url: str
    name: str = ""
    sha256: str | None = None
    size: int | None = None
    checksum_origin: str = ""

    @property
    def filename(self) -> str:
        return self.name or self.url.rstrip("/").rsplit("/", 1)[-1]


class ConvertJob:
    """What a source's converter gets: the unpacked inputs and the folder to write.

    ``inputs`` are folders holding the source's files: archives that i2i unpacked into its
    staging area (their files may be *moved*), or folders the user passed to ``i2i datasets
    prepare`` (read-only: their files are *copied*). :meth:`place` does the right one. A
    converter writes an i2i dataset of the source's format into ``out`` and may add format
    params for the final validation (``params``), arguments for the suggested train command
    (``train_args``) and lines to print (``notes``).

    Args:
        inputs: Folders to read.
        out: Empty folder to write the dataset into.
        movable: The inputs whose files belong to i2i's staging area.
        params: Initial format params (the source's).
        train_args: Initial train arguments (the source's).
        scratch: A staging folder for :meth:`unpack` (removed by the caller afterwards).
    """

    def __init__(
        self,
        inputs: Sequence[Path],
        out: Path,
        *,
        movable: Sequence[Path] = (),
        params: Mapping[str, Any] | None = None,
        train_args: Sequence[str] = (),
        scratch: Path | None = None,
    ) -> None:
        self.inputs = tuple(Path(p) for p in inputs)
        self.out = Path(out)
        self.scratch = Path(scratch) if scratch is not None else None
        self._movable = tuple(Path(p).resolve() for p in movable)
        self.params: dict[str, Any] = dict(params or {})
        self.train_args: list[str] = list(train_args)
        self.notes: list[str] = []

    def files(self, pattern: str) -> list[Path]:
        """Sorted files matching a glob pattern (e.g. ``"**/gtFine/train/*/*_labelIds.png"``)
        in every input, skipping hidden files and folders and archive litter (``__MACOSX``).
        A pattern ``**/NAME/...`` also matches in an input that is itself the folder ``NAME``."""
        found: set[Path] = set()
        for root in self.inputs:
            matches = list(root.glob(pattern))
            head, _, rest = pattern.removeprefix("**/").partition("/")
            if pattern.startswith("**/") and rest and head == root.name:
                matches += root.glob(rest)  # the input *is* the named folder (e.g. gtFine/)
            for p in matches:
                rel = p.relative_to(root).parts
                if any(x in JUNK_NAMES or x.startswith(".") for x in rel) or not p.is_file():
                    continue
                found.add(p)
        return sorted(found)

    def root_with(self, *names: str, max_depth: int = 4) -> Path | None:
        """The shallowest folder (breadth-first through the inputs, down to ``max_depth``) that
        holds every one of ``names`` (files or folders), e.g. ``root_with("trainA", "trainB")``
        finds ``horse2zebra/`` inside an unpacked ``horse2zebra.zip``; None if there is none."""
        level = [p for p in self.inputs if p.is_dir()]
        for _ in range(max_depth + 1):
            for folder in level:
                if all((folder / n).exists() for n in names):
                    return folder
            level = [
                d
                for folder in level
                for d in sorted(folder.iterdir())
                if d.is_dir()
                and not d.is_symlink()
                and d.name not in JUNK_NAMES
                and not d.name.startswith(".")
            ]
        return None

    def unpack(self, archive: Path) -> Path:
        """Safely unpack an archive found among the inputs (e.g. a zip inside a zip) into a new
        folder of the staging area, whose files may be moved; returns that folder.

        Raises:
            ArchiveError: the archive is corrupt or unsafe.
            DatasetError: this job has no staging folder.
        """
        from i2i.archive import extract_archive
        from i2i.errors import DatasetError

        if self.scratch is None:
            raise DatasetError(f"cannot unpack '{archive}': the conversion has no staging folder")
        self.scratch.mkdir(parents=True, exist_ok=True)
        dest = self.scratch / f"{sum(1 for _ in self.scratch.iterdir())}-{Path(archive).name}"
        extract_archive(archive, dest)
        self._movable = (*self._movable, dest.resolve())
        return dest

    def movable(self, path: Path) -> bool:
        """True when ``path`` lies in i2i's staging area (it may be moved)."""
        real = Path(path).resolve()
        return any(real == m or m in real.parents for m in self._movable)

    def place(self, src: Path, rel: str | Path) -> Path:
        """Put the file ``src`` at ``out / rel``: moved from staging, copied from user folders.

        Raises:
            DatasetError: ``rel`` would leave ``out`` or already exists (two inputs map to the
                same output name).
        """
        from i2i.errors import DatasetError

        dst = self.out / rel
        if ".." in Path(rel).parts or Path(rel).is_absolute():
            raise DatasetError(f"converter wrote outside the dataset folder: {rel}")
        if dst.exists():
            raise DatasetError(
                f"two input files map to the same dataset file '{Path(rel).as_posix()}' "
                f"(the second is '{src}'); the inputs hold duplicates: pass each file once"
            )
        dst.parent.mkdir(parents=True, exist_ok=True)
        if self.movable(src):
            os.replace(src, dst)
        else:
            shutil.copyfile(src, dst)
        return dst

    def place_tree(self, folder: Path, rel: str | Path = "") -> int:
        """:meth:`place` every file below ``folder`` (keeping relative paths, skipping hidden
        files and archive litter) under ``out / rel``; returns the number of files."""
        n = 0
        for p in sorted(folder.rglob("*")):
            parts = p.relative_to(folder).parts
            if any(x in JUNK_NAMES or x.startswith(".") for x in parts) or not p.is_file():
                continue
            self.place(p, Path(rel) / Path(*parts))
            n += 1
        return n


@dataclasses.dataclass(frozen=True)
class DatasetSource:
    """A dataset that ``i2i datasets download NAME DIR`` fetches (or ``i2i datasets prepare NAME
    DIR FROM...`` converts from files the user downloaded) into an i2i dataset format.

    Attributes:
        name: Catalogue name, e.g. ``"cyclegan/horse2zebra"``; the part after the last ``/``
            also works on the command line when no other source shares it.
        summary: One line.
        family: The model family that trains on it (for the printed ``i2i train`` command).
        format: The i2i dataset format the converter writes (e.g. ``"unpaired"``).
        convert: ``convert(job: ConvertJob) -> None`` turns the unpacked upstream files into
            that format.
        files: Files ``download`` fetches (and unpacks when they are archives). Empty when the
            files need an account or the acceptance of terms: then ``download`` prints
            ``manual`` and ``prepare`` is the way.
        manual: Instructions: which files to get where, then the ``prepare`` command.
        manual_files: Names of the files the instructions ask for (``prepare`` unpacks those it
            finds in a FROM folder).
        size: Approximate download size for ``i2i datasets list`` (display only).
        licence: Licence or terms in a few words.
        terms_url: Where the licence / terms of use are.
        origin: Where the data comes from (paper, project, collection).
        params: Format params for the final validation (``DataOptions.params``).
        train_args: Extra arguments of the suggested ``i2i train`` command (e.g.
            ``("--set", "direction=BtoA")``).
    """

    name: str
    summary: str
    family: str
    format: str
    convert: Callable[[ConvertJob], None]
    files: tuple[SourceFile, ...] = ()
    manual: str = ""
    manual_files: tuple[str, ...] = ()
    size: str = ""
    licence: str = ""
    terms_url: str = ""
    origin: str = ""
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    train_args: tuple[str, ...] = ()

    @property
    def downloadable(self) -> bool:
        """True when ``download`` can fetch it (no account or terms page in the way)."""
        return bool(self.files)
