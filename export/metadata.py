"""The i2i metadata of exported ONNX files: the torch-free runtime's
(:mod:`i2i_runtime.metadata`, which documents every key), with the exporting i2i version filled
in by :func:`build_metadata`."""

from __future__ import annotations

from typing import Any

from i2i.specs import InferenceInfo
from i2i_runtime import metadata as _meta
from i2i_runtime.metadata import (
    INPUT_NAME,
    INPUT_NAMES,
    INTEGER_INPUTS,
    OUTPUT_NAME,
    PREFIX,
    ModelMetadata,
    input_names,
    parse_metadata,
    parse_spec,
    read_metadata,
)

__all__ = [
    "INPUT_NAME",
    "INPUT_NAMES",
    "INTEGER_INPUTS",
    "OUTPUT_NAME",
    "PREFIX",
    "ModelMetadata",
    "build_metadata",
    "input_names",
    "parse_metadata",
    "parse_spec",
    "read_metadata",
]


def build_metadata(info: InferenceInfo, **kwargs: Any) -> dict[str, str]:
    """:func:`i2i_runtime.metadata.build_metadata` with ``version`` = this i2i's version."""
    from i2i import __version__

    kwargs.setdefault("version", __version__)
    return _meta.build_metadata(info, **kwargs)
