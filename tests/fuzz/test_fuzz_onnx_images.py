"""Property-based fuzzing (Hypothesis) of the other files a user (or an attacker) hands to
translate: the i2i metadata of ONNX files and image headers (PNG IHDR width / height / bit depth /
colour type, ancillary chunks, truncated files). Every example ends in success or one i2i error
with a one-line message, and memory stays flat (the peak RSS of the whole property is checked).

The quick variants run in the default suite (a dozen fixed examples each); the ``fuzz``-marked
ones run hundreds of random examples (``make fuzz``).
"""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from i2i.export.metadata import build_metadata
from i2i.specs import InferenceInfo
from i2i.testing.fuzz import QUICK, flat_memory, json_values, long, outcome
from i2i_runtime.engine import OrtEngine
from i2i_runtime.imageio import check_image, read_header, read_image
from i2i_runtime.labels import read_label_map
from i2i_runtime.metadata import parse_metadata

# -- ONNX metadata ---------------------------------------------------------------------------------


def valid_props() -> dict[str, str]:
    info = InferenceInfo(("image",), 3, 3, stride=4)
    return build_metadata(info, family="cyclegan", step=7, opset=17, precision="fp32",
                          static=None, run_config={"train": {"size": 32}})  # fmt: skip


numbers = st.one_of(
    st.integers(-(2**70), 2**70).map(str),
    st.sampled_from(["0", "-1", "1", "4", "1024", "1025", "65", "nan", "1e9", " 4 ", "", "0x10"]),
    st.floats(allow_nan=True).map(str),
    st.text(max_size=12),
)
port = st.fixed_dictionaries(
    {},
    optional={
        "name": st.text(max_size=6),
        "kind": st.sampled_from(["image", "label", "instance", "style", "noise", "class", "x"]),
        "channels": st.one_of(st.integers(-3, 5000), st.text(max_size=3), st.none()),
        "value_range": st.one_of(
            st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=3), json_values
        ),
        "num_classes": st.one_of(st.integers(-2, 2_000_000), json_values),
        "dontcare": st.one_of(st.integers(-5, 300), json_values),
    },
)
ports = st.one_of(
    st.lists(port, max_size=4).map(json.dumps),
    json_values.map(json.dumps),
    st.text(max_size=30),
    st.integers(1, 300).map(lambda n: "[" * n),
)
VALUES = {
    "i2i_stride": numbers,
    "i2i_scale": numbers,
    "i2i_step": numbers,
    "i2i_num_classes": numbers,
    "i2i_opset": numbers,
    "i2i_static": st.one_of(st.text(max_size=12), st.sampled_from(["0x0", "4x", "x4", "1x1"])),
    "i2i_precision": st.one_of(
        st.sampled_from(["fp32", "fp16", "int8", "fp64"]), st.text(max_size=3)
    ),
    "i2i_direction": st.text(max_size=70),
    "i2i_inputs": ports,
    "i2i_outputs": ports,
    "i2i_verified": st.one_of(json_values.map(json.dumps), st.text(max_size=10)),
    "i2i_run_config": st.one_of(json_values.map(json.dumps), st.text(max_size=10)),
    "i2i_family": st.text(max_size=10),
}


@st.composite
def metadata_props(draw: Any) -> dict[str, str]:
    props = valid_props()
    for key in draw(st.lists(st.sampled_from(sorted(VALUES)), max_size=4, unique=True)):
        if draw(st.booleans()) and key not in ("i2i_family", "i2i_inputs"):
            props.pop(key, None)  # missing keys
        else:
            props[key] = draw(VALUES[key])
    if draw(st.integers(0, 9)) == 0:
        props.pop(draw(st.sampled_from(["i2i_family", "i2i_inputs"])))
    return props


