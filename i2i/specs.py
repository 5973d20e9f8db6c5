"""The specs a plugin registers: model families and dataset formats.

These are plain frozen dataclasses. A plugin builds one and hands it to the registrar it receives
in :func:`i2i.hookspecs.i2i_register_models` / :func:`i2i.hookspecs.i2i_register_dataset_formats`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from i2i.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    from torch.utils.data import Dataset

    from i2i.manager import Context
    from i2i.model import GANModel


@dataclasses.dataclass(frozen=True)
class InferenceInfo:
    """What the inference module of one direction takes and returns.

    Attributes:
        inputs: Input kinds in order: ``"image"``, ``"label"``, ``"noise"``, ``"class"``.
        in_channels: Channels of the input image (or label classes for label maps).
        out_channels: Channels of the output image.
        stride: Input height and width must be multiples of this (translate pads, then crops).
        scale: Output size / input size (e.g. 4 for x4 super-resolution).
        value_range: Range of input and output pixel values (i2i uses (-1, 1)).
        direction: ``"AtoB"``, ``"BtoA"`` or another family-defined name.
        num_classes: Class count for ``"class"`` inputs (0 when there is none). For ``"noise"``
            inputs ``in_channels`` is the noise dimension.
    """

    inputs: tuple[str, ...]
    in_channels: int
    out_channels: int
    stride: int = 1
    scale: int = 1
    value_range: tuple[float, float] = (-1.0, 1.0)
    direction: str = "AtoB"
    num_classes: int = 0


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
    """

    split: str = "train"
    size: int = 256
    load_size: int = 286
    channels: Mapping[str, int] = dataclasses.field(default_factory=lambda: {"A": 3, "B": 3})
    flip: bool = True
    strict: bool = False
    load_image: Callable[[Path, int], np.ndarray] | None = None
    params: Mapping[str, Any] = dataclasses.field(default_factory=dict)


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
