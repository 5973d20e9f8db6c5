"""``i2i metrics fid|kid|is|lpips|psnr|ssim`` and ``i2i weights list|verify`` end to end."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from i2i.cli.app import build_app


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path, Path]:
    rng = np.random.default_rng(0)
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    for i in range(4):
        x = rng.integers(0, 256, (32, 36, 3), dtype=np.uint8)
        Image.fromarray(x).save(a / f"im{i}.png")
        y = np.clip(x.astype(int) + rng.integers(-30, 31, x.shape), 0, 255).astype(np.uint8)
        Image.fromarray(y).save(b / f"im{i}.png")
    shutil.copytree(a, tmp_path / "a_copy")
    return a, b, tmp_path / "a_copy"


def _run(ctx, *args: object) -> object:
    return CliRunner().invoke(build_app(ctx), [str(a) for a in args])


def test_fid_kid_is_commands(ctx, dirs, weights_env: Path) -> None:
    a, b, a_copy = dirs
    r = _run(ctx, "metrics", "fid", a, a_copy, "--json", "--device", "cpu")
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert abs(res["fid"]) < 1e-6 and res["images_1"] == 4 and res["protocol"] == "tf"
    assert "rank-deficient" in res["note"]
    r = _run(ctx, "metrics", "kid", a, b, "--device", "cpu", "--protocol", "clean")
    assert r.exit_code == 0, r.output
    kid = float(r.stdout.strip().splitlines()[-1])  # the number is printed last
    assert np.isfinite(kid) and "subset_size=4" in r.output
    r = _run(ctx, "metrics", "is", a, "--splits", "2", "--json", "--device", "cpu")
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res["is"] >= 1.0 and res["splits"] == 2
    r = _run(ctx, "metrics", "is", a, "--device", "cpu")  # 4 images, 10 splits
    assert r.exit_code == 1 and "one image per split" in r.output


def test_paired_commands_and_csv(ctx, dirs, weights_env: Path, tmp_path: Path) -> None:
    a, b, a_copy = dirs
    r = _run(ctx, "metrics", "lpips", a, b, "--json", "--csv", tmp_path / "l.csv")
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res["lpips"] > 0 and res["images"] == 4 and res["net"] == "alex"
    assert (tmp_path / "l.csv").read_text().splitlines()[-1].startswith("mean,")
    r = _run(ctx, "metrics", "lpips", a, a_copy, "--net", "vgg")
    assert r.exit_code == 0 and float(r.stdout.strip().splitlines()[-1]) == 0.0, r.output
    r = _run(ctx, "metrics", "psnr", a, b)
    assert r.exit_code == 0 and 15 < float(r.stdout.strip().splitlines()[-1]) < 40, r.output
    r = _run(ctx, "metrics", "ssim", a, a_copy, "--json")
    assert json.loads(r.stdout.strip().splitlines()[-1])["ssim"] == pytest.approx(1.0)
    (b / "im0.png").unlink()
    r = _run(ctx, "metrics", "psnr", a, b)
    assert r.exit_code == 1 and "no partner" in r.output


def test_missing_weights_is_one_line_with_the_command(
    ctx, dirs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("I2I_WEIGHTS_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("I2I_SETTINGS", str(tmp_path / "none.toml"))
    a, b, _ = dirs
    for args in (("fid", a, b), ("kid", a, b), ("is", a)):
        r = _run(ctx, "metrics", *args)
        assert r.exit_code == 1
        line = r.output.strip()
        assert "\n" not in line and "i2i weights download inception" in line, line
    r = _run(ctx, "metrics", "lpips", a, b)
    assert r.exit_code == 1 and "i2i weights download lpips-alex" in r.output
    r = _run(ctx, "metrics", "fid", a, b, "--inception-weights", tmp_path / "x.pth")
    assert r.exit_code == 1 and "x.pth does not exist" in r.output


def test_weights_list_and_verify(ctx, weights_env: Path) -> None:
    r = _run(ctx, "weights", "list")
    assert r.exit_code == 0 and "inception" in r.output and "vgg19" in r.output
    r = _run(ctx, "weights", "verify", "inception")  # random weights: not the real file
    assert r.exit_code == 1 and "MISMATCH" in r.output and "unexpected SHA-256" in r.output
