"""The i2i metadata stored in exported ONNX files (``metadata_props``), shared by the exporter
and the onnxruntime engine.

Every value is a string (ONNX requires it); structured values are JSON. Keys:

==================  ===========================================================================
``i2i_version``     i2i version that exported the model
``i2i_family``      model family (e.g. ``cyclegan``)
``i2i_direction``   translation direction (e.g. ``AtoB``)
``i2i_step``        training step of the checkpoint
``i2i_inputs``      JSON list of ``{"name", "kind", "channels", ...}`` (kind: image, label,
                    instance, style, noise, class). Label maps are ``int64 N x 1 x H x W`` class
                    ids with ``num_classes`` and ``dontcare`` (-1 = none); instance maps
                    ``int64 N x 1 x H x W`` ids (same size); images and style images float32
                    in ``value_range``
``i2i_outputs``     JSON list of ``{"name", "kind", "channels", "value_range"}``
``i2i_stride``      input height/width must be multiples of this
``i2i_scale``       output size / input size
``i2i_num_classes`` class count of a ``class`` input (0 when there is none)
``i2i_opset``       ONNX opset
``i2i_precision``   fp32 | fp16 | int8
``i2i_static``      ``HxW`` for a static-shape export, empty for dynamic batch/height/width
``i2i_verified``    JSON: ``{"tolerance": float, "checks": [{"shape": [...], "max_abs_diff": f}]}``
``i2i_run_config``  JSON run config of the checkpoint (family config included)
==================  ===========================================================================
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from i2i.errors import InputError
from i2i.specs import InferenceInfo

INPUT_NAME = "image"
OUTPUT_NAME = "output"
PREFIX = "i2i_"

#: ONNX input name of each input kind.
INPUT_NAMES = {
    "image": "image",
    "label": "label",
    "instance": "instance",
    "style": "style",
    "noise": "z",
    "class": "class",
}
#: Input kinds given as integer ids (int64), not pixel values.
INTEGER_INPUTS = ("label", "instance", "class")


def input_names(info: InferenceInfo) -> list[str]:
    """ONNX input names of ``info.inputs`` (``image``; ``label`` [+ ``instance``] [+ ``style``]
    for label maps; ``z`` and ``class`` for samplers)."""
    return [INPUT_NAMES.get(kind, f"input{i}") for i, kind in enumerate(info.inputs)]


def _input_spec(info: InferenceInfo, i: int, kind: str, dontcare: int = -1) -> dict[str, Any]:
    spec: dict[str, Any] = {"name": input_names(info)[i], "kind": kind}
    if kind == "class":
        spec.update(channels=1, num_classes=info.num_classes, dtype="int64")
    elif kind == "label":
        spec.update(channels=1, num_classes=info.num_classes, dontcare=dontcare, dtype="int64")
    elif kind == "instance":
        spec.update(channels=1, dtype="int64")
    elif kind == "style":
        spec.update(channels=info.out_channels, value_range=list(info.value_range))
    elif kind == "noise":
        spec.update(channels=info.in_channels, dtype="float32", distribution="normal(0, 1)")
    else:
        spec.update(channels=info.in_channels, value_range=list(info.value_range))
    return spec


@dataclasses.dataclass(frozen=True)
class ModelMetadata:
    """Parsed i2i metadata of an ONNX file."""

    family: str
    direction: str
    version: str
    step: int
    inputs: tuple[dict[str, Any], ...]
    outputs: tuple[dict[str, Any], ...]
    stride: int
    scale: int
    num_classes: int
    opset: int
    precision: str
    static: tuple[int, int] | None
    verified: dict[str, Any]
    run_config: dict[str, Any]

    @property
    def label_dontcare(self) -> int:
        """The dontcare id of a label-map input (-1 = none, or no label input)."""
        first = self.inputs[0] if self.inputs else {}
        return int(first.get("dontcare", -1)) if first.get("kind") == "label" else -1

    def inference_info(self) -> InferenceInfo:
        """The :class:`~i2i.specs.InferenceInfo` this model was exported with."""
        first_in, first_out = self.inputs[0], self.outputs[0]
        channels = int(first_in["channels"])
        if first_in.get("kind") == "label":  # label inputs: in_channels is the class count
            channels = int(first_in.get("num_classes", channels))
        return InferenceInfo(
            inputs=tuple(i["kind"] for i in self.inputs),
            in_channels=channels,
            out_channels=int(first_out["channels"]),
            stride=self.stride,
            scale=self.scale,
            value_range=tuple(first_out.get("value_range", (-1.0, 1.0))),  # type: ignore[arg-type]
            direction=self.direction,
            num_classes=self.num_classes,
        )


def build_metadata(
    info: InferenceInfo,
    *,
    family: str,
    step: int,
    opset: int,
    precision: str,
    static: tuple[int, int] | None,
    run_config: Mapping[str, Any],
    verified: Mapping[str, Any] | None = None,
    label_dontcare: int = -1,
) -> dict[str, str]:
    """The ``metadata_props`` dict (all strings) for an export of ``info``.

    ``label_dontcare`` is the dontcare id accepted in a ``label`` input (-1 = none).
    """
    from i2i import __version__

    inputs = [_input_spec(info, i, kind, label_dontcare) for i, kind in enumerate(info.inputs)]
    outputs = [
        {
            "name": OUTPUT_NAME,
            "kind": "image",
            "channels": info.out_channels,
            "value_range": list(info.value_range),
        }
    ]
    meta = {
        "version": __version__,
        "family": family,
        "direction": info.direction,
        "step": str(step),
        "inputs": json.dumps(inputs),
        "outputs": json.dumps(outputs),
        "stride": str(info.stride),
        "scale": str(info.scale),
        "num_classes": str(info.num_classes),
        "opset": str(opset),
        "precision": precision,
        "static": f"{static[0]}x{static[1]}" if static else "",
        "verified": json.dumps(dict(verified or {})),
        "run_config": json.dumps(dict(run_config)),
    }
    return {PREFIX + k: v for k, v in meta.items()}


def parse_metadata(props: Mapping[str, str], source: str | Path = "") -> ModelMetadata:
    """Parse ``metadata_props`` (e.g. ``onnxruntime`` ``get_modelmeta().custom_metadata_map``).

    Raises:
        InputError: the model has no i2i metadata (not exported by ``i2i export``).
    """
    p = {k[len(PREFIX) :]: v for k, v in props.items() if k.startswith(PREFIX)}
    if "family" not in p or "inputs" not in p:
        raise InputError(
            f"{source or 'the ONNX model'} has no i2i metadata; export it with `i2i export`"
        )
    static = None
    if p.get("static"):
        h, _, w = p["static"].partition("x")
        static = (int(h), int(w))
    return ModelMetadata(
        family=p["family"],
        direction=p.get("direction", "AtoB"),
        version=p.get("version", "?"),
        step=int(p.get("step", "0") or 0),
        inputs=tuple(json.loads(p["inputs"])),
        outputs=tuple(json.loads(p.get("outputs", "[]"))),
        stride=int(p.get("stride", "1")),
        scale=int(p.get("scale", "1")),
        num_classes=int(p.get("num_classes", "0") or 0),
        opset=int(p.get("opset", "0") or 0),
        precision=p.get("precision", "fp32"),
        static=static,
        verified=json.loads(p.get("verified", "{}") or "{}"),
        run_config=json.loads(p.get("run_config", "{}") or "{}"),
    )


def read_metadata(path: str | Path) -> ModelMetadata:
    """Read the i2i metadata of an ONNX file without loading its weights into a session."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return parse_metadata({p.key: p.value for p in model.metadata_props}, path)
