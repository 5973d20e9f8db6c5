"""The paired formats (aligned A|B, paired_folders), the paired demo and their registration."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import i2i.datasets.paired as paired
from i2i.datasets import make_paired_demo, read_image
from i2i.datasets.paired import (
    ALIGNED_SPEC,
    PAIRED_FOLDERS_SPEC,
    AlignedDataset,
    PairedFoldersDataset,
    build_aligned,
    build_paired_folders,
    match_stems,
    validate_aligned,
    validate_paired_folders,
)
from i2i.errors import DatasetError, ImageReadError
from i2i.registry import Registrar, Registry
from i2i.specs import DataOptions

OPTS = DataOptions(size=16, load_size=20, channels={"A": 3, "B": 3})
CROP_ONLY = DataOptions(size=16, load_size=0, channels={"A": 3, "B": 3})


def _pattern(h: int, w: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def save_aligned(path: Path, h: int = 24, w: int = 24, seed: int = 0) -> Path:
    """Write A|B with B = 255 - A (colour-inverted), so alignment is checkable per pixel."""
    a = _pattern(h, w, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate([a, 255 - a], axis=1)).save(path)
    return path


def save_img(path: Path, w: int = 24, h: int = 24, seed: int = 0, gray: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = _pattern(h, w, seed)
    Image.fromarray(arr[:, :, 0] if gray else arr).save(path)
    return path


@pytest.fixture
def aligned_root(tmp_path: Path) -> Path:
    root = tmp_path / "facades"
    for i in range(3):
        save_aligned(root / "train" / f"{i}.png", seed=i)
    return root


@pytest.fixture
def folders_root(tmp_path: Path) -> Path:
    root = tmp_path / "pf"
    for i, ext in enumerate((".png", ".jpg", ".png")):
        a = _pattern(24, 24, i)
        save_img(root / "trainA" / f"p{i}.png", seed=i)
        (root / "trainB").mkdir(parents=True, exist_ok=True)
        Image.fromarray(255 - a).save(root / "trainB" / f"p{i}{ext}", quality=100)
    return root


def _error(fn, root: Path, options: DataOptions = OPTS) -> str:
    with pytest.raises(DatasetError) as info:
        fn(root, options)
    msg = str(info.value)
    assert "\n" not in msg, msg
    return msg


def _np(t: torch.Tensor) -> np.ndarray:
    return ((t + 1) / 2).permute(1, 2, 0).numpy()


# -- aligned: validation -----------------------------------------------------------------------


def test_aligned_valid_counts_every_split(aligned_root: Path) -> None:
    save_aligned(aligned_root / "val" / "v.png")
    report = validate_aligned(aligned_root, OPTS)
    assert report.ok and report.format == "aligned"
    assert report.counts == {"train": 3, "val": 1}


def test_aligned_missing_split_lists_root_and_hints(tmp_path: Path) -> None:
    assert "does not exist" in _error(validate_aligned, tmp_path / "nope")
    save_img(tmp_path / "trainA" / "a.png")
    save_img(tmp_path / "trainB" / "a.png")
    msg = _error(validate_aligned, tmp_path)
    assert "no train/ folder" in msg and "found in root: trainA/, trainB/" in msg
    assert "--format paired_folders" in msg and "i2i datasets combine" in msg


def test_aligned_test_split_falls_back_to_val(aligned_root: Path) -> None:
    test = DataOptions(split="test", size=0, load_size=0)
    assert "no test/ folder" in _error(validate_aligned, aligned_root, test)
    save_aligned(aligned_root / "val" / "v.png")
    assert validate_aligned(aligned_root, test).counts["val"] == 1
    assert len(build_aligned(aligned_root, test)) == 1


def test_aligned_odd_width_unreadable_and_small_are_named(aligned_root: Path) -> None:
    save_img(aligned_root / "train" / "odd.png", w=49, h=24)
    (aligned_root / "train" / "empty.png").write_bytes(b"")
    msg = _error(validate_aligned, aligned_root)
    assert "width must be even: A|B halves" in msg and "train/odd.png (49x24)" in msg
    assert "1 unreadable image file(s)" in msg and "train/empty.png" in msg
    (aligned_root / "train" / "odd.png").unlink()
    (aligned_root / "train" / "empty.png").unlink()
    save_img(aligned_root / "train" / "small.png", w=20, h=24)
    msg = _error(validate_aligned, aligned_root, DataOptions(size=16, load_size=0))
    assert "train/small.png (halves 10x24)" in msg and "crop size 16x16" in msg
    validate_aligned(aligned_root, OPTS)  # with a resize configured it is fine


def test_aligned_empty_split(tmp_path: Path) -> None:
    (tmp_path / "train").mkdir()
    assert "has no image files" in _error(validate_aligned, tmp_path)


# -- aligned: samples --------------------------------------------------------------------------


@pytest.mark.parametrize("options", [OPTS, CROP_ONLY], ids=["resize+crop+flip", "crop+flip"])
def test_aligned_halves_get_identical_crop_and_flip(aligned_root: Path, options) -> None:
    ds = build_aligned(aligned_root, options)
    assert isinstance(ds, AlignedDataset) and len(ds) == 3
    outputs = set()
    for seed in range(12):
        s = ds[(seed % 3, seed)]
        a, b = _np(s["A"]), _np(s["B"])
        assert a.shape == b.shape == (16, 16, 3)
        np.testing.assert_allclose(b, 1.0 - a, atol=1e-5)  # B is still A inverted, pixelwise
        outputs.add(a.tobytes())
    assert len(outputs) == 12  # the crops/flips really vary


def test_aligned_flip_and_crop_happen(aligned_root: Path) -> None:
    ds = build_aligned(aligned_root, CROP_ONLY)
    a_full = read_image(aligned_root / "train" / "0.png", 3)[:, :24]
    flips = set()
    for seed in range(20):
        a = _np(ds[(0, seed)]["A"])
        found = [
            (y, x, f)
            for y in range(9)
            for x in range(9)
            for f in (False, True)
            if np.allclose(a, (a_full[y : y + 16, x : x + 16])[:, :: -1 if f else 1], atol=1e-6)
        ]
        assert found, "A is not a crop of the left half"
        flips.add(found[0][2])
    assert flips == {False, True}


def test_aligned_channels_per_key(aligned_root: Path) -> None:
    opts = DataOptions(size=16, load_size=20, channels={"A": 1, "B": 3})
    s = build_aligned(aligned_root, opts)[(1, 7)]
    assert s["A"].shape == (1, 16, 16) and s["B"].shape == (3, 16, 16)
    luma_b = _np(s["B"]) @ np.array([0.299, 0.587, 0.114], np.float32)
    np.testing.assert_allclose(_np(s["A"])[:, :, 0], 1.0 - luma_b, atol=1e-4)
    assert s["A_path"] == s["B_path"] and s["A_path"].endswith("1.png")
    assert set(s) == {"A", "B", "A_path", "B_path", "skipped"} and s["skipped"] == 0


def test_aligned_deterministic_per_seed_and_int_index(aligned_root: Path) -> None:
    ds1, ds2 = build_aligned(aligned_root, OPTS), build_aligned(aligned_root, OPTS)
    assert torch.equal(ds1[(2, 99)]["A"], ds2[(2, 99)]["A"])
    assert torch.equal(ds1[(2, 99)]["B"], ds2[(2, 99)]["B"])
    assert torch.equal(ds1[2]["A"], ds1[(2, 2)]["A"])
    assert ds1[-1]["A_path"] == ds1[2]["A_path"]
    with pytest.raises(IndexError):
        ds1[3]
    with pytest.raises(TypeError):
        ds1["x"]


def test_aligned_test_split_is_deterministic_and_unaugmented(aligned_root: Path) -> None:
    save_aligned(aligned_root / "test" / "t.png", h=20, w=30)
    ds = build_aligned(aligned_root, DataOptions(split="test", size=0, load_size=0))
    s = ds[(0, 1)]
    assert s["A"].shape == (3, 20, 30)
    assert torch.equal(s["A"], ds[(0, 2)]["A"])
    expected = read_image(aligned_root / "test" / "t.png")[:, :30]
    np.testing.assert_allclose(_np(s["A"]), expected, atol=1e-6)


def test_aligned_dataloader_batches(aligned_root: Path) -> None:
    ds = build_aligned(aligned_root, OPTS)
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=3)))
    assert batch["A"].shape == (3, 3, 16, 16) and batch["skipped"].tolist() == [0, 0, 0]


def test_aligned_odd_width_at_load_time_is_a_dataset_error(tmp_path: Path) -> None:
    save_img(tmp_path / "train" / "odd.png", w=33, h=24)
    with pytest.raises(DatasetError, match="odd.png.*width must be even"):
        build_aligned(tmp_path, OPTS)[0]


def test_aligned_corrupt_skipped_counted_and_strict_raises(aligned_root: Path, caplog) -> None:
    bad = aligned_root / "train" / "1.png"
    bad.write_bytes(b"not a png")
    ds = build_aligned(aligned_root, OPTS)
    with caplog.at_level(logging.WARNING, logger="i2i.datasets.paired"):
        first = ds[(1, 42)]
    assert first["skipped"] == 1 and first["A_path"] != str(bad) and "1.png" in caplog.text
    assert bad in ds.bad_files
    again = ds[(1, 42)]
    assert again["skipped"] == 1 and torch.equal(again["A"], first["A"])
    assert build_aligned(aligned_root, OPTS)[(1, 42)]["A_path"] == first["A_path"]
    strict = DataOptions(size=16, load_size=20, strict=True)
    with pytest.raises(ImageReadError, match="1.png"):
        build_aligned(aligned_root, strict)[(1, 0)]


def test_aligned_all_corrupt_is_a_dataset_error(tmp_path: Path) -> None:
    for i in range(2):
        (tmp_path / "train").mkdir(exist_ok=True)
        (tmp_path / "train" / f"{i}.png").write_bytes(b"")
    with pytest.raises(DatasetError, match="all 2 pairs"):
        build_aligned(tmp_path, OPTS)[0]


# -- paired_folders ----------------------------------------------------------------------------


def test_folders_match_by_stem_across_extensions(folders_root: Path) -> None:
    report = validate_paired_folders(folders_root, OPTS)
    assert report.format == "paired_folders" and report.counts == {"trainA": 3, "trainB": 3}
    ds = build_paired_folders(folders_root, CROP_ONLY)
    assert isinstance(ds, PairedFoldersDataset) and len(ds) == 3
    s = ds[(1, 5)]
    assert s["A_path"].endswith("p1.png") and s["B_path"].endswith("p1.jpg")
    s = ds[(2, 5)]
    np.testing.assert_allclose(_np(s["B"]), 1.0 - _np(s["A"]), atol=1e-5)  # PNG pair: exact


def test_folders_channels_and_determinism(folders_root: Path) -> None:
    opts = DataOptions(size=16, load_size=20, channels={"A": 1, "B": 3})
    ds = build_paired_folders(folders_root, opts)
    s = ds[(0, 3)]
    assert s["A"].shape == (1, 16, 16) and s["B"].shape == (3, 16, 16)
    assert torch.equal(s["B"], build_paired_folders(folders_root, opts)[(0, 3)]["B"])
    luma_b = _np(s["B"]) @ np.array([0.299, 0.587, 0.114], np.float32)
    np.testing.assert_allclose(_np(s["A"])[:, :, 0], 1.0 - luma_b, atol=1e-4)


def test_folders_unmatched_names_on_both_sides_one_line(folders_root: Path) -> None:
    for i in range(7):
        save_img(folders_root / "trainA" / f"onlyA{i}.png")
    save_img(folders_root / "trainB" / "onlyB.jpg")
    msg = _error(validate_paired_folders, folders_root)
    assert "7 file(s) in trainA/ have no partner in trainB/" in msg
    assert "onlyA0.png, onlyA1.png, onlyA2.png, onlyA3.png, onlyA4.png and 2 more" in msg
    assert "1 file(s) in trainB/ have no partner in trainA/: onlyB.jpg" in msg
    assert "a.png pairs with a.jpg" in msg
    ds = build_paired_folders(folders_root, OPTS)  # building uses the matched pairs only
    assert len(ds) == 3


def test_folders_size_mismatch_names_both_files(folders_root: Path) -> None:
    save_img(folders_root / "trainA" / "big.png", w=24, h=24)
    save_img(folders_root / "trainB" / "big.png", w=30, h=20)
    msg = _error(validate_paired_folders, folders_root)
    assert "1 pair(s)" in msg and "differ in size" in msg
    assert "trainA/big.png 24x24 vs trainB/big.png 30x20" in msg
    ds = build_paired_folders(folders_root, OPTS)
    with pytest.raises(DatasetError, match="big.png.*24x24.*big.png.*30x20"):
        ds[(0, 0)]


def test_folders_unreadable_ambiguous_small(folders_root: Path) -> None:
    (folders_root / "trainB" / "p0.png").write_bytes(b"junk")
    save_img(folders_root / "trainA" / "p2.jpg")  # p2.png and p2.jpg in trainA
    msg = _error(validate_paired_folders, folders_root, DataOptions(size=32, load_size=0))
    assert "trainB/p0.png (not a recognised image format)" in msg
    assert "trainA/p2 (p2.jpg, p2.png)" in msg and "keep one file per name" in msg
    assert "smaller than the crop size 32x32" in msg and "trainA/p1.png (24x24)" in msg


def test_folders_missing_and_empty(tmp_path: Path) -> None:
    save_img(tmp_path / "trainA" / "a.png")
    msg = _error(validate_paired_folders, tmp_path)
    assert "no trainB/ folder" in msg and "found in root: trainA/" in msg
    (tmp_path / "trainB").mkdir()
    assert "trainB' has no image files" in _error(validate_paired_folders, tmp_path)
    nested = tmp_path / "outer"
    save_img(nested / "inner" / "trainA" / "a.png")
    save_img(nested / "inner" / "trainB" / "a.png")
    msg = _error(validate_paired_folders, nested)
    assert f"did you mean the dataset folder '{nested / 'inner'}'" in msg


def test_folders_hint_for_aligned_layout(aligned_root: Path) -> None:
    assert "--format aligned" in _error(validate_paired_folders, aligned_root)


def test_folders_nothing_matched_at_build(tmp_path: Path) -> None:
    save_img(tmp_path / "trainA" / "a.png")
    save_img(tmp_path / "trainB" / "b.png")
    with pytest.raises(DatasetError, match="no file of .*trainA.* has a partner"):
        build_paired_folders(tmp_path, OPTS)


def test_folders_corrupt_b_skips_the_pair(folders_root: Path) -> None:
    bad = folders_root / "trainB" / "p0.png"
    bad.write_bytes(b"")
    s = build_paired_folders(folders_root, OPTS)[(0, 11)]
    assert s["skipped"] == 1 and not s["A_path"].endswith("p0.png")
    strict = DataOptions(size=16, load_size=20, strict=True)
    with pytest.raises(ImageReadError, match="p0.png"):
        build_paired_folders(folders_root, strict)[(0, 11)]


def test_match_stems_subfolders(tmp_path: Path) -> None:
    a = [tmp_path / "A" / "x" / "1.png", tmp_path / "A" / "2.png"]
    b = [tmp_path / "B" / "x" / "1.jpg", tmp_path / "B" / "1.jpg"]
    m = match_stems(a, tmp_path / "A", b, tmp_path / "B")
    assert [k for k, _, _ in m.pairs] == ["x/1"]
    assert m.only_a == ["2.png"] and m.only_b == ["1.jpg"] and m.ambiguous == []


# -- demo --------------------------------------------------------------------------------------

SMALL = {"n_train": 3, "n_test": 2, "size": 32}


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_demo_is_byte_deterministic_per_seed(tmp_path: Path) -> None:
    make_paired_demo(tmp_path / "a", seed=5, **SMALL)
    make_paired_demo(tmp_path / "b", seed=5, **SMALL)
    make_paired_demo(tmp_path / "c", seed=6, **SMALL)
    a, b, c = _files(tmp_path / "a"), _files(tmp_path / "b"), _files(tmp_path / "c")
    assert sorted(a) == ["README.txt"] + [
        f"{split}/{k:04d}.png"
        for split, n in (("test", 2), ("train", 3), ("val", 2))
        for k in range(n)
    ]
    assert a == b and a["train/0000.png"] != c["train/0000.png"]
    assert "sketch -> photo" in a["README.txt"].decode()


def test_demo_relation_sketch_to_photo(tmp_path: Path) -> None:
    make_paired_demo(tmp_path, seed=0, **SMALL)
    img = read_image(tmp_path / "train" / "0000.png", 3)
    assert img.shape == (32, 64, 3)
    sketch, photo = img[:, :32], img[:, 32:]
    assert np.allclose(sketch[:, :, 0], sketch[:, :, 1])  # gray sketch
    assert (sketch > 0.95).mean() > 0.6 and (sketch < 0.3).mean() > 0.02  # lines on white
    assert photo.std(axis=2).mean() > 0.05  # colourful


def test_demo_validates_with_both_formats_and_is_fast(tmp_path: Path) -> None:
    start = time.perf_counter()
    make_paired_demo(tmp_path / "al")
    assert time.perf_counter() - start < 3.0
    opts = DataOptions(size=64, load_size=0)
    assert validate_aligned(tmp_path / "al", opts).counts == {"train": 200, "val": 16, "test": 16}
    make_paired_demo(tmp_path / "pf", layout="folders", **SMALL)
    report = validate_paired_folders(tmp_path / "pf", DataOptions(size=32, load_size=0))
    assert report.counts == {"trainA": 3, "trainB": 3, "testA": 2, "testB": 2}
    al = read_image(tmp_path / "al" / "test" / "0001.png", 3)[:, 64:]
    ALIGNED_SPEC.demo(tmp_path / "al2", 0)
    assert _files(tmp_path / "al2") == _files(tmp_path / "al")
    PAIRED_FOLDERS_SPEC.demo(tmp_path / "pf2", 0)
    np.testing.assert_array_equal(al, read_image(tmp_path / "pf2" / "testB" / "0001.png", 3))
    s = build_paired_folders(tmp_path / "pf2", DataOptions(channels={"A": 1, "B": 3}))[(0, 0)]
    assert s["A"].shape == (1, 256, 256)  # default load_size/size resize the 64px images


def test_demo_refuses_user_folder_and_other_demo(tmp_path: Path) -> None:
    (tmp_path / "u").mkdir()
    (tmp_path / "u" / "photo.jpg").write_bytes(b"precious")
    with pytest.raises(DatasetError, match="not an i2i demo dataset"):
        make_paired_demo(tmp_path / "u", **SMALL)
    assert [p.name for p in (tmp_path / "u").iterdir()] == ["photo.jpg"]
    make_paired_demo(tmp_path / "d", **SMALL)
    make_paired_demo(tmp_path / "d", **SMALL)  # same settings: rewritten in place
    with pytest.raises(DatasetError, match="already holds an i2i demo dataset made with"):
        make_paired_demo(tmp_path / "d", layout="folders", **SMALL)
    from i2i.datasets import make_unpaired_demo

    with pytest.raises(DatasetError, match="another kind of demo"):
        make_unpaired_demo(tmp_path / "d", n_train=3, n_test=2, size=32)


# -- registration ------------------------------------------------------------------------------


def test_registered_through_the_hook() -> None:
    reg = Registry("dataset format")
    paired.i2i_register_dataset_formats(Registrar(reg, "paired"))
    assert reg.names() == ["aligned", "paired_folders"]
    assert reg.get("aligned") is ALIGNED_SPEC and reg.owner("paired_folders") == "paired"
    assert ALIGNED_SPEC.keys == ("A", "B") and ALIGNED_SPEC.demo is not None


def test_registered_as_a_builtin_plugin() -> None:
    from i2i.manager import load_context

    ctx = load_context(entry_points=False)
    assert "aligned" in ctx.dataset_formats and "paired_folders" in ctx.dataset_formats
    assert ctx.dataset_formats.owner("aligned") == "paired"