def check_parsed(props: dict[str, str]) -> None:
    meta = outcome(lambda: parse_metadata(props, "m.onnx"))
    if isinstance(meta, Exception):
        return
    info = meta.inference_info()  # what the engine derives from it: never a bad number
    assert 1 <= info.stride <= 1024 and 1 <= info.scale <= 64
    assert info.in_channels >= 1 and info.out_channels >= 1
    lo, hi = info.value_range
    assert np.isfinite(lo) and np.isfinite(hi) and lo < hi


def test_onnx_metadata_quick() -> None:
    @QUICK
    @given(metadata_props())
    def prop(props: dict[str, str]) -> None:
        check_parsed(props)

    with flat_memory():
        prop()


@pytest.mark.fuzz
def test_onnx_metadata_long() -> None:
    @long(2000)
    @given(metadata_props())
    def prop(props: dict[str, str]) -> None:
        check_parsed(props)

    with flat_memory():
        prop()


@pytest.fixture(scope="module")
def conv_model(tmp_path_factory) -> bytes:
    """A real tiny conv net (3 -> 3 channels) exported to ONNX, without metadata."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 3, 3, padding=1), torch.nn.Tanh()).eval()
    path = tmp_path_factory.mktemp("conv") / "conv.onnx"
    torch.onnx.export(net, torch.zeros(1, 3, 8, 8), str(path), dynamo=False, opset_version=17,
                      input_names=["image"], output_names=["output"],
                      dynamic_axes={"image": {0: "n", 2: "h", 3: "w"},
                                    "output": {0: "n", 2: "h", 3: "w"}})  # fmt: skip
    return path.read_bytes()


def engine_outcome(model: bytes, props: dict[str, str], path: Path) -> bool:
    """Write the model with ``props``, open it with onnxruntime and translate a 9 x 7 image:
    success (True) or one i2i error line (False)."""
    m = onnx.load_from_string(model)
    onnx.helper.set_model_props(m, props)
    onnx.save(m, str(path))

    def translate() -> Any:
        engine = OrtEngine(path, "cpu", 1)
        x = np.zeros((1, engine.info.in_channels, 9, 7), np.float32)
        if engine.info.kind == "label":
            x = np.zeros((1, 1, 9, 7), np.int64)
        if engine.info.kind == "sampler":
            return engine
        return engine(x)

    return not isinstance(outcome(translate), Exception)


def test_onnx_files_quick(conv_model, tmp_path) -> None:
    @QUICK
    @given(metadata_props())
    def prop(props: dict[str, str]) -> None:
        engine_outcome(conv_model, props, tmp_path / "m.onnx")

    with flat_memory():
        prop()


@pytest.mark.fuzz
def test_onnx_files_long(conv_model, tmp_path) -> None:
    ran = []

    @long(400)
    @given(metadata_props())
    def prop(props: dict[str, str]) -> None:
        ran.append(engine_outcome(conv_model, props, tmp_path / "m.onnx"))

    with flat_memory():
        prop()
    assert sum(ran) >= len(ran) // 20, f"{sum(ran)} of {len(ran)} examples ran a model"


# -- image headers -----------------------------------------------------------------------------


def _chunk(tag: bytes, data: bytes, good_crc: bool = True) -> bytes:
    crc = zlib.crc32(tag + data) ^ (0 if good_crc else 1)
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)


@st.composite
def png_files(draw: Any) -> bytes:
    """PNGs with any IHDR (dimensions up to 2**31 - 1, any bit depth / colour type / flags),
    small IDAT payloads (zlib zeros, random bytes or nothing), optional ancillary chunks (also a
    zTXt that inflates to megabytes), bad CRCs and truncation anywhere."""
    side = st.one_of(st.integers(0, 40), st.integers(0, 2**31 - 1),
                     st.sampled_from([1, 2, 3, 4, 8000, 12000, 65535, 2**31 - 1]))  # fmt: skip
    w, h = draw(side), draw(side)
    bits = draw(st.one_of(st.sampled_from([1, 2, 4, 8, 16]), st.integers(0, 255)))
    color = draw(st.one_of(st.sampled_from([0, 2, 3, 4, 6]), st.integers(0, 255)))
    flags = draw(st.sampled_from([(0, 0, 0), (0, 0, 1), (1, 0, 0), (0, 1, 0), (9, 9, 9)]))
    ihdr = struct.pack(">IIBBBBB", w, h, bits, color, *flags)
    body = [_chunk(b"IHDR", ihdr, draw(st.booleans()) or draw(st.booleans()))]
    extra = draw(st.sampled_from(["none", "plte", "ztxt", "text"]))
    if extra == "plte" or color == 3:
        body.append(_chunk(b"PLTE", bytes(range(48))))
    if extra == "ztxt":  # a text chunk that inflates to 4 MB
        body.append(_chunk(b"zTXt", b"k\x00\x00" + zlib.compress(bytes(4_000_000), 9)))
    if extra == "text":
        body.append(_chunk(b"tEXt", b"Comment\x00" + draw(st.binary(max_size=40))))
    row = max(0, min(w, 64)) * 8 + 1
    payload = draw(st.sampled_from(["zeros", "random", "empty"]))
    if payload == "zeros":
        data = zlib.compress(bytes(row * max(0, min(h, 64))))
    elif payload == "random":
        data = draw(st.binary(max_size=200))
    else:
        data = b""
    body.append(_chunk(b"IDAT", data))
    body.append(_chunk(b"IEND", b""))
    file = b"\x89PNG\r\n\x1a\n" + b"".join(body)
    cut = draw(st.one_of(st.none(), st.integers(0, len(file))))
    return file if cut is None else file[:cut]


#: A limit that keeps every decode small (4 MP x at most ~60 bytes per pixel).
LIMIT = 4_000_000


def check_png(data: bytes, path: Path) -> None:
    path.write_bytes(data)
    header = outcome(lambda: read_header(path))
    image = outcome(lambda: read_image(path, 3, max_pixels=LIMIT))
    outcome(lambda: read_image(data, 1, max_pixels=LIMIT))  # bytes, as uploads are read
    outcome(lambda: read_label_map(path, max_pixels=LIMIT))
    reason, wh = check_image(path, LIMIT)
    assert reason is None or "\n" not in reason
    if not isinstance(header, Exception) and header.pixels > LIMIT:
        assert isinstance(image, Exception) and "larger than the limit" in str(image)
        assert reason is not None and wh == (header.width, header.height)
    if not isinstance(image, Exception):
        assert image.dtype == np.float32 and image.shape[2] == 3
        assert float(image.min()) >= 0.0 and float(image.max()) <= 1.0


def test_png_headers_quick(tmp_path) -> None:
    @QUICK
    @given(png_files())
    def prop(data: bytes) -> None:
        check_png(data, tmp_path / "x.png")

    with flat_memory():
        prop()


@pytest.mark.fuzz
def test_png_headers_long(tmp_path) -> None:
    @long(2000)
    @given(png_files())
    def prop(data: bytes) -> None:
        check_png(data, tmp_path / "x.png")

    with flat_memory():
        prop()


def test_known_png_bombs_and_truncations(tmp_path, png_bomb) -> None:
    """Fixed examples: bombs of every colour type, and a real PNG cut at every 997th byte."""
    with flat_memory():
        for color, bits in ((0, 8), (0, 16), (2, 8), (2, 16), (4, 16), (6, 16)):
            bomb = png_bomb(tmp_path / f"b{color}_{bits}.png", 9000, 9000, bits, color)
            err = outcome(lambda b=bomb: read_image(b))
            assert "larger than the limit of 64.0 MP" in str(err), err
            assert check_image(bomb)[1] == (9000, 9000)
        from i2i_runtime.imageio import write_image

        good = write_image(tmp_path / "good.png", np.random.default_rng(0).random((60, 70, 3)),
                           bit_depth=16).read_bytes()  # fmt: skip
        for cut in range(0, len(good), 997):
            check_png(good[:cut], tmp_path / "cut.png")
