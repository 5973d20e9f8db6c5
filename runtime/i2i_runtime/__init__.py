"""i2i-runtime: run models exported by ``i2i export`` without PyTorch.

Depends on numpy, Pillow and onnxruntime (the CPU build, ``i2i-runtime[cpu]``, or the CUDA
build, ``i2i-runtime[gpu]``); the HTTP server (``i2i-run serve``) on Starlette and uvicorn
(``i2i-runtime[serve]``). Everything about a model (channels, stride, scale, value range, label
or class inputs) is read from the metadata ``i2i export`` writes into the ONNX file.

::

    from i2i_runtime import Translator
    out = Translator("model.onnx").translate(Image.open("in.png"))

The full ``i2i`` package runs its ONNX models with this same code (one implementation of the
pre/post-processing, tiling and folder pipeline).
"""

from __future__ import annotations

__version__ = "0.1.0"

from .engine import Engine, OrtEngine
from .errors import (
    ConfigError,
    DatasetError,
    I2IError,
    ImageReadError,
    ImageTooLargeError,
    InputError,
)
from .folder import TranslateResult, translate_folder
from .info import InferenceInfo
from .metadata import ModelMetadata, read_metadata
from .translator import Translator

__all__ = [
    "ConfigError",
    "DatasetError",
    "Engine",
    "I2IError",
    "ImageReadError",
    "ImageTooLargeError",
    "InferenceInfo",
    "InputError",
    "ModelMetadata",
    "OrtEngine",
    "TranslateResult",
    "Translator",
    "__version__",
    "read_metadata",
    "translate_folder",
]
