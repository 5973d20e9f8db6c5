"""What a training run guarantees when it is stopped or fails: a checkpoint of the last completed
step (never a torn or non-finite one), status.json saying what happened, a true message."""

from __future__ import annotations

import json
import logging
import os
import signal

import pytest
import torch

import i2i
from i2i.errors import (
    ConfigError,
    DatasetError,
    I2IError,
    NonFiniteStateError,
    describe_failure,
)
from i2i.manager import load_context
from i2i.plugins.cyclegan import SPEC, CycleGAN
from i2i.training.checkpoint import list_checkpoints, load_checkpoint, non_finite
from i2i.training.trainer import Trainer


def _status(run) -> dict:
    return json.loads((run / "status.json").read_text())


def _plugin(name: str, cls: type) -> object:
    class Plugin:
        @i2i.hookimpl
        def i2i_register_models(self, registrar) -> None:
            registrar.add(name, i2i.ModelSpec(**{**SPEC.__dict__, "name": name, "build": cls}))

    return Plugin()


def test_huge_lr_never_saves_non_finite_weights(demo_data, tiny_run, tmp_path) -> None:
    """optim.lr=1e38 with a checkpoint every step: step 1's weights are not finite, so nothing
    is saved and the message does not claim a kept checkpoint."""
    run = tmp_path / "run"
    with pytest.raises(NonFiniteStateError) as err:
        tiny_run("cyclegan", demo_data("unpaired"), run, steps=4, checkpoint_every=1,
                 overrides=("optim.lr=1e38",))  # fmt: skip
    msg = describe_failure(err.value).message
    assert "NaN or infinite values (G_A." in msg and "not saved" in msg
    assert "kept" not in msg and "good checkpoint" not in msg
    assert list_checkpoints(run / "checkpoints") == []
    status = _status(run)
    assert status["status"] == "failed" and status["message"] == msg


class PoisonAt(CycleGAN):
    """Weights turn infinite in the third step (a diverging run), after two finite ones."""

    def after_step(self, group: str, step: int) -> None:
        super().after_step(group, step)
        if step == 2 and group == "G":
            with torch.no_grad():
                next(self.G_A.parameters()).fill_(float("inf"))


def test_poisoned_weights_keep_the_last_finite_checkpoint(demo_data, tiny_run, tmp_path) -> None:
    ctx = load_context(extra=[("poison", _plugin("poisoncycle", PoisonAt))])
    run = tmp_path / "run"
    with pytest.raises(NonFiniteStateError) as err:
        tiny_run("poisoncycle", demo_data("unpaired"), run, steps=6, checkpoint_every=1,
                 context=ctx)  # fmt: skip
    msg = describe_failure(err.value).message
    assert msg.endswith("the last checkpoint is step_0000002 (step 2); later steps are lost"), msg
    ckpt = load_checkpoint(run)
    assert ckpt.step == 2 and not non_finite(ckpt.weights) and not non_finite(ckpt.trainer_state())
    assert _status(run) == {**_status(run), "status": "failed", "step": 3, "message": msg}


def test_divergence_is_warned_and_recorded(demo_data, tiny_run, tmp_path, caplog) -> None:
    run = tmp_path / "run"
    caplog.set_level(logging.WARNING)
    info = tiny_run("cyclegan", demo_data("unpaired"), run, steps=3, log_every=1,
                    overrides=("optim.lr=1e6",))  # fmt: skip
    status = _status(run)
    assert status["status"] == "completed" and info.warnings
    assert status["warnings"] == info.warnings and status["message"] == info.warnings[0]
    assert "losses are diverging at step" in info.warnings[0]
    assert "lower the learning rate" in caplog.text


class FailOnBatch:
    """Makes the n-th batch fetch fail (a data error between steps)."""

    def __init__(self, n: int, exc: BaseException) -> None:
        self.n, self.exc, self.calls = n, exc, 0

    def __call__(self, original):
        def fetch(trainer, batches, sig):
            self.calls += 1
            if self.calls == self.n:
                raise self.exc
            return original(trainer, batches, sig)

        return fetch


