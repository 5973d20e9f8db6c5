from __future__ import annotations

import json
import os
import re

import pytest
import torch

from i2i.errors import CheckpointError
from i2i.training.checkpoint import (
    find_checkpoint,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
)

RUN_CONFIG = {"family": "toy", "data": "x", "train": {}, "model": {}}


def _save(root, step, keep=3):
    sd = {"w": torch.full((2, 2), float(step)), "b": torch.zeros(3)}
    return save_checkpoint(root, step, sd, RUN_CONFIG, {"opt": {"x": torch.ones(1)}}, keep=keep)


def test_save_load_latest_and_metadata(tmp_path) -> None:
    root = tmp_path / "run" / "checkpoints"
    _save(root, 5)
    path = _save(root, 10)
    assert (root / "latest").read_text().strip() == path.name
    for src in (tmp_path / "run", root, path, path / "model.safetensors"):
        assert find_checkpoint(src) == path / "model.safetensors"
    ckpt = load_checkpoint(tmp_path / "run")
    assert ckpt.family == "toy" and ckpt.step == 10 and ckpt.run_config == RUN_CONFIG
    assert torch.equal(ckpt.weights["w"], torch.full((2, 2), 10.0))
    assert ckpt.trainer_state()["step"] == 10
    assert not [p for p in root.iterdir() if p.name.startswith(".")]  # no temp leftovers


def test_prune_keeps_newest(tmp_path) -> None:
    root = tmp_path / "checkpoints"
    for s in (1, 2, 3, 4):
        _save(root, s, keep=2)
    assert [p.name for p in list_checkpoints(root)] == ["step_0000003", "step_0000004"]


def test_crash_during_save_keeps_previous(tmp_path, monkeypatch) -> None:
    root = tmp_path / "checkpoints"
    _save(root, 1)

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(CheckpointError, match="disk full; the previous checkpoint step_0000001"):
        _save(root, 2)
    assert load_checkpoint(root).step == 1
    assert [p.name for p in root.iterdir() if p.is_dir()] == ["step_0000001"]


def test_errors_are_clear(tmp_path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        find_checkpoint(tmp_path / "nope")
    with pytest.raises(CheckpointError, match="no checkpoint found"):
        find_checkpoint(tmp_path)
    bad = tmp_path / "model.safetensors"
    bad.write_bytes(os.urandom(64))
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        load_checkpoint(bad)
    txt = tmp_path / "weights.bin"
    txt.write_text("x")
    with pytest.raises(CheckpointError, match="not a checkpoint"):
        find_checkpoint(txt)


# -- tampered checkpoints: one line, nothing built beyond the weights' size ---------------------


def _copy_with_meta(src_run, dst, edit):
    import shutil

    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    shutil.copytree(src_run, dst)
    f = find_checkpoint(dst)
    with safe_open(str(f), "pt") as sf:
        meta = dict(sf.metadata())
    edit(meta)
    save_file(load_file(str(f)), str(f), metadata=meta)
    return f


def _config_edit(fn):
    def edit(meta):
        cfg = json.loads(meta["i2i_run_config"])
        fn(cfg)
        meta["i2i_run_config"] = json.dumps(cfg)

    return edit


TAMPERED = [
    ("wrong-family", lambda m: m.update(i2i_family="pix2pix"), "metadata disagree"),
    ("bad-json", lambda m: m.update(i2i_run_config="{bad"), "is not valid JSON"),
    ("step-abc", lambda m: m.update(i2i_step="abc"), "i2i_step must be a whole number"),
    ("not-installed", _config_edit(lambda c: c.update(family="nope")), "metadata disagree"),
    ("both-unknown", lambda m: (m.update(i2i_family="nope"),
                                _config_edit(lambda c: c.update(family="nope"))(m)),
     "written by the 'nope' family, which is not installed"),
    ("lr-nan", _config_edit(lambda c: c["model"]["optim"].update(lr=float("nan"))),
     "'optim.lr' must be a finite number"),
    ("train-not-a-table", _config_edit(lambda c: c.update(train=5)), "must be a table"),
    ("ngf", _config_edit(lambda c: c["model"]["generator"].update(ngf=100000)),
     "larger than the weights it holds"),
    ("n_blocks", _config_edit(lambda c: c["model"]["generator"].update(n_blocks=100000)),
     "larger than the weights it holds"),
    ("ngf-smaller", _config_edit(lambda c: c["model"]["generator"].update(ngf=4)),
     "is [8, 3, 7, 7] in the file but [4, 3, 7, 7] in the model"),
    ("negative", _config_edit(lambda c: c["model"]["generator"].update(ngf=-3)),
     "ngf must be an integer >= 1, got -3"),
]  # fmt: skip


@pytest.mark.parametrize("case", TAMPERED, ids=[c[0] for c in TAMPERED])
def test_tampered_metadata_fails_in_one_line(case, ctx, one_step_run, tmp_path) -> None:
    import resource
    import time

    from i2i.errors import I2IError
    from i2i.training.checkpoint import load_model

    _, edit, expected = case
    f = _copy_with_meta(one_step_run, tmp_path / "run", edit)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t = time.perf_counter()
    with pytest.raises(I2IError) as err:
        load_model(ctx, tmp_path / "run")
    assert time.perf_counter() - t < 20
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss) / 1024
    assert grown_mb < 300, grown_mb  # nothing near ngf=100000's gigabytes was allocated
    msg = str(err.value)
    assert expected in msg and "\n" not in msg and str(f) in msg


