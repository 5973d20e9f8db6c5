"""combine_pairs: A|B images from two folders, with every unpaired file reported."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from i2i.datasets import CombineReport, combine_pairs, read_image, write_image
from i2i.datasets.paired import build_aligned, validate_aligned
from i2i.errors import DatasetError
from i2i.specs import DataOptions


def _img(path: Path, w: int = 20, h: int = 16, seed: int = 0, mode: str = "RGB") -> np.ndarray:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    im = Image.fromarray(arr)
    im = im.convert(mode) if mode != "RGB" else im
    im.save(path, quality=100) if path.suffix == ".jpg" else im.save(path)
    return np.asarray(im)


def _error(*args, **kwargs) -> str:
    with pytest.raises(DatasetError) as info:
        combine_pairs(*args, **kwargs)
    msg = str(info.value)
    assert "\n" not in msg, msg
    return msg


def test_pairs_by_stem_recursively_and_writes_a_then_b(tmp_path: Path) -> None:
    a_dir, b_dir, out = tmp_path / "A", tmp_path / "B", tmp_path / "AB"
    a0 = _img(a_dir / "train" / "x.png", seed=1)
    b0 = _img(b_dir / "train" / "x.png", seed=2)
    _img(a_dir / "val" / "y.jpg", seed=3)
    _img(b_dir / "val" / "y.png", seed=4)
    report = combine_pairs(a_dir, b_dir, out)
    assert isinstance(report, CombineReport) and report.ok
    assert report.written == [out / "train" / "x.png", out / "val" / "y.png"]
    combined = np.asarray(Image.open(out / "train" / "x.png"))
    assert combined.shape == (16, 40, 3)
    np.testing.assert_array_equal(combined[:, :20], a0)
    np.testing.assert_array_equal(combined[:, 20:], b0)
    assert report.summary() == f"wrote 2 aligned image(s) to '{out}'"
    assert validate_aligned(out, DataOptions(size=8, load_size=0)).counts == {"train": 1, "val": 1}
    sample = build_aligned(out, DataOptions(size=8, load_size=0))[(0, 0)]
    assert sample["A"].shape == sample["B"].shape == (3, 8, 8)


def test_reports_every_file_it_could_not_pair(tmp_path: Path) -> None:
    a_dir, b_dir, out = tmp_path / "A", tmp_path / "B", tmp_path / "out"
    _img(a_dir / "ok.png")
    _img(b_dir / "ok.jpg")
    _img(a_dir / "onlya.png")
    _img(b_dir / "sub" / "onlyb.png")
    _img(a_dir / "big.png", w=20, h=16)
    _img(b_dir / "big.png", w=30, h=16)
    (a_dir / "bad.png").write_bytes(b"nope")
    _img(b_dir / "bad.png")
    _img(a_dir / "dup.png")
    _img(a_dir / "dup.jpg")
    _img(b_dir / "dup.png")
    report = combine_pairs(a_dir, b_dir, out)
    assert report.written == [out / "ok.png"]
    assert report.unpaired_a == ["onlya.png"] and report.unpaired_b == ["sub/onlyb.png"]
    assert report.size_mismatch == ["big: A 20x16 (big.png) vs B 30x16 (big.png)"]
    assert report.unreadable == ["A/bad.png (not a recognised image format)"]
    assert report.ambiguous == ["A/dup (dup.jpg, dup.png)"]
    assert not report.ok and report.skipped == 5
    summary = report.summary()
    assert "\n" not in summary and "wrote 1 aligned image(s)" in summary
    assert "1 A file(s) without a B partner" in summary and "--resize-to-a" in summary
    lines = report.problem_lines()
    assert "A only (no partner in B): onlya.png" in lines
    assert "B only (no partner in A): sub/onlyb.png" in lines
    assert len(lines) == 5
    assert sorted(p.name for p in out.iterdir()) == ["ok.png"]


def test_resize_to_a(tmp_path: Path) -> None:
    a_dir, b_dir, out = tmp_path / "A", tmp_path / "B", tmp_path / "out"
    _img(a_dir / "big.png", w=20, h=16)
    _img(b_dir / "big.png", w=40, h=32)
    report = combine_pairs(a_dir, b_dir, out, resize_to_a=True)
    assert report.resized == ["big"] and report.size_mismatch == []
    assert Image.open(out / "big.png").size == (40, 16)
    assert "1 with B resized" in report.summary()


def test_nothing_paired_is_an_error_with_examples(tmp_path: Path) -> None:
    a_dir, b_dir, out = tmp_path / "A", tmp_path / "B", tmp_path / "out"
    for name in ("a1", "a2", "a3", "a4"):
        _img(a_dir / f"{name}.png")
    _img(b_dir / "b1.png")
    msg = _error(a_dir, b_dir, out)
    assert "nothing could be paired" in msg and "no common names" in msg
    assert "A_DIR has 4 image(s) (e.g. a1.png, a2.png, a3.png and 1 more)" in msg
    assert "B_DIR has 1 (e.g. b1.png)" in msg and "without extension" in msg
    assert not out.exists()  # never silently writes nothing: nothing written, error raised
    _img(a_dir / "b1.png", w=10)
    msg = _error(a_dir, b_dir, out)
    assert "1 pair(s) differ in size: b1: A 10x16" in msg and "--resize-to-a" in msg


def test_out_inside_input_and_same_inputs_refused(tmp_path: Path) -> None:
    a_dir, b_dir = tmp_path / "A", tmp_path / "B"
    _img(a_dir / "x.png")
    _img(b_dir / "x.png")
    assert "inside A_DIR" in _error(a_dir, b_dir, a_dir / "out")
    assert "inside B_DIR" in _error(a_dir, b_dir, b_dir)
    assert "same folder" in _error(a_dir, a_dir, tmp_path / "o")
    assert "does not exist" in _error(tmp_path / "nope", b_dir, tmp_path / "o")
    (tmp_path / "empty").mkdir()
    assert "holds no image files" in _error(tmp_path / "empty", b_dir, tmp_path / "o")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["A", "B", "empty"]


def test_never_overwrites_an_input(tmp_path: Path) -> None:
    # out = tmp_path; a_dir = tmp_path/A holds A/x.png -> target tmp_path/A/x.png is an input.
    a_dir, b_dir = tmp_path / "A", tmp_path / "B"
    _img(a_dir / "A" / "x.png", seed=1)
    _img(a_dir / "x.png", seed=2)
    _img(b_dir / "A" / "x.png", seed=3)
    before = (a_dir / "x.png").read_bytes()
    assert "would overwrite input file(s)" in _error(a_dir, b_dir, tmp_path)
    assert (a_dir / "x.png").read_bytes() == before


def test_gray_rgb_mix_and_16_bit(tmp_path: Path) -> None:
    a_dir, b_dir, out = tmp_path / "A", tmp_path / "B", tmp_path / "out"
    _img(a_dir / "mix.png", mode="L")
    _img(b_dir / "mix.png")
    _img(a_dir / "gray.png", mode="L")
    _img(b_dir / "gray.png", mode="L")
    deep = np.random.default_rng(0).integers(0, 65536, (16, 20), dtype=np.uint16)
    for d in (a_dir, b_dir):
        Image.fromarray(deep).save(d / "deep.png")  # 16-bit grayscale
    combine_pairs(a_dir, b_dir, out)
    assert Image.open(out / "mix.png").mode == "RGB"  # gray A repeated into RGB
    mix = read_image(out / "mix.png", 3)
    np.testing.assert_array_equal(mix[:, :20, 0], mix[:, :20, 1])
    assert Image.open(out / "gray.png").mode == "L"
    with Image.open(out / "deep.png") as im:
        assert im.mode.startswith("I")  # still 16-bit
        pixels = np.asarray(im)
    np.testing.assert_array_equal(pixels[:, :20], deep)
    np.testing.assert_array_equal(pixels[:, 20:], deep)


def test_16_bit_rgb_kept_and_progress(tmp_path: Path) -> None:
    a_dir, b_dir, out = tmp_path / "A", tmp_path / "B", tmp_path / "out"
    deep = np.random.default_rng(1).random((8, 6, 3)).astype(np.float32)
    write_image(a_dir / "c.png", deep, bit_depth=16)
    write_image(b_dir / "c.png", 1.0 - deep, bit_depth=16)
    calls = []
    combine_pairs(a_dir, b_dir, out, on_progress=lambda d, t: calls.append((d, t)))
    assert calls == [(1, 1)]
    back = read_image(out / "c.png", 3)
    np.testing.assert_allclose(back[:, :6], deep, atol=1 / 65535)
    np.testing.assert_allclose(back[:, 6:], 1.0 - deep, atol=1 / 65535)
    assert not np.allclose(back[:, :6], np.round(deep * 255) / 255, atol=1e-4)  # not 8-bit
