"""torch.distributed on CPU (gloo, 2 processes through torchrun), tiny configs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from i2i.datasets.image_io import write_image
from i2i.training.checkpoint import load_checkpoint

WORKER = Path(__file__).with_name("ddp_worker.py")


def torchrun(*args, timeout: float = 240, env: dict | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(WORKER), *map(str, args)]  # fmt: skip
    full_env = {**os.environ, "I2I_DIST_TIMEOUT": "60", "OMP_NUM_THREADS": "1", **(env or {})}
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=full_env)
    assert p.returncode == 0, p.stderr[-3000:]
    return p


def ranks(dump: Path) -> tuple[dict, dict]:
    return torch.load(dump / "rank0.pt"), torch.load(dump / "rank1.pt")


def same_function(run_a: Path, run_b: Path, atol: float) -> float:
    """Max difference of the two runs' inference outputs on a fixed input.

    Compared as functions, not weight by weight: parameters whose true gradient is zero (conv
    biases before instance norm) get noise-sized gradients whose sign differs between runs, and
    Adam turns any sign into a full-LR step; they do not change the outputs.
    """
    from i2i.manager import load_context
    from i2i.training.checkpoint import load_model

    ctx = load_context()
    a, b = load_model(ctx, run_a).model.eval(), load_model(ctx, run_b).model.eval()
    torch.manual_seed(0)
    worst = 0.0
    for d in a.inference_directions():
        info = a.inference_info(d)
        x = torch.rand(2, info.in_channels, 64, 64) * 2 - 1
        with torch.no_grad():
            ya, yb = a.inference_module(d)(x), b.inference_module(d)(x)
        worst = max(worst, (ya - yb).abs().max().item())
    assert worst <= atol, worst
    return worst


def test_ddp_cyclegan_matches_single_process(demo_data, tiny_run, tmp_path) -> None:
    data = demo_data("unpaired")
    dump = tmp_path / "dump"
    dump.mkdir()
    # pool_size=0: per-rank image pools would show the discriminators different fakes
    torchrun("train", "cyclegan", data, tmp_path / "ddp", dump, 3, 1, "pool_size=0")
    r0, r1 = ranks(dump)
    assert all(torch.equal(r0[k], r1[k]) for k in r0)  # identical weights on both ranks
    assert not any(".module." in k for k in r0)
    # only rank 0 wrote: one metrics line per step, one checkpoint, no stray files
    lines = (tmp_path / "ddp" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines] == [1, 2, 3]
    assert sorted(p.name for p in (tmp_path / "ddp").iterdir()) == [
        "checkpoints", "config.toml", "index.html", "metrics.jsonl", "samples", "status.json"
    ]  # fmt: skip
    ckpt = load_checkpoint(tmp_path / "ddp")
    assert all(torch.equal(ckpt.weights[k], r0[k]) for k in r0)
    assert ckpt.trainer_state()["world_size"] == 2
    # 2 processes x batch 1 == 1 process x batch 2 (same samples, averaged gradients)
    tiny_run("cyclegan", data, tmp_path / "single", steps=3, batch_size=2,
             overrides=("pool_size=0",))  # fmt: skip
    same_function(tmp_path / "single", tmp_path / "ddp", atol=2e-3)


def test_ddp_pix2pix(demo_data, tmp_path) -> None:
    dump = tmp_path / "dump"
    dump.mkdir()
    torchrun("train", "pix2pix", demo_data("aligned"), tmp_path / "ddp", dump, 3, 1,
             'train.loggers=["tensorboard"]')  # fmt: skip
    r0, r1 = ranks(dump)
    params = [k for k in r0 if not k.endswith(("running_mean", "running_var", "batches_tracked"))]
    differ = [k for k in params if not torch.equal(r0[k], r1[k])]
    assert not differ, differ[:5]  # weights identical on both ranks
    # (running statistics are rank-local after the last forward; rank 0's are checkpointed)
    assert load_checkpoint(tmp_path / "ddp").step == 3
    # only rank 0 logs to the tracker: one event file, each step once
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    (events,) = (tmp_path / "ddp" / "tensorboard").iterdir()
    ea = EventAccumulator(str(events))
    ea.Reload()
    assert [e.step for e in ea.Scalars("G/total")] == [1, 2, 3]
    assert json.loads((tmp_path / "ddp" / "tracking.json").read_text())["tensorboard"][
        "status"
    ] == ("completed")


def test_sync_bn_needs_gpus(demo_data, tmp_path) -> None:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(WORKER), "train", "pix2pix", str(demo_data("aligned")), str(tmp_path / "r"),
           str(tmp_path), "1", "1", "--sync-bn"]  # fmt: skip
    env = {**os.environ, "I2I_DIST_TIMEOUT": "60", "OMP_NUM_THREADS": "1"}
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=240, env=env)
    assert p.returncode != 0 and "--sync-bn needs GPUs" in p.stderr


def test_resume_with_another_world_size(demo_data, tiny_run, tmp_path) -> None:
    data, run, dump = demo_data("unpaired"), tmp_path / "run", tmp_path / "dump"
    dump.mkdir()
    tiny_run("cyclegan", data, run, steps=2)  # saved by 1 process
    from i2i.manager import load_context
    from i2i.training.run import resolve_run_config
    from i2i.training.trainer import Trainer

    ctx = load_context()
    spec = ctx.models.get("cyclegan")
    rc = resolve_run_config(spec, data, overrides=list(spec.tiny), train_options={
        "steps": 4, "size": 32, "load_size": 36, "workers": 0, "device": "cpu",
        "log_every": 1, "sample_every": 0, "checkpoint_every": 0})  # fmt: skip
    Trainer(ctx, rc, run, resume=True).fit()  # continue in-process: 1 -> 4 steps
    assert load_checkpoint(run).step == 4
    # and a 2-process job can resume a 1-process run too
    run2 = tmp_path / "run2"
    tiny_run("cyclegan", data, run2, steps=2)
    p = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         "-m", "i2i", "train", "cyclegan", str(data), "--out", str(run2), "--steps", "4",
         "--resume", "--size", "32", "--workers", "0", "--device", "cpu", "--no-progress",
         *sum((["--set", s] for s in spec.tiny), []), "--set", "train.load_size=36"],
        capture_output=True, text=True, timeout=240,
        env={**os.environ, "I2I_DIST_TIMEOUT": "60", "OMP_NUM_THREADS": "1"},
    )  # fmt: skip
    assert p.returncode == 0, p.stderr[-3000:]
    assert load_checkpoint(run2).step == 4
    assert load_checkpoint(run2).trainer_state()["world_size"] == 2


def test_sharded_translate_writes_each_image_once(demo_data, tiny_run, tmp_path) -> None:
    run = tmp_path / "run"
    tiny_run("cyclegan", demo_data("unpaired"), run, steps=1)
    src = tmp_path / "in"
    rng = np.random.default_rng(0)
    for i in range(7):
        write_image(src / f"sub{i % 2}" / f"{i}.png", rng.random((20, 28, 3), np.float32))
    dump = tmp_path / "dump"
    dump.mkdir()
    torchrun("translate", run, src, tmp_path / "out", dump)
    a = json.loads((dump / "rank0.json").read_text())
    b = json.loads((dump / "rank1.json").read_text())
    assert not set(a) & set(b) and len(a) + len(b) == 7
    assert len(list((tmp_path / "out").rglob("*.png"))) == 7


def test_killed_rank_ends_the_job(demo_data, tmp_path) -> None:
    dump = tmp_path / "dump"
    dump.mkdir()
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        str(WORKER),
        "long",
        str(demo_data("unpaired")),
        str(tmp_path / "run"),
        str(dump),
    ]
    env = {**os.environ, "I2I_DIST_TIMEOUT": "30", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env)  # fmt: skip
    metrics = tmp_path / "run" / "metrics.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and not (metrics.exists() and (dump / "pid1").exists()):
        time.sleep(0.2)
    assert (dump / "pid1").exists(), proc.communicate(timeout=30)
    os.kill(int((dump / "pid1").read_text()), signal.SIGKILL)
    t = time.time()
    _, err = proc.communicate(timeout=120)
    assert proc.returncode != 0
    assert time.time() - t < 90  # ended by the failure, not by a hang
    assert "ddp_worker.py" in err and ("SIGKILL" in err or "Signal 9" in err or "-9" in err)


@pytest.mark.gpu
@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs 2 CUDA GPUs")
def test_ddp_nccl_sync_bn_on_gpus(demo_data, tmp_path) -> None:  # pragma: no cover - GPU only
    dump = tmp_path / "dump"
    dump.mkdir()
    torchrun("train", "pix2pix", demo_data("aligned"), tmp_path / "ddp", dump, 3, 1, "--sync-bn",
             env={"I2I_TEST_DEVICE": "cuda"})  # fmt: skip
    r0, r1 = ranks(dump)
    assert all(torch.equal(r0[k], r1[k]) for k in r0 if "running" not in k)


def _descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (via /proc)."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parents.items() if pp == p]
        out += kids
        todo += kids
    return out


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc")
def test_sigterm_to_every_process_of_a_ddp_job(demo_data, tmp_path) -> None:
    """What SLURM's scancel does: SIGTERM to every process of the job at once (torchrun, both
    ranks, their DataLoader workers). Both ranks stop at the same step, rank 0 saves it, and
    each rank says so in one line (torchrun, signalled itself, does not report their 143)."""
    run, data = tmp_path / "run", demo_data("unpaired")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "i2i", "train", "cyclegan", str(data), "--out", str(run), "--steps", "100000",
           "--size", "32", "--workers", "1", "--device", "cpu", "--no-progress",
           "--set", "train.load_size=36", "--set", "train.log_every=1",
           "--set", "generator.ngf=8", "--set", "generator.n_blocks=2",
           "--set", "discriminator.ndf=8", "--set", "discriminator.n_layers=2"]  # fmt: skip
    env = {**os.environ, "I2I_DIST_TIMEOUT": "60", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, start_new_session=True)  # fmt: skip
    metrics = run / "metrics.jsonl"
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if metrics.exists() and len(metrics.read_text().splitlines()) >= 2:
            break
        time.sleep(0.2)
    everyone = [proc.pid, *_descendants(proc.pid)]
    assert len(everyone) >= 5, everyone  # torchrun, 2 ranks, their DataLoader workers
    for pid in everyone:
        os.kill(pid, signal.SIGTERM)
    _, err = proc.communicate(timeout=180)
    lines = [x for x in err.splitlines() if x.startswith("interrupted: ")]
    assert len(lines) == 2 and "killed by signal" not in err, err[-3000:]
    assert all(x.startswith("interrupted: training received SIGTERM") for x in lines)
    status = json.loads((run / "status.json").read_text())
    ckpt = load_checkpoint(run)
    assert status["status"] == "interrupted" and ckpt.step == status["step"] >= 2
    assert ckpt.trainer_state()["world_size"] == 2