def test_trainer_state_is_checked_on_resume(ctx, demo_data, one_step_run, tmp_path) -> None:
    import shutil

    from i2i.training.run import resolve_run_config
    from i2i.training.trainer import Trainer

    spec = ctx.models.get("cyclegan")
    train = {"size": 32, "load_size": 36, "workers": 0, "device": "cpu", "steps": 3}
    rc = resolve_run_config(spec, demo_data("unpaired"), train_options=train,
                            overrides=list(spec.tiny))  # fmt: skip
    edits = {
        "no-optimizers": (lambda s: s.pop("optimizers"), "has no 'optimizers'"),
        "step": (lambda s: s.update(step=7), "at step 7 but model.safetensors at step 1"),
        "scaler-type": (lambda s: s.update(scaler=[1]), "'scaler' is a list"),
        "moment-shape": (
            lambda s: s["optimizers"]["G"]["state"][0].update(exp_avg=torch.zeros(3)),
            "state 'exp_avg' has shape [3]",
        ),
        "nan-moment": (
            lambda s: s["optimizers"]["D"]["state"][0]["exp_avg_sq"].fill_(float("nan")),
            "holds NaN or infinite values",
        ),
        "rng": (lambda s: s.update({"rng/cpu": torch.zeros(3, dtype=torch.uint8)}),
                "cannot be resumed (RuntimeError"),
        "step-list": (lambda s: s["optimizers"]["G"]["state"][0].update(step=[1]),
                      "cannot be resumed (TypeError"),
        "lr-text": (lambda s: s["optimizers"]["D"]["param_groups"][0].update(lr="fast"),
                    "optimizer 'D' has unusable settings"),
    }  # fmt: skip
    for name, (edit, expected) in edits.items():
        run = tmp_path / name
        shutil.copytree(one_step_run, run)
        f = find_checkpoint(run).parent / "trainer.pt"
        state = torch.load(f, weights_only=True)
        edit(state)
        torch.save(state, f)
        with pytest.raises(CheckpointError, match=re.escape(expected)):
            Trainer(ctx, rc, run, resume=True).fit()
        status = json.loads((run / "status.json").read_text())
        assert status["status"] == "failed" and expected in status["message"], name


def test_latest_and_links_never_leave_the_run(tmp_path) -> None:
    root = tmp_path / "run" / "checkpoints"
    _save(root, 1)
    elsewhere = tmp_path / "elsewhere" / "checkpoints"
    _save(elsewhere, 9)
    (root / "latest").write_text("../../elsewhere/checkpoints/step_0000009\n")
    with pytest.raises(CheckpointError, match="not a checkpoint folder of this run"):
        find_checkpoint(tmp_path / "run")
    (root / "latest").unlink()
    (root / "step_0000009").symlink_to(elsewhere / "step_0000009")
    assert find_checkpoint(tmp_path / "run") == root / "step_0000001" / "model.safetensors"
    (root / "latest").write_text("step_0000009\n")
    with pytest.raises(CheckpointError, match="links outside the run"):
        find_checkpoint(tmp_path / "run")
    # naming the checkpoint explicitly is the user's choice
    assert load_checkpoint(root / "step_0000009").step == 9


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_checkpoint_files_get_one_mode_from_the_umask(tmp_path, umask) -> None:
    old = os.umask(umask)
    try:
        path = _save(tmp_path / "checkpoints", 3)
    finally:
        os.umask(old)
    files = [path / "model.safetensors", path / "trainer.pt", tmp_path / "checkpoints" / "latest"]
    assert {f.stat().st_mode & 0o777 for f in files} == {0o666 & ~umask}


def test_non_finite_state_is_never_saved(tmp_path) -> None:
    from i2i.errors import NonFiniteStateError

    root = tmp_path / "checkpoints"
    _save(root, 1)
    bad = {"w": torch.tensor([1.0, float("nan")])}
    with pytest.raises(NonFiniteStateError, match=r"weights hold NaN or infinite values \(w\)"):
        save_checkpoint(root, 2, bad, RUN_CONFIG, {})
    with pytest.raises(NonFiniteStateError, match=r"optimizer / training state .*\(opt.m\)"):
        save_checkpoint(root, 2, {"w": torch.ones(1)}, RUN_CONFIG,
                        {"opt": {"m": torch.tensor([float("inf")])}})  # fmt: skip
    assert [p.name for p in list_checkpoints(root)] == ["step_0000001"]
