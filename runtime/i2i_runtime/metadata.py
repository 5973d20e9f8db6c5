"""The i2i metadata stored in exported ONNX files (``metadata_props``): written by ``i2i
export``, read by every engine, so an exported model describes itself.

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

An ONNX file without these keys (not exported by ``i2i export``) is refused in one line unless
the caller describes it with an input spec (:func:`parse_spec`, ``--spec`` on the command line).

:func:`read_metadata` reads the keys straight from the file's protobuf encoding, skipping the
graph and its weights, so neither the ``onnx`` package nor a session is needed.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, BinaryIO

from .errors import ConfigError, InputError
from .info import InferenceInfo

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
        """The :class:`~i2i_runtime.info.InferenceInfo` this model was exported with."""
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
    version: str = "",
) -> dict[str, str]:
    """The ``metadata_props`` dict (all strings) for an export of ``info``.

    ``label_dontcare`` is the dontcare id accepted in a ``label`` input (-1 = none); ``version``
    the exporting i2i version.
    """
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
        "version": version or "?",
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


#: Accepted ranges of the numeric metadata (anything outside is a damaged or hand-edited file).
_LIMITS = {
    "stride": (1, 1024),
    "scale": (1, 64),
    "num_classes": (0, 1_000_000),
    "opset": (0, 1000),
    "channels": (1, 4096),
    "step": (0, 2**63 - 1),
    "dontcare": (-1, 1_000_000),
}
_PRECISIONS = ("fp32", "fp16", "int8")
_MAX_STATIC = 65536


class _Bad(ValueError):
    """One malformed value (its message names the key, the value and what is expected)."""


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _int(key: str, value: object) -> int:
    lo, hi = _LIMITS[key.rsplit(".", 1)[-1]]
    if isinstance(value, str):
        text = value.strip()
        try:
            number = int(text) if len(text) <= 30 else None
        except ValueError:
            number = None
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        number = None
    if number is None or not lo <= number <= hi:
        raise _Bad(f"i2i_{key} must be a whole number from {lo} to {hi}, got {_show(value)}")
    return number


def _json(key: str, text: str, kind: type) -> Any:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise _Bad(f"i2i_{key} is not valid JSON ({' '.join(str(e).split())[:80]})") from None
    if not isinstance(value, kind):
        name = "a JSON list" if kind is list else "a JSON object"
        raise _Bad(f"i2i_{key} must be {name}, got {type(value).__name__}")
    return value


def _value_range(key: str, value: object) -> tuple[float, float]:
    ok = (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    )
    if ok:
        lo, hi = float(value[0]), float(value[1])  # type: ignore[index]
        if math.isfinite(lo) and math.isfinite(hi) and lo < hi:
            return lo, hi
    raise _Bad(f"{key} must be [LO, HI] with finite LO < HI, got {_show(value)}")


def _port(key: str, spec: object, kinds: tuple[str, ...]) -> dict[str, Any]:
    """Check one entry of i2i_inputs / i2i_outputs."""
    if not isinstance(spec, dict):
        raise _Bad(f"i2i_{key} entries must be JSON objects, got {_show(spec)}")
    kind = spec.get("kind", "image")
    if kind not in kinds:
        raise _Bad(f"i2i_{key} has an entry of kind {_show(kind)}; known: {', '.join(kinds)}")
    if "channels" not in spec:
        raise _Bad(f"i2i_{key} entry {kind!r} has no 'channels'")
    out = dict(spec)
    out["kind"] = kind
    out["channels"] = _int(f"{key}.channels", spec["channels"])
    if "value_range" in spec:
        out["value_range"] = list(_value_range(f"i2i_{key} value_range", spec["value_range"]))
    for name in ("num_classes", "dontcare"):
        if name in spec:
            out[name] = _int(f"{key}.{name}", spec[name])
    return out


def parse_metadata(props: Mapping[str, str], source: str | Path = "") -> ModelMetadata:
    """Parse ``metadata_props`` (e.g. onnxruntime's ``get_modelmeta().custom_metadata_map``).

    Every value is checked: whole numbers in range (``i2i_stride`` 1..1024, ``i2i_scale``
    1..64, ...), valid JSON of the right shape (``i2i_inputs``: a list of objects with a known
    ``kind`` and ``channels``), inputs the engines can feed, a known precision, a static size
    ``HxW``; a damaged or hand-edited file is refused in one line naming the key.

    Raises:
        InputError: the model has no i2i metadata (not exported by ``i2i export``), or it is
            malformed.
    """
    p = {k[len(PREFIX) :]: v for k, v in props.items() if k.startswith(PREFIX)}
    what = source or "the ONNX model"
    if "family" not in p or "inputs" not in p:
        raise InputError(
            f"{what} has no i2i metadata; export it with `i2i export`, or describe it with "
            "--spec (e.g. --spec channels=3,stride=4,range=-1:1)"
        )
    try:
        return _parse(p)
    except _Bad as e:
        raise InputError(f"{what} has malformed i2i metadata: {e}; re-export it") from None


def _parse(p: Mapping[str, str]) -> ModelMetadata:
    static = None
    if p.get("static"):
        h, sep, w = p["static"].partition("x")
        try:
            static = (int(h), int(w)) if sep and len(p["static"]) <= 16 else None
        except ValueError:
            static = None
        if static is None or not all(1 <= v <= _MAX_STATIC for v in static):
            raise _Bad(f"i2i_static must be HxW (e.g. 256x256) or empty, got {_show(p['static'])}")
    inputs = _json("inputs", p["inputs"], list)
    outputs = _json("outputs", p.get("outputs") or "[]", list)
    if not 1 <= len(inputs) <= len(INPUT_NAMES):
        raise _Bad(f"i2i_inputs must list 1 to {len(INPUT_NAMES)} inputs, got {len(inputs)}")
    if not outputs:
        raise _Bad("i2i_outputs must list the output (kind, channels, value_range)")
    ins = tuple(_port("inputs", spec, tuple(INPUT_NAMES)) for spec in inputs)
    outs = tuple(_port("outputs", spec, ("image",)) for spec in outputs)
    kinds = tuple(spec["kind"] for spec in ins)
    if kinds[0] not in ("image", "label", "noise") or (
        kinds[0] != "label" and kinds not in (("image",), ("noise", "class"))
    ):
        raise _Bad(f"i2i_inputs has inputs {', '.join(kinds)}; i2i runs image, label-map and "
                   "noise + class models")  # fmt: skip
    if kinds[0] == "label" and ins[0].get("num_classes", ins[0]["channels"]) < 1:
        raise _Bad("the label input of i2i_inputs must have num_classes >= 1")
    num_classes = _int("num_classes", p.get("num_classes") or "0")
    if "class" in kinds and num_classes < 1:
        raise _Bad(f"a model with a class input needs i2i_num_classes >= 1, got {num_classes}")
    precision = p.get("precision", "fp32")
    if precision not in _PRECISIONS:
        raise _Bad(f"i2i_precision must be one of {', '.join(_PRECISIONS)}, got {_show(precision)}")
    direction = p.get("direction", "AtoB")
    if not direction or len(direction) > 64:
        raise _Bad(f"i2i_direction must be a short name (e.g. AtoB), got {_show(direction)}")
    return ModelMetadata(
        family=p["family"],
        direction=direction,
        version=p.get("version", "?"),
        step=_int("step", p.get("step") or "0"),
        inputs=ins,
        outputs=outs,
        stride=_int("stride", p.get("stride", "1")),
        scale=_int("scale", p.get("scale", "1")),
        num_classes=num_classes,
        opset=_int("opset", p.get("opset") or "0"),
        precision=precision,
        static=static,
        verified=_json("verified", p.get("verified") or "{}", dict),
        run_config=_json("run_config", p.get("run_config") or "{}", dict),
    )


# -- reading the keys from the file --------------------------------------------------------------

#: ModelProto field numbers (onnx.proto): metadata_props = 14 (StringStringEntryProto: 1 key,
#: 2 value). Everything else (graph = 7, with the weights) is skipped without being read.
_METADATA_FIELD = 14


def _varint(f: BinaryIO) -> int | None:
    shift = result = 0
    while True:
        b = f.read(1)
        if not b:
            return None if shift == 0 else _truncated()
        result |= (b[0] & 0x7F) << shift
        if not b[0] & 0x80:
            return result
        shift += 7
        if shift > 63:
            raise InputError("malformed protobuf varint")


def _truncated() -> int:
    raise InputError("the file ends in the middle of a protobuf field")


def _entry(data: bytes) -> tuple[str, str]:
    import io

    f = io.BytesIO(data)
    key = value = ""
    while (tag := _varint(f)) is not None:
        field, wire = tag >> 3, tag & 7
        if wire != 2:
            raise InputError(f"unexpected wire type {wire} in a metadata entry")
        n = _varint(f) or 0
        text = f.read(n).decode("utf-8", "replace")
        if field == 1:
            key = text
        elif field == 2:
            value = text
    return key, value


def read_metadata_props(path: str | os.PathLike[str]) -> dict[str, str]:
    """All ``metadata_props`` of an ONNX file, read from its protobuf encoding.

    Raises:
        InputError: the file is not a protobuf-encoded ONNX model.
    """
    props: dict[str, str] = {}
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        while (tag := _varint(f)) is not None:
            field, wire = tag >> 3, tag & 7
            if wire == 0:
                _varint(f)
            elif wire == 1:
                f.seek(8, os.SEEK_CUR)
            elif wire == 5:
                f.seek(4, os.SEEK_CUR)
            elif wire == 2:
                n = _varint(f)
                if n is None or f.tell() + n > size:
                    raise InputError("a protobuf field runs past the end of the file")
                if field == _METADATA_FIELD:
                    k, v = _entry(f.read(n))
                    props[k] = v
                else:
                    f.seek(n, os.SEEK_CUR)
            else:
                raise InputError(f"unexpected protobuf wire type {wire}")
            if f.tell() > size:
                raise InputError("a protobuf field runs past the end of the file")
    return props


def read_metadata(path: str | os.PathLike[str]) -> ModelMetadata:
    """Read the i2i metadata of an ONNX file without loading its weights.

    Raises:
        ConfigError: the file does not exist or is not an ONNX model.
        InputError: the model has no (or malformed) i2i metadata.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"ONNX model {path} does not exist")
    try:
        props = read_metadata_props(path)
    except InputError as e:
        raise ConfigError(f"{path} is not a readable ONNX model: {e}") from None
    return parse_metadata(props, path)


