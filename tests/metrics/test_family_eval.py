"""``i2i eval`` for every built-in family with the (random) metric weights, the results page's
evaluation section, ``--eval-every`` during training, and the missing-weights message."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from i2i.cli.app import build_app

# family -> keys its eval.json must hold with every metric network available
EXPECTED = {
    "cyclegan": {"fid_AtoB", "fid_BtoA", "kid_AtoB", "kid_BtoA"},
    "pix2pix": {"fid", "kid", "lpips", "psnr", "ssim"},
    "spade": {"fid", "kid", "lpips", "psnr", "ssim"},
    "srgan": {"psnr_y", "ssim_y", "lpips", "bicubic_lpips", "bicubic_psnr_y"},
    # cgan: tests/plugins/test_cgan.py (its eval trains a classifier, done once there)
}


@pytest.mark.parametrize("family", list(EXPECTED))
def test_eval_reports_the_family_metrics(
    family: str, ctx, demo_data, tiny_run, tmp_path: Path, weights_env: Path
) -> None:
    spec = ctx.models.get(family)
    run = tmp_path / "run"
    tiny_run(family, demo_data(spec.dataset_format), run, steps=1)
    r = CliRunner().invoke(
        build_app(ctx), ["eval", str(run), "--device", "cpu", "--max-images", "3"]
    )
    assert r.exit_code == 0, r.output
    report = json.loads((run / "eval" / "eval.json").read_text())
    assert EXPECTED[family] <= set(report), sorted(report)
    assert report["family"] == family and report["step"] == 1
    assert "skipped" not in report
    assert isinstance(report["score"]["value"], float)
    assert (run / "eval" / "nearest.png").is_file()
    assert report["examples"]["best"] and report["examples"]["worst"]
    for entry in report["examples"]["best"]:
        assert all((run / "eval" / f).is_file() for f in entry["files"])
    page = (run / "index.html").read_text()
    assert 'id="evaluation"' in page and "nearest training images" in page


def test_eval_without_weights_skips_or_names_the_missing_file(
    ctx, demo_data, tiny_run, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("I2I_WEIGHTS_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("I2I_SETTINGS", str(tmp_path / "none.toml"))
    run = tmp_path / "run"
    tiny_run("pix2pix", demo_data("aligned"), run, steps=1)
    app, runner = build_app(ctx), CliRunner()
    r = runner.invoke(app, ["eval", str(run), "--device", "cpu", "--max-images", "2"])
    assert r.exit_code == 0, r.output
    report = json.loads((run / "eval" / "eval.json").read_text())
    assert {"psnr", "ssim"} <= set(report) and "fid" not in report
    assert set(report["skipped"]) == {"fid", "kid", "lpips"}
    assert "i2i weights download inception" in report["skipped"]["fid"]
    r = runner.invoke(app, ["eval", str(run), "--device", "cpu", "--metrics", "fid"])
    assert r.exit_code == 1
    line = r.output.strip()
    assert "\n" not in line and "pt_inception-2015-12-05-6726825d.pth" in line
    assert "i2i weights download inception" in line


def test_eval_every_keeps_the_best_checkpoint_and_draws_the_curve(
    ctx, demo_data, tiny_run, tmp_path: Path, weights_env: Path
) -> None:
    from i2i.training.periodic_eval import read_history

    run = tmp_path / "run"
    tiny_run("pix2pix", demo_data("aligned"), run, steps=4, eval_every=2, eval_images=3,
             keep_checkpoints=1)  # fmt: skip
    history = read_history(run)
    assert [h["step"] for h in history] == [2, 4]
    assert all(h["score"]["name"] == "fid" for h in history)
    best = min(history, key=lambda h: h["score"]["value"])
    name = (run / "checkpoints" / "best").read_text().strip()
    assert name == f"step_{best['step']:07d}"
    assert (run / "checkpoints" / name / "model.safetensors").is_file()  # kept despite keep=1
    page = (run / "index.html").read_text()
    assert "fid over training steps" in page and f"best: step {best['step']:,}" in page
