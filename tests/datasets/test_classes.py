"""Tests of the ``classes`` dataset format and its demo."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from i2i.datasets import build_classes, class_names, make_classes_demo, validate_classes
from i2i.errors import DatasetError, ImageReadError
from i2i.specs import DataOptions

from .conftest import save_rgb


def _opts(**kw: object) -> DataOptions:
    base = {"size": 16, "load_size": 16, "channels": {"image": 3}, "flip": True}
    base.update(kw)
    return DataOptions(**base)  # type: ignore[arg-type]


def _make(root: Path, classes: dict[str, int]) -> Path:
    for c, (name, n) in enumerate(classes.items()):
        for i in range(n):
            save_rgb(root / name / f"{i}.png", 20, 20, seed=10 * c + i)
    return root


def test_validate_counts_and_class_ids(tmp_path: Path) -> None:
    root = _make(tmp_path / "ds", {"zebra": 2, "apple": 3, ".hidden": 1})
    report = validate_classes(root, _opts())
    assert report.classes == ["apple", "zebra"] == class_names(root)
    assert report.counts == {"apple": 3, "zebra": 2}
    ds = build_classes(root, _opts())
    assert [int(ds[i]["class"]) for i in range(len(ds))] == [0, 0, 0, 1, 1]


def test_one_class_only(tmp_path: Path) -> None:
    root = _make(tmp_path / "ds", {"cat": 2})
    with pytest.raises(DatasetError, match="at least 2 class folders") as e:
        validate_classes(root, _opts())
    assert "\n" not in str(e.value) and "cat" in str(e.value)


def test_missing_root(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist"):
        validate_classes(tmp_path / "nope", _opts())


def test_empty_class_named(tmp_path: Path) -> None:
    root = _make(tmp_path / "ds", {"a": 2, "b": 1})
    (root / "empty_one").mkdir()
    with pytest.raises(DatasetError, match="empty_one/"):
        validate_classes(root, _opts())


def test_unreadable_and_small_named(tmp_path: Path) -> None:
    root = _make(tmp_path / "ds", {"a": 2, "b": 2})
    (root / "b" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DatasetError, match="b/broken.png"):
        validate_classes(root, _opts())
    (root / "b" / "broken.png").unlink()
    with pytest.raises(DatasetError, match="smaller than the crop"):
        validate_classes(root, _opts(size=32, load_size=0))


@pytest.mark.parametrize("channels", [1, 3])
def test_items(tmp_path: Path, channels: int) -> None:
    root = _make(tmp_path / "ds", {"a": 2, "b": 3})
    ds = build_classes(root, _opts(channels={"image": channels}))
    item = ds[(3, 7)]
    assert set(item) == {"image", "class", "path", "skipped"}
    assert item["image"].shape == (channels, 16, 16)
    assert item["class"].dtype == torch.long and item["class"].ndim == 0
    assert -1.0 <= float(item["image"].min()) and float(item["image"].max()) <= 1.0
    assert torch.equal(ds[(3, 7)]["image"], item["image"])
    flips = {ds[(3, s)]["image"].numpy().tobytes() for s in range(8)}
    assert len(flips) == 2  # flipped or not, decided by the seed


def test_corrupt_replaced_by_same_class(tmp_path: Path) -> None:
    root = _make(tmp_path / "ds", {"a": 3, "b": 3})
    (root / "b" / "0.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    ds = build_classes(root, _opts())
    item = ds[(3, 5)]
    assert item["skipped"] == 1 and int(item["class"]) == 1
    assert Path(item["path"]).parent.name == "b"
    strict = build_classes(root, _opts(strict=True))
    with pytest.raises(ImageReadError):
        strict[(3, 5)]


def test_demo_split_layout(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    make_classes_demo(out, seed=1, n_per_class=4, n_test_per_class=2, size=16)
    first = {p.relative_to(out): p.read_bytes() for p in out.rglob("*.png")}
    make_classes_demo(out, seed=1, n_per_class=4, n_test_per_class=2, size=16)
    assert first == {p.relative_to(out): p.read_bytes() for p in out.rglob("*.png")}
    names = ["circle", "cross", "square", "triangle"]
    report = validate_classes(out, _opts())
    assert report.classes == names and report.counts == dict.fromkeys(names, 4)
    test = validate_classes(out, _opts(split="test"))
    assert test.counts == dict.fromkeys(names, 2)
    ds = build_classes(out, _opts(split="test"))
    assert len(ds) == 8 and ds[0]["image"].shape == (3, 16, 16)
    with pytest.raises(DatasetError):
        make_classes_demo(out, seed=2, n_per_class=4, n_test_per_class=2, size=16)


def test_demo_refuses_foreign_folder(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    with pytest.raises(DatasetError, match="not empty"):
        make_classes_demo(tmp_path / "x", n_per_class=1, n_test_per_class=0, size=16)
    assert (tmp_path / "x" / "keep.txt").read_text() == "mine"


def test_registered() -> None:
    from i2i.manager import load_context

    ctx = load_context()
    assert "classes" in ctx.dataset_formats
