"""The procedural unpaired demo dataset."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from i2i.datasets import make_unpaired_demo, read_image
from i2i.datasets.unpaired import build_unpaired, validate_unpaired
from i2i.errors import DatasetError
from i2i.specs import DataOptions

SMALL = {"n_train": 4, "n_test": 2, "size": 32}


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    make_unpaired_demo(tmp_path / "a", seed=3, **SMALL)
    make_unpaired_demo(tmp_path / "b", seed=3, **SMALL)
    make_unpaired_demo(tmp_path / "c", seed=4, **SMALL)
    a, b, c = _files(tmp_path / "a"), _files(tmp_path / "b"), _files(tmp_path / "c")
    assert sorted(a) == [
        "README.txt",
        "testA/0000.png",
        "testA/0001.png",
        "testB/0000.png",
        "testB/0001.png",
        "trainA/0000.png",
        "trainA/0001.png",
        "trainA/0002.png",
        "trainA/0003.png",
        "trainB/0000.png",
        "trainB/0001.png",
        "trainB/0002.png",
        "trainB/0003.png",
    ]
    assert a == b
    assert a["trainA/0000.png"] != c["trainA/0000.png"]


def test_domains_differ_as_described(tmp_path: Path) -> None:
    make_unpaired_demo(tmp_path, seed=0, **SMALL)
    a = read_image(tmp_path / "testA" / "0000.png", 3)
    b = read_image(tmp_path / "testB" / "0000.png", 3)
    assert a.shape == b.shape == (32, 32, 3)
    assert a.mean() < 0.5 < b.mean()  # dark vs light background
    assert "domain B" in (tmp_path / "README.txt").read_text()


def test_default_demo_is_fast_and_validates(tmp_path: Path) -> None:
    start = time.perf_counter()
    make_unpaired_demo(tmp_path)
    assert time.perf_counter() - start < 5.0
    report = validate_unpaired(tmp_path, DataOptions(size=64, load_size=0))
    assert report.counts == {"trainA": 200, "trainB": 200, "testA": 16, "testB": 16}
    sample = build_unpaired(tmp_path, DataOptions(size=64, load_size=72))[(0, 1)]
    assert sample["A"].shape == (3, 64, 64)


def test_refuses_a_non_empty_user_folder(tmp_path: Path) -> None:
    (tmp_path / "photo.jpg").write_bytes(b"precious")
    with pytest.raises(DatasetError, match="not an i2i demo dataset.*photo.jpg") as info:
        make_unpaired_demo(tmp_path, **SMALL)
    assert "\n" not in str(info.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo.jpg"]
    assert (tmp_path / "photo.jpg").read_bytes() == b"precious"


def test_rerun_on_same_demo_is_fine_other_settings_refused(tmp_path: Path) -> None:
    make_unpaired_demo(tmp_path, seed=1, **SMALL)
    before = _files(tmp_path)
    make_unpaired_demo(tmp_path, seed=1, **SMALL)
    assert _files(tmp_path) == before
    with pytest.raises(DatasetError, match="already holds an i2i demo dataset made with seed=1"):
        make_unpaired_demo(tmp_path, seed=2, **SMALL)
    assert _files(tmp_path) == before


def test_spec_demo_signature(tmp_path: Path) -> None:
    from i2i.datasets.unpaired import SPEC

    assert SPEC.demo is not None
    SPEC.demo(tmp_path / "d", 0)
    assert len(list((tmp_path / "d" / "trainA").iterdir())) == 200
    assert np.isfinite(read_image(tmp_path / "d" / "trainB" / "0000.png", 1)).all()
