"""Shared fixtures: a plugin context, demo datasets per format, and tiny training runs.

The context and the demo data come from the i2i pytest plugin (i2i/testing/plugin.py, loaded
through its pytest11 entry point), which also runs the family contract tests of
i2i/testing/contract.py for every registered family (``i2i_contract = ["*"]`` in pyproject.toml).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch

from i2i.manager import Context
from i2i.training.run import RunInfo

torch.set_num_threads(2)


def pytest_collection_modifyitems(config: Any, items: list[Any]) -> None:
    if not torch.cuda.is_available():
        skip = pytest.mark.skip(reason="needs a CUDA GPU")
        for item in items:
            if "gpu" in item.keywords:
                item.add_marker(skip)


# -- small files that claim huge images, and measured child processes -------------------------


def write_png_bomb(
    path: Path, width: int = 12000, height: int = 12000, bits: int = 16, color_type: int = 2
) -> Path:
    """A valid PNG of ``width x height`` zero pixels (default: 12000 x 12000 16-bit RGB, 840 KB)
    whose pixels would take gigabytes to decode.

    The zlib stream repeats one full-flushed deflate block of 100 zero rows (the same bytes
    every time after a full flush), so the file is made in a fraction of a second.
    """
    import struct
    import zlib

    channels = {0: 1, 2: 3, 4: 2, 6: 4}[color_type]
    row = bytes(1 + width * channels * bits // 8)
    rows = 100 if height % 100 == 0 else 1
    block = row * rows
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)
    end = comp.flush()
    adler = 1
    for _ in range(height // rows):
        adler = zlib.adler32(block, adler)
    data = b"\x78\xda" + body * (height // rows) + end + struct.pack(">I", adler)

    def chunk(tag: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(tag + payload)
        return struct.pack(">I", len(payload)) + tag + payload + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, bits, color_type, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )
    return path


@pytest.fixture
def png_bomb() -> Callable[..., Path]:
    """:func:`write_png_bomb` as a fixture."""
    return write_png_bomb


def run_measured(cmd: list[str], timeout: float = 300) -> tuple[int, str, str, int]:
    """Run ``[sys.executable, "-m", MODULE, *args]``: (exit status, stdout, stderr, the child's
    own peak RSS in bytes; see :func:`i2i_runtime.memory.run_module_measured`)."""
    import sys

    from i2i_runtime.memory import run_module_measured

    assert cmd[:2] == [sys.executable, "-m"], cmd
    return run_module_measured(cmd[2], cmd[3:], timeout=timeout)


@pytest.fixture
def measured() -> Callable[..., tuple[int, str, str, int]]:
    """:func:`run_measured` as a fixture."""
    return run_measured


@pytest.fixture(scope="session")
def ctx(i2i_context: Context) -> Context:
    """The plugin context (the i2i pytest plugin's, shared with the contract tests)."""
    return i2i_context


@pytest.fixture(scope="session")
def demo_data(i2i_demo_data: Callable[[str], Path]) -> Callable[[str], Path]:
    """``demo_data(format_name)`` -> a demo dataset of that format (made once per session, by
    the i2i pytest plugin's fixture, so the contract tests share it)."""
    return i2i_demo_data


@pytest.fixture
def tiny_run(i2i_tiny_run: Callable[..., RunInfo]) -> Callable[..., RunInfo]:
    """``tiny_run(family, data, out, steps=2, overrides=(), resume=False, context=None,
    **train)``: the i2i pytest plugin's ``i2i_tiny_run`` (a tiny model, 32-px crops, the CPU)."""
    return i2i_tiny_run


@pytest.fixture(scope="session")
def one_step_run(ctx: Context, demo_data: Callable[[str], Path], tmp_path_factory: Any) -> Path:
    """A real 1-step tiny CycleGAN run, made once per session. Read it or copy it; never write
    into it (tests that edit checkpoints copy it first)."""
    from i2i.testing.plugin import train_tiny

    out = tmp_path_factory.mktemp("one-step") / "run"
    train_tiny("cyclegan", demo_data("unpaired"), out, steps=1, context=ctx)
    return out


# -- metric networks: randomly initialised weights files in the real layouts --------------------


def _random_inception_state(seed: int) -> dict[str, torch.Tensor]:
    """torchvision's Inception3 (1008 classes, no aux head) keys, the layout of pytorch-fid's and
    torch-fidelity's weights file, with random values that keep activations in a sane range and
    make the logits differ between images (so the Inception Score is not trivially 1)."""
    import math

    import torchvision

    net = torchvision.models.inception_v3(
        num_classes=1008, aux_logits=False, init_weights=False, weights=None
    ).eval()
    g = torch.Generator().manual_seed(seed)
    out = {}
    for k, v in net.state_dict().items():
        if k.endswith("conv.weight"):
            v = torch.randn(v.shape, generator=g) * math.sqrt(2.0 / v[0].numel())
        elif k.endswith(("bn.weight", "running_var")):
            v = 0.8 + 0.4 * torch.rand(v.shape, generator=g)
        elif k.endswith(("bn.bias", "running_mean")):
            v = 0.1 * (torch.rand(v.shape, generator=g) - 0.5)
        elif k == "fc.weight":
            v = torch.randn(v.shape, generator=g) * (80.0 / math.sqrt(2048))
        elif k == "fc.bias":
            v = torch.randn(v.shape, generator=g)
        out[k] = v.clone()
    # A random network's pool3 features share a large common part; logits along it would give
    # every image the same top class. Make the classifier blind to the features of a grey image
    # (computed with torchvision's Inception3, close enough for this) so logits vary by image.
    net.load_state_dict(out)
    pooled: list[torch.Tensor] = []
    net.avgpool.register_forward_hook(lambda _m, _i, o: pooled.append(o.flatten(1)))
    with torch.no_grad():
        net(torch.zeros(1, 3, 299, 299))
    mu = pooled[0][0]
    w = out["fc.weight"]
    out["fc.weight"] = w - (w @ mu)[:, None] * mu[None] / mu.square().sum()
    return out


def _random_lpips_files(root: Path, net: str, seed: int) -> tuple[Path, Path]:
    """The lpips package's linear-layer file (``linK.model.1.weight``, non-negative like the
    real ones) and torchvision's backbone ``features.*`` keys, random."""
    import torchvision

    builder, chans = {
        "alex": ("alexnet", (64, 192, 384, 256, 256)),
        "vgg": ("vgg16", (64, 128, 256, 512, 512)),
    }[net]
    g = torch.Generator().manual_seed(seed)
    if builder == "vgg16":
        from torchvision.models.vgg import cfgs, make_layers

        features = make_layers(cfgs["D"])
    else:
        features = torchvision.models.alexnet(weights=None).features
    backbone = {}
    for k, v in features.state_dict().items():
        fan_in = v[0].numel() if v.ndim > 1 else 1
        scale = (2.0 / fan_in) ** 0.5 if v.ndim > 1 else 0.01
        backbone[f"features.{k}"] = torch.randn(v.shape, generator=g) * scale
    lin = {
        f"lin{i}.model.1.weight": torch.rand((1, c, 1, 1), generator=g) for i, c in enumerate(chans)
    }
    torch.save(lin, root / f"lpips-v0.1-{net}.pth")
    torch.save(backbone, root / f"{builder}-random.pth")
    return root / f"lpips-v0.1-{net}.pth", root / f"{builder}-random.pth"


@pytest.fixture(scope="session")
def metric_weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Random weight files of every metric network, under the names i2i looks for in its
    weights folder (``dir`` is that folder: set ``I2I_WEIGHTS_DIR`` to it)."""
    from i2i.metrics.weights import KNOWN_WEIGHTS

    root = tmp_path_factory.mktemp("metric-weights")
    files = {"dir": root}
    files["inception"] = root / KNOWN_WEIGHTS["inception"].filename
    torch.save(_random_inception_state(0), files["inception"])
    for i, net in enumerate(("alex", "vgg")):
        lin, backbone = _random_lpips_files(root, net, seed=10 + i)
        files[f"lpips-{net}"] = lin
        tv = {"alex": "alexnet", "vgg": "vgg16"}[net]
        files[tv] = backbone.rename(root / KNOWN_WEIGHTS[tv].filename)
    return files


@pytest.fixture
def weights_env(monkeypatch: pytest.MonkeyPatch, metric_weights: dict[str, Path]) -> Path:
    """Point i2i at the random metric weights (and at no settings file)."""
    monkeypatch.setenv("I2I_WEIGHTS_DIR", str(metric_weights["dir"]))
    monkeypatch.setenv("I2I_SETTINGS", str(metric_weights["dir"] / "no-settings.toml"))
    return metric_weights["dir"]


@pytest.fixture(autouse=True)
def _no_user_metric_weights(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: Any) -> None:
    """Tests never read the user's settings file or weights folder (``weights_env`` points i2i
    at the random test weights instead)."""
    empty = tmp_path_factory.getbasetemp() / "no-weights"
    monkeypatch.setenv("I2I_WEIGHTS_DIR", str(empty))
    monkeypatch.setenv("I2I_SETTINGS", str(empty / "settings.toml"))