def test_failure_between_steps_saves_the_last_step(demo_data, tiny_run, tmp_path, monkeypatch):
    run = tmp_path / "run"
    fail = FailOnBatch(3, DatasetError("trainA/x.png is corrupt (strict mode)"))
    monkeypatch.setattr(Trainer, "_next_batch", fail(Trainer._next_batch))
    with pytest.raises(DatasetError):
        tiny_run("cyclegan", demo_data("unpaired"), run, steps=5)
    status = _status(run)
    assert status["status"] == "failed" and status["step"] == 2
    assert status["message"] == (
        "trainA/x.png is corrupt (strict mode); progress is saved in checkpoint step_0000002"
    )
    monkeypatch.undo()
    info = tiny_run("cyclegan", demo_data("unpaired"), run, steps=3, resume=True)
    assert info.start_step == 2 and _status(run)["status"] == "completed"


class KillWorkerAt:
    """Observer: SIGKILLs the DataLoader workers after a step (the kernel's OOM killer)."""

    def __init__(self, step: int) -> None:
        self.step = step

    @i2i.hookimpl
    def i2i_train_step_end(self, run, step, logs) -> None:
        if step == self.step:
            for pid in _children(os.getpid()):
                os.kill(pid, signal.SIGKILL)


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry))
    return out


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs /proc")
def test_dead_dataloader_worker_fails_between_steps(demo_data, tiny_run, tmp_path) -> None:
    """A worker killed mid-run is reported at the next step boundary (never inside a step), in
    one line; the last completed step is saved and loads."""
    ctx = load_context(extra=[("killer", KillWorkerAt(2))])
    run = tmp_path / "run"
    with pytest.raises(I2IError, match="a DataLoader worker process died") as err:
        tiny_run("cyclegan", demo_data("unpaired"), run, steps=50, workers=2, context=ctx)
    msg = describe_failure(err.value).message
    assert "fewer --workers" in msg and "\n" not in msg
    ckpt = load_checkpoint(run)
    status = _status(run)
    assert status["status"] == "failed" and ckpt.step == status["step"] >= 2
    assert msg.endswith(f"progress is saved in checkpoint step_{ckpt.step:07d}")
    ckpt.trainer_state()


class SigintAt:
    """Sends SIGINT to this process twice after a step (between steps)."""

    def __init__(self, step: int) -> None:
        self.step = step

    @i2i.hookimpl
    def i2i_train_step_end(self, run, step, logs) -> None:
        if step == self.step:
            os.kill(os.getpid(), signal.SIGINT)
            os.kill(os.getpid(), signal.SIGINT)


class SigintInStep(CycleGAN):
    """Ctrl-C twice inside step 3: in its generator losses and in its discriminator losses."""

    calls = 0

    def losses(self, group, batch, cache):
        type(self).calls += 1
        if type(self).calls in (5, 6):  # (G, D) losses of step 3
            os.kill(os.getpid(), signal.SIGINT)
        return super().losses(group, batch, cache)


