"""The SPADE family: learning on the demo data, VGG loss from a local file, the VAE / instance /
dontcare paths, ONNX export of every direction with onnxruntime parity, label-map engines."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from PIL import Image

from i2i.datasets.image_io import read_image, write_image
from i2i.datasets.labelmap import DEMO_CLASSES, read_label_map
from i2i.errors import ConfigError, InputError
from i2i.export.engine import OrtEngine, TorchEngine
from i2i.export.metadata import OUTPUT_NAME, read_metadata
from i2i.export.onnx import export_onnx, make_inputs
from i2i.export.translate import translate_folder
from i2i.training.checkpoint import load_model

C = len(DEMO_CLASSES)


def _class_means(labels: np.ndarray, images: np.ndarray) -> np.ndarray:
    """Mean RGB of each demo class over ``images`` (``N x H x W x 3``), ``C x 3``."""
    return np.stack([images[labels == c].mean(0) for c in range(C)])


def _load_split(root: Path, split: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    labels = sorted((root / split / "labels").glob("*.png"))[:n]
    images = sorted((root / split / "images").glob("*.png"))[:n]
    return np.stack([read_label_map(p) for p in labels]), np.stack([read_image(p) for p in images])


def test_training_moves_per_class_colours_toward_the_data(
    ctx, demo_data, tiny_run, tmp_path
) -> None:
    """A short CPU run: the mean colour of each class region in generated images gets much closer
    to that class's mean colour in the dataset (measured on held-out test label maps)."""
    root = demo_data("labelmap")
    target = _class_means(*_load_split(root, "train", 60))
    test_labels, _ = _load_split(root, "test", 12)

    def distance(model) -> float:
        module = model.inference_module().eval()
        with torch.no_grad():
            y = module(torch.from_numpy(test_labels[:, None]))
        gen = ((y.permute(0, 2, 3, 1).numpy() + 1) / 2).clip(0, 1)
        return float(np.linalg.norm(_class_means(test_labels, gen) - target, axis=1).mean())

    spec = ctx.models.get("spade")
    cfg = spec.config_cls()
    from i2i.config import apply_overrides

    torch.manual_seed(0)
    before = distance(
        spec.build(dataclasses.replace(apply_overrides(cfg, spec.tiny), label_nc=C), ctx)
    )
    run = tmp_path / "run"
    tiny_run("spade", root, run, steps=400, log_every=100)
    after = distance(load_model(ctx, run).model)
    print(f"per-class colour distance to the data: init {before:.3f} -> trained {after:.3f}")
    assert after < 0.5 * before and after < 0.2


@pytest.fixture(scope="module")
def random_vgg(tmp_path_factory) -> Path:
    """A randomly initialized torchvision VGG19 state dict saved to a file (the real format)."""
    import torchvision

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("vgg") / "vgg19.pth"
    torch.save(torchvision.models.vgg19(weights=None).state_dict(), path)
    return path


def test_vgg_loss_from_a_local_file_and_log_lines(
    ctx, demo_data, tiny_run, tmp_path, random_vgg, caplog
) -> None:
    root = demo_data("labelmap")
    with caplog.at_level(logging.INFO):
        tiny_run("spade", root, tmp_path / "off", steps=1)
    assert "VGG perceptual loss is off: no vgg_weights given" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.INFO):
        tiny_run("spade", root, tmp_path / "on", steps=2, overrides=(f"vgg_weights={random_vgg}",))
    assert f"VGG perceptual loss is on: weights {random_vgg}" in caplog.text
    import json

    last = json.loads((tmp_path / "on" / "metrics.jsonl").read_text().splitlines()[-1])
    assert last["G/vgg"] > 0 and np.isfinite(last["G/vgg"])
    off = json.loads((tmp_path / "off" / "metrics.jsonl").read_text().splitlines()[-1])
    assert "G/vgg" not in off
    # the VGG is an external asset: not in the checkpoint
    model = load_model(ctx, tmp_path / "on").model
    assert not any("vgg" in k for k in model.state_dict())
    with pytest.raises(ConfigError, match="does not exist|not found|no such"):
        tiny_run("spade", root, tmp_path / "bad", steps=1, overrides=("vgg_weights=/nope/vgg.pth",))


