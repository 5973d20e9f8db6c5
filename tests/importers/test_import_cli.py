"""``i2i import`` end to end: CLI output, translate (+ tiling), export with ONNX parity against
the reference forward, eval, and one-line errors for bad files."""

from __future__ import annotations

import json
import os
import pickle

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from i2i.cli.app import build_app
from i2i.datasets.image_io import write_image


@pytest.fixture(scope="module")
def app(ctx):
    return build_app(ctx)


def cli(app, *args):
    return CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)


def one_line_error(result) -> str:
    """The one ``error:`` line (INFO log lines of loading a model may precede it)."""
    assert result.exit_code == 1, result.output
    lines = [x for x in result.output.strip().splitlines() if x.strip() and " INFO " not in x]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def _onnx_run(path, *inputs):
    import onnxruntime as ort

    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    return torch.from_numpy(
        sess.run(None, {n: x.numpy() for n, x in zip(names, inputs, strict=True)})[0]
    )


def test_real_esrgan_x2_import_translate_tile_export_eval(app, ref, tmp_path):
    sd = ref.rrdb_g(nf=8, n_blocks=1, gc=4, unshuffle=2)
    src = ref.save({"params_ema": sd}, tmp_path / "dl" / "RealESRGAN_x2plus.pth")
    run = tmp_path / "resr"
    r = cli(app, "import", src, run, "--set", "discriminator.ndf=8")
    assert r.exit_code == 0, r.output
    assert "detected (basicsr): RRDBNet in basicsr naming: x2" in r.output
    assert "pixel-unshuffle 2" in r.output and "left untrained: D" in r.output
    assert {p.name for p in run.iterdir()} >= {
        "config.toml",
        "checkpoints",
        "status.json",
        "import.json",
    }
    assert json.loads((run / "status.json").read_text())["status"] == "completed"
    assert not (run / "checkpoints" / "step_0000000" / "trainer.pt").exists()
    # translate an odd-sized image, whole and in tiles
    rng = np.random.default_rng(0)
    img = rng.random((13, 21, 3)).astype(np.float32)
    write_image(tmp_path / "in" / "a.png", img)
    for tile, out in ((0, "whole"), (10, "tiled")):
        r = cli(
            app,
            "translate",
            run,
            tmp_path / "in",
            tmp_path / out,
            "--tile",
            tile,
            "--overlap",
            2,
            "--workers",
            0,
            "--device",
            "cpu",
        )
        assert r.exit_code == 0, r.output
    from i2i.datasets.image_io import read_image

    whole = read_image(tmp_path / "whole" / "a.png", 3)
    assert whole.shape == read_image(tmp_path / "tiled" / "a.png", 3).shape == (26, 42, 3)
    # the reference on the same (8-bit) input, padded like Real-ESRGAN's mod padding (reflect)
    x = torch.from_numpy(np.round(img * 255) / 255).permute(2, 0, 1)[None].float()
    xp = torch.nn.functional.pad(x, (0, 1, 0, 1), mode="reflect")
    want = ref.rrdb_g_forward(sd, xp, 1, 2)[..., :26, :42].clamp(0, 1)[0].permute(1, 2, 0).numpy()
    assert np.abs(whole - want).max() <= 1 / 255 + 1e-6
    # export: verified, and onnxruntime equals the reference forward
    r = cli(app, "export", run, tmp_path / "x2.onnx")
    assert r.exit_code == 0 and "verified" in r.output, r.output
    x01 = torch.rand(1, 3, 10, 14, generator=torch.Generator().manual_seed(3))
    got = (_onnx_run(tmp_path / "x2.onnx", x01 * 2 - 1) + 1) / 2
    assert (got - ref.rrdb_g_forward(sd, x01, 1, 2).clamp(0, 1)).abs().max() < 1e-4
    # eval works on the imported run with data given, and says what is missing without
    write_image(tmp_path / "hr" / "b.png", rng.random((16, 20, 3)).astype(np.float32))
    r = cli(app, "eval", run, tmp_path / "hr", "--out", tmp_path / "ev", "--device", "cpu")
    assert r.exit_code == 0 and "psnr_y=" in r.output, r.output
    assert "records no training data" in one_line_error(cli(app, "eval", run))