@pytest.fixture
def python_sigint_handler():
    """Python's own Ctrl-C handler for the test, whatever an earlier test's library left
    installed (restored afterwards)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_double_ctrl_c_between_steps_saves_that_step(
    demo_data, tiny_run, tmp_path, python_sigint_handler
) -> None:
    ctx = load_context(extra=[("int", SigintAt(3))])
    run = tmp_path / "run"
    info = tiny_run("cyclegan", demo_data("unpaired"), run, steps=20, context=ctx)
    assert info.status == "interrupted" and info.stop_signal == signal.SIGINT
    status = _status(run)
    assert status["step"] == 3 == load_checkpoint(run).step
    assert status["message"] == (
        "received SIGINT twice; progress is saved in checkpoint step_0000003; continue with the "
        "same command plus --resume"
    )
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handlers restored


def test_double_ctrl_c_inside_a_step_abandons_it(demo_data, tiny_run, tmp_path) -> None:
    """The torn step is never saved; the checkpoint of the step before it is."""
    SigintInStep.calls = 0
    ctx = load_context(extra=[("m", _plugin("intcycle", SigintInStep))])
    run = tmp_path / "run"
    info = tiny_run("intcycle", demo_data("unpaired"), run, steps=20, checkpoint_every=1,
                    context=ctx)  # fmt: skip
    assert info.status == "interrupted" and info.stop_signal == signal.SIGINT
    assert _status(run)["message"] == (
        "received SIGINT twice: step 3 was abandoned; progress is saved in checkpoint "
        "step_0000002; continue with the same command plus --resume"
    )
    assert load_checkpoint(run).step == 2 and _status(run)["step"] == 2


def test_resume_beyond_the_run_length_is_an_error(demo_data, tiny_run, tmp_path) -> None:
    run = tmp_path / "run"
    tiny_run("cyclegan", demo_data("unpaired"), run, steps=3)
    with pytest.raises(ConfigError, match=r"checkpoint is at step 3, beyond this run's length "
                                          r"of 2 steps; pass --steps 4 or more"):  # fmt: skip
        tiny_run("cyclegan", demo_data("unpaired"), run, steps=2, resume=True)
    assert load_checkpoint(run).step == 3
    assert _status(run)["status"] == "failed"
    info = tiny_run("cyclegan", demo_data("unpaired"), run, steps=3, resume=True)  # complete
    assert info.status == "completed" and _status(run)["status"] == "completed"


def test_spade_too_small_names_the_smallest_size(ctx, demo_data, tiny_run, tmp_path) -> None:
    """Default SPADE depth (5 upsamplings) at --size 32 leaves a 1x1 map for batch norm."""
    with pytest.raises(ConfigError) as err:
        tiny_run("spade", demo_data("labelmap"), tmp_path / "run", steps=1, size=32,
                 load_size=32, overrides=("generator.num_upsampling=5",))  # fmt: skip
    msg = str(err.value)
    assert msg.startswith("--size 32 is too small for this model: a feature map shrinks")
    assert msg.endswith("the smallest size that works with batch size 1 is 64 (--size 64)")
    tiny_run("spade", demo_data("labelmap"), tmp_path / "ok", steps=1, size=64, load_size=64,
             overrides=("generator.num_upsampling=5",))  # fmt: skip


def test_run_directory_is_locked_and_stale_temporaries_go(demo_data, tiny_run, tmp_path):
    from i2i.training.run import lock_run

    run = tmp_path / "run"
    tiny_run("cyclegan", demo_data("unpaired"), run, steps=1)
    stale = run / "checkpoints" / ".tmp-step_0000002-99999"
    stale.mkdir()
    (stale / "model.safetensors").write_bytes(b"torn")
    (run / "checkpoints" / ".latest.abc.tmp").write_text("step_")
    # a crash while re-saving step 1 moved it aside: it is put back, not deleted
    (run / "checkpoints" / "step_0000001").rename(run / "checkpoints" / ".old-step_0000001-99999")
    with lock_run(run), pytest.raises(ConfigError, match="being trained by another process"):
        tiny_run("cyclegan", demo_data("unpaired"), run, steps=2, resume=True)
    tiny_run("cyclegan", demo_data("unpaired"), run, steps=2, resume=True)
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        "latest", "step_0000001", "step_0000002"
    ]  # fmt: skip


class SigtermAt:
    """Sends SIGTERM to this process after a step."""

    def __init__(self, step: int) -> None:
        self.step = step

    @i2i.hookimpl
    def i2i_train_step_end(self, run, step, logs) -> None:
        if step == self.step:
            os.kill(os.getpid(), signal.SIGTERM)


def test_sigterm_exit_status_and_the_last_step(demo_data, tmp_path) -> None:
    """A SIGTERM mid-run ends it 'interrupted' with exit status 143; one during the last step
    lets the run complete (nothing left to resume)."""
    from i2i.cli.train import run_training
    from i2i.errors import Interrupted

    def train(run, steps: int, at: int):
        ctx = load_context(extra=[("term", SigtermAt(at))])
        spec = ctx.models.get("cyclegan")
        opts = {"size": 32, "load_size": 36, "workers": 0, "device": "cpu", "steps": steps,
                "sample_every": 0, "checkpoint_every": 0, "log_every": 1}  # fmt: skip
        return run_training(ctx, spec, demo_data("unpaired"), run, train_options=opts,
                            overrides=list(spec.tiny), progress=False)  # fmt: skip

    with pytest.raises(Interrupted) as err:
        train(tmp_path / "mid", steps=4, at=2)
    assert err.value.exit_code == 143
    assert str(err.value).startswith("training received SIGTERM; progress is saved in checkpoint "
                                     "step_0000002")  # fmt: skip
    info = train(tmp_path / "last", steps=2, at=2)
    assert info.status == "completed" and _status(tmp_path / "last")["status"] == "completed"