def _train(ctx, data: Path, out: Path, steps: int, overrides: tuple[str, ...]) -> Path:
    from i2i.training.run import resolve_run_config
    from i2i.training.trainer import Trainer

    spec = ctx.models.get("spade")
    train = {
        "size": 32, "load_size": 36, "batch_size": 2, "workers": 0, "device": "cpu",
        "log_every": 1, "sample_every": 0, "checkpoint_every": 0, "steps": steps,
    }  # fmt: skip
    rc = resolve_run_config(
        spec, data, train_options=train, overrides=list(spec.tiny) + list(overrides)
    )
    Trainer(ctx, rc, out).fit()
    return out


@pytest.fixture(scope="module")
def full_run(ctx, demo_data, tmp_path_factory) -> Path:
    """A 2-step tiny run with the style encoder, instance maps and a dontcare id; a large init
    gain and instance norm give outputs far from trivial (for meaningful parity checks)."""
    out = tmp_path_factory.mktemp("spade-full") / "run"
    overrides = (
        "use_vae=true", "use_instances=true", "dontcare=255",
        "generator.init_gain=1.0", "generator.norm=instance",
    )  # fmt: skip
    return _train(ctx, demo_data("labelmap"), out, steps=2, overrides=overrides)


def test_vae_instances_dontcare_training(ctx, full_run) -> None:
    import json

    last = json.loads((full_run / "metrics.jsonl").read_text().splitlines()[-1])
    assert {"G/gan", "G/feat", "G/kld", "D/fake", "D/real"} <= set(last)
    model = load_model(ctx, full_run).model.eval()
    cfg = model.config
    assert cfg.label_nc == C and cfg.use_vae and cfg.use_instances  # label_nc from the data
    assert model.inference_directions() == ("AtoB", "style")
    assert model.G.fc.in_features == 8  # the tiny z_dim
    assert model.G.head_0.norm_0.shared[0].in_channels == C + 2  # + dontcare + instance edge
    info = model.inference_info("style")
    assert info.inputs == ("label", "instance", "style") and info.num_classes == C
    # dontcare pixels are accepted and change the output; unknown ids are refused
    x = make_inputs(info, (1, C, 32, 32), torch.Generator().manual_seed(0))
    m = model.inference_module("style")
    dc = x[0].clone()
    dc[..., :8, :8] = 255
    with torch.no_grad():
        assert not torch.allclose(m(*x), m(dc, *x[1:]))
        # the style image matters
        assert not torch.allclose(m(*x), m(x[0], x[1], -x[2]))
    bad = x[0].clone()
    bad[0, 0, 0, 0] = 7
    with pytest.raises(InputError, match=r"ids \[7\] outside \[0, 6\) or 255"):
        m(bad, *x[1:])


@pytest.mark.parametrize("direction", ["AtoB", "style"])
def test_export_every_direction_with_onnxruntime_parity(ctx, full_run, tmp_path, direction) -> None:
    out = tmp_path / f"{direction}.onnx"
    result = export_onnx(ctx, full_run, out, direction=direction)
    assert all(c["max_abs_diff"] < 1e-4 for c in result.checks) and len(result.checks) == 2
    meta = read_metadata(out)
    kinds = [i["kind"] for i in meta.inputs]
    assert kinds == (
        ["label", "instance", "style"] if direction == "style" else ["label", "instance"]
    )
    assert meta.inputs[0]["dtype"] == "int64" and meta.inputs[0]["dontcare"] == 255
    assert meta.label_dontcare == 255 and meta.inference_info().in_channels == C
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [i.type for i in sess.get_inputs()][:2] == ["tensor(int64)", "tensor(int64)"]

    model = load_model(ctx, full_run).model.eval()
    info = model.inference_info(direction)
    xs = list(make_inputs(info, (3, C, 40, 24), torch.Generator().manual_seed(5)))  # new shape
    xs[0][0, 0, :4, :4] = 255  # dontcare in the graph too
    with torch.no_grad():
        ref = model.inference_module(direction)(*xs).numpy()
    got = sess.run(
        [OUTPUT_NAME], {i.name: x.numpy() for i, x in zip(sess.get_inputs(), xs, strict=True)}
    )[0]
    assert got.shape == (3, 3, 40, 24) and ref.std() > 0.05  # a non-trivial output
    assert np.abs(got - ref).max() < 1e-4


