from __future__ import annotations

import json

import pytest
import torch
from typer.testing import CliRunner

from i2i.cli.app import build_app
from i2i.config import apply_overrides
from i2i.errors import ConfigError
from i2i.export.sampling import sample, slerp
from i2i.plugins.cgan import CGAN, SPEC, CGANConfig
from i2i.training.checkpoint import load_checkpoint


def test_defaults(ctx) -> None:
    c = CGANConfig()
    assert (c.loss.gan_mode, c.optim.lr, c.optim.lr_d, c.optim.beta1) == ("hinge", 1e-4, 4e-4, 0.0)
    assert c.num_classes == 0 and c.image_size == 32 and c.ema_decay > 0
    with pytest.raises(ConfigError, match="num_classes must be >= 2"):
        CGAN(c, ctx)  # the class count comes from the data
    model = CGAN(apply_overrides(c, [*SPEC.tiny, "num_classes=3"]), ctx)
    assert model.step_groups(0) == ("D", "G")
    assert model.inference_info().inputs == ("noise", "class")
    assert model.inference_info().num_classes == 3


@pytest.fixture(scope="module")
def cgan_run(tmp_path_factory, demo_data):
    from i2i.manager import load_context
    from i2i.training.run import resolve_run_config
    from i2i.training.trainer import Trainer

    ctx = load_context()
    out = tmp_path_factory.mktemp("cgan") / "run"
    rc = resolve_run_config(
        SPEC, demo_data("classes"), overrides=list(SPEC.tiny),
        train_options={"steps": 3, "batch_size": 8, "workers": 0, "device": "cpu",
                       "log_every": 1, "sample_every": 0, "checkpoint_every": 0},
    )  # fmt: skip
    Trainer(ctx, rc, out).fit()
    return out


def test_class_count_from_data_and_ema(cgan_run) -> None:
    ckpt = load_checkpoint(cgan_run)
    assert ckpt.run_config["model"]["num_classes"] == 4  # four class folders in the demo
    assert int(ckpt.weights["G_ema.num_updates"]) == 3  # one EMA update per G step


def test_num_classes_mismatch_is_an_error(demo_data, tiny_run, tmp_path) -> None:
    with pytest.raises(ConfigError, match="num_classes is 3 but the dataset has 4"):
        tiny_run("cgan", demo_data("classes"), tmp_path / "r", steps=1,
                 overrides=("num_classes=3",))  # fmt: skip


def test_sampling_is_deterministic(ctx, cgan_run) -> None:
    a, cols = sample(ctx, cgan_run, class_id=2, n=6, seed=5, device="cpu")
    b, _ = sample(ctx, cgan_run, class_id=2, n=6, seed=5, device="cpu")
    c, _ = sample(ctx, cgan_run, class_id=2, n=6, seed=6, device="cpu")
    assert a.shape == (6, 3, 32, 32) and cols == 2
    assert torch.equal(a, b) and not torch.equal(a, c)
    grid, cols = sample(ctx, cgan_run, n=5, per_class=True, device="cpu")
    assert grid.shape[0] == 4 * 5 and cols == 5
    torch.testing.assert_close(  # per-class rows share the noise: column 0 differs by class only
        grid[0], sample(ctx, cgan_run, class_id=0, n=5, per_class=True, device="cpu")[0][0]
    )
    walk, cols = sample(ctx, cgan_run, class_id=1, n=7, interpolate=True, device="cpu")
    assert walk.shape[0] == 7 and cols == 7
    with pytest.raises(ConfigError, match=r"--class must be in \[0, 4\)"):
        sample(ctx, cgan_run, class_id=4, device="cpu")


def test_slerp_endpoints() -> None:
    a, b = torch.randn(8), torch.randn(8)
    path = slerp(a, b, torch.linspace(0, 1, 5))
    torch.testing.assert_close(path[0], a)
    torch.testing.assert_close(path[-1], b)


def test_sample_eval_and_export_cli(ctx, cgan_run, tmp_path, weights_env) -> None:
    runner, app = CliRunner(), build_app(ctx)
    out = tmp_path / "grid.png"
    r = runner.invoke(app, ["sample", str(cgan_run), str(out), "--per-class", "-n", "4",
                            "--device", "cpu"])  # fmt: skip
    assert r.exit_code == 0 and out.is_file(), r.output
    r = runner.invoke(app, ["sample", str(cgan_run), str(out)])
    assert r.exit_code == 1 and "--overwrite" in r.output
    r = runner.invoke(app, ["export", str(cgan_run), str(tmp_path / "g.onnx")])
    assert r.exit_code == 0 and "dynamic batch" in r.output, r.output
    r = runner.invoke(app, ["eval", str(cgan_run), "--out", str(tmp_path / "ev"),
                            "--device", "cpu", "--max-images", "10"])  # fmt: skip
    assert r.exit_code == 0, r.output
    report = json.loads((tmp_path / "ev" / "eval.json").read_text())
    assert set(report["per_class"]) == {"circle", "cross", "square", "triangle"}
    assert 0 <= report["sample_class_accuracy"] <= 1 and report["chance"] == 0.25
    assert (tmp_path / "ev" / "nearest.png").is_file()
    assert (tmp_path / "ev" / "per_class.csv").is_file()
    # with the (random) Inception weights: IS of the samples, FID / KID against the real images
    assert report["is"] >= 1.0 - 1e-9 and report["is_splits"] == 5  # 10 samples, 2 per split
    assert report["fid"] > 0 and "kid" in report and report["score"]["name"] == "fid"
    assert (tmp_path / "ev" / "per_image.csv").is_file() and "skipped" not in report
    for entry in report["examples"]["best"] + report["examples"]["worst"]:
        assert (tmp_path / "ev" / entry["files"][0]).is_file()
    r = runner.invoke(app, ["translate", str(cgan_run), str(tmp_path), str(tmp_path / "o")])
    assert r.exit_code == 1 and "i2i sample" in r.output or "inputs" in r.output


@pytest.mark.long
def test_short_cpu_run_beats_chance(ctx, demo_data, tmp_path) -> None:
    """~3 minutes on 2 CPU cores: 16-px samples become recognisably class-conditional."""
    from i2i.plugins.cgan import evaluate
    from i2i.training.checkpoint import load_model
    from i2i.training.run import resolve_run_config
    from i2i.training.trainer import Trainer

    run = tmp_path / "run"
    rc = resolve_run_config(
        SPEC, demo_data("classes"),
        overrides=["image_size=16", "generator.ngf=32", "discriminator.ndf=32",
                   "generator.z_dim=32", "ema_decay=0.99", "discriminator.aux_classifier=true"],
        train_options={"steps": 1200, "batch_size": 64, "size": 16, "load_size": 16,
                       "workers": 0, "device": "cpu", "log_every": 100, "sample_every": 0,
                       "checkpoint_every": 0, "seed": 0},
    )  # fmt: skip
    Trainer(ctx, rc, run).fit()
    report = evaluate(ctx, load_model(ctx, run), demo_data("classes"), tmp_path / "eval")
    # chance is 25 % for the 4 demo classes; measured 56 % for this seed
    assert report["sample_class_accuracy"] > 0.45, report
