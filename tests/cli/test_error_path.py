"""The one error path: every command, a fault injected at one of its stages, ends in exactly one
line on stderr and the right exit status (1 failed, 130 Ctrl-C, 143 SIGTERM); status.json
records training failures; ``--debug`` adds the traceback."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import i2i.cli.info
from i2i.cli.app import build_app
from i2i.datasets.image_io import write_image
from i2i.errors import StopSignal

TINY = [
    "--size", "32", "--batch-size", "1", "--workers", "0", "--device", "cpu", "--no-progress",
    "--set", "generator.ngf=8", "--set", "generator.n_blocks=2", "--set", "discriminator.ndf=8",
    "--set", "discriminator.n_layers=2", "--set", "train.load_size=36",
    "--set", "train.sample_every=0", "--set", "train.log_every=1",
]  # fmt: skip


def _raise(exc: BaseException):
    def fn(*_a, **_k):
        raise exc

    return fn


@pytest.fixture(scope="module")
def app(ctx):
    return build_app(ctx)


@pytest.fixture(scope="module")
def run(one_step_run) -> Path:
    return one_step_run


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("errpath-in")
    rng = np.random.default_rng(0)
    for i in range(3):
        write_image(src / f"{i}.png", rng.random((20, 24, 3), np.float32))
    return src


def one_line(result, code: int) -> str:
    """The single stderr line of a failed command (no traceback, nothing else)."""
    assert result.exit_code == code, result.output
    lines = [x for x in result.stderr.splitlines() if x.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output
    return lines[0]


ENOSPC = OSError(errno.ENOSPC, "No space left on device", "/data/out/x.png")
EROFS = OSError(errno.EROFS, "Read-only file system", "/data/out")
EACCES = PermissionError(errno.EACCES, "Permission denied", "/data/in/a.png")
OOM = RuntimeError(
    "[enforce fail at alloc_cpu.cpp:117] . DefaultCPUAllocator: can't allocate memory: you tried "
    "to allocate 3072000000 bytes. Error code 12 (Cannot allocate memory)"
)

#: (id, argv, patch target, exception, exit status, text in the line)
CASES = [
    ("train-data", ["train", "cyclegan", "{data}", "--out", "{tmp}/r", *TINY, "--steps", "2"],
     "i2i.training.trainer.Trainer._build_data", EACCES, 1,
     "error: permission denied: /data/in/a.png; fix the permissions"),
    ("train-step-bug", ["train", "cyclegan", "{data}", "--out", "{tmp}/r", *TINY, "--steps", "2"],
     "i2i.training.trainer.TrainStep.__call__", ZeroDivisionError("division by zero"), 1,
     "error: unexpected ZeroDivisionError: division by zero (a bug in i2i or a plugin; rerun "
     "with --debug"),
    ("train-step-oom", ["train", "cyclegan", "{data}", "--out", "{tmp}/r", *TINY, "--steps", "2"],
     "i2i.training.trainer.TrainStep.__call__", OOM, 1,
     "error: out of CPU memory (tried to allocate 3.07 GB); use a smaller batch"),
    ("train-ctrl-c", ["train", "cyclegan", "{data}", "--out", "{tmp}/r", *TINY, "--steps", "2"],
     "i2i.training.trainer.TrainStep.__call__", KeyboardInterrupt(), 130,
     "interrupted: training interrupted (Ctrl-C): step 1 was abandoned; the run has no "
     "checkpoint; nothing to resume"),
    ("train-checkpoint-disk-full",
     ["train", "cyclegan", "{data}", "--out", "{tmp}/r", *TINY, "--steps", "2"],
     "i2i.training.checkpoint._write_torch", OSError(errno.ENOSPC, "No space left on device"), 1,
     "error: could not write checkpoint step_0000002 in {tmp}/r/checkpoints: no space left on "
     "device; free disk space or write to another disk; no checkpoint exists yet"),
    ("translate-load", ["translate", "{run}", "{images}", "{tmp}/o"],
     "i2i.training.checkpoint.read_header", EACCES, 1, "error: permission denied"),
    ("translate-write", ["translate", "{run}", "{images}", "{tmp}/o", "--workers", "0"],
     "i2i_runtime.pipeline.write_image", ENOSPC, 1,
     "error: no space left on device: /data/out/x.png; free disk space"),
    ("translate-sigterm", ["translate", "{run}", "{images}", "{tmp}/o", "--workers", "0"],
     "i2i_runtime.pipeline.write_image", StopSignal(15), 143,
     "interrupted: stopped by SIGTERM"),
    ("export", ["export", "{run}", "{tmp}/m.onnx"], "torch.onnx.export", MemoryError(), 1,
     "error: out of CPU memory; use a smaller batch"),
    ("eval", ["eval", "{run}", "{data}", "--device", "cpu"],
     "i2i.api.load_model", OSError(errno.EIO, "I/O error", "/nfs/run"), 1,
     "error: input/output error: /nfs/run; the disk or network file system failed"),
    ("train-new-run-read-only",
     ["train", "cyclegan", "{data}", "--out", "{tmp}/r", *TINY, "--steps", "2"],
     "i2i.training.trainer.Trainer._check_out_dir", EROFS, 1,
     "error: read-only file system: /data/out; choose a writable folder"),
    ("sample", ["sample", "{run}", "{tmp}/g.png"], "i2i.export.sampling.sample",
     KeyboardInterrupt(), 130, "interrupted: stopped by SIGINT"),
    ("datasets-check", ["datasets", "check", "{data}", "-f", "unpaired"],
     "i2i.datasets.unpaired.list_images", EACCES, 1, "error: permission denied"),
    ("datasets-demo", ["datasets", "demo", "{tmp}/d"], "i2i.datasets.demo.write_image", EROFS, 1,
     "error: read-only file system"),
    ("datasets-combine", ["datasets", "combine", "{images}", "{images}", "{tmp}/c"],
     "i2i.datasets.combine.combine_pairs", ValueError("bad pair"), 1,
     "error: unexpected ValueError: bad pair"),
    ("models", ["models"], "i2i.cli.info.Table", TypeError("boom"), 1,
     "error: unexpected TypeError: boom"),
    ("plugins", ["plugins"], "i2i.cli.info.Table", MemoryError(), 1, "error: out of CPU memory"),
    ("demo", ["demo", "cyclegan", "--out", "{tmp}/demo", "--steps", "1", "--device", "cpu"],
     "i2i.training.trainer.Trainer._build_data", ENOSPC, 1, "error: no space left on device"),
    ("import", ["import", "{run}/checkpoints/step_0000001/model.safetensors", "{tmp}/imp"],
     "i2i.importers.import_checkpoint", MemoryError(), 1, "error: out of CPU memory"),
    ("serve", ["serve", "{run}", "--port", "0"], "i2i.export.engine.open_engine", EACCES, 1,
     "error: permission denied"),
    ("metrics", ["metrics", "psnr", "{images}", "{images}"], "i2i.metrics.folders.pixel_folders",
     ENOSPC, 1, "error: no space left on device"),
    ("weights-download", ["weights", "download", "inception", "--dir", "{tmp}/w", "--no-progress"],
     "i2i.metrics.weights.download_weights", StopSignal(15), 143,
     "interrupted: stopped by SIGTERM"),
    ("datasets-download", ["datasets", "download", "horse2zebra", "{tmp}/h2z", "--no-progress"],
     "i2i.datasets.sources.download_dataset", EROFS, 1, "error: read-only file system"),
    ("datasets-prepare", ["datasets", "prepare", "spade/cityscapes", "{tmp}/cs", "{images}"],
     "i2i.datasets.sources.prepare_dataset", KeyboardInterrupt(), 130,
     "interrupted: stopped by SIGINT"),
    ("plugin-new", ["plugin", "new", "myplug", "{tmp}/p"], "i2i.cli.plugin._render", ENOSPC, 1,
     "error: no space left on device"),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_every_command_fails_in_one_line(case, app, run, images, demo_data, tmp_path, monkeypatch):
    name, argv, target, exc, code, expected = case
    assert i2i.cli.info  # (the models/plugins cases patch its Table)
    fill = {"data": demo_data("unpaired"), "tmp": tmp_path, "run": run, "images": images}
    args = [a.format(**fill) for a in ["-q", *argv]]
    monkeypatch.setattr(target, _raise(exc))
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    line = one_line(result, code)
    assert line.startswith(expected.format(**fill)), line
    if name.startswith("train-") and name not in ("train-data", "train-new-run-read-only"):
        status = json.loads((tmp_path / "r" / "status.json").read_text())
        want = "interrupted" if code == 130 else "failed"
        assert status["status"] == want and status["message"] in line, status


def test_debug_option_adds_the_traceback(app, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("I2I_DEBUG", "0")  # restored afterwards: --debug sets it
    monkeypatch.setattr("i2i.cli.info.Table", _raise(TypeError("boom")))
    result = CliRunner().invoke(app, ["--debug", "models"], catch_exceptions=False)
    assert result.exit_code == 1
    assert "Traceback" in result.stderr and "TypeError: boom" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: unexpected TypeError: boom")
