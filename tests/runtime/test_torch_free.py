"""The runtime works without PyTorch: a fresh virtual environment holding only ``./runtime[cpu]``
(no torch, no i2i) translates a folder with a model exported by ``i2i export`` and writes
byte-identical files to ``i2i translate`` with the same ONNX model.

The environment is made once per session: ``python -m venv --without-pip``, then this
interpreter's pip installs ``./runtime[cpu]`` into it offline from a wheelhouse of the exact
onnxruntime (CPU build), numpy and Pillow versions of the full environment (the same numerics on
both sides). The wheelhouse (``$I2I_WHEELHOUSE``, default ``~/.cache/i2i/wheelhouse``) is filled
from the package index the first time only.
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from i2i.cli.app import build_app
from i2i.datasets.image_io import write_image
from i2i.export.onnx import export_onnx

ROOT = Path(__file__).resolve().parents[2]


def _version(*dists: str) -> str:
    for d in dists:
        try:
            return importlib.metadata.version(d)
        except importlib.metadata.PackageNotFoundError:
            continue
    raise RuntimeError(f"none of {dists} is installed")


def _pip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        capture_output=True,
        text=True,
        timeout=900,
    )


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


@pytest.fixture(scope="session")
def runtime_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv with only ``./runtime[cpu]`` and its dependencies installed."""
    pins = [
        f"onnxruntime=={_version('onnxruntime', 'onnxruntime-gpu')}",
        f"numpy=={_version('numpy')}",
        f"pillow=={_version('pillow', 'Pillow')}",
    ]
    house = Path(os.environ.get("I2I_WHEELHOUSE", Path.home() / ".cache" / "i2i" / "wheelhouse"))
    work = tmp_path_factory.mktemp("runtime-venv")
    venv = work / "venv"
    # a copy of runtime/: pip builds in the source folder, which stays untouched this way
    source = shutil.copytree(
        ROOT / "runtime", work / "runtime", ignore=shutil.ignore_patterns("build", "*.egg-info")
    )
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = ["--python", str(python), "install", "--quiet", "--no-index", "--find-links",
               str(house), f"{source}[cpu]", *pins]  # fmt: skip
    done = _pip(*install)
    if done.returncode != 0:  # first run on this machine: fill the wheelhouse
        got = _pip("download", "--quiet", "-d", str(house), *pins, "setuptools>=68", "wheel")
        assert got.returncode == 0, got.stderr[-2000:]
        done = _pip(*install)
    assert done.returncode == 0, done.stderr[-2000:]
    size = _size(venv)
    print(f"\ntorch-free runtime venv: {size / 2**20:.1f} MiB ({', '.join(pins)})")
    (venv / "size.txt").write_text(str(size))
    return venv


def test_runtime_venv_has_no_torch(runtime_venv, tmp_path) -> None:
    python = str(runtime_venv / "bin" / "python")
    for module in ("torch", "i2i", "cv2", "onnx"):  # (not from the checkout's folder: no i2i/)
        r = subprocess.run(
            [python, "-c", f"import {module}"], capture_output=True, text=True, cwd=tmp_path
        )
        assert r.returncode != 0 and "ModuleNotFoundError" in r.stderr, module
    r = subprocess.run([python, "-c", "import i2i_runtime.cli, i2i_runtime.translator"])
    assert r.returncode == 0
    size = int((runtime_venv / "size.txt").read_text())
    assert size < 400 * 2**20  # numpy + Pillow + onnxruntime (CPU): far below a torch install


def test_same_files_as_i2i_translate(runtime_venv, ctx, demo_data, tiny_run, tmp_path) -> None:
    run = tmp_path / "run"
    tiny_run("cyclegan", demo_data("unpaired"), run, steps=1)
    model = export_onnx(ctx, run, tmp_path / "model.onnx").path  # what `i2i export` writes

    src = tmp_path / "in"
    rng = np.random.default_rng(0)
    write_image(src / "a.png", rng.random((37, 53, 3), np.float32))
    write_image(src / "sub" / "b.jpg", rng.random((40, 40, 3), np.float32))
    write_image(src / "sub" / "deep.png", rng.random((21, 33, 3), np.float32), bit_depth=16)
    write_image(src / "gray.png", rng.random((30, 30, 1), np.float32))
    write_image(src / "big.tif", rng.random((90, 130, 3), np.float32))
    app = build_app(ctx)
    i2i_run = str(runtime_venv / "bin" / "i2i-run")
    for name, extra in (("plain", []), ("tiled", ["--tile", "32", "--overlap", "8"])):
        opts = ["--provider", "cpu", "--threads", "2", "-b", "2", *extra]
        full, slim = tmp_path / f"{name}-i2i", tmp_path / f"{name}-runtime"
        r = CliRunner().invoke(app, ["translate", str(model), str(src), str(full), *opts])
        assert r.exit_code == 0, r.output
        # no torch anywhere in the runtime process (and nothing imports it behind our back)
        cmd = [i2i_run, "translate", str(model), str(src), str(slim), *opts]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert "wrote 5 images" in done.stderr
        files = sorted(p.relative_to(full) for p in full.rglob("*") if p.is_file())
        assert len(files) == 5
        assert files == sorted(p.relative_to(slim) for p in slim.rglob("*") if p.is_file())
        for rel in files:
            assert (full / rel).read_bytes() == (slim / rel).read_bytes(), (name, rel)

    # resumable: only the missing output is redone
    (slim / "sub" / "b.png").unlink()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "wrote 1 images" in done.stderr
    assert "4 already existed" in done.stderr
    check = "import sys, i2i_runtime.cli, i2i_runtime.serve.app; assert 'torch' not in sys.modules"
    assert subprocess.run([str(runtime_venv / "bin" / "python"), "-c", check]).returncode == 0
