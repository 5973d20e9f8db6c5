"""The contract every registered model family must pass (built-in or third-party)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from i2i.datasets.image_io import read_image, write_image
from i2i.export.onnx import make_inputs
from i2i.export.translate import translate_folder
from i2i.manager import load_context
from i2i.training.checkpoint import load_model

FAMILIES = load_context().models.names()


@pytest.mark.parametrize("family", FAMILIES)
def test_family_contract(family, ctx, demo_data, tiny_run, tmp_path) -> None:
    spec = ctx.models.get(family)
    run = tmp_path / "run"
    info = tiny_run(family, demo_data(spec.dataset_format), run, steps=2)

    # one train step (two here) wrote the whole run directory
    assert info.total_steps == 2
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines] == [1, 2]
    assert all(np.isfinite(v) for k, v in json.loads(lines[-1]).items() if "/" in k)
    assert json.loads((run / "status.json").read_text())["status"] == "completed"
    assert (run / "index.html").is_file() and (run / "config.toml").is_file()
    assert list((run / "samples").glob("*.png"))

    # checkpoint round trip: same weights, same outputs, no architecture flags
    loaded = load_model(ctx, run)
    assert loaded.spec.name == family and loaded.checkpoint.step == 2
    model = loaded.model.eval()
    assert set(model.inference_directions()) <= set(spec.directions)
    for direction in model.inference_directions():
        info_d = model.inference_info(direction)
        assert info_d.inputs == ("image",) or len(info_d.inputs) >= 1
        if info_d.inputs[0] not in ("image", "label"):
            continue
        s = info_d.stride  # inference modules take multiples of their stride
        shape = (1, info_d.in_channels, s * -(-40 // s), s * -(-48 // s))
        xs = make_inputs(info_d, shape, torch.Generator().manual_seed(0))
        again = load_model(ctx, run.joinpath("checkpoints")).model.eval()
        with torch.no_grad():
            a = model.inference_module(direction)(*xs)
            b = again.inference_module(direction)(*xs)
        assert torch.equal(a, b)
        assert a.shape == (1, info_d.out_channels, shape[2] * info_d.scale, shape[3] * info_d.scale)
        if info_d.inputs[0] == "label":
            _translate_label_maps(ctx, run, info_d, tmp_path)
            continue

        # translate any size: 97x131 in, 97x131 (times scale) out
        src = tmp_path / f"in-{direction}"
        img = np.random.default_rng(0).random((97, 131, info_d.in_channels), np.float32)
        write_image(src / "odd.png", img)
        out = tmp_path / f"out-{direction}"
        res = translate_folder(ctx, run, src, out, direction=direction, device="cpu")
        assert [p.name for p in res.written] == ["odd.png"]
        y = read_image(out / "odd.png", info_d.out_channels)
        assert y.shape == (97 * info_d.scale, 131 * info_d.scale, info_d.out_channels)


def _translate_label_maps(ctx, run, info, tmp_path) -> None:
    """Label-map families: translate a folder of 97x131 class-id PNGs (plus instance maps and a
    style image when the model takes them); outputs have the label maps' size."""
    d = info.direction
    src, out = tmp_path / f"labels-{d}", tmp_path / f"out-{d}"
    ids = make_inputs(info, (2, 1, 97, 131), torch.Generator().manual_seed(3))
    src.mkdir(parents=True)
    kwargs = {}
    for k in range(2):
        Image.fromarray(ids[0][k, 0].numpy().astype(np.uint8)).save(src / f"map{k}.png")
    if "instance" in info.inputs:
        inst = tmp_path / f"instances-{d}"
        inst.mkdir()
        for k in range(2):
            Image.fromarray(ids[1][k, 0].numpy().astype(np.uint16)).save(inst / f"map{k}.png")
        kwargs["instances"] = inst
    if "style" in info.inputs:
        style = tmp_path / f"style-{d}.png"
        write_image(style, np.random.default_rng(0).random((50, 70, info.out_channels), np.float32))
        kwargs["style"] = style
    res = translate_folder(ctx, run, src, out, direction=d, device="cpu", **kwargs)
    assert sorted(p.name for p in res.written) == ["map0.png", "map1.png"] and not res.failed
    y = read_image(out / "map0.png", info.out_channels)
    assert y.shape == (97 * info.scale, 131 * info.scale, info.out_channels)
