"""Translation is memory-safe by construction, in both engines (PyTorch checkpoints through
``i2i translate``, ONNX through ``i2i translate`` and ``i2i-run translate``):

- images are checked from their headers before decoding: four 840 KB PNGs claiming 12000 x 12000
  16-bit pixels are each reported and skipped in one line, the other images translated, the exit
  status is 1 with a summary, and the process never holds gigabytes;
- a memory budget tiles an image that would not fit whole, and the result matches the untiled
  translation within the tiling tolerance; the process's peak RSS stays within the budget;
- images at or below the network stride (1x1 .. 4x4) translate instead of aborting the folder;
- damaged i2i metadata in an ONNX file ends in one error line.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from typer.testing import CliRunner

from i2i.cli.app import build_app
from i2i.export.engine import TorchEngine
from i2i.export.onnx import export_onnx
from i2i.export.translate import translate_folder
from i2i.nn import ResnetGenerator
from i2i.specs import InferenceInfo
from i2i_runtime.cli import main as runtime_main
from i2i_runtime.errors import ConfigError
from i2i_runtime.imageio import read_image, write_image
from i2i_runtime.memory import ActivationCost, rss
from i2i_runtime.pipeline import run_folder

I2I = [sys.executable, "-m", "i2i"]
I2I_RUN = [sys.executable, "-m", "i2i_runtime.cli"]


@pytest.fixture(scope="module")
def onnx_model(ctx, one_step_run, tmp_path_factory) -> Path:
    """The tiny CycleGAN of one_step_run, exported (AtoB) with the real ``i2i export`` code."""
    out = tmp_path_factory.mktemp("onnx") / "g.onnx"
    return export_onnx(ctx, one_step_run, out).path


def photos(folder: Path, sizes: list[tuple[int, int]], seed: int = 0) -> list[Path]:
    rng = np.random.default_rng(seed)
    paths = []
    for i, (h, w) in enumerate(sizes):
        paths.append(write_image(folder / f"img{i}.png", rng.random((h, w, 3), np.float32)))
    return paths


def lines_naming(text: str, name: str) -> list[str]:
    return [ln for ln in text.splitlines() if name in ln]


# -- header checks before decoding ---------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("engine", ["torch", "onnx", "i2i-run"])
def test_four_png_bombs_are_skipped_not_decoded(
    engine, one_step_run, onnx_model, png_bomb, measured, tmp_path
) -> None:
    src = tmp_path / "in"
    photos(src, [(24, 32)] * 3)
    for i in range(4):
        png_bomb(src / f"bomb{i}.png")
    assert sum(p.stat().st_size for p in src.glob("bomb*")) < 3_500_000
    model = str(one_step_run if engine == "torch" else onnx_model)
    cmd = [*(I2I_RUN if engine == "i2i-run" else I2I), "translate", model, str(src),
           str(tmp_path / "out"), "--max-memory", "0"]  # fmt: skip
    code, out, err, peak = measured(cmd)
    text = out + err
    assert code == 1, text
    assert "Traceback" not in text
    for i in range(4):  # each bomb: one line, before decoding
        (line,) = lines_naming(text.replace("bomb0, bomb1", ""), f"bomb{i}.png'")
        assert "12000x12000 16-bit RGB PNG" in line and "checked before decoding" in line, line
    summary = text.strip().splitlines()[-1]
    assert summary.startswith("error: 4 of 7 images were not translated"), summary
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"img{i}.png" for i in range(3)]
    # decoding one would take 4.4 GB; the PyTorch CLI itself takes ~0.7 GB, i2i-run ~0.1 GB
    assert peak < (0.4e9 if engine == "i2i-run" else 1.5e9), peak


# -- the memory budget ---------------------------------------------------------------------------


def tiny_generator() -> tuple[torch.nn.Module, InferenceInfo]:
    """The tiling tests' network: no global statistics (norm none), Kaiming init."""
    torch.manual_seed(0)
    g = ResnetGenerator(3, 3, ngf=8, n_blocks=1, n_downsampling=1, norm="none")
    for m in g.modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
            torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
    return g.eval(), InferenceInfo(("image",), 3, 3, stride=g.stride)


