"""Real faults, not injected ones: a full disk and a read-only folder (a small tmpfs in a user
and mount namespace, where the OS allows one), and CPU memory exhaustion (an address-space
limit). Each ends in one line on stderr, exit status 1 and, for training, status.json "failed"."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

TINY = [
    "--size", "32", "--workers", "0", "--device", "cpu", "--no-progress",
    "--set", "generator.ngf=8", "--set", "generator.n_blocks=2", "--set", "discriminator.ndf=8",
    "--set", "discriminator.n_layers=2", "--set", "train.load_size=36",
    "--set", "train.sample_every=0",
]  # fmt: skip


def _namespaces_work() -> bool:
    if not shutil.which("unshare") or sys.platform != "linux":
        return False
    p = subprocess.run(
        ["unshare", "-r", "-m", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt"],
        capture_output=True,
        timeout=30,
    )
    return p.returncode == 0


needs_namespaces = pytest.mark.skipif(
    not _namespaces_work(), reason="needs unprivileged user + mount namespaces (unshare -r -m)"
)


def _in_tmpfs(tmp_path: Path, size: str, script: str, *, read_only: bool = False) -> str:
    """Run ``script`` (sh) with a fresh tmpfs of ``size`` at $FS; returns its stdout."""
    fs = tmp_path / "fs"
    fs.mkdir()
    remount = f'mount -o remount,ro "{fs}" && ' if read_only else ""
    cmd = f'mount -t tmpfs -o size={size} tmpfs "{fs}" && {remount}FS="{fs}" && {script}'
    p = subprocess.run(["unshare", "-r", "-m", "sh", "-c", cmd], capture_output=True, text=True,
                       timeout=600, env={**os.environ, "OMP_NUM_THREADS": "2"})  # fmt: skip
    assert p.returncode == 0, p.stderr[-3000:]
    return p.stdout


def _train(data: Path, out: str, *extra: str) -> str:
    """The shell command of a tiny training run into ``out`` (which may name $FS)."""
    args = " ".join(f"'{a}'" for a in ["-q", "train", "cyclegan", str(data), *TINY, *extra])
    return f'{sys.executable} -m i2i {args} --out "{out}"'


@needs_namespaces
def test_disk_full_during_a_checkpoint(demo_data, tmp_path) -> None:
    """1 MB of disk: the run starts, its first checkpoint does not fit."""
    out = tmp_path / "out"
    out.mkdir()
    script = (
        f'{_train(demo_data("unpaired"), "$FS/run", "--steps", "2")} 2> "{out}/err"; '
        f'echo $? > "{out}/rc"; cp "$FS/run/status.json" "{out}/"; '
        f'ls -A "$FS/run/checkpoints" > "{out}/ls"'
    )
    _in_tmpfs(tmp_path, "1m", script)
    err = (out / "err").read_text().strip().splitlines()
    assert (out / "rc").read_text().strip() == "1"
    assert len(err) == 1 and "Traceback" not in err[0], err
    assert err[0].startswith("error: could not write checkpoint step_0000002 in ")
    assert "no space left on device" in err[0] and "no checkpoint exists yet" in err[0]
    status = json.loads((out / "status.json").read_text())
    assert status["status"] == "failed" and status["message"] == err[0][len("error: ") :]
    assert (out / "ls").read_text().split() == []  # no torn checkpoint, no temporary left


@needs_namespaces
def test_read_only_output_folder(demo_data, tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    script = f'{_train(demo_data("unpaired"), "$FS/run", "--steps", "1")} 2> "{out}/err"; echo $?'
    rc = _in_tmpfs(tmp_path, "1m", script, read_only=True).strip()
    err = (out / "err").read_text().strip().splitlines()
    assert rc == "1" and len(err) == 1, err
    assert err[0].startswith("error: cannot write the run to ")
    assert err[0].endswith("is on a read-only file system; choose another --out")


@pytest.mark.skipif(sys.platform != "linux", reason="RLIMIT_AS semantics")
def test_out_of_cpu_memory(demo_data, tmp_path) -> None:
    """A model far too big for a 6 GB address space: one line, not a traceback."""

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))

    p = subprocess.run(
        [sys.executable, "-m", "i2i", "-q", "train", "cyclegan", str(demo_data("unpaired")),
         "--out", str(tmp_path / "run"), "--steps", "1", *TINY, "--set", "generator.ngf=4096"],
        capture_output=True, text=True, timeout=600, preexec_fn=limit,
        env={**os.environ, "OMP_NUM_THREADS": "2"},
    )  # fmt: skip
    err = p.stderr.strip().splitlines()
    assert p.returncode == 1 and len(err) == 1, p.stderr[-2000:]
    assert err[0].startswith("error: out of CPU memory (tried to allocate ")
    assert "use a smaller batch, smaller images or a smaller model" in err[0]