def test_translate_label_maps_torch_and_onnx_agree(ctx, full_run, demo_data, tmp_path) -> None:
    root = demo_data("labelmap")
    onnx_path = tmp_path / "style.onnx"
    export_onnx(ctx, full_run, onnx_path, direction="style", verify=False)
    labels = tmp_path / "labels"
    labels.mkdir()
    for p in sorted((root / "test" / "labels").glob("*.png"))[:3]:  # crop to an odd size
        Image.fromarray(read_label_map(p)[:45, :51].astype(np.uint8)).save(labels / p.name)
    insts = tmp_path / "inst"
    insts.mkdir()
    for p in sorted((root / "test" / "instances").glob("*.png"))[:3]:
        Image.fromarray(read_label_map(p)[:45, :51].astype(np.uint16)).save(insts / p.name)
    style = root / "test" / "images"
    outs = {}
    for name, source in (("torch", full_run), ("onnx", onnx_path)):
        res = translate_folder(
            ctx, source, labels, tmp_path / name, style=style, instances=insts, device="cpu",
            tile=32 if name == "onnx" else 0, overlap=8,
        )  # fmt: skip
        assert len(res.written) == 3 and not res.failed
        outs[name] = np.stack([read_image(p) for p in sorted((tmp_path / name).glob("*.png"))])
    # the label maps' size, also when translated in tiles (instance and label maps are cut into
    # the same tiles, the style image goes whole with each; an instance-norm generator renders
    # each tile with its own statistics, so tiles are not compared with the whole image here)
    assert outs["torch"].shape == outs["onnx"].shape == (3, 45, 51, 3)
    res = translate_folder(
        ctx, onnx_path, labels, tmp_path / "whole", style=style, instances=insts, device="cpu"
    )
    whole = np.stack([read_image(p) for p in sorted((tmp_path / "whole").glob("*.png"))])
    assert np.abs(whole - outs["torch"]).max() <= 2 / 255 + 1e-6  # 8-bit rounding only
    with pytest.raises(ConfigError, match="--instances DIR"):
        translate_folder(ctx, full_run, labels, tmp_path / "x", style=style, device="cpu")
    with pytest.raises(ConfigError, match="no unique style image"):
        translate_folder(ctx, full_run, labels, tmp_path / "y", style=insts.parent, instances=insts)


def test_label_engines_check_ids_and_pad_with_valid_ids(ctx, full_run, tmp_path) -> None:
    model = load_model(ctx, full_run).model.eval()
    info = model.inference_info("AtoB")
    engine = TorchEngine(model.inference_module("AtoB"), info)
    assert engine.takes_labels and engine.label_dontcare == 255
    label, inst = (
        a.numpy() for a in make_inputs(info, (1, C, 37, 29), torch.Generator().manual_seed(0))
    )
    y = engine(label.astype(np.uint8), inst)  # any integer dtype; padded to the stride
    assert y.shape == (1, 3, 37, 29)
    with pytest.raises(InputError, match=r"ids 6, 9 outside \[0, 6\) or the dontcare id 255"):
        bad = label.copy()
        bad[0, 0, 0, :2] = (6, 9)
        engine(bad, inst)
    with pytest.raises(InputError, match="integer class ids"):
        engine(label.astype(np.float32), inst)
    with pytest.raises(InputError, match="label map and 0 more"):
        engine(label)
    with pytest.raises(InputError, match="instance map must be"):
        engine(label, inst[..., :-1])
    onnx_path = tmp_path / "m.onnx"
    export_onnx(ctx, full_run, onnx_path, verify=False)
    ort_engine = OrtEngine(onnx_path, "cpu")
    assert ort_engine.label_dontcare == 255 and ort_engine.info.inputs == ("label", "instance")
    assert np.abs(ort_engine(label, inst) - y).max() < 1e-4


def test_config_errors_and_adapt(ctx) -> None:
    spec = ctx.models.get("spade")
    cfg = spec.config_cls()
    with pytest.raises(ConfigError, match="label_nc must be >= 1"):
        spec.build(cfg, ctx)
    with pytest.raises(ConfigError, match="dontcare id 3 is one of the 5 classes"):
        spec.build(dataclasses.replace(cfg, label_nc=5, dontcare=3), ctx)
    import i2i

    report = i2i.DatasetReport(root=Path("."), format="labelmap", classes=list(DEMO_CLASSES))
    assert spec.adapt_config(cfg, report).label_nc == C
    assert spec.adapt_config(dataclasses.replace(cfg, label_nc=9), report).label_nc == 9
    assert spec.data_channels(cfg) == {"image": 3, "label": 1}
    with_inst = dataclasses.replace(cfg, use_instances=True, dontcare=255)
    assert spec.data_params(with_inst) == {"label_nc": cfg.label_nc, "dontcare": 255, "instance": 1}
    d = dataclasses.replace(cfg, label_nc=4)
    model = spec.build(d, ctx)
    assert [g.name for g in model.optimizer_groups()] == ["G", "D"]
    g, dd = model.optimizer_groups()
    assert (g.lr, dd.lr, g.betas) == (1e-4, 4e-4, (0.0, 0.9))  # TTUR, as the paper
    with pytest.raises(ConfigError, match="use_vae=true"):
        model.inference_module("style")


