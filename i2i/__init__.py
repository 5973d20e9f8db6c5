"""i2i: plugin-based image-to-image translation on PyTorch.

The public API a plugin may use (built-in plugins use nothing else)::

    import i2i
    i2i.hookimpl, i2i.ModelSpec, i2i.DatasetFormatSpec, i2i.GANModel, i2i.OptimGroup,
    i2i.InferenceInfo, i2i.opt, i2i.GeneratorConfig, i2i.DiscriminatorConfig, ...
    i2i.ExperimentLogger (base class of experiment trackers, ``--log NAME``)
    i2i.DatasetSource, i2i.SourceFile, i2i.ConvertJob (dataset sources)
    i2i.nn (primitives), i2i.errors
"""

from __future__ import annotations

__version__ = "0.1.0"

from i2i.config import (
    DiscriminatorConfig,
    GeneratorConfig,
    OptimConfig,
    ScheduleConfig,
    TrainConfig,
    conv_bias,
    opt,
)
from i2i.errors import (
    ArchiveError,
    CheckpointError,
    ConfigError,
    DatasetError,
    DownloadError,
    ExportError,
    I2IError,
    ImageReadError,
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
from i2i.training.run import RunInfo

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
    "ExperimentLogger",
    "DownloadError",
    "ExportError",
    "GANModel",
    "GeneratorConfig",
    "I2IError",
    "ImageReadError",
    "InferenceInfo",
    "InputError",
    "ModelSpec",
    "NonFiniteLossError",
    "OptimConfig",
    "OptimGroup",
    "PluginError",
    "Registrar",
    "Registry",
    "RunInfo",
    "ScheduleConfig",
    "SourceFile",
    "TrainConfig",
    "__version__",
    "conv_bias",
    "hookimpl",
    "load_context",
    "make_plugin_manager",
    "opt",
    "set_requires_grad",
]
