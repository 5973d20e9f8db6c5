from __future__ import annotations

import json

import pytest
import torch

import i2i
from i2i.errors import NonFiniteLossError, describe_failure
from i2i.manager import load_context
from i2i.plugins.cyclegan import SPEC, CycleGAN, CycleGANConfig
from i2i.training.checkpoint import list_checkpoints, load_checkpoint


def test_defaults_are_the_paper_recipe(ctx) -> None:
    c = CycleGANConfig()
    g, d = c.generator, c.discriminator
    assert (g.arch, g.ngf, g.n_blocks, g.norm, g.padding) == (
        "resnet",
        64,
        9,
        "instance",
        "reflect",
    )
    assert (d.arch, d.ndf, d.n_layers, d.norm) == ("patchgan", 64, 3, "instance")
    assert (c.loss.gan_mode, c.loss.lambda_cycle, c.loss.lambda_identity) == ("lsgan", 10.0, 0.5)
    assert c.pool_size == 50
    assert (c.optim.lr, c.optim.beta1, c.schedule.kind) == (2e-4, 0.5, "linear_decay")
    model = CycleGAN(c, ctx)
    n_g = sum(p.numel() for p in model.G_A.parameters())
    n_d = sum(p.numel() for p in model.D_A.parameters())
    assert (n_g, n_d) == (11_378_179, 2_764_737)  # the reference ResNet-9 and 70x70 PatchGAN
    assert SPEC.default_train["epochs"] == 200


class StopAt:
    """An observer plugin that asks the trainer to stop, like SIGINT does."""

    def __init__(self, step: int) -> None:
        self.step = step

    @i2i.hookimpl
    def i2i_train_step_end(self, run, step, logs) -> None:
        if step == self.step:
            run.request_stop("test stop")


def test_resume_gives_identical_weights(demo_data, tiny_run, tmp_path) -> None:
    data = demo_data("unpaired")
    common = dict(steps=6, overrides=("generator.dropout=0.5",), batch_size=2)
    tiny_run("cyclegan", data, tmp_path / "straight", **common)

    ctx = load_context(extra=[("stopper", StopAt(3))])
    info = tiny_run("cyclegan", data, tmp_path / "resumed", context=ctx, **common)
    assert info.stop_reason == "test stop"
    status = json.loads((tmp_path / "resumed" / "status.json").read_text())
    assert status["status"] == "interrupted" and status["step"] == 3
    # resume with DataLoader workers: data order and augmentation do not depend on them
    tiny_run("cyclegan", data, tmp_path / "resumed", resume=True, workers=2, **common)

    a = load_checkpoint(tmp_path / "straight")
    b = load_checkpoint(tmp_path / "resumed")
    assert a.step == b.step == 6
    assert a.weights.keys() == b.weights.keys()
    for k in a.weights:
        assert torch.equal(a.weights[k], b.weights[k]), k
    sa, sb = a.trainer_state(), b.trainer_state()
    for k in sa["training_state"]:  # the image pools too
        assert torch.equal(sa["training_state"][k], sb["training_state"][k]), k
    lines = (tmp_path / "resumed" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines] == [1, 2, 3, 4, 5, 6]


class NaNAt(CycleGAN):
    def losses(self, group, batch, cache):
        out = super().losses(group, batch, cache)
        if group == "G" and self.calls_left == 0:
            out["cycle_A"] = out["cycle_A"] * float("nan")
        self.calls_left -= group == "G"
        return out


class NaNPlugin:
    @i2i.hookimpl
    def i2i_register_models(self, registrar) -> None:
        def build(cfg, ctx):
            m = NaNAt(cfg, ctx)
            m.calls_left = 3
            return m

        registrar.add(
            "nancycle", i2i.ModelSpec(**{**SPEC.__dict__, "name": "nancycle", "build": build})
        )


def test_non_finite_loss_stops_and_keeps_last_good_checkpoint(demo_data, tiny_run, tmp_path):
    ctx = load_context(extra=[("nan", NaNPlugin())])
    run = tmp_path / "run"
    with pytest.raises(NonFiniteLossError, match=r"'G/cycle_A' is nan at step 4") as err:
        tiny_run("nancycle", demo_data("unpaired"), run, steps=6, context=ctx, checkpoint_every=2)
    msg = describe_failure(err.value).message  # says which checkpoint is left, truthfully
    assert msg.endswith("the last checkpoint is step_0000002 (step 2); later steps are lost")
    assert [p.name for p in list_checkpoints(run / "checkpoints")] == ["step_0000002"]
    assert load_checkpoint(run).step == 2
    assert json.loads((run / "status.json").read_text())["status"] == "failed"


def test_grayscale_to_rgb_and_wgangp(demo_data, tiny_run, tmp_path) -> None:
    info = tiny_run(
        "cyclegan",
        demo_data("unpaired"),
        tmp_path / "run",
        overrides=("input_nc=1", "loss.gan_mode=wgangp", "generator.upsample=resize"),
    )
    assert info.total_steps == 2
    rec = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert "G/idt_A" not in rec  # identity loss needs equal channel counts
    assert rec["D/total"] == rec["D/total"]  # finite, with the gradient penalty


class FailingLoader:
    """Decodes like the built-in loader but fails on one file, as a truncated image would."""

    @i2i.hookimpl
    def i2i_load_image(self, path, channels):
        if path.name == "bad.png":
            raise i2i.ImageReadError(f"{path}: image file is truncated")
        return None  # let the built-in loader decode it


def _small_dataset(src, dst, n=4):
    import shutil

    for folder in ("trainA", "trainB"):
        (dst / folder).mkdir(parents=True)
        for i, f in enumerate(sorted((src / folder).glob("*.png"))[:n]):
            name = "bad.png" if (folder, i) == ("trainA", 1) else f.name
            shutil.copy(f, dst / folder / name)


