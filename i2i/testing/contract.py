"""The contract every i2i model family passes, built-in or from a plugin.

The i2i pytest plugin collects this module for the families that a project names (ini option
``i2i_contract``, or ``--i2i-contract``); i2i itself runs it for every registered family. For
each family, on the demo data of its dataset format (so the format needs a ``demo``), with its
``tiny`` overrides, 32-px crops of a 36-px resize, batch 1 and the CPU:

- ``test_trains_and_writes_a_run``: 2 steps write ``metrics.jsonl`` (steps 1 and 2, finite loss
  terms), ``status.json`` (completed), ``config.toml``, ``index.html`` and a sample grid;
- ``test_resume_is_exact``: 1 step, then a resume to step 2, gives bit-identical weights to the
  2 straight steps (random state, image pools and other ``training_state`` are checkpointed);
- ``test_reloads_and_translates_any_size``: ``i2i.load_run`` / ``i2i.load_checkpoint`` rebuild
  the model with no flags (identical outputs from the run and from its checkpoint directory),
  and translating a 97 x 131 image gives a 97·scale x 131·scale image (label-map families: a
  folder of 97 x 131 label maps, with instance maps and a style image when the model takes them);
- ``test_exports_to_onnx_with_parity``: every direction exports to ONNX, verified against
  PyTorch by the exporter at two shapes and here at a third with onnxruntime (inputs ONNX does
  not support must be refused with one line);
- ``test_bad_input_fails_in_one_line``: an unknown option, an empty dataset folder, an unknown
  direction and a corrupt input image give one-line i2i errors (the corrupt image is reported and
  skipped by translation, and stops it with ``strict``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

import i2i
from i2i.datasets.image_io import read_image, write_image
from i2i.testing.runs import contract_families, train_tiny

STEPS = 2


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "family" in metafunc.fixturenames:
        metafunc.parametrize("family", contract_families(metafunc.config), scope="module")


@pytest.fixture(scope="module")
def spec(family: str, i2i_context: Any) -> Any:
    if family not in i2i_context.models:
        known = ", ".join(i2i_context.models.names())
        pytest.fail(
            f"the i2i contract is configured for family '{family}', which no installed plugin "
            f"registers (registered: {known}); install the plugin (pip install -e .) or fix "
            "the i2i_contract option",
            pytrace=False,
        )
    return i2i_context.models.get(family)


@pytest.fixture(scope="module")
def data(spec: Any, i2i_demo_data: Any) -> Path:
    return i2i_demo_data(spec.dataset_format)


@pytest.fixture(scope="module")
def run(
    family: str, data: Path, i2i_context: Any, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The run directory of a 2-step tiny run of the family."""
    out = tmp_path_factory.mktemp(f"contract-{family}") / "run"
    info = train_tiny(family, data, out, steps=STEPS, context=i2i_context)
    assert info.total_steps == STEPS
    return out


def _one_line(error: BaseException) -> str:
    text = str(error)
    assert text.strip() and "\n" not in text.strip(), f"not a one-line message: {text!r}"
    return text


def test_trains_and_writes_a_run(run: Path) -> None:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(x)["step"] for x in lines] == [1, 2]
    last = json.loads(lines[-1])
    terms = {k: v for k, v in last.items() if "/" in k and not k.startswith("lr/")}
    assert terms, "metrics.jsonl has no loss terms (GROUP/NAME)"
    assert all(np.isfinite(v) for v in terms.values()), terms
    assert json.loads((run / "status.json").read_text())["status"] == "completed"
    assert (run / "index.html").is_file() and (run / "config.toml").is_file()
    assert list((run / "samples").glob("*.png")), "no sample grid: visuals() returned nothing"


def test_resume_is_exact(family: str, data: Path, run: Path, i2i_context: Any, tmp_path) -> None:
    from i2i.training.checkpoint import load_checkpoint

    out = tmp_path / "resumed"
    train_tiny(family, data, out, steps=1, context=i2i_context)
    train_tiny(family, data, out, steps=STEPS, resume=True, context=i2i_context)
    straight, resumed = load_checkpoint(run), load_checkpoint(out)
    assert resumed.step == straight.step == STEPS
    assert straight.weights.keys() == resumed.weights.keys()
    differ = [k for k, v in straight.weights.items() if not torch.equal(v, resumed.weights[k])]
    assert not differ, (
        f"after 1 step + resume + 1 step the weights differ from 2 straight steps: "
        f"{', '.join(differ[:5])}; checkpoint all random state the family keeps (training_state())"
    )


