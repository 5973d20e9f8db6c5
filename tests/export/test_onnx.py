"""ONNX export: every family, metadata, dynamic/static shapes, module conversions, fp16, int8."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from i2i.errors import ConfigError, ExportError
from i2i.export import onnx as ex
from i2i.export.metadata import INPUT_NAME, OUTPUT_NAME, read_metadata
from i2i.manager import load_context
from i2i.nn import spectral_norm
from i2i.nn.discriminators import NLayerDiscriminator
from i2i.nn.norm import InstanceNorm
from i2i.specs import InferenceInfo

FAMILIES = load_context().models.names()


@pytest.fixture
def run_of(ctx, demo_data, tiny_run, tmp_path):
    """``run_of(family)`` -> the run directory of a 1-step tiny training run."""

    def make(family: str) -> Path:
        spec = ctx.models.get(family)
        out = tmp_path / f"run-{family}"
        tiny_run(family, demo_data(spec.dataset_format), out, steps=1)
        return out

    return make


def _session(path: Path) -> ort.InferenceSession:
    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])


def _odd_multiple(n: int, stride: int) -> int:
    k = -(-n // stride)
    return stride * (k if k % 2 else k + 1)


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_exports_verified_onnx(ctx, run_of, tmp_path, family) -> None:
    from i2i.training.checkpoint import load_model

    run = run_of(family)
    out = tmp_path / "model.onnx"
    result = ex.export_onnx(ctx, run, out)

    loaded = load_model(ctx, run)
    model = loaded.model.eval()
    direction = model.inference_directions()[0]
    info = model.inference_info(direction)
    assert result.path == out and out.is_file()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp left
    assert (result.family, result.direction, result.opset) == (family, direction, 17)
    assert result.precision == "fp32" and result.static is None and result.psnr_db is None

    meta = read_metadata(out)
    assert (meta.family, meta.direction, meta.opset, meta.precision) == (
        family,
        direction,
        ex.DEFAULT_OPSET,
        "fp32",
    )
    assert (meta.stride, meta.scale, meta.static) == (info.stride, info.scale, None)
    assert meta.inference_info() == info
    assert meta.run_config["family"] == family and meta.step == 1
    assert meta.verified["tolerance"] == ex.FP32_TOLERANCE == result.tolerance
    checks = meta.verified["checks"]
    assert checks == result.checks and len(checks) >= 2
    assert len({tuple(c["shape"]) for c in checks}) == len(checks)
    assert all(0 <= c["max_abs_diff"] < 1e-4 for c in checks)

    # parity at a shape verification did not use: batch 3 (odd multiples of the stride)
    s = info.stride
    if info.inputs[0] in ("image", "label"):  # label maps: int64 ids of that size
        shape: tuple[int, ...] = (3, info.in_channels, _odd_multiple(36, s), _odd_multiple(52, s))
    else:  # noise + class samplers: batch 5
        shape = (5, info.in_channels)
    assert list(shape) not in [c["shape"] for c in checks]
    xs = ex.make_inputs(info, shape, torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = model.inference_module(direction).eval()(*xs).numpy()
    names = [i["name"] for i in meta.inputs]
    feed = {n: x.numpy() for n, x in zip(names, xs, strict=True)}
    got = _session(out).run([OUTPUT_NAME], feed)[0]
    assert got.shape == ref.shape and got.shape[:2] == (shape[0], info.out_channels)
    assert np.abs(got - ref).max() < 1e-4


def test_static_export_fixes_height_and_width(ctx, run_of, tmp_path) -> None:
    run = run_of("cyclegan")
    out = tmp_path / "static.onnx"
    result = ex.export_onnx(ctx, run, out, direction="BtoA", static=ex.parse_static("32x48"))
    meta = read_metadata(out)
    assert meta.static == result.static == (32, 48) and meta.direction == "BtoA"
    assert [c["shape"] for c in result.checks] == [[1, 3, 32, 48], [2, 3, 32, 48]]
    sess = _session(out)
    dims = [
        d.dim_param or d.dim_value
        for d in onnx.load(str(out)).graph.input[0].type.tensor_type.shape.dim
    ]
    assert dims == ["batch", 3, 32, 48]
    assert sess.run(None, {INPUT_NAME: np.zeros((2, 3, 32, 48), np.float32)})[0].shape == (
        2,
        3,
        32,
        48,
    )
    with pytest.raises(Exception, match="(?i)dimension|shape"):
        sess.run(None, {INPUT_NAME: np.zeros((1, 3, 64, 48), np.float32)})

    with pytest.raises(ConfigError, match="multiples of the network's stride 4"):
        ex.export_onnx(ctx, run, tmp_path / "bad.onnx", static=(30, 48))
    assert not (tmp_path / "bad.onnx").exists()


@pytest.mark.parametrize("text", ["256", "256x", "x256", "0x64", "64*64", "a x b", "-32x32"])
def test_parse_static_rejects_malformed(text) -> None:
    with pytest.raises(ConfigError, match="HEIGHTxWIDTH"):
        ex.parse_static(text)
    assert ex.parse_static(" 64X128 ") == (64, 128)


def test_verification_shapes_vary_batch_and_size() -> None:
    info = InferenceInfo(inputs=("image",), in_channels=1, out_channels=3, stride=48)
    a, b = ex.verification_shapes(info, None)
    assert a[0] != b[0] and a[2:] != b[2:] and a[2] != a[3]
    assert all(d % 48 == 0 and d >= 64 for d in (*a[2:], *b[2:])) and a[1] == b[1] == 1
    assert ex.verification_shapes(info, (96, 48)) == [(1, 1, 96, 48), (2, 1, 96, 48)]


def test_spectral_norm_modules_export(tmp_path) -> None:
    torch.manual_seed(0)
    gen = spectral_norm(
        nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.LeakyReLU(0.2), nn.Conv2d(8, 3, 1))
    )
    gen.add_module("legacy", nn.utils.spectral_norm(nn.Conv2d(3, 3, 3, padding=1)))
    disc = NLayerDiscriminator(3, ndf=8, n_layers=2, spectral_norm=True)
    for net in (gen, disc):
        net.train()
        for _ in range(3):  # power iterations move u/v away from their initial values
            net(torch.rand(2, 3, 32, 32))
        before = {k: v.clone() for k, v in net.state_dict().items()}
        prepared = ex.prepare_for_export(net)
        assert not any(parametrize.is_parametrized(m) for m in prepared.modules())
        assert not any(m._forward_pre_hooks for m in prepared.modules())
        assert any(parametrize.is_parametrized(m) for m in net.modules())  # original kept
        x = torch.rand(2, 3, 40, 56)
        with torch.no_grad():
            torch.testing.assert_close(prepared(x), net.eval()(x), rtol=1e-5, atol=1e-6)
        assert all(torch.equal(v, net.state_dict()[k]) for k, v in before.items())

        path = tmp_path / f"{type(net).__name__}.onnx"
        info = InferenceInfo(inputs=("image",), in_channels=3, out_channels=3)
        ex.export_module(net, path, info)
        checks = ex.verify_onnx(net, path, info, [(1, 3, 32, 48), (2, 3, 40, 40)], 1e-4)
        assert len(checks) == 2


def test_sync_batch_norm_and_dropout_are_converted(tmp_path) -> None:
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1),
        nn.ReLU(),
        nn.SyncBatchNorm(4),
        nn.Dropout(0.5),
        nn.Conv2d(4, 2, 1),
    )
    net[2].running_mean.uniform_(-1, 1)
    net[2].running_var.uniform_(0.5, 2)
    net[2].weight.data.uniform_(0.5, 1.5)
    prepared = ex.prepare_for_export(net)
    kinds = [type(m) for m in prepared]
    assert nn.SyncBatchNorm not in kinds and nn.Dropout not in kinds and nn.Identity in kinds
    assert isinstance(prepared[2], nn.BatchNorm2d) and not prepared.training
    x = torch.rand(2, 3, 16, 24)
    with torch.no_grad():
        torch.testing.assert_close(prepared(x), net.eval()(x))
    info = InferenceInfo(inputs=("image",), in_channels=3, out_channels=2)
    path = tmp_path / "sbn.onnx"
    ex.export_module(net, path, info)
    ex.verify_onnx(net, path, info, ex.verification_shapes(info, None), 1e-4)


def test_tolerance_failure_reports_max_abs_difference(ctx, run_of, tmp_path, monkeypatch) -> None:
    run = run_of("cyclegan")
    out = tmp_path / "m.onnx"
    with pytest.raises(ExportError, match=r"max abs difference \S+ exceeds tolerance 0 at shape"):
        ex.export_onnx(ctx, run, out, tolerance=0.0)
    monkeypatch.setattr(ex, "FP32_TOLERANCE", 0.0)
    with pytest.raises(ExportError, match="max abs difference") as e:
        ex.export_onnx(ctx, run, out)
    assert "\n" not in str(e.value) and not out.exists()

    result = ex.export_onnx(ctx, run, out, verify=False)
    assert result.checks == [] and read_metadata(out).verified == {}


def test_bad_requests_are_refused(ctx, run_of, tmp_path, monkeypatch) -> None:
    run = run_of("cyclegan")
    with pytest.raises(ConfigError, match=r"\.onnx"):
        ex.export_onnx(ctx, run, tmp_path / "model.safetensors")
    with pytest.raises(ConfigError, match="direction"):
        ex.export_onnx(ctx, run, tmp_path / "m.onnx", direction="sideways")
    with pytest.raises(ConfigError, match="opset"):
        ex.export_onnx(ctx, run, tmp_path / "m.onnx", opset=99)
    with pytest.raises(ConfigError, match="calibration"):
        ex.export_onnx(ctx, run, tmp_path / "m.onnx", quantize="int8")
    with pytest.raises(ConfigError, match="fp32"):
        ex.export_onnx(ctx, run, tmp_path / "m.onnx", quantize="int8", precision="fp16")

    from i2i.plugins.cyclegan import CycleGAN

    orig = CycleGAN.inference_info
    monkeypatch.setattr(
        CycleGAN,
        "inference_info",
        lambda self, d=None: InferenceInfo(
            inputs=("depth",), in_channels=5, out_channels=3, stride=orig(self, d).stride
        ),
    )
    with pytest.raises(ExportError, match=r"supports image inputs, noise \+ class samplers"):
        ex.export_onnx(ctx, run, tmp_path / "m.onnx")
    assert list(tmp_path.glob("*.onnx")) == []


def test_fp16_without_cuda_is_an_error(ctx, run_of, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ExportError, match="fp16 export needs a CUDA GPU"):
        ex.export_onnx(ctx, run_of("cyclegan"), tmp_path / "h.onnx", precision="fp16")


def _value_types(model: onnx.ModelProto) -> dict[str, int]:
    inferred = onnx.shape_inference.infer_shapes(model)
    g = inferred.graph
    types = {v.name: v.type.tensor_type.elem_type for v in [*g.value_info, *g.input, *g.output]}
    types.update({i.name: i.data_type for i in g.initializer})
    for n in g.node:
        if n.op_type == "Constant":
            types[n.output[0]] = n.attribute[0].t.data_type
    return types


def test_fp16_conversion_keeps_normalization_in_fp32(tmp_path) -> None:
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        InstanceNorm(8),
        nn.ReLU(),
        nn.BatchNorm2d(8),
        nn.GroupNorm(2, 8),
        nn.Conv2d(8, 3, 3, padding=1),
        nn.Tanh(),
    ).eval()
    net[3].running_var.fill_(2.0)
    info = InferenceInfo(inputs=("image",), in_channels=3, out_channels=3)
    fp32 = tmp_path / "fp32.onnx"
    ex.export_module(net, fp32, info)
    half = ex.convert_fp16(onnx.load(str(fp32)))
    FLOAT, FLOAT16 = onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16

    g = half.graph
    assert g.input[0].type.tensor_type.elem_type == FLOAT == g.output[0].type.tensor_type.elem_type
    inits = {i.name: i.data_type for i in g.initializer}
    convs = [n for n in g.node if n.op_type == "Conv"]
    assert len(convs) == 2 and all(inits[n.input[1]] == FLOAT16 for n in convs)
    norms = [n for n in g.node if n.op_type in ex.FP16_KEEP_FP32_OPS]
    assert {n.op_type for n in norms} >= {"InstanceNormalization", "BatchNormalization"}
    types = _value_types(half)
    for n in norms:
        assert all(types[i] == FLOAT for i in n.input if i), n.op_type
        assert all(types[o] == FLOAT for o in n.output), n.op_type

    path = tmp_path / "fp16.onnx"
    onnx.save(half, str(path))
    x = np.random.default_rng(0).uniform(-1, 1, (1, 3, 32, 48)).astype(np.float32)
    ref = _session(fp32).run(None, {INPUT_NAME: x})[0]
    got = _session(path).run(None, {INPUT_NAME: x})[0]
    assert got.dtype == np.float32 and np.abs(got - ref).max() < ex.FP16_TOLERANCE


@pytest.mark.gpu
def test_fp16_export_end_to_end(ctx, run_of, tmp_path) -> None:
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        pytest.skip("onnxruntime has no CUDA provider")
    fp32 = ex.export_onnx(ctx, run_of("cyclegan"), tmp_path / "fp32.onnx")
    result = ex.export_onnx(ctx, run_of("cyclegan"), tmp_path / "fp16.onnx", precision="fp16")
    meta = read_metadata(result.path)
    assert meta.precision == result.precision == "fp16"
    assert result.tolerance == ex.FP16_TOLERANCE
    assert all(c["max_abs_diff"] < ex.FP16_TOLERANCE for c in meta.verified["checks"])
    half = onnx.load(str(result.path))
    inits = {i.name: i.data_type for i in half.graph.initializer}
    convs = [n for n in half.graph.node if n.op_type == "Conv"]
    assert convs and all(inits[n.input[1]] == onnx.TensorProto.FLOAT16 for n in convs)
    x = np.random.default_rng(0).uniform(-1, 1, (1, 3, 36, 52)).astype(np.float32)
    ref = _session(fp32.path).run(None, {INPUT_NAME: x})[0]
    sess = ort.InferenceSession(str(result.path), providers=["CUDAExecutionProvider"])
    assert np.abs(sess.run(None, {INPUT_NAME: x})[0] - ref).max() < ex.FP16_TOLERANCE


def test_int8_quantization_reports_psnr(ctx, run_of, demo_data, tmp_path) -> None:
    run = run_of("cyclegan")
    calib = tmp_path / "calib"
    calib.mkdir()
    for p in sorted((demo_data("unpaired") / "trainA").iterdir())[:4]:
        shutil.copy(p, calib / p.name)
    fp32 = ex.export_onnx(ctx, run, tmp_path / "fp32.onnx", verify=False)
    result = ex.export_onnx(
        ctx, run, tmp_path / "int8.onnx", quantize="int8", calibration=calib, calibration_size=30
    )
    assert result.precision == "int8" and result.psnr_db is not None
    assert np.isfinite(result.psnr_db) and result.psnr_db > 10
    assert result.path.stat().st_size <= fp32.path.stat().st_size
    model = onnx.load(str(result.path))
    ops = {n.op_type for n in model.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    props = {p.key: p.value for p in model.metadata_props}
    assert float(props["i2i_int8_psnr_db"]) == pytest.approx(result.psnr_db)
    meta = read_metadata(result.path)
    assert meta.precision == "int8" and len(meta.verified["checks"]) == 2
    y = _session(result.path).run(None, {INPUT_NAME: np.zeros((2, 3, 28, 36), np.float32)})[0]
    assert y.shape == (2, 3, 28, 36)

    empty = tmp_path / "empty"
    empty.mkdir()
    for folder in (empty, tmp_path / "missing"):
        with pytest.raises(ConfigError, match="calibration folder"):
            ex.export_onnx(ctx, run, tmp_path / "q.onnx", quantize="int8", calibration=folder)