# -- describing a model without metadata ----------------------------------------------------------

_SPEC_KEYS = {
    "kind": "image | label",
    "channels": "input and output channels",
    "in_channels": "input channels (label models: the class count)",
    "out_channels": "output channels",
    "stride": "height/width multiple the network needs",
    "scale": "output size / input size",
    "range": "pixel value range LO:HI, e.g. -1:1 or 0:1",
    "num_classes": "class count of a label-map model",
    "dontcare": "dontcare id of a label-map model",
}


def parse_spec(text: str, source: str | Path = "") -> ModelMetadata:
    """Describe an ONNX model without i2i metadata: ``"channels=3,stride=4,range=-1:1"``.

    Keys (all optional): ``kind`` (``image`` or ``label``), ``channels`` (in and out),
    ``in_channels``, ``out_channels``, ``stride`` (1), ``scale`` (1), ``range`` (``-1:1``),
    ``num_classes`` and ``dontcare`` (label models).

    Raises:
        ConfigError: an unknown key or a bad value.
    """
    values: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or key not in _SPEC_KEYS:
            known = ", ".join(f"{k} ({v})" for k, v in _SPEC_KEYS.items())
            raise ConfigError(f"--spec: cannot read {part!r}; use KEY=VALUE with keys: {known}")
        values[key] = value.strip()
    try:
        kind = values.get("kind", "image")
        if kind not in ("image", "label"):
            raise ValueError(f"kind must be image or label, got {kind!r}")
        ch = int(values.get("channels", "3"))
        in_ch = int(values.get("in_channels", ch))
        out_ch = int(values.get("out_channels", ch))
        lo, _, hi = values.get("range", "-1:1").partition(":")
        value_range = (float(lo), float(hi))
        if not value_range[0] < value_range[1]:
            raise ValueError(f"range must be LO:HI with LO < HI, got {values.get('range')}")
        stride, scale = int(values.get("stride", "1")), int(values.get("scale", "1"))
        if min(stride, scale, in_ch, out_ch) < 1:
            raise ValueError("channels, stride and scale must be >= 1")
        num_classes = int(values.get("num_classes", in_ch if kind == "label" else 0))
        dontcare = int(values.get("dontcare", "-1"))
    except ValueError as e:
        raise ConfigError(f"--spec {text!r}: {e}") from None
    info = InferenceInfo(
        inputs=(kind,),
        in_channels=num_classes if kind == "label" else in_ch,
        out_channels=out_ch,
        stride=stride,
        scale=scale,
        value_range=value_range,
        num_classes=num_classes if kind == "label" else 0,
    )
    props = build_metadata(
        info,
        family="unknown",
        step=0,
        opset=0,
        precision="fp32",
        static=None,
        run_config={},
        label_dontcare=dontcare,
    )
    return parse_metadata(props, source)