def test_reloads_and_translates_any_size(spec: Any, run: Path, i2i_context: Any, tmp_path) -> None:
    from i2i.export.onnx import make_inputs
    from i2i.export.translate import translate_folder

    loaded = i2i.load_run(run, context=i2i_context)
    assert loaded.spec.name == spec.name and loaded.step == STEPS
    model = loaded.model
    directions = model.inference_directions()
    assert directions and set(directions) <= set(spec.directions), (
        f"inference_directions() {directions} must be among ModelSpec.directions {spec.directions}"
    )
    again = i2i.load_checkpoint(run / "checkpoints", context=i2i_context).model
    for direction in directions:
        info = model.inference_info(direction)
        assert info.direction == direction and info.inputs
        if info.inputs[0] not in ("image", "label"):
            continue
        s = info.stride  # inference modules take multiples of their stride
        shape = (1, info.in_channels, s * -(-40 // s), s * -(-48 // s))
        xs = make_inputs(info, shape, torch.Generator().manual_seed(0))
        with torch.no_grad():
            a = model.inference_module(direction)(*xs)
            b = again.inference_module(direction)(*xs)
        assert torch.equal(a, b), "a model reloaded from the same checkpoint gives other outputs"
        assert a.shape == (1, info.out_channels, shape[2] * info.scale, shape[3] * info.scale)
        if info.inputs[0] == "label":
            _translate_label_maps(i2i_context, run, info, tmp_path)
            continue
        src, out = tmp_path / f"in-{direction}", tmp_path / f"out-{direction}"
        img = np.random.default_rng(0).random((97, 131, info.in_channels), np.float32)
        write_image(src / "odd.png", img)
        res = translate_folder(i2i_context, run, src, out, direction=direction, device="cpu")
        assert [p.name for p in res.written] == ["odd.png"]
        y = read_image(out / "odd.png", info.out_channels)
        assert y.shape == (97 * info.scale, 131 * info.scale, info.out_channels)


def _translate_label_maps(ctx: Any, run: Path, info: Any, tmp_path: Path) -> None:
    """Label-map families: translate a folder of 97x131 class-id PNGs (plus instance maps and a
    style image when the model takes them); outputs have the label maps' size."""
    from i2i.export.onnx import make_inputs
    from i2i.export.translate import translate_folder

    d = info.direction
    src, out = tmp_path / f"labels-{d}", tmp_path / f"out-{d}"
    ids = make_inputs(info, (2, 1, 97, 131), torch.Generator().manual_seed(3))
    src.mkdir(parents=True)
    kwargs: dict[str, Any] = {}
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


def test_exports_to_onnx_with_parity(run: Path, i2i_context: Any, tmp_path) -> None:
    import onnxruntime as ort

    from i2i.export.metadata import OUTPUT_NAME, read_metadata
    from i2i.export.onnx import SUPPORTED_INPUTS, export_onnx, make_inputs

    model = i2i.load_run(run, context=i2i_context).model
    for direction in model.inference_directions():
        info = model.inference_info(direction)
        out = tmp_path / f"{direction}.onnx"
        if tuple(info.inputs) not in SUPPORTED_INPUTS:
            with pytest.raises(i2i.ExportError) as e:
                export_onnx(i2i_context, run, out, direction=direction)
            _one_line(e.value)
            continue
        result = export_onnx(i2i_context, run, out, direction=direction)
        assert len(result.checks) >= 2
        assert all(c["max_abs_diff"] <= result.tolerance for c in result.checks)
        # parity at a shape the exporter's verification did not use: batch 3, odd sizes
        if info.inputs[0] in ("image", "label"):
            shape: tuple[int, ...] = (
                3,
                info.in_channels,
                _odd(36, info.stride),
                _odd(52, info.stride),
            )
        else:
            shape = (3, info.in_channels)
        xs = make_inputs(info, shape, torch.Generator().manual_seed(1))
        with torch.no_grad():
            ref = model.inference_module(direction).eval()(*xs).float().numpy()
        names = [i["name"] for i in read_metadata(out).inputs]
        session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
        got = session.run([OUTPUT_NAME], {n: x.numpy() for n, x in zip(names, xs, strict=True)})
        assert got[0].shape == ref.shape
        assert float(np.abs(got[0] - ref).max()) <= result.tolerance


def _odd(n: int, stride: int) -> int:
    """The smallest odd multiple of ``stride`` that is at least ``n``."""
    k = -(-n // stride)
    return stride * (k if k % 2 else k + 1)


def test_bad_input_fails_in_one_line(
    spec: Any, data: Path, run: Path, i2i_context: Any, tmp_path
) -> None:
    from i2i.export.translate import translate_folder
    from i2i.training.run import resolve_run_config

    with pytest.raises(i2i.ConfigError) as e:
        resolve_run_config(spec, data, overrides=["no_such_option=1"])
    assert "no_such_option" in _one_line(e.value)

    fmt = i2i_context.dataset_formats.get(spec.dataset_format)
    empty = tmp_path / "empty"
    empty.mkdir()
    options = i2i.DataOptions(
        channels=dict(spec.data_channels(spec.config_cls())), load_image=i2i_context.load_image
    )
    with pytest.raises(i2i.I2IError) as e:
        fmt.validate(empty, options)
    _one_line(e.value)

    model = i2i.load_run(run, context=i2i_context).model
    with pytest.raises(i2i.I2IError) as e:
        model.inference_module("no-such-direction")
    _one_line(e.value)

    info = model.inference_info(None)
    if tuple(info.inputs) != ("image",):
        return
    src = tmp_path / "inputs"
    write_image(src / "good.png", np.random.default_rng(0).random((40, 44, 3), np.float32))
    (src / "broken.png").write_bytes(b"not an image")
    res = translate_folder(i2i_context, run, src, tmp_path / "out", device="cpu")
    assert [p.name for p in res.written] == ["good.png"]
    assert [Path(p).name for p, _ in res.failed] == ["broken.png"]
    with pytest.raises(i2i.I2IError) as e:
        translate_folder(i2i_context, run, src, tmp_path / "out2", device="cpu", strict=True)
    assert "broken.png" in _one_line(e.value)
