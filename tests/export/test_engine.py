"""Engines: input checks, onnxruntime provider choice and fallback, PyTorch/ONNX parity, bf16,
the ``i2i_open_engine`` hook, and folder translation with an ONNX file."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch

import i2i
from i2i.datasets.image_io import read_image, write_image
from i2i.errors import ConfigError, InputError
from i2i.export.engine import Engine, OrtEngine, TorchEngine, open_engine
from i2i.export.metadata import build_metadata
from i2i.export.translate import translate_folder
from i2i.manager import load_context
from i2i.specs import InferenceInfo
from i2i.training.checkpoint import load_model
from i2i.training.run import resolve_run_config
from i2i.training.trainer import Trainer

TINY_TRAIN = {"size": 32, "load_size": 36, "batch_size": 1, "workers": 0, "device": "cpu",
              "log_every": 1, "sample_every": 0, "checkpoint_every": 0, "steps": 1}  # fmt: skip


def export_onnx_file(
    module: torch.nn.Module,
    info: InferenceInfo,
    path: Path,
    static: tuple[int, int] | None = None,
) -> Path:
    """Export ``module`` with i2i metadata (what ``i2i export`` writes), dynamic unless static."""
    h, w = static or (32, 32)
    dyn = {"image": {0: "n", 2: "h", 3: "w"}, "output": {0: "n", 2: "h", 3: "w"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module.eval(),
            torch.zeros(1, info.in_channels, h, w),
            str(path),
            dynamo=False,
            opset_version=17,
            input_names=["image"],
            output_names=["output"],
            dynamic_axes=None if static else dyn,
        )
    model = onnx.load(str(path))
    meta = build_metadata(
        info, family="test", step=0, opset=17, precision="fp32", static=static, run_config={}
    )
    for k, v in meta.items():
        prop = model.metadata_props.add()
        prop.key, prop.value = k, v
    onnx.save(model, str(path))
    return path


@pytest.fixture(scope="module")
def cyclegan_run(ctx, demo_data, tmp_path_factory) -> Path:
    """A tiny CycleGAN run trained for one step."""
    spec = ctx.models.get("cyclegan")
    rc = resolve_run_config(
        spec, demo_data("unpaired"), train_options=TINY_TRAIN, overrides=list(spec.tiny)
    )
    out = tmp_path_factory.mktemp("cyclegan") / "run"
    Trainer(ctx, rc, out).fit()
    return out


@pytest.fixture(scope="module")
def cyclegan_onnx(ctx, cyclegan_run, tmp_path_factory) -> Path:
    """Its AtoB generator exported to ONNX (dynamic shapes)."""
    model = load_model(ctx, cyclegan_run).model.eval()
    path = tmp_path_factory.mktemp("onnx") / "g_AtoB.onnx"
    return export_onnx_file(model.inference_module("AtoB"), model.inference_info("AtoB"), path)


@pytest.fixture(scope="module")
def conv_onnx(tmp_path_factory) -> tuple[Path, torch.nn.Module]:
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 3, 3, padding=1), torch.nn.Tanh())
    info = InferenceInfo(inputs=("image",), in_channels=3, out_channels=3)
    return export_onnx_file(net, info, tmp_path_factory.mktemp("conv") / "conv.onnx"), net


def image(h: int = 37, w: int = 53, c: int = 3, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).random((1, c, h, w), dtype=np.float32)
    return x * 2 - 1


class Identity(Engine):
    name = "identity"
    description = "returns its input"

    def __init__(self, channels: int = 3, stride: int = 1, **kw: object) -> None:
        self.info = InferenceInfo(("image",), channels, channels, stride=stride)
        for k, v in kw.items():
            setattr(self, k, v)

    def run(self, x: np.ndarray) -> np.ndarray:
        return x


# -- input checks -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("x", "needle"),
    [
        (np.zeros((3, 8, 8), np.float32), "N x 3 x H x W"),
        (np.zeros((1, 1, 8, 8), np.float32), r"takes 3-channel images \(RGB\), got 1 channels"),
        (np.zeros((1, 4, 8, 8), np.float32), "got 4 channels"),
        (np.zeros((1, 3, 8, 8), np.float64), "got dtype float64"),
        (np.zeros((1, 3, 8, 8), np.uint8), "got dtype uint8"),
        (np.zeros((1, 3, 0, 8), np.float32), "too small"),
        (np.full((1, 3, 8, 8), np.nan, np.float32), "192 NaN or infinite"),
        (np.where(np.eye(8) > 0, np.inf, 0).astype(np.float32)[None, None].repeat(3, 1), "inf"),
        (
            np.zeros((1, 3, 64, 64), np.float32),
            r"\(4096 pixels\) is larger than the limit of 1000 pixels",
        ),
    ],
)
def test_bad_inputs_give_one_line_errors(x: np.ndarray, needle: str) -> None:
    engine = Identity(max_pixels=1000)
    with pytest.raises(InputError, match=needle) as e:
        engine(x)
    assert "\n" not in str(e.value)


def test_too_large_suggests_tiles_and_identity_pads_and_crops() -> None:
    with pytest.raises(InputError, match=r"--tile"):
        Identity(max_pixels=100)(image(11, 10))
    x = image(13, 7)
    y = Identity(stride=8)(x)  # padded to 16x8 inside, cropped back
    np.testing.assert_array_equal(y, x)


def test_static_onnx_model_needs_its_exact_size(tmp_path) -> None:
    torch.manual_seed(0)
    net = torch.nn.Conv2d(3, 3, 3, padding=1)
    info = InferenceInfo(inputs=("image",), in_channels=3, out_channels=3)
    path = export_onnx_file(net, info, tmp_path / "static.onnx", static=(32, 32))
    engine = OrtEngine(path, "cpu")
    assert engine.static == (32, 32)
    with pytest.raises(InputError, match="static input size of 32x32, got 16x16.*--tile 32"):
        engine(image(16, 16))
    x = image(32, 32)
    with torch.no_grad():
        want = net(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(engine(np.concatenate([x, x])), np.concatenate([want, want]),
                               atol=1e-5)  # fmt: skip


# -- providers --------------------------------------------------------------------------------


def test_cuda_fallback_is_loud(conv_onnx, caplog) -> None:
    path, net = conv_onnx
    x = image()
    with torch.no_grad():
        want = net(torch.from_numpy(x)).numpy()
    with caplog.at_level(logging.WARNING, logger="i2i_runtime.engine"):
        engine = OrtEngine(path, provider="cuda")
    if engine.providers[0] == "cuda":  # a machine with a working CUDA provider
        assert not engine.fallback and not caplog.records
        pytest.skip("CUDA works here: nothing falls back")
    # onnxruntime-gpu lists CUDA, but without a GPU the session silently drops it
    assert engine.fallback and engine.providers == ["cpu"]
    assert engine.description.startswith(
        "onnxruntime CPU (fallback: CUDA requested but unavailable: "
    )
    warning = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warning) == 1
    assert "CUDA was requested but the ONNX session runs on CPU" in warning[0]
    assert "--provider cpu" in warning[0]
    np.testing.assert_allclose(engine(x), want, atol=1e-5)  # still correct, on the CPU


def test_missing_provider_and_cpu_and_auto(conv_onnx, caplog, monkeypatch) -> None:
    import onnxruntime as ort

    path, _ = conv_onnx
    with caplog.at_level(logging.INFO, logger="i2i_runtime.engine"):
        cpu = OrtEngine(path, provider="cpu")
    assert cpu.description == "onnxruntime CPU" and not cpu.fallback and not caplog.records
    auto = OrtEngine(path, provider="auto")
    assert not any(r.levelno >= logging.WARNING for r in caplog.records)
    assert auto.description.startswith("onnxruntime") and auto.providers[-1] == "cpu"

    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="i2i_runtime.engine"):
        engine = OrtEngine(path, provider="tensorrt")
    assert engine.fallback and "no TensorrtExecutionProvider" in engine.description
    assert "TensorRT was requested" in caplog.records[0].getMessage()
    auto = OrtEngine(path, provider="auto")
    assert not auto.fallback and "no GPU provider installed" in auto.description

    with pytest.raises(ConfigError, match="unknown provider 'rocm'"):
        OrtEngine(path, provider="rocm")


# -- parity and precision ---------------------------------------------------------------------


def test_onnx_and_torch_engines_agree(ctx, cyclegan_run, cyclegan_onnx) -> None:
    ort_engine = open_engine(ctx, cyclegan_onnx, provider="cpu")
    torch_engine = open_engine(ctx, cyclegan_run, direction="AtoB", device="cpu")
    assert isinstance(ort_engine, OrtEngine) and ort_engine.name == "onnxruntime"
    assert isinstance(torch_engine, TorchEngine) and torch_engine.name == "torch"
    assert ort_engine.info == torch_engine.info
    x = np.concatenate([image(37, 53, seed=0), image(37, 53, seed=1)])  # any size, a batch
    a, b = ort_engine(x), torch_engine(x)
    assert a.shape == b.shape == (2, 3, 37, 53) and a.dtype == np.float32
    assert np.abs(a - b).max() < 1e-4


def test_torch_bf16_is_close_to_fp32(ctx, cyclegan_run) -> None:
    fp32 = TorchEngine.from_checkpoint(ctx, cyclegan_run, device="cpu")
    bf16 = TorchEngine.from_checkpoint(ctx, cyclegan_run, device="cpu", precision="bf16")
    assert bf16.description == "PyTorch on cpu, bf16"
    x = image(40, 48)
    a, b = fp32(x), bf16(x)
    assert b.dtype == np.float32
    assert np.abs(a - b).max() < 0.05 and np.abs(a - b).mean() < 0.01


# -- choosing an engine -----------------------------------------------------------------------


def test_open_engine_checks_options(ctx, cyclegan_run, cyclegan_onnx) -> None:
    with pytest.raises(ConfigError, match="translates AtoB"):
        open_engine(ctx, cyclegan_onnx, direction="BtoA", provider="cpu")
    with pytest.raises(ConfigError, match="--precision bf16 applies to PyTorch"):
        open_engine(ctx, cyclegan_onnx, precision="bf16")
    with pytest.raises(ConfigError, match="--provider cuda applies to ONNX"):
        open_engine(ctx, cyclegan_run, provider="cuda")
    with pytest.raises(ConfigError, match="CtoD"):
        open_engine(ctx, cyclegan_run, direction="CtoD", device="cpu")
    assert open_engine(ctx, cyclegan_onnx, device="cpu").providers == ["cpu"]


def test_a_plugin_can_supply_the_engine(tmp_path) -> None:
    seen = {}

    class Plugin:
        @i2i.hookimpl
        def i2i_open_engine(self, source, options):
            if source.suffix != ".fake":
                return None
            seen.update(options)
            return Identity(channels=1)

    ctx = load_context(entry_points=False, extra=[("fake_engine", Plugin())])
    engine = open_engine(ctx, tmp_path / "m.fake", precision="bf16")
    assert engine.name == "identity" and seen["precision"] == "bf16"
    with pytest.raises(ConfigError, match="does not exist"):  # others go to the built-in
        open_engine(ctx, tmp_path / "missing.onnx")


def test_translate_folder_with_onnx(ctx, cyclegan_run, cyclegan_onnx, tmp_path) -> None:
    src = tmp_path / "in"
    write_image(src / "a.png", np.random.default_rng(0).random((37, 53, 3), np.float32))
    write_image(src / "d" / "b.png", np.random.default_rng(1).random((40, 40, 3), np.float32))
    res = translate_folder(ctx, cyclegan_onnx, src, tmp_path / "onnx", provider="cpu")
    assert res.engine == "onnxruntime CPU" and len(res.written) == 2 and res.images_per_s > 0
    ref = translate_folder(ctx, cyclegan_run, src, tmp_path / "torch", device="cpu")
    assert ref.engine == "PyTorch on cpu, fp32"
    for rel in ("a.png", "d/b.png"):
        a = read_image(tmp_path / "onnx" / rel)
        b = read_image(tmp_path / "torch" / rel)
        assert a.shape == b.shape and np.abs(a - b).max() <= 1 / 255 + 1e-6


def test_torch_engine_folds_spectral_norm_with_the_same_outputs(ctx, demo_data, tiny_run, tmp_path):
    """A SPADE checkpoint (spectral norm in its residual blocks): the engine's module has plain
    weights (normalized once at load) and translates exactly like the model's own module."""
    from torch.nn.utils import parametrize

    tiny_run("spade", demo_data("labelmap"), tmp_path / "run", steps=2)
    engine = TorchEngine.from_checkpoint(ctx, tmp_path / "run", device="cpu")
    assert not any(parametrize.is_parametrized(m) for m in engine.module.modules())
    model = load_model(ctx, tmp_path / "run", torch.device("cpu")).model.eval()
    reference = model.inference_module(None)
    assert any(parametrize.is_parametrized(m) for m in reference.modules())
    rng = np.random.default_rng(0)
    label = np.kron(rng.integers(0, 6, (1, 1, 4, 4)), np.ones((1, 1, 8, 8), np.int64))
    with torch.inference_mode():
        expected = reference(torch.from_numpy(label)).numpy()
    np.testing.assert_allclose(engine(label), expected, atol=1e-5)
