"""The unpaired dataset format: validation messages, samples, corrupt files, registration."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

import i2i.datasets.unpaired as unpaired
from i2i.datasets.image_io import read_image
from i2i.datasets.unpaired import SPEC, UnpairedDataset, build_unpaired, validate_unpaired
from i2i.errors import DatasetError, ImageReadError
from i2i.registry import Registrar, Registry
from i2i.specs import DataOptions, DatasetFormatSpec

OPTS = DataOptions(size=32, load_size=36, channels={"A": 1, "B": 3})


def _error(root: Path, options: DataOptions = OPTS) -> str:
    with pytest.raises(DatasetError) as info:
        validate_unpaired(root, options)
    msg = str(info.value)
    assert "\n" not in msg, msg
    return msg


# -- validation --------------------------------------------------------------------------------


def test_valid_dataset_counts_every_split_folder(make_unpaired, rgb_file) -> None:
    root = make_unpaired(n_a=3, n_b=5)
    rgb_file(root / "testA" / "t.png")
    report = validate_unpaired(root, OPTS)
    assert report.ok and report.format == "unpaired"
    assert report.counts == {"trainA": 3, "trainB": 5, "testA": 1}


def test_missing_root_and_root_is_file(tmp_path: Path) -> None:
    assert "does not exist" in _error(tmp_path / "nope")
    (tmp_path / "file").write_text("x")
    assert "is a file" in _error(tmp_path / "file")


def test_missing_trainB_names_it_and_lists_root(tmp_path: Path, rgb_file) -> None:
    rgb_file(tmp_path / "trainA" / "a.png")
    rgb_file(tmp_path / "horses" / "h.png")
    (tmp_path / "notes.txt").write_text("x")
    msg = _error(tmp_path)
    assert "no trainB/ folder" in msg and "trainA/" in msg
    assert "ROOT/trainA/ and ROOT/trainB/" in msg  # the expected layout
    assert "found in root: horses/, notes.txt, trainA/" in msg


def test_missing_both_and_case_hint(tmp_path: Path, rgb_file) -> None:
    rgb_file(tmp_path / "TrainA" / "a.png")
    msg = _error(tmp_path)
    assert "no trainA/ and trainB/ folder" in msg
    assert "case-sensitive" in msg and "TrainA" in msg


def test_nested_dataset_hint(tmp_path: Path, make_unpaired) -> None:
    make_unpaired(name="inner")  # tmp_path/inner/trainA ...
    assert f"did you mean the dataset folder '{tmp_path / 'inner'}'" in _error(tmp_path)


def test_empty_trainA_mentions_other_files(make_unpaired) -> None:
    root = make_unpaired(n_a=0)
    (root / "trainA").mkdir()
    msg = _error(root)
    assert "trainA' has no image files" in msg and "the folder is empty" in msg
    (root / "trainA" / "x.gif").write_bytes(b"GIF89a")
    (root / "trainA" / "readme.md").write_text("x")
    msg = _error(root)
    assert "found 2 other file(s): readme.md, x.gif" in msg


def test_unreadable_files_are_all_listed(make_unpaired) -> None:
    root = make_unpaired(n_a=2, n_b=2)
    (root / "trainA" / "empty.png").write_bytes(b"")
    for i in range(6):
        (root / "trainB" / f"bad{i}.jpg").write_text("not an image")
    msg = _error(root)
    assert msg.startswith("7 unreadable image file(s)")
    assert "trainA/empty.png (the file is empty (0 bytes))" in msg
    assert "trainB/bad0.jpg (not a recognised image format)" in msg
    assert "and 2 more" in msg and "re-export or remove them" in msg


def test_truncated_files_are_found_without_full_decode(make_unpaired, rgb_file) -> None:
    root = make_unpaired(n_a=1, n_b=1)
    for name in ("cut.png", "cut.jpg"):
        data = rgb_file(root / "trainB" / name, 64, 64).read_bytes()
        (root / "trainB" / name).write_bytes(data[: len(data) // 2])
    msg = _error(root)
    assert "trainB/cut.jpg" in msg and "trainB/cut.png" in msg


def test_images_smaller_than_crop_without_resize(make_unpaired, rgb_file) -> None:
    root = make_unpaired(n_a=2, n_b=2, w=40, h=40)
    rgb_file(root / "trainA" / "tiny.png", w=20, h=50)
    no_resize = DataOptions(size=32, load_size=0)
    msg = _error(root, no_resize)
    assert "trainA/tiny.png (20x50)" in msg and "crop size 32x32" in msg and "load_size" in msg
    validate_unpaired(root, OPTS)  # with a resize configured it is fine


def test_test_split_validates_test_folders(make_unpaired) -> None:
    root = make_unpaired(split="train")
    msg = _error(root, DataOptions(split="test", size=32, load_size=0))
    assert "no testA/ and testB/ folder" in msg


# -- samples -----------------------------------------------------------------------------------


def test_sample_shapes_ranges_and_keys(make_unpaired) -> None:
    ds = build_unpaired(make_unpaired(n_a=3, n_b=5), OPTS)
    assert isinstance(ds, UnpairedDataset) and len(ds) == 5
    sample = ds[(4, 123)]
    assert set(sample) == {"A", "B", "A_path", "B_path", "skipped"}
    assert sample["A"].shape == (1, 32, 32) and sample["B"].shape == (3, 32, 32)
    for key in ("A", "B"):
        assert sample[key].dtype == torch.float32
        assert -1 <= sample[key].min() and sample[key].max() <= 1
    assert sample["A_path"].endswith("a1.png")  # 4 % 3
    assert sample["skipped"] == 0


def test_sample_is_a_function_of_index_and_seed(make_unpaired) -> None:
    root = make_unpaired(n_a=3, n_b=5)
    ds1, ds2 = build_unpaired(root, OPTS), build_unpaired(root, OPTS)
    s1, s2 = ds1[(2, 99)], ds2[(2, 99)]
    assert s1["B_path"] == s2["B_path"]
    assert torch.equal(s1["A"], s2["A"]) and torch.equal(s1["B"], s2["B"])
    partners = {ds1[(0, seed)]["B_path"] for seed in range(30)}
    assert len(partners) > 2  # B is drawn at random from the seed
    assert torch.equal(ds1[2]["A"], ds1[(2, 2)]["A"])  # int index: seed = index


def test_index_errors(make_unpaired) -> None:
    ds = build_unpaired(make_unpaired(n_a=2, n_b=3), OPTS)
    with pytest.raises(IndexError):
        ds[3]
    assert ds[-1]["A_path"] == ds[2]["A_path"]
    with pytest.raises(TypeError):
        ds["x"]


def test_dataloader_batches(make_unpaired) -> None:
    ds = build_unpaired(make_unpaired(n_a=2, n_b=2), OPTS)
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=2)))
    assert batch["A"].shape == (2, 1, 32, 32) and batch["skipped"].tolist() == [0, 0]


def test_test_split_is_aligned_and_seed_free(make_unpaired) -> None:
    root = make_unpaired(n_a=2, n_b=3, split="test")
    ds = build_unpaired(root, DataOptions(split="test", size=16, load_size=0))
    s = ds[(2, 5)]
    assert s["A_path"].endswith("a0.png") and s["B_path"].endswith("b2.png")
    assert s["A"].shape == (3, 16, 16)
    assert torch.equal(s["B"], ds[(2, 6)]["B"])


def test_custom_loader_is_used(make_unpaired) -> None:
    calls = []

    def loader(path: Path, channels: int) -> np.ndarray:
        calls.append((Path(path).name, channels))
        return np.full((40, 40, channels), 0.5, np.float32)

    opts = DataOptions(
        size=32, load_size=0, flip=False, channels={"A": 3, "B": 1}, load_image=loader
    )
    sample = build_unpaired(make_unpaired(), opts)[(0, 0)]
    assert calls[0] == ("a0.png", 3) and calls[1][1] == 1
    assert torch.all(sample["A"] == 0.0)


# -- corrupt files at train time ---------------------------------------------------------------


def _corrupt(root: Path, name: str = "a1.png") -> Path:
    path = root / "trainA" / name
    path.write_bytes(b"")
    return path


def test_corrupt_image_skipped_counted_and_remembered(make_unpaired, caplog) -> None:
    root = make_unpaired(n_a=3, n_b=2)
    bad = _corrupt(root)
    loads: list[str] = []

    def counting(path: Path, channels: int) -> np.ndarray:
        loads.append(Path(path).name)
        return read_image(path, channels)

    ds = build_unpaired(root, DataOptions(size=32, load_size=36, load_image=counting))
    with caplog.at_level(logging.WARNING, logger="i2i.datasets.unpaired"):
        first = ds[(1, 42)]
    assert first["skipped"] == 1 and first["A_path"] != str(bad)
    assert "a1.png" in caplog.text
    assert bad in ds.bad_files
    loads.clear()
    again = ds[(1, 42)]
    assert "a1.png" not in loads  # not retried
    assert again["skipped"] == 1 and again["A_path"] == first["A_path"]
    assert torch.equal(again["A"], first["A"])
    # A fresh dataset (another worker) makes the same choice.
    assert build_unpaired(root, OPTS)[(1, 42)]["A_path"] == first["A_path"]


def test_corrupt_image_raises_in_strict_mode(make_unpaired) -> None:
    root = make_unpaired(n_a=3, n_b=2)
    _corrupt(root)
    ds = build_unpaired(root, DataOptions(size=32, load_size=36, strict=True))
    with pytest.raises(ImageReadError, match="a1.png"):
        ds[(1, 0)]


def test_all_images_corrupt_is_a_dataset_error(make_unpaired) -> None:
    root = make_unpaired(n_a=2, n_b=2)
    _corrupt(root, "a0.png")
    _corrupt(root, "a1.png")
    ds = build_unpaired(root, OPTS)
    with pytest.raises(DatasetError, match="all 2 images in .*trainA.* are unreadable"):
        ds[(0, 0)]


def test_build_refuses_missing_folders(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="trainA"):
        build_unpaired(tmp_path, OPTS)


# -- registration ------------------------------------------------------------------------------


def test_registered_through_the_hook() -> None:
    reg = Registry("dataset format")
    unpaired.i2i_register_dataset_formats(Registrar(reg, "unpaired"))
    spec = reg.get("unpaired")
    assert isinstance(spec, DatasetFormatSpec) and spec is SPEC
    assert spec.keys == ("A", "B") and spec.demo is not None
    assert reg.owner("unpaired") == "unpaired"


def test_registered_through_the_plugin_manager() -> None:
    from i2i.manager import _call_registration, make_plugin_manager

    pm = make_plugin_manager(entry_points=False, builtins=False, extra=[("unpaired", unpaired)])
    reg = Registry("dataset format")
    _call_registration(pm, "i2i_register_dataset_formats", registrar=reg)
    assert reg.names() == ["unpaired"]
