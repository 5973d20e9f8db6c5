"""The labelmap dataset format: layout, validation messages, palettes, nearest-only resizing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from i2i.datasets.labelmap import (
    DEMO_CLASSES,
    build_labelmap,
    make_labelmap_demo,
    read_label_map,
    read_palette,
    validate_labelmap,
    write_palette,
)
from i2i.errors import ConfigError, DatasetError
from i2i.specs import DataOptions


def _opts(label_nc: int = 0, dontcare: int = -1, instance: bool = False, **kw) -> DataOptions:
    params = {"label_nc": label_nc, "dontcare": dontcare, "instance": int(instance)}
    kw.setdefault("size", 16)
    kw.setdefault("load_size", 20)
    return DataOptions(channels={"image": 3}, params=params, **kw)


def _save_ids(path: Path, ids: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(ids.astype(np.uint8 if ids.max() < 256 else np.uint16)).save(path)
    return path


def _save_rgb(path: Path, rgb: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb.astype(np.uint8)).save(path)
    return path


def _dataset(
    root: Path, n: int = 3, size: int = 24, classes: int = 4, split: str = "train"
) -> Path:
    rng = np.random.default_rng(0)
    for k in range(n):
        ids = np.kron(rng.integers(0, classes, (size // 4, size // 4)), np.ones((4, 4), int))
        _save_ids(root / split / "labels" / f"s{k}.png", ids)
        _save_rgb(root / split / "images" / f"s{k}.jpg", rng.integers(0, 256, (size, size, 3)))
    return root


def test_valid_dataset_report_and_inferred_class_count(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "ds", classes=4)
    _dataset(root, n=2, split="test")
    report = validate_labelmap(root, _opts())
    assert report.counts == {"train": 3, "test": 2}
    assert report.classes == ["0", "1", "2", "3"]  # largest id + 1
    assert validate_labelmap(root, _opts(label_nc=10)).classes == [str(i) for i in range(10)]


def test_out_of_range_ids_name_files_and_values(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "ds", classes=4)
    ids = np.zeros((24, 24), int)
    ids[:4, :4], ids[4:8, :4] = 9, 255
    _save_ids(root / "train" / "labels" / "s1.png", ids)
    with pytest.raises(DatasetError) as e:
        validate_labelmap(root, _opts(label_nc=4))
    msg = str(e.value)
    assert "\n" not in msg
    assert "train/labels/s1.png (ids 9, 255)" in msg and "outside [0, 4)" in msg
    assert "dontcare=ID" in msg  # says how to fix
    # with 255 as the dontcare id only 9 is wrong
    with pytest.raises(DatasetError, match=r"s1\.png \(ids 9\)\) ?|s1\.png \(ids 9\)"):
        validate_labelmap(root, _opts(label_nc=4, dontcare=255))
    assert validate_labelmap(root, _opts(label_nc=10, dontcare=255)).classes[-1] == "9"


def test_size_mismatch_and_unmatched_names(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "ds")
    _save_ids(root / "train" / "labels" / "s0.png", np.zeros((20, 24), int))
    _save_ids(root / "train" / "labels" / "orphan.png", np.zeros((24, 24), int))
    _save_rgb(root / "train" / "images" / "lonely.png", np.zeros((24, 24, 3)))
    with pytest.raises(DatasetError) as e:
        validate_labelmap(root, _opts())
    msg = str(e.value)
    assert "train/images/s0.jpg 24x24 vs train/labels/s0.png 24x20" in msg
    assert "images/lonely.png" in msg and "labels/orphan.png" in msg
    assert "same name" in msg and "nearest neighbour" in msg


def test_missing_folders_and_instances(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="does not exist.*i2i datasets demo --kind labelmap"):
        validate_labelmap(tmp_path / "nothing", _opts())
    root = _dataset(tmp_path / "ds")
    with pytest.raises(DatasetError, match=r"no train/instances/ folder.*use_instances=false"):
        validate_labelmap(root, _opts(instance=True))
    flat = tmp_path / "flat"
    (flat / "images").mkdir(parents=True)
    (flat / "labels").mkdir()
    with pytest.raises(DatasetError, match="move them into train/"):
        validate_labelmap(flat, _opts())


def test_palette_maps_colours_and_reports_unknown_ones(tmp_path: Path) -> None:
    root = tmp_path / "ds"
    write_palette(
        root / "palette.txt", ["sky", "road", "car"], [(0, 0, 255), (90, 90, 90), (255, 0, 0)]
    )
    rgb = np.zeros((16, 16, 3), int)
    rgb[:8] = (0, 0, 255)
    rgb[8:] = (90, 90, 90)
    rgb[12:, 12:] = (255, 0, 0)
    for k in range(2):
        _save_rgb(root / "train" / "labels" / f"p{k}.png", rgb)
        _save_rgb(root / "train" / "images" / f"p{k}.png", np.zeros((16, 16, 3)))
    report = validate_labelmap(root, _opts(size=8, load_size=0))
    assert report.classes == ["sky", "road", "car"]
    ids = read_label_map(root / "train" / "labels" / "p0.png", read_palette(root / "palette.txt"))
    assert ids[0, 0] == 0 and ids[9, 0] == 1 and ids[15, 15] == 2 and ids.dtype == np.int64

    bad = rgb.copy()
    bad[0, 0] = (1, 2, 3)
    _save_rgb(root / "train" / "labels" / "p1.png", bad)
    with pytest.raises(DatasetError) as e:
        validate_labelmap(root, _opts(size=8, load_size=0))
    assert "train/labels/p1.png (1,2,3)" in str(e.value) and "not in the palette" in str(e.value)

    (root / "palette.txt").write_text("0 1 2\n")
    with pytest.raises(DatasetError, match=r"line 1 .*'ID R G B \[NAME\]'"):
        validate_labelmap(root, _opts(size=8, load_size=0))


def test_colour_label_maps_need_a_palette(tmp_path: Path) -> None:
    path = _save_rgb(tmp_path / "l.png", np.dstack([np.full((4, 4), v) for v in (10, 20, 30)]))
    with pytest.raises(DatasetError, match="no palette"):
        read_label_map(path)
    grey = _save_rgb(tmp_path / "g.png", np.full((4, 4, 3), 7))
    assert (read_label_map(grey) == 7).all()  # grey saved as RGB reads as ids


def test_resizing_is_nearest_and_keeps_ids_aligned(tmp_path: Path) -> None:
    """Random resizes and crops keep exactly the original ids, and image colours stay aligned
    with their label (each class has its own colour here)."""
    root = tmp_path / "ds"
    rng = np.random.default_rng(1)
    ids = np.kron(rng.integers(0, 5, (6, 6)), np.ones((8, 8), int))  # 48x48 regions
    ids[ids == 4] = 200  # an unusual id that interpolation would blur into neighbours
    palette = np.array([[0, 0, 0], [255, 0, 0], [0, 255, 0], [0, 0, 255]] + [[0, 0, 0]] * 197)
    palette[200] = (255, 255, 255)
    _save_ids(root / "train" / "labels" / "a.png", ids)
    _save_rgb(root / "train" / "images" / "a.png", palette[ids])
    inst = ids * 100 + 7
    _save_ids(root / "train" / "instances" / "a.png", inst)
    ds = build_labelmap(root, _opts(instance=True, size=24, load_size=37))
    for seed in range(6):
        s = ds[(0, seed)]
        lab, img = s["label"][0].numpy(), (s["image"].numpy() + 1) / 2
        assert s["label"].dtype.is_floating_point is False
        assert set(np.unique(lab)) <= {0, 1, 2, 3, 200}
        assert set(np.unique(s["instance"][0].numpy())) <= {i * 100 + 7 for i in (0, 1, 2, 3, 200)}
        assert np.array_equal(s["instance"][0].numpy(), lab * 100 + 7)
        # away from region borders the image colour is the label's colour
        padded = np.pad(lab, 2, constant_values=-1)  # crop borders are not interior
        inner = np.ones_like(lab, bool)
        for dy in range(5):
            for dx in range(5):
                inner &= padded[dy : dy + lab.shape[0], dx : dx + lab.shape[1]] == lab
        assert inner.mean() > 0.1
        expect = palette[lab].transpose(2, 0, 1) / 255
        assert np.abs(img - expect)[:, inner].max() < 0.05


def test_corrupt_label_is_skipped_or_fatal_when_strict(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "ds", n=3)
    (root / "train" / "labels" / "s1.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    with pytest.raises(DatasetError, match="unreadable.*s1.png"):
        validate_labelmap(root, _opts())
    ds = build_labelmap(root, _opts())
    s = ds[(1, 0)]
    assert s["skipped"] == 1 and not s["label_path"].endswith("s1.png")
    from i2i.errors import ImageReadError

    with pytest.raises(ImageReadError):
        build_labelmap(root, _opts(strict=True))[(1, 0)]


def test_demo_is_valid_and_has_class_statistics(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    make_labelmap_demo(root, seed=0, n_train=6, n_test=2, size=32)
    report = validate_labelmap(root, _opts(instance=True))
    assert report.classes == list(DEMO_CLASSES) and report.counts == {"train": 6, "test": 2}
    # as `i2i datasets check` asks (no label settings): instances/ validated because it exists
    (root / "train" / "instances" / "0003.png").unlink()
    with pytest.raises(DatasetError, match=r"labels/0003.png \(no instance map\)"):
        validate_labelmap(root, DataOptions(size=0, load_size=0, channels={"image": 3, "label": 3}))
    assert validate_labelmap(root, _opts(size=0, load_size=0)).counts["train"] == 6
    make_labelmap_demo(root, seed=0, n_train=6, n_test=2, size=32)  # same arguments: rewritten
    assert (root / "train" / "instances" / "0003.png").is_file()
    with pytest.raises(DatasetError, match="made with"):
        make_labelmap_demo(root, seed=1, n_train=6, n_test=2, size=32)
    labels = [read_label_map(p) for p in sorted((root / "train" / "labels").glob("*.png"))]
    images = [
        np.asarray(Image.open(p), float) / 255
        for p in sorted((root / "train" / "images").glob("*.png"))
    ]
    means = {}
    for c in range(len(DEMO_CLASSES)):
        px = np.concatenate([im[lab == c] for im, lab in zip(images, labels, strict=True)])
        if len(px):
            means[c] = px.mean(0)
    assert {0, 1, 4}.issubset(means)  # sky, grass and buildings are in every scene
    assert means[0][2] > means[0][0] + 0.3  # sky is blue
    assert means[1][1] > means[1][0] + 0.2  # grass is green
    assert means[4][0] > means[4][2]  # brick buildings are red-brown


def test_label_settings_come_from_params(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "ds", classes=4)
    # absent settings: classes from the data, no dontcare, instances/ only if present
    opts = DataOptions(size=16, load_size=20, channels={"image": 3})
    assert validate_labelmap(root, opts).classes == ["0", "1", "2", "3"]
    with pytest.raises(ConfigError, match="unknown labelmap dataset param.* label_nc_x; known: "):
        validate_labelmap(root, DataOptions(size=16, params={"label_nc_x": 4}))
    with pytest.raises(ConfigError, match="param dontcare must be an integer, got 'x'"):
        validate_labelmap(root, DataOptions(size=16, params={"dontcare": "x"}))
    with pytest.raises(ConfigError, match="param label_nc must be an integer, got True"):
        validate_labelmap(root, DataOptions(size=16, params={"label_nc": True}))