def test_translate_writes_label_sized_outputs_from_rgb_maps_with_a_palette(
    ctx, full_run, tmp_path
) -> None:
    """RGB-coloured label maps are mapped through IN_DIR/palette.txt."""
    from i2i.datasets.labelmap import DEMO_COLORS, write_palette

    src = tmp_path / "rgb"
    write_palette(src / "palette.txt", DEMO_CLASSES, DEMO_COLORS)
    ids = np.kron(np.arange(6).reshape(2, 3), np.ones((16, 16), int))
    write_image(src / "a.png", np.asarray(DEMO_COLORS, np.float32)[ids] / 255)
    inst = tmp_path / "inst"
    inst.mkdir()
    Image.fromarray(ids.astype(np.uint8)).save(inst / "a.png")
    res = translate_folder(ctx, full_run, src, tmp_path / "out", instances=inst, device="cpu")
    assert [p.name for p in res.written] == ["a.png"]
    assert read_image(tmp_path / "out" / "a.png").shape == (32, 48, 3)


def test_cli_demo_check_train_translate_export(ctx, tmp_path) -> None:
    """The whole job through the CLI: demo data, check, train (label_nc from the data), translate
    label maps, export; a bad label map is a one-line error naming the file and ids."""
    from typer.testing import CliRunner

    from i2i.cli.app import build_app

    app, runner = build_app(ctx), CliRunner()

    def run(*args):
        return runner.invoke(app, [str(a) for a in args], catch_exceptions=False)

    data, out = tmp_path / "data", tmp_path / "run"
    r = run("datasets", "demo", data, "--kind", "labelmap")
    assert r.exit_code == 0 and "format 'labelmap'" in r.output
    r = run("datasets", "check", data, "--format", "labelmap")
    assert r.exit_code == 0 and "train: 120" in r.output
    tiny = [x for o in ctx.models.get("spade").tiny for x in ("--set", o)]
    r = run(
        "train", "spade", data, "--out", out, "--steps", "1", "--size", "32", "--batch-size", "1",
        "--workers", "0", "--device", "cpu", "--no-progress", "--set", "train.load_size=36",
        *tiny,
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "label_nc = 6" in (out / "config.toml").read_text()
    r = run("translate", out, data / "test" / "labels", tmp_path / "tr", "--device", "cpu")
    assert r.exit_code == 0 and "wrote 12 images" in r.output
    assert read_image(tmp_path / "tr" / "0000.png").shape == (64, 64, 3)
    r = run("export", out, tmp_path / "m.onnx")
    assert r.exit_code == 0 and "verified at" in r.output
    bad = tmp_path / "bad"
    bad.mkdir()
    Image.fromarray(np.full((40, 40), 9, np.uint8)).save(bad / "x.png")
    r = run("translate", tmp_path / "m.onnx", bad, tmp_path / "tr2")
    assert "ids 9 outside [0, 6)" in r.output and "x.png" in r.output
    Image.fromarray(np.full((64, 64), 40, np.uint8)).save(data / "train" / "labels" / "0007.png")
    r = run("datasets", "check", data, "--format", "labelmap")  # 6 classes from palette.txt
    assert r.exit_code == 1 and "train/labels/0007.png (ids 40)" in r.output
    # the family's label settings work for a check too
    r = run("datasets", "check", data, "--format", "labelmap", "--param", "dontcare=40")
    assert r.exit_code == 0, r.output
    r = run("datasets", "check", data, "--format", "labelmap", "--param", "label_nc=41")
    assert r.exit_code == 0, r.output  # 41 classes, 6 of them named by the palette
    r = run("datasets", "check", data, "--format", "labelmap", "--param", "label_nc=40")
    assert r.exit_code == 1 and "ids outside [0, 40)" in r.output
    r = run(
        "train", "spade", data, "--out", tmp_path / "run2", "--steps", "1", "--size", "32",
        "--device", "cpu", "--no-progress", "--set", "label_nc=6", *tiny,
    )  # fmt: skip
    lines = [x for x in r.output.strip().splitlines() if x.strip()]
    assert r.exit_code == 1 and len(lines) == 1
    assert "train/labels/0007.png (ids 40)" in lines[0] and "outside [0, 6)" in lines[0]
