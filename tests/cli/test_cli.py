from __future__ import annotations

import json
import logging
import os
import platform
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from typer.testing import CliRunner

import i2i
from i2i.cli.app import build_app
from i2i.datasets.image_io import write_image
from i2i.manager import load_context
from i2i.training.checkpoint import load_checkpoint

TINY = [
    "--size", "32", "--batch-size", "1", "--workers", "0", "--device", "cpu", "--no-progress",
    "--set", "generator.ngf=8", "--set", "generator.n_blocks=2", "--set", "discriminator.ndf=8",
    "--set", "discriminator.n_layers=2", "--set", "train.load_size=36",
    "--set", "train.checkpoint_every=0", "--set", "train.sample_every=0",
    "--set", "train.log_every=1",
]  # fmt: skip


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(scope="module")
def app(ctx):
    return build_app(ctx)


def invoke(runner, app, *args):
    return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


def one_line_error(result) -> str:
    assert result.exit_code == 1, result.output
    lines = [x for x in result.output.strip().splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def test_models_and_plugins(runner, app) -> None:
    r = invoke(runner, app, "models")
    assert r.exit_code == 0 and "cyclegan" in r.output and "Unpaired" in r.output
    r = invoke(runner, app, "plugins")
    assert r.exit_code == 0 and "metrics_log" in r.output and "register_models" in r.output


def test_train_help_lists_family_options(runner, app) -> None:
    r = runner.invoke(app, ["train", "cyclegan", "--help"], env={"COLUMNS": "200"})
    assert r.exit_code == 0
    for key in ("generator.ngf = 64", "discriminator.ndf = 64", "loss.lambda_cycle = 10.0"):
        assert key in r.output


def test_train_translate_resume_flow(runner, app, demo_data, tmp_path) -> None:
    data, run = demo_data("unpaired"), tmp_path / "run"
    r = invoke(runner, app, "train", "cyclegan", data, "--out", run, "--steps", "2", *TINY)
    assert r.exit_code == 0, r.output
    assert (run / "checkpoints" / "latest").is_file()
    # a second train into the same folder must not clobber it
    err = one_line_error(
        invoke(runner, app, "train", "cyclegan", data, "--out", run, "--steps", "2", *TINY)
    )
    assert "--resume" in err
    # --resume with more steps continues from step 2
    r = invoke(runner, app, "train", "cyclegan", data, "--out", run, "--steps", "3", "--resume",
               *TINY)  # fmt: skip
    assert r.exit_code == 0, r.output
    steps = [json.loads(x)["step"] for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3]
    # changing the architecture on resume is refused
    err = one_line_error(invoke(runner, app, "train", "cyclegan", data, "--out", run, "--steps",
                                "4", "--resume", *TINY, "--set", "generator.ngf=16"))  # fmt: skip
    assert "cannot change the model config" in err

    src = tmp_path / "in"
    write_image(src / "sub" / "a.png", np.random.default_rng(0).random((37, 53, 3), np.float32))
    out = tmp_path / "out"
    r = invoke(runner, app, "translate", run, src, out, "--direction", "BtoA", "--device", "cpu")
    assert r.exit_code == 0, r.output
    assert (out / "sub" / "a.png").is_file() and "wrote 1 images" in r.output
    mtime = (out / "sub" / "a.png").stat().st_mtime_ns
    r = invoke(runner, app, "translate", run, src, out, "--device", "cpu")
    assert "1 already existed" in r.output
    assert (out / "sub" / "a.png").stat().st_mtime_ns == mtime
    r = invoke(runner, app, "translate", run, src, out, "--overwrite", "--device", "cpu")
    assert "wrote 1 images" in r.output

    err = one_line_error(invoke(runner, app, "translate", run, src, src / "x"))
    assert "inside the input folder" in err
    err = one_line_error(invoke(runner, app, "translate", run, src, out, "--direction", "CtoD"))
    assert "AtoB, BtoA" in err
    err = one_line_error(invoke(runner, app, "translate", tmp_path / "nope", src, out))
    assert "does not exist" in err


def test_resume_without_a_run_starts_one(runner, app, demo_data, tmp_path, caplog) -> None:
    run = tmp_path / "run"
    caplog.set_level(logging.INFO, logger="i2i.training.trainer")
    r = invoke(runner, app, "train", "cyclegan", demo_data("unpaired"), "--out", run,
               "--steps", "1", "--resume", *TINY)  # fmt: skip
    assert r.exit_code == 0, r.output
    assert (run / "checkpoints" / "step_0000001").is_dir()
    # CPU training tunes glibc malloc (on by default) and says so in the run log
    if sys.platform == "linux" and platform.libc_ver()[0] == "glibc":
        assert "CPU allocator: freed memory is kept for reuse" in caplog.text
    caplog.clear()
    r = invoke(runner, app, "train", "cyclegan", demo_data("unpaired"), "--out", tmp_path / "r2",
               "--steps", "1", *TINY, "--set", "train.cpu_allocator_tuning=false")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "CPU allocator" not in caplog.text


def test_errors_are_one_line(runner, app, tmp_path) -> None:
    err = one_line_error(invoke(runner, app, "train", "cyclegan", tmp_path / "missing", *TINY))
    assert "missing" in err
    (tmp_path / "ds" / "trainA").mkdir(parents=True)
    err = one_line_error(
        invoke(runner, app, "datasets", "check", tmp_path / "ds", "-f", "unpaired")
    )
    assert "trainB" in err
    err = one_line_error(invoke(runner, app, "datasets", "check", tmp_path, "-f", "paired_xyz"))
    assert "unknown dataset format 'paired_xyz'; known: aligned, classes, " in err
    assert "paired_folders, sr, unpaired" in err
    err = one_line_error(
        invoke(runner, app, "train", "cyclegan", tmp_path, *TINY, "--set", "generator.ngff=1")
    )
    assert "generator.ngf" in err
    err = one_line_error(
        invoke(runner, app, "train", "cyclegan", tmp_path, *TINY, "--log", "tensorbaord")
    )
    assert "experiment logger 'tensorbaord'" in err and "mlflow, tensorboard, wandb" in err


def test_datasets_demo_and_check(runner, app, tmp_path) -> None:
    r = invoke(runner, app, "datasets", "demo", tmp_path / "d", "--kind", "unpaired")
    assert r.exit_code == 0, r.output
    r = invoke(runner, app, "datasets", "check", tmp_path / "d", "--format", "unpaired")
    assert r.exit_code == 0 and "valid 'unpaired' dataset" in r.output


def test_debug_env_shows_traceback(tmp_path) -> None:
    env = {**os.environ, "I2I_DEBUG": "1"}
    p = subprocess.run(
        [sys.executable, "-m", "i2i", "datasets", "check", str(tmp_path / "x"), "-f", "unpaired"],
        capture_output=True, text=True, env=env, timeout=120,
    )  # fmt: skip
    assert p.returncode == 1 and "Traceback" in p.stderr and "DatasetError" in p.stderr


def _wait_for_steps(metrics, n: int, proc, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        if metrics.exists() and len(metrics.read_text().splitlines()) >= n:
            return
        time.sleep(0.2)
    raise AssertionError(proc.communicate(timeout=60))


def test_sigint_and_process_group_sigterm_save_and_resume(demo_data, tmp_path) -> None:
    """Ctrl-C saves and exits 130; SIGTERM to the whole process group (SLURM scancel,
    Kubernetes, systemd) with 2 DataLoader workers saves and exits 143; resume continues."""
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "i2i", "train", "cyclegan", str(demo_data("unpaired")),
           "--out", str(run), "--steps", "100000", *TINY, "--set", "train.log_every=1"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    metrics = run / "metrics.jsonl"
    _wait_for_steps(metrics, 1, proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "--resume" in err.splitlines()[-1]
    assert err.splitlines()[-1].startswith("interrupted: training received SIGINT")
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "interrupted" and "SIGINT" in status["message"]
    step = status["step"]
    assert (run / "checkpoints" / f"step_{step:07d}" / "model.safetensors").is_file()

    # resume with DataLoader workers in a session of its own, then signal the whole group:
    # the workers die first unless they ignore it (they do), the trainer saves
    resume = [*cmd, "--resume", "--workers", "2"]
    proc = subprocess.Popen(resume, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # fmt: skip
    _wait_for_steps(metrics, step + 2, proc)
    os.killpg(proc.pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "Traceback" not in err and "killed by signal" not in err, err
    status = json.loads((run / "status.json").read_text())
    assert status["status"] == "interrupted" and "SIGTERM" in status["message"], status
    assert status["step"] > step
    assert load_checkpoint(run).step == status["step"]
    steps = [json.loads(x)["step"] for x in metrics.read_text().splitlines()]
    assert steps == list(range(1, status["step"] + 1))


class CommandPlugin:
    @i2i.hookimpl
    def i2i_register_commands(self, app) -> None:
        @app.command("boom")
        def boom() -> None:
            raise i2i.ConfigError("boom needs a fuse; pass --fuse")


def test_plugin_commands_get_one_line_errors(runner) -> None:
    app = build_app(load_context(extra=[("cmd", CommandPlugin())]))
    err = one_line_error(invoke(runner, app, "boom"))
    assert err == "error: boom needs a fuse; pass --fuse"


def test_pix2pix_cli_flow(runner, app, tmp_path) -> None:
    r = invoke(runner, app, "datasets", "demo", tmp_path / "p", "--kind", "paired")
    assert r.exit_code == 0 and "format 'aligned'" in r.output, r.output
    r = invoke(runner, app, "datasets", "check", tmp_path / "p", "--format", "aligned")
    assert r.exit_code == 0, r.output
    err = one_line_error(invoke(runner, app, "datasets", "demo", tmp_path / "q", "--kind", "nope"))
    assert "paired" in err and "unpaired" in err

    # separate A/ B/ folders -> combine reports what it could not pair
    a, b = tmp_path / "A", tmp_path / "B"
    rng = np.random.default_rng(0)
    for name in ("x", "y"):
        write_image(a / f"{name}.png", rng.random((32, 32, 3), np.float32))
        write_image(b / f"{name}.jpg", rng.random((32, 32, 3), np.float32))
    write_image(a / "lonely.png", rng.random((32, 32, 3), np.float32))
    r = invoke(runner, app, "datasets", "combine", a, b, tmp_path / "aligned" / "train")
    assert r.exit_code == 0, r.output
    assert "wrote 2 aligned" in r.output and "lonely" in r.output
    assert sorted(p.name for p in (tmp_path / "aligned" / "train").iterdir()) == ["x.png", "y.png"]

    tiny = ["--size", "32", "--workers", "0", "--device", "cpu", "--no-progress",
            "--set", "generator.arch=unet", "--set", "generator.n_downsampling=5",
            "--set", "generator.ngf=4", "--set", "discriminator.ndf=4"]  # fmt: skip
    run = tmp_path / "run"
    r = invoke(runner, app, "train", "pix2pix", tmp_path / "aligned", "--out", run,
               "--steps", "2", *tiny)  # fmt: skip
    assert r.exit_code == 0, r.output
    # the folders layout needs --format; without it the error says so
    folders = tmp_path / "folders"
    r = invoke(runner, app, "datasets", "demo", folders, "--kind", "paired_folders")
    assert r.exit_code == 0, r.output
    err = one_line_error(invoke(runner, app, "train", "pix2pix", folders, "--out",
                                tmp_path / "run2", "--steps", "1", *tiny))  # fmt: skip
    assert "--format paired_folders" in err
    r = invoke(runner, app, "train", "pix2pix", folders, "--out", tmp_path / "run2",
               "--steps", "1", "--format", "paired_folders", *tiny)  # fmt: skip
    assert r.exit_code == 0, r.output
    r = invoke(runner, app, "translate", tmp_path / "run2", folders / "testA", tmp_path / "out")
    assert r.exit_code == 0 and "wrote 16 images" in r.output, r.output


def test_export_cli(runner, app, demo_data, tmp_path) -> None:
    run = tmp_path / "run"
    r = invoke(runner, app, "train", "cyclegan", demo_data("unpaired"), "--out", run,
               "--steps", "1", *TINY)  # fmt: skip
    assert r.exit_code == 0, r.output
    r = invoke(runner, app, "export", run, tmp_path / "g.onnx", "--direction", "BtoA")
    assert r.exit_code == 0, r.output
    assert "exported cyclegan BtoA" in r.output and r.output.count("verified at") >= 2
    from i2i.export.metadata import read_metadata

    meta = read_metadata(tmp_path / "g.onnx")
    assert (meta.family, meta.direction, meta.stride, meta.opset) == ("cyclegan", "BtoA", 4, 17)
    # the run records the export (i2i_artifact_saved) and its page lists it
    (record,) = [json.loads(x) for x in (run / "artifacts.jsonl").read_text().splitlines()]
    assert (record["kind"], record["path"], record["step"]) == ("onnx", "../g.onnx", 1)
    assert "Exported models" in (run / "index.html").read_text()
    err = one_line_error(invoke(runner, app, "export", run, tmp_path / "s.onnx", "--static",
                                "30x30"))  # fmt: skip
    assert "multiples of the network's stride 4" in err
    err = one_line_error(invoke(runner, app, "export", run, tmp_path / "x.onnx", "--precision",
                                "fp16"))  # fmt: skip
    assert "GPU" in err
    err = one_line_error(invoke(runner, app, "export", run, tmp_path / "model.pt"))
    assert ".onnx" in err

    # the exported model translates like the checkpoint (BtoA is baked into the ONNX file)
    src = tmp_path / "in"
    img = np.random.default_rng(1).random((45, 70, 3), np.float32)
    write_image(src / "a.png", img)
    r = invoke(runner, app, "translate", tmp_path / "g.onnx", src, tmp_path / "o1",
               "--provider", "cpu")  # fmt: skip
    assert r.exit_code == 0 and "onnxruntime" in r.output, r.output
    r = invoke(runner, app, "translate", run, src, tmp_path / "o2", "--direction", "BtoA",
               "--device", "cpu")  # fmt: skip
    assert r.exit_code == 0, r.output
    from i2i.datasets.image_io import read_image

    a, b = read_image(tmp_path / "o1" / "a.png", 3), read_image(tmp_path / "o2" / "a.png", 3)
    assert a.shape == (45, 70, 3) and np.abs(a - b).max() <= 2 / 255
    r = invoke(runner, app, "translate", tmp_path / "g.onnx", src, tmp_path / "o3",
               "--provider", "cpu", "--tile", "32", "--overlap", "8")  # fmt: skip
    assert r.exit_code == 0 and (tmp_path / "o3" / "a.png").is_file(), r.output
    err = one_line_error(invoke(runner, app, "translate", tmp_path / "g.onnx", src,
                                tmp_path / "o4", "--tile", "16", "--overlap", "8"))  # fmt: skip
    assert "tile" in err


def _demo_families() -> list[str]:
    ctx = load_context()
    return [n for n in ctx.models.names() if ctx.models.get(n).demo is not None]


@pytest.mark.parametrize("family", _demo_families())
def test_demo_runs_every_family_end_to_end(family, runner, app, ctx, demo_data, tmp_path) -> None:
    """``i2i demo FAMILY`` (2 steps here): trains its recipe, translates / evaluates, writes
    the results page; a re-run resumes the finished run instead of refusing it."""
    spec = ctx.models.get(family)
    recipe = spec.demo
    out = tmp_path / family
    out.mkdir()
    (out / "data").symlink_to(demo_data(recipe.format or spec.dataset_format))  # made once
    r = invoke(runner, app, "demo", family, "--out", out, "--steps", "2", "--device", "cpu")
    assert r.exit_code == 0, r.output
    run = out / "run"
    assert (run / "index.html").is_file() and "results page:" in r.output
    assert json.loads((run / "status.json").read_text())["status"] == "completed"
    if recipe.translate:
        index = json.loads((run / "translations" / "index.json").read_text())
        for _, folder in recipe.translate:
            n_inputs = len([p for p in (out / "data" / folder).iterdir() if p.is_file()])
            made = [e for e in index if e["output"].startswith(f"translations/{folder}/")]
            assert len(made) == n_inputs > 0, folder
    if recipe.evaluate:  # through i2i_evaluation_done: recorded at the checkpoint's step
        assert (run / "eval" / "eval.json").is_file() and "evaluation:" in r.output
        (record,) = [json.loads(x) for x in (run / "evaluations.jsonl").read_text().splitlines()]
        assert record["step"] == 2 and record["metrics"] and record["out_dir"] == "eval"
        assert 'id="evaluation"' in (run / "index.html").read_text()
    r = invoke(runner, app, "demo", family, "--out", out, "--steps", "2", "--device", "cpu")
    assert r.exit_code == 0, r.output


def test_demo_errors_are_one_line(runner, app, tmp_path) -> None:
    err = one_line_error(invoke(runner, app, "demo", "nope", "--out", tmp_path))
    assert "nope" in err and "cyclegan" in err
    err = one_line_error(invoke(runner, app, "demo", "cyclegan", "--out", tmp_path, "--steps", "0"))
    assert "--steps must be >= 1" in err
