"""i2i: plugin-based image-to-image translation on PyTorch.

The public API a plugin may use (built-in plugins use nothing else)::

    import i2i
    i2i.hookimpl, i2i.ModelSpec, i2i.DatasetFormatSpec, i2i.GANModel, i2i.OptimGroup,
    i2i.InferenceInfo, i2i.opt, i2i.GeneratorConfig, i2i.DiscriminatorConfig, ...
    i2i.ExperimentLogger (base class of experiment trackers, ``--log NAME``)
    i2i.DatasetSource, i2i.SourceFile, i2i.ConvertJob (dataset sources)
    i2i.load_run, i2i.load_checkpoint (a trained model from disk)
    i2i.FolderDataset, i2i.list_image_folders, i2i.check_images, i2i.read_image, ...
    (the building blocks of dataset formats; all of them are in i2i.datasets)
    i2i.nn (primitives), i2i.errors

Every name is imported on first use (``import i2i`` itself loads no torch), so that
``i2i.testing`` (a pytest plugin loaded in every pytest session of an environment with i2i) and
the CLI start quickly.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from i2i._version import __version__

#: Defining module of every public name (imported on first access).
_EXPORTS: dict[str, tuple[str, ...]] = {
    "i2i.api": ("load_checkpoint", "load_run"),
    "i2i.config": (
        "DiscriminatorConfig",
        "GeneratorConfig",
        "OptimConfig",
        "ScheduleConfig",
        "TrainConfig",
        "conv_bias",
        "effective_load_size",
        "opt",
    ),
    "i2i.datasets.folders": (
        "FolderDataset",
        "check_images",
        "check_split",
        "child_seed",
        "dataset_root",
        "list_image_folders",
        "validate_image_folders",
    ),
    "i2i.datasets.demo": ("make_images_demo",),
    "i2i.datasets.image_io": ("convert_channels", "list_images", "read_image", "write_image"),
    "i2i.errors": (
        "ArchiveError",
        "CheckpointError",
        "ConfigError",
        "DatasetError",
        "DownloadError",
        "ExportError",
        "I2IError",
        "ImageReadError",
        "ImageTooLargeError",
        "InputError",
        "NonFiniteLossError",
        "PluginError",
    ),
    "i2i.hookspecs": ("hookimpl",),
    "i2i.manager": ("Context", "load_context", "make_plugin_manager"),
    "i2i.model": ("GANModel", "OptimGroup", "set_requires_grad"),
    "i2i.registry": ("Registrar", "Registry"),
    "i2i.specs": (
        "ConvertJob",
        "DataOptions",
        "DatasetFormatSpec",
        "DatasetReport",
        "DatasetSource",
        "DemoRecipe",
        "InferenceInfo",
        "ModelSpec",
        "SourceFile",
    ),
    "i2i.tracking.base": ("ExperimentLogger",),
    "i2i.training.checkpoint": ("LoadedModel",),
    "i2i.training.run": ("RunConfig", "RunInfo"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

if TYPE_CHECKING:  # pragma: no cover - for type checkers and editors; tests keep it in sync
    from i2i.api import load_checkpoint, load_run
    from i2i.config import (
        DiscriminatorConfig,
        GeneratorConfig,
        OptimConfig,
        ScheduleConfig,
        TrainConfig,
        conv_bias,
        effective_load_size,
        opt,
    )
    from i2i.datasets.demo import make_images_demo
    from i2i.datasets.folders import (
        FolderDataset,
        check_images,
        check_split,
        child_seed,
        dataset_root,
        list_image_folders,
        validate_image_folders,
    )
    from i2i.datasets.image_io import convert_channels, list_images, read_image, write_image
    from i2i.errors import (
        ArchiveError,
        CheckpointError,
        ConfigError,
        DatasetError,
        DownloadError,
        ExportError,
        I2IError,
        ImageReadError,
        ImageTooLargeError,
        InputError,
        NonFiniteLossError,
        PluginError,
    )
    from i2i.hookspecs import hookimpl
    from i2i.manager import Context, load_context, make_plugin_manager
    from i2i.model import GANModel, OptimGroup, set_requires_grad
    from i2i.registry import Registrar, Registry
    from i2i.specs import (
        ConvertJob,
        DataOptions,
        DatasetFormatSpec,
        DatasetReport,
        DatasetSource,
        DemoRecipe,
        InferenceInfo,
        ModelSpec,
        SourceFile,
    )
    from i2i.tracking.base import ExperimentLogger
    from i2i.training.checkpoint import LoadedModel
    from i2i.training.run import RunConfig, RunInfo

__all__ = [
    "ArchiveError",
    "CheckpointError",
    "ConfigError",
    "Context",
    "ConvertJob",
    "DataOptions",
    "DatasetError",
    "DatasetFormatSpec",
    "DatasetReport",
    "DatasetSource",
    "DemoRecipe",
    "DiscriminatorConfig",
    "DownloadError",
    "ExperimentLogger",
    "ExportError",
    "FolderDataset",
    "GANModel",
    "GeneratorConfig",
    "I2IError",
    "ImageReadError",
    "ImageTooLargeError",
    "InferenceInfo",
    "InputError",
    "LoadedModel",
    "ModelSpec",
    "NonFiniteLossError",
    "OptimConfig",
    "OptimGroup",
    "PluginError",
    "Registrar",
    "Registry",
    "RunConfig",
    "RunInfo",
    "ScheduleConfig",
    "SourceFile",
    "TrainConfig",
    "__version__",
    "check_images",
    "check_split",
    "child_seed",
    "conv_bias",
    "convert_channels",
    "dataset_root",
    "effective_load_size",
    "hookimpl",
    "list_image_folders",
    "list_images",
    "load_checkpoint",
    "load_context",
    "load_run",
    "make_images_demo",
    "make_plugin_manager",
    "opt",
    "read_image",
    "set_requires_grad",
    "validate_image_folders",
    "write_image",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'i2i' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next access is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_MODULE_OF})