def budget_leaving(room: int) -> int:
    """The --max-memory whose MemoryBudget leaves ``room`` bytes for images in this process
    (its available = limit - RSS - max(48 MiB, limit / 25))."""
    base = rss() or 0
    limit = base + room + 48 * 2**20
    return limit if limit // 25 <= 48 * 2**20 else int((base + room) / (1 - 1 / 25)) + 1


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return 10 * np.log10(1 / mse) if mse > 0 else float("inf")


class Counting(TorchEngine):
    """The PyTorch engine, recording the shape of every call."""

    def __init__(self, *a, **kw) -> None:
        super().__init__(*a, **kw)
        self.calls: list[tuple[int, ...]] = []

    def run(self, x: np.ndarray, *extras: np.ndarray) -> np.ndarray:
        self.calls.append(tuple(x.shape))
        return super().run(x, *extras)


def test_budget_forces_tiles_that_match_the_untiled_result(tmp_path) -> None:
    g, info = tiny_generator()
    rng = np.random.default_rng(1)
    low = torch.from_numpy(rng.random((1, 3, 60, 70), np.float32))
    smooth = torch.nn.functional.interpolate(low, size=(600, 700), mode="bicubic")[0]
    img = np.clip(smooth.permute(1, 2, 0).numpy() + 0.05 * rng.standard_normal((600, 700, 3)),
                  0, 1).astype(np.float32)  # fmt: skip
    src = write_image(tmp_path / "in" / "a.png", img, bit_depth=16)
    whole, tiled = Counting(g, info), Counting(g, info)
    run_folder(whole, [src], [tmp_path / "whole.png"], max_memory=0)
    assert whole.calls == [(1, 3, 600, 700)]
    # the measured cost of this network, and a budget with room for a third of the whole call
    from i2i_runtime.memory import probe_engine

    cost = probe_engine(tiled)
    assert isinstance(cost, ActivationCost) and cost.per_pixel > 0
    tiled.calls.clear()
    from i2i_runtime.budget import MemoryBudget

    probe = MemoryBudget(2**40, info, cost, 0)
    room = probe.need(600, 700) + probe.call_bytes(600 * 700, 1, tiled=False) // 3
    limit = budget_leaving(room)
    res = run_folder(tiled, [src], [tmp_path / "tiled.png"], max_memory=limit,
                     activation_cost=cost, overlap=16)  # fmt: skip
    assert not res.failed and len(tiled.calls) > 1, tiled.calls
    assert all(c[2] * c[3] < 600 * 700 for c in tiled.calls)
    value = psnr(read_image(tmp_path / "whole.png"), read_image(tmp_path / "tiled.png"))
    print(f"budget tiles {tiled.calls[0][2:]} x {len(tiled.calls)}: PSNR {value:.1f} dB")
    assert value >= 40.0  # the tiling tests' tolerance for networks without global statistics


def test_budget_keeps_a_smaller_user_tile(tmp_path) -> None:
    """--tile below the budget's own smallest tile (2 x overlap + 1) is used as it is."""
    g, info = tiny_generator()
    engine = Counting(g, info)
    src = photos(tmp_path / "in", [(21, 26), (30, 40)])
    res = run_folder(engine, src, [tmp_path / "a.png", tmp_path / "b.png"], tile=12, overlap=4,
                     max_memory=budget_leaving(2**30))  # fmt: skip
    assert not res.failed, res.failed
    assert engine.calls and all(c[2] <= 12 and c[3] <= 12 for c in engine.calls[-4:])
    assert read_image(tmp_path / "a.png").shape == (21, 26, 3)


def test_budget_below_the_model_is_one_line(tmp_path) -> None:
    g, info = tiny_generator()
    src = photos(tmp_path / "in", [(20, 20)])
    with pytest.raises(ConfigError, match=r"--max-memory 10 MB leaves no room for images: the "
                       r"process already takes [\d.]+ (MB|GB) with the model loaded"):  # fmt: skip
        run_folder(TorchEngine(g, info), src, [tmp_path / "o.png"], max_memory=10_000_000)