def test_corrupt_image_is_skipped_and_counted(demo_data, tiny_run, tmp_path) -> None:
    data = tmp_path / "data"
    _small_dataset(demo_data("unpaired"), data)
    ctx = load_context(extra=[("failing", FailingLoader())])
    info = tiny_run("cyclegan", data, tmp_path / "run", steps=4, batch_size=2, context=ctx)
    assert info.skipped_images == 2  # 4 images per epoch, 2 epochs, one bad file
    status = json.loads((tmp_path / "run" / "status.json").read_text())
    assert status["status"] == "completed" and status["skipped_images"] == 2
    last = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["skipped_images"] == 2

    with pytest.raises(i2i.ImageReadError, match="bad.png"):
        tiny_run("cyclegan", data, tmp_path / "strict", steps=4, batch_size=2, context=ctx,
                 strict=True)  # fmt: skip


@pytest.mark.filterwarnings("ignore")
def test_both_directions_export_to_onnx(ctx, tmp_path) -> None:
    """Both generators are plain exportable modules (the full `i2i export` is issue 4)."""
    import numpy as np
    import onnxruntime as ort

    from i2i.config import apply_overrides

    model = CycleGAN(apply_overrides(CycleGANConfig(), list(SPEC.tiny)), ctx).eval()
    for direction in SPEC.directions:
        g = model.inference_module(direction)
        path = tmp_path / f"{direction}.onnx"
        axes = {0: "n", 2: "h", 3: "w"}
        torch.onnx.export(
            g, (torch.zeros(1, 3, 32, 48),), str(path), dynamo=False, opset_version=17,
            input_names=["image"], output_names=["out"],
            dynamic_axes={"image": axes, "out": axes},
        )  # fmt: skip
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        for shape in ((1, 3, 32, 48), (2, 3, 64, 36)):
            x = torch.rand(*shape) * 2 - 1
            with torch.no_grad():
                ref = g(x).numpy()
            out = sess.run(None, {"image": x.numpy()})[0]
            assert out.shape == ref.shape
            assert np.abs(out - ref).max() < 1e-4


class EMACycleGAN(CycleGAN):
    """CycleGAN whose AtoB generator is evaluated with EMA weights (trainer after_step hook)."""

    def __init__(self, cfg, ctx) -> None:
        super().__init__(cfg, ctx)
        from i2i.nn import ModelEMA

        self.G_A_ema = ModelEMA(self.G_A, decay=0.9)
        self.calls: list[tuple[str, int]] = []

    def after_step(self, group, step) -> None:
        self.calls.append((group, step))
        if group == "G":
            self.G_A_ema.update(self.G_A)

    def inference_module(self, direction=None):
        return (
            self.G_A_ema if (direction or "AtoB") == "AtoB" else super().inference_module(direction)
        )


class EMAPlugin:
    @i2i.hookimpl
    def i2i_register_models(self, registrar) -> None:
        spec = i2i.ModelSpec(**{**SPEC.__dict__, "name": "emacycle", "build": EMACycleGAN})
        registrar.add("emacycle", spec)


def test_after_step_hook_and_ema_checkpoint(demo_data, tiny_run, tmp_path) -> None:
    from i2i.training.checkpoint import load_model

    ctx = load_context(extra=[("ema", EMAPlugin())])
    tiny_run("emacycle", demo_data("unpaired"), tmp_path / "run", steps=3, context=ctx)
    loaded = load_model(ctx, tmp_path / "run").model
    assert int(loaded.G_A_ema.num_updates) == 3
    assert not torch.equal(loaded.G_A_ema.module.model[1].weight, loaded.G_A.model[1].weight)
    assert loaded.inference_module("AtoB") is loaded.G_A_ema
    from i2i.training.trainer import TrainStep

    model = loaded
    step = TrainStep(model, torch.device("cpu"))
    batch = {"A": torch.rand(1, 3, 32, 32) * 2 - 1, "B": torch.rand(1, 3, 32, 32) * 2 - 1}
    model.calls.clear()
    step(batch, 7)
    assert model.calls == [("G", 7), ("D", 7)]


def test_lr_scale_hook_multiplies_the_schedule(ctx) -> None:
    """``GANModel.lr_scale(group, step)`` scales a group's LR at a step, on top of the
    schedule's factor; a negative or non-finite scale is a clear error."""
    from i2i.training.trainer import TrainStep

    spec = ctx.models.get("cyclegan")
    cfg = i2i.config.apply_overrides(spec.config_cls(), spec.tiny)
    model = spec.build(cfg, ctx)
    scales = {"G": 1.0, "D": 1.0}
    model.lr_scale = lambda group, step: scales[group] * (3.0 if step < 2 else 1.0)
    step = TrainStep(model, torch.device("cpu"))
    base = {g.name: g.lr for g in model.optimizer_groups()}
    step.set_lr_factor(0.5, 1)
    assert step.lrs() == {f"lr/{n}": pytest.approx(lr * 1.5) for n, lr in base.items()}
    step.set_lr_factor(0.5, 2)
    assert step.lrs() == {f"lr/{n}": pytest.approx(lr * 0.5) for n, lr in base.items()}
    step.set_lr_factor(0.5)  # no step: the schedule alone
    assert step.lrs() == {f"lr/{n}": pytest.approx(lr * 0.5) for n, lr in base.items()}
    scales["D"] = float("nan")
    with pytest.raises(i2i.ConfigError, match="lr_scale of group 'D' at step 3 must be a finite"):
        step.set_lr_factor(1.0, 3)
