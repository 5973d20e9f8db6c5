from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from i2i.config import apply_overrides
from i2i.errors import ConfigError
from i2i.export.translate import translate_folder
from i2i.plugins.pix2pix import SPEC, Pix2Pix, Pix2PixConfig


def tiny_config(*extra: str) -> Pix2PixConfig:
    return apply_overrides(Pix2PixConfig(), [*SPEC.tiny, *extra])


def test_defaults_are_the_paper_recipe(ctx) -> None:
    c = Pix2PixConfig()
    g, d = c.generator, c.discriminator
    assert (g.arch, g.ngf, g.norm, g.dropout) == ("unet_256", 64, "batch", 0.5)
    assert (d.arch, d.ndf, d.n_layers, d.norm) == ("patchgan", 64, 3, "batch")
    assert (c.loss.gan_mode, c.loss.lambda_l1) == ("vanilla", 100.0)
    assert (c.optim.lr, c.optim.beta1, c.schedule.kind, c.direction) == (
        2e-4, 0.5, "linear_decay", "AtoB"
    )  # fmt: skip
    model = Pix2Pix(c, ctx)
    n_g = sum(p.numel() for p in model.G.parameters())
    n_d = sum(p.numel() for p in model.D.parameters())
    assert (n_g, n_d) == (54_413_955, 2_768_705)  # reference unet_256 and 6-channel PatchGAN
    assert model.step_groups(0) == ("D", "G")  # D first, as the paper code
    assert SPEC.default_train["batch_size"] == 1


def test_inference_semantics(ctx) -> None:
    torch.manual_seed(0)
    model = Pix2Pix(tiny_config(), ctx)
    with torch.no_grad():  # give batch norm some running statistics that differ from per-image
        model.G.train()
        for _ in range(3):
            model.G(torch.randn(4, 3, 32, 32) * 3 + 1)
    inf = model.inference_module()
    kinds = {type(m) for m in inf.modules()}
    assert nn.BatchNorm2d not in kinds and not any(issubclass(k, nn.Dropout) for k in kinds)
    x = torch.rand(3, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        batch = inf(x)
        single = torch.cat([inf(x[i : i + 1]) for i in range(3)])
        torch.testing.assert_close(batch, single)  # independent of batch composition
        # = the paper's test-time behaviour at batch size 1, with dropout off
        ref = Pix2Pix(tiny_config("generator.dropout=0.0"), ctx)
        ref.load_state_dict(model.state_dict())
        ref.G.train()
        torch.testing.assert_close(single, torch.cat([ref.G(x[i : i + 1]) for i in range(3)]))
        # "running": the reference code's --eval
        running = Pix2Pix(tiny_config("inference_norm=running"), ctx)
        running.load_state_dict(model.state_dict())
        ref.load_state_dict(model.state_dict())  # the train-mode calls above moved its stats
        ref.G.eval()
        torch.testing.assert_close(running.inference_module()(x), ref.G(x))
    assert model.G.training  # building the inference module did not touch the trained net


def test_direction_btoa_and_errors(ctx, demo_data, tiny_run, tmp_path) -> None:
    run = tmp_path / "run"
    tiny_run("pix2pix", demo_data("aligned"), run, steps=1, overrides=("direction=BtoA",))
    rec = json.loads((run / "metrics.jsonl").read_text().splitlines()[-1])
    assert {"D/gan", "G/gan", "G/l1"} <= set(rec)
    src = tmp_path / "in"
    from i2i.datasets.image_io import write_image

    write_image(src / "x.png", np.random.default_rng(0).random((40, 50, 3), np.float32))
    res = translate_folder(ctx, run, src, tmp_path / "out", device="cpu")
    assert len(res.written) == 1
    with pytest.raises(ConfigError, match="translates in direction"):
        translate_folder(ctx, run, src, tmp_path / "out2", direction="AtoB", device="cpu")
    with pytest.raises(ConfigError, match="direction must be AtoB or BtoA"):
        Pix2Pix(tiny_config("direction=sideways"), ctx)


def test_short_run_lowers_l1(demo_data, tiny_run, tmp_path) -> None:
    run = tmp_path / "run"
    tiny_run(
        "pix2pix", demo_data("aligned"), run, steps=120, batch_size=4,
        overrides=("generator.ngf=8", "optim.lr=0.001", "schedule.kind=constant"),
    )  # fmt: skip
    l1 = [json.loads(x)["G/l1"] for x in (run / "metrics.jsonl").read_text().splitlines()]
    first, last = np.mean(l1[:10]), np.mean(l1[-10:])
    assert last < 0.7 * first, (first, last)


@pytest.mark.filterwarnings("ignore")
def test_inference_module_exports_to_onnx(ctx, tmp_path) -> None:
    import onnxruntime as ort

    model = Pix2Pix(tiny_config(), ctx)
    g = model.inference_module()
    path = tmp_path / "p2p.onnx"
    axes = {0: "n", 2: "h", 3: "w"}
    torch.onnx.export(
        g, (torch.zeros(1, 3, 32, 32),), str(path), dynamo=False, opset_version=17,
        input_names=["image"], output_names=["out"], dynamic_axes={"image": axes, "out": axes},
    )  # fmt: skip
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for shape in ((1, 3, 32, 32), (2, 3, 64, 96)):
        x = torch.rand(*shape) * 2 - 1
        with torch.no_grad():
            ref = g(x).numpy()
        assert np.abs(sess.run(None, {"image": x.numpy()})[0] - ref).max() < 1e-4