@pytest.mark.slow
def test_peak_rss_stays_within_the_budget(onnx_model, measured, tmp_path) -> None:
    """i2i-run (no PyTorch: ~0.1 GB of its own) translates a 1600 x 1500 image, whose untiled
    translation would take about 0.4 GB, within --max-memory 250MB."""
    src = tmp_path / "in"
    photos(src, [(1600, 1500), (30, 40)])
    code, out, err, peak = measured([*I2I_RUN, "translate", str(onnx_model), str(src),
                                     str(tmp_path / "out"), "--max-memory", "250MB"])  # fmt: skip
    assert code == 0, err
    assert "tiles" in err and "to stay within --max-memory 250 MB" in err, err
    print(f"peak RSS {peak / 1e6:.0f} MB within --max-memory 250MB")
    assert peak <= 250e6, err
    assert read_image(tmp_path / "out" / "img0.png").shape == (1600, 1500, 3)


# -- images at or below the stride -----------------------------------------------------------------


@pytest.mark.parametrize("engine", ["torch", "onnx"])
def test_tiny_images_do_not_abort_a_folder(ctx, engine, one_step_run, onnx_model, tmp_path):
    src = tmp_path / "in"
    sizes = [(40, 48), (1, 1), (2, 2), (3, 3), (4, 4), (1, 9), (36, 44)]
    photos(src, sizes)
    source = one_step_run if engine == "torch" else onnx_model
    res = translate_folder(ctx, source, src, tmp_path / "out", workers=0, batch_size=1)
    assert not res.failed, res.failed
    for i, (h, w) in enumerate(sizes):
        assert read_image(tmp_path / "out" / f"img{i}.png").shape == (h, w, 3)


def test_tiny_images_with_i2i_run(onnx_model, tmp_path, capsys) -> None:
    src = tmp_path / "in"
    photos(src, [(1, 1), (2, 2), (3, 3), (4, 4), (33, 30)])
    with pytest.raises(SystemExit) as e:
        runtime_main(["translate", str(onnx_model), str(src), str(tmp_path / "out")])
    assert e.value.code == 0, capsys.readouterr().err
    assert len(list((tmp_path / "out").iterdir())) == 5


# -- damaged ONNX metadata ----------------------------------------------------------------------

BAD_METADATA = [
    ("i2i_stride", "0", "i2i_stride must be a whole number from 1 to 1024, got '0'"),
    ("i2i_stride", "-4", "i2i_stride must be a whole number from 1 to 1024, got '-4'"),
    ("i2i_scale", "9" * 40, "i2i_scale must be a whole number from 1 to 64"),
    ("i2i_inputs", "[{", "i2i_inputs is not valid JSON"),
    ("i2i_inputs", '[{"kind": "image"}]', "i2i_inputs entry 'image' has no 'channels'"),
    ("i2i_outputs", "{}", "i2i_outputs must be a JSON list, got dict"),
    ("i2i_run_config", "[" * 50_000, "i2i_run_config is not valid JSON"),
    ("i2i_static", "0x-1", "i2i_static must be HxW"),
    ("i2i_family", None, "has no i2i metadata"),
]


IDS = [f"{k}={(v or 'missing')[:8]}" for k, v, _ in BAD_METADATA]


@pytest.mark.parametrize(("key", "value", "message"), BAD_METADATA, ids=IDS)
def test_bad_onnx_metadata_is_one_line(ctx, onnx_model, key, value, message, tmp_path, capsys):
    model = onnx.load(str(onnx_model))
    props = {p.key: p.value for p in model.metadata_props}
    if value is None:
        del props[key]
    else:
        props[key] = value
    del model.metadata_props[:]
    onnx.helper.set_model_props(model, props)
    bad = tmp_path / "bad.onnx"
    onnx.save(model, str(bad))
    src = tmp_path / "in"
    photos(src, [(8, 8)])
    argv = ["translate", str(bad), str(src), str(tmp_path / "o1")]
    result = CliRunner().invoke(build_app(ctx), argv, catch_exceptions=False)
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert result.exit_code == 1 and len(lines) == 1, result.output
    assert lines[0].startswith("error: ") and message in lines[0], lines[0]
    capsys.readouterr()
    with pytest.raises(SystemExit) as e:
        runtime_main(["translate", str(bad), str(src), str(tmp_path / "o2")])
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.strip()]
    assert e.value.code == 1 and len(err) == 1 and message in err[0], err
    shutil.rmtree(tmp_path / "in")
