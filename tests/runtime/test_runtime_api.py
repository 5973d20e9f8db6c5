"""The torch-free runtime's API: metadata, Translator on PIL/numpy/label maps/samplers, the
16-bit codec, and the ``i2i-run`` command line (same options as ``i2i translate``)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from PIL import Image

from i2i_runtime import Translator, translate_folder
from i2i_runtime.cli import _parser, main
from i2i_runtime.codec16 import decode_high_bit_color, encode_png16, encode_tiff16
from i2i_runtime.engine import OrtEngine
from i2i_runtime.errors import ConfigError, DatasetError, InputError
from i2i_runtime.imageio import read_image, write_image
from i2i_runtime.metadata import read_metadata, read_metadata_props
from i2i_runtime.providers import provider_for_device


def rgb(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


# -- metadata ---------------------------------------------------------------------------------


def test_metadata_is_read_from_the_file_without_onnx(models, tmp_path) -> None:
    for path in models.values():
        want = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
        assert read_metadata_props(path) == want
    meta = read_metadata(models["label"])
    assert meta.inference_info().kind == "label" and meta.inference_info().in_channels == 4
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(models["rgb"].read_bytes()[:100])
    with pytest.raises(ConfigError, match="is not a readable ONNX model") as e:
        read_metadata(broken)
    assert "\n" not in str(e.value)


def test_a_model_without_metadata_is_refused_unless_described(models) -> None:
    with pytest.raises(InputError, match=r"has no i2i metadata; export it with `i2i export`") as e:
        OrtEngine(models["bare"], "cpu")
    assert "\n" not in str(e.value) and "--spec" in str(e.value)
    described = Translator(models["bare"], "cpu", spec="channels=3,stride=4,range=-1:1")
    assert described.info.stride == 4 and described.metadata.family == "unknown"
    img = rgb(37, 53)
    # the same weights (seeded) with metadata: the same output
    np.testing.assert_array_equal(
        described.translate(img), Translator(models["rgb"]).translate(img)
    )
    with pytest.raises(ConfigError, match="--spec: cannot read 'size=3'"):
        Translator(models["bare"], spec="size=3")
    with pytest.raises(ConfigError, match="range must be LO:HI"):
        Translator(models["bare"], spec="range=1:0")


def test_device_selects_the_provider() -> None:
    assert provider_for_device("cuda:1") == ("cuda", 1)
    assert provider_for_device("cpu") == ("cpu", 0)
    assert provider_for_device("auto", "tensorrt") == ("tensorrt", 0)
    with pytest.raises(ConfigError, match="unknown device 'mps'"):
        provider_for_device("mps")


# -- Translator -------------------------------------------------------------------------------


def test_translate_pil_and_numpy_like_the_folder_pipeline(models, tmp_path) -> None:
    t = Translator(models["rgb"], "cpu")
    src = tmp_path / "in"
    write_image(src / "a.png", rgb(37, 53) / 255.0)
    res = translate_folder(t.engine, src, tmp_path / "out")
    assert len(res.written) == 1
    file_pixels = np.asarray(Image.open(tmp_path / "out" / "a.png"))

    pil = t.translate(Image.open(src / "a.png"))
    assert isinstance(pil, Image.Image) and pil.mode == "RGB" and pil.size == (53, 37)
    np.testing.assert_array_equal(np.asarray(pil), file_pixels)
    arr = t.translate(np.asarray(Image.open(src / "a.png")))
    assert arr.dtype == np.uint8 and arr.shape == (37, 53, 3)
    np.testing.assert_array_equal(arr, file_pixels)
    f = t.translate(np.asarray(Image.open(src / "a.png")).astype(np.float32) / 255)
    assert f.dtype == np.float32 and np.abs(f * 255 - file_pixels).max() <= 0.5 + 1e-3
    deep = t.translate(np.asarray(Image.open(src / "a.png")).astype(np.uint16) * 257)
    assert deep.dtype == np.uint16 and np.abs(deep / 257.0 - file_pixels).max() <= 0.5 + 1e-3
    # gray input to an RGB model is repeated to 3 channels; a gray model keeps H x W
    assert t.translate(rgb(20, 20)[:, :, 0]).shape == (20, 20, 3)
    g = Translator(models["gray"]).translate(rgb(20, 22)[:, :, 0])
    assert g.shape == (20, 22) and g.dtype == np.uint8
    with pytest.raises(InputError, match=r"values in \[0, 1\]"):
        t.translate(np.full((8, 8, 3), 2.0, np.float32))
    with pytest.raises(InputError, match="PIL image or a numpy array"):
        t.translate("a.png")


def test_tiled_translation_matches_untiled(models) -> None:
    t = Translator(models["rgb"])
    img = rgb(70, 90, seed=3)
    whole = t.translate(img).astype(int)
    tiled = t.translate(img, tile=32, overlap=8).astype(int)
    # two 3x3 convs see 2 pixels: an 8-pixel overlap hides every tile border
    assert np.abs(whole - tiled).max() <= 1
    with pytest.raises(ConfigError, match="multiple of the network stride 4"):
        t.translate(img, tile=30, overlap=8)


def test_label_maps(models) -> None:
    t = Translator(models["label"])
    assert t.kind == "label"
    ids = np.kron(np.arange(4).reshape(2, 2), np.ones((9, 13), np.int64))  # 18 x 26
    out = t.translate(ids)
    assert out.shape == (18, 26, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(t.translate(Image.fromarray(ids.astype(np.uint8))), out)
    with pytest.raises(InputError, match=r"ids 7 outside \[0, 4\)") as e:
        t.translate(np.full((8, 8), 7))
    assert "\n" not in str(e.value)
    colour = np.stack([ids * 40, ids * 10, ids], -1).astype(np.uint8)
    with pytest.raises(DatasetError, match="colour .* no palette"):
        t.translate(colour)
    with pytest.raises(InputError, match="integer class ids"):
        t.translate(np.zeros((8, 8), np.float32))


def test_sampler(models, tmp_path) -> None:
    t = Translator(models["sampler"])
    assert t.kind == "sampler" and t.info.num_classes == 3
    a = t.sample(class_id=1, n=3, seed=0)
    assert a.shape == (3, 16, 16, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, t.sample(class_id=1, n=3, seed=0))
    assert not np.array_equal(a, t.sample(class_id=1, n=3, seed=1))
    assert not np.array_equal(a, t.sample(class_id=2, n=3, seed=0))
    with pytest.raises(InputError, match=r"class ids 5 are outside \[0, 3\)"):
        t.sample(class_id=5)
    with pytest.raises(InputError, match="use sample"):
        t.translate(rgb(8, 8))
    (tmp_path / "in").mkdir()
    write_image(tmp_path / "in" / "a.png", rgb(8, 8) / 255.0)
    with pytest.raises(ConfigError, match="samples images from noise"):
        t.translate_folder(tmp_path / "in", tmp_path / "out")


# -- 16-bit colour without OpenCV --------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_sixteen_bit_color_codec_is_exact(tmp_path, suffix) -> None:
    rng = np.random.default_rng(0)
    px = rng.integers(0, 65536, (300, 41, 3), dtype=np.uint16)
    px[:40] = np.arange(41, dtype=np.uint16)[None, :, None] * 1500  # smooth rows: every filter
    data = encode_png16(px) if suffix == ".png" else encode_tiff16(px)
    path = tmp_path / f"ours{suffix}"
    path.write_bytes(data)
    np.testing.assert_array_equal(cv2.imread(str(path), cv2.IMREAD_UNCHANGED)[:, :, ::-1], px)
    np.testing.assert_array_equal(decode_high_bit_color(lambda: Image.open(path)), px)
    # files written by OpenCV (libpng / libtiff) decode exactly too, RGBA included
    theirs = tmp_path / f"theirs{suffix}"
    cv2.imwrite(str(theirs), px[:, :, ::-1])
    np.testing.assert_array_equal(read_image(theirs, 3), px / np.float32(65535))
    rgba = rng.integers(0, 65536, (9, 7, 4), dtype=np.uint16)
    cv2.imwrite(str(tmp_path / f"rgba{suffix}"), rgba[:, :, [2, 1, 0, 3]])
    np.testing.assert_array_equal(
        read_image(tmp_path / f"rgba{suffix}", 4), rgba / np.float32(65535)
    )


# -- the command line -------------------------------------------------------------------------


def run_cli(*args: str | Path) -> int:
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    return int(e.value.code)


def test_i2i_run_translate_resumes_and_fails_in_one_line(models, tmp_path, capsys) -> None:
    src = tmp_path / "in"
    for i in range(3):
        write_image(src / "sub" / f"{i}.png", rgb(20 + i, 30) / 255.0)
    out = tmp_path / "out"
    assert run_cli("translate", models["rgb"], src, out, "--provider", "cpu", "-b", "2") == 0
    assert sorted(p.name for p in (out / "sub").iterdir()) == ["0.png", "1.png", "2.png"]
    assert "wrote 3 images" in capsys.readouterr().err
    (out / "sub" / "1.png").unlink()
    assert run_cli("translate", models["rgb"], src, out, "--format", "png") == 0
    err = capsys.readouterr().err
    assert "wrote 1 images" in err and "2 already existed" in err

    assert run_cli("translate", tmp_path / "nope.onnx", src, out) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"error: ONNX model {tmp_path / 'nope.onnx'} does not exist"
    assert run_cli("translate", models["bare"], src, tmp_path / "o2") == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "no i2i metadata" in err and "\n" not in err
    assert run_cli("translate", models["rgb"], src, tmp_path / "o3", "--precision", "bf16") == 1
    assert "applies to PyTorch checkpoints" in capsys.readouterr().err
    assert run_cli("info", models["sampler"]) == 0
    assert '"kind": "sampler"' in capsys.readouterr().out
    assert run_cli("sample", models["sampler"], tmp_path / "s.png", "--class", "2", "-n", "3") == 0
    assert Image.open(tmp_path / "s.png").size == (48, 16)


def _long_options(params) -> set[str]:
    return {o for p in params for o in getattr(p, "opts", []) if o.startswith("--")}


def test_i2i_run_has_the_options_of_i2i_translate_and_serve(ctx) -> None:
    import typer.main

    from i2i.cli.app import build_app

    cli = typer.main.get_command(build_app(ctx))
    sub = {a.dest: a for a in _parser()._subparsers._group_actions}  # type: ignore[union-attr]
    choices = next(iter(sub.values())).choices
    for name in ("translate", "serve"):
        ours = {o for a in choices[name]._actions for o in a.option_strings if o.startswith("--")}
        theirs = _long_options(cli.commands[name].params)
        theirs = {o for o in theirs if not o.startswith("--no-")}
        assert theirs - ours <= {"--help"}, (name, theirs - ours)