def test_cyclegan_pair_export_parity(app, ref, tmp_path):
    folder = tmp_path / "h2z"
    ga, gb = ref.resnet_g(3, 3, ngf=4, n_blocks=2), ref.resnet_g(3, 3, ngf=4, n_blocks=2)
    ref.save(ga, folder / "latest_net_G_A.pth")
    ref.save(gb, folder / "latest_net_G_B.pth")
    r = cli(
        app,
        "import",
        folder / "latest_net_G_A.pth",
        tmp_path / "run",
        "--set",
        "discriminator.ndf=8",
    )
    assert r.exit_code == 0 and "cyclegan" in r.output and "D_A, D_B" in r.output, r.output
    r = cli(app, "export", tmp_path / "run", tmp_path / "b2a.onnx", "--direction", "BtoA")
    assert r.exit_code == 0, r.output
    x = torch.rand(2, 3, 32, 40, generator=torch.Generator().manual_seed(4)) * 2 - 1
    want = ref.resnet_g_forward(gb, x, 2, "instance", False)
    assert (_onnx_run(tmp_path / "b2a.onnx", x) - want).abs().max() < 1e-4
    assert "already exists" in one_line_error(
        cli(app, "import", folder / "latest_net_G_A.pth", tmp_path / "run")
    )


def test_spade_export_parity(app, ref, tmp_path):
    sd = ref.spade_g(sem=4, ngf=2, n_up=5, hidden=8, k=3, batch=True)
    src = ref.save(sd, tmp_path / "spade" / "latest_net_G.pth")
    r = cli(
        app, "import", src, tmp_path / "run", "--set", "label_nc=4", "--set", "discriminator.ndf=4"
    )
    assert r.exit_code == 0 and "label_nc 4" in r.output, r.output
    r = cli(app, "export", tmp_path / "run", tmp_path / "spade.onnx")
    assert r.exit_code == 0, r.output
    label = torch.randint(0, 4, (1, 1, 32, 64), generator=torch.Generator().manual_seed(5))
    want = ref.spade_g_forward(sd, ref.one_hot_semantics(label, 4, False, None), 2, 5, True)
    assert (_onnx_run(tmp_path / "spade.onnx", label) - want).abs().max() < 1e-4


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("touch pwned-by-pickle",))


def test_bad_files_fail_in_one_line(app, ref, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    good = ref.save(ref.rrdb_g(nf=8, n_blocks=1, gc=4), tmp_path / "good.pth")
    data = good.read_bytes()
    (tmp_path / "truncated.pth").write_bytes(data[: len(data) // 2])
    assert "truncated" in one_line_error(
        cli(app, "import", tmp_path / "truncated.pth", tmp_path / "o1")
    )
    with open(tmp_path / "evil.pth", "wb") as f:
        pickle.dump({"conv_first.weight": _RunsCode()}, f)
    torch.save({"w": _RunsCode()}, tmp_path / "evil_zip.pth")
    for name in ("evil.pth", "evil_zip.pth"):
        line = one_line_error(cli(app, "import", tmp_path / name, tmp_path / "o2"))
        assert "refusing to read" in line and "system" in line, line
    assert not (tmp_path / "pwned-by-pickle").exists()
    ref.save({"encoder.weight": torch.zeros(2, 2)}, tmp_path / "other.pth")
    line = one_line_error(cli(app, "import", tmp_path / "other.pth", tmp_path / "o3"))
    assert "unknown checkpoint layout (first key 'encoder.weight'" in line
    line = one_line_error(cli(app, "import", good, tmp_path / "o4", "--family", "cyclegan"))
    assert "--family cyclegan: this file is a RRDBNet" in line and "srgan" in line
    assert "unknown model family" in one_line_error(
        cli(app, "import", good, tmp_path / "o5", "--family", "nope")
    )
    assert not any((tmp_path / f"o{i}").exists() for i in range(1, 6))
